// Byte plumbing shared by the loaders: joining chunks, and fetching a body with a size limit and an idle timeout.
import { FashionMnistError } from '../errors.js';

/** Joins byte arrays into one new array (the result owns a fresh ArrayBuffer of exactly the joined length). */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Limits and hooks of {@link fetchBytes}. */
export interface FetchBytesOptions {
  /** The `fetch` to use (default: the global one). */
  fetch?: typeof globalThis.fetch;
  /**
   * Idle timeout in milliseconds: the longest wait for the response headers, and then for each next chunk of
   * the body. A body that keeps arriving is never cut, however slow; one that stalls fails with `TIMEOUT`.
   */
  timeoutMs: number;
  /** The body may not be longer than this many bytes: checked against `content-length` and while streaming. */
  maxBytes: number;
  /** How to raise the timeout, named in the TIMEOUT message (e.g. "the option 'timeoutMs'"). */
  timeoutHint?: string;
  /** Called after each chunk with the bytes received so far and the announced total, when known. */
  onBytes?: (loaded: number, total?: number) => void;
  /** The error for a body over `maxBytes` (default: TOO_LARGE naming the URL and the limit). */
  tooLarge?: (received: number) => FashionMnistError;
}

function describe(cause: unknown): string {
  if (cause instanceof Error) {
    const inner = cause.cause instanceof Error ? ` (${cause.cause.message})` : '';
    return `${cause.message}${inner}`;
  }
  return String(cause);
}

/**
 * Fetches `url` and reads its body, chunk by chunk, into memory. Every failure is a {@link FashionMnistError}
 * with the URL as `path`: `DOWNLOAD_FAILED` (request refused, HTTP error status, connection closed before the
 * end of the body), `TIMEOUT` (no headers or no next chunk within `timeoutMs`), `TOO_LARGE` (an announced or
 * received length above `maxBytes`; reading stops there, so memory stays bounded by `maxBytes`).
 */
export async function fetchBytes(url: string, options: FetchBytesOptions): Promise<Uint8Array<ArrayBuffer>> {
  const { timeoutMs, maxBytes } = options;
  const doFetch = options.fetch ?? globalThis.fetch;
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let fail: (e: FashionMnistError) => void = () => {};
  const timedOut = new Promise<never>((_, reject) => {
    fail = reject;
  });
  timedOut.catch(() => {}); // settled by whichever await races it; never an unhandled rejection
  let waitingFor = 'a response';
  const arm = (what: string) => {
    waitingFor = what;
    clearTimeout(timer);
    timer = setTimeout(() => {
      const e = new FashionMnistError(
        'TIMEOUT',
        `${url}: no ${waitingFor} within ${timeoutMs} ms; the server stalled. Retry, try another mirror, or raise ` +
          `${options.timeoutHint ?? 'the timeout'}`,
        { path: url },
      );
      controller.abort(e);
      fail(e);
    }, timeoutMs);
  };
  let body: ReadableStreamDefaultReader<Uint8Array> | undefined;
  try {
    arm('response');
    let response: Response;
    try {
      response = await Promise.race([doFetch(url, { signal: controller.signal }), timedOut]);
    } catch (cause) {
      if (cause instanceof FashionMnistError) throw cause;
      throw new FashionMnistError('DOWNLOAD_FAILED', `${url}: request failed (${describe(cause)})`, {
        path: url,
        cause,
      });
    }
    if (response === null || typeof response !== 'object' || typeof response.ok !== 'boolean') {
      throw new FashionMnistError(
        'DOWNLOAD_FAILED',
        `${url}: the fetch function returned ${String(response)}, not a Response`,
        { path: url },
      );
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => {});
      throw new FashionMnistError(
        'DOWNLOAD_FAILED',
        `${url}: HTTP ${response.status} ${response.statusText}`,
        {
          path: url,
        },
      );
    }
    const header = response.headers?.get('content-length');
    const total = header && /^\d+$/.test(header) ? Number(header) : undefined;
    if (total !== undefined && total > maxBytes) {
      await response.body?.cancel().catch(() => {});
      if (options.tooLarge) throw options.tooLarge(total);
      throw new FashionMnistError(
        'TOO_LARGE',
        `${url}: the server announces ${total} bytes, more than the ${maxBytes} bytes allowed for this file`,
        { path: url },
      );
    }
    if (!response.body) {
      // A fetch without streams (some polyfills): the body arrives whole, still under the idle timeout.
      arm('body');
      const whole = new Uint8Array(await Promise.race([response.arrayBuffer(), timedOut]));
      if (whole.length > maxBytes) {
        if (options.tooLarge) throw options.tooLarge(whole.length);
        throw new FashionMnistError(
          'TOO_LARGE',
          `${url}: the body has ${whole.length} bytes, more than the ${maxBytes} bytes allowed for this file`,
          { path: url },
        );
      }
      options.onBytes?.(whole.length, total);
      return whole;
    }
    body = response.body.getReader();
    const chunks: Uint8Array[] = [];
    let loaded = 0;
    for (;;) {
      arm('data');
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await Promise.race([body.read(), timedOut]);
      } catch (cause) {
        if (cause instanceof FashionMnistError) throw cause;
        throw new FashionMnistError(
          'DOWNLOAD_FAILED',
          `${url}: the connection closed after ${loaded} of ${total ?? 'an unknown number of'} bytes (${describe(cause)})`,
          { path: url, cause },
        );
      }
      if (next.done) break;
      loaded += next.value.length;
      if (loaded > maxBytes) {
        if (options.tooLarge) throw options.tooLarge(loaded);
        throw new FashionMnistError(
          'TOO_LARGE',
          `${url}: the body goes on past ${maxBytes} bytes, the most allowed for this file; stopped reading`,
          { path: url },
        );
      }
      chunks.push(next.value);
      options.onBytes?.(loaded, total);
    }
    body = undefined;
    if (total !== undefined && loaded !== total) {
      throw new FashionMnistError(
        'DOWNLOAD_FAILED',
        `${url}: the body ended after ${loaded} of the ${total} bytes announced (an interrupted transfer)`,
        { path: url },
      );
    }
    return concatBytes(chunks);
  } finally {
    clearTimeout(timer);
    if (body) {
      // Stop the transfer we gave up on (timeout, size, error) instead of letting it run on in the background.
      body.cancel().catch(() => {});
      controller.abort();
    }
  }
}
