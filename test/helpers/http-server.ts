// A real HTTP server on 127.0.0.1 for loader tests; each route can serve bytes, fail, cut the connection, stall,
// or stream without end.
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Route =
  /** The body, whole; `noLength` sends it chunked, without a content-length header. */
  | { kind: 'bytes'; body: Uint8Array; noLength?: boolean; contentType?: string }
  | { kind: 'status'; status: number }
  /** Sends the first `after` bytes of the body (content-length announces all of it), then destroys the socket. */
  | { kind: 'cut'; body: Uint8Array; after: number }
  /** Sends the first `after` bytes of the body (content-length announces all of it), then nothing, forever. */
  | { kind: 'stall'; body: Uint8Array; after: number }
  /** Accepts the request and never answers (no status line, no headers). */
  | { kind: 'silent' }
  /** Streams `chunk` again and again, without content-length, until the client goes away. */
  | { kind: 'endless'; chunk: Uint8Array };

export interface TestServer {
  url: string;
  routes: Map<string, Route>;
  hits: string[];
  /** Bytes written by 'endless' routes so far. */
  endlessBytes: number;
  close(): Promise<void>;
}

function streamForever(res: ServerResponse, chunk: Buffer, count: (n: number) => void) {
  const pump = () => {
    while (!res.destroyed) {
      count(chunk.length);
      if (!res.write(chunk)) {
        res.once('drain', pump);
        return;
      }
    }
  };
  pump();
}

/** Closes `server` now: open (keep-alive, stalled or streaming) connections are cut, not waited for. */
export function closeServer(server: Server | undefined): Promise<void> {
  return new Promise<void>((r) => {
    if (!server) return r();
    server.closeAllConnections();
    server.close(() => r());
  });
}

export async function startServer(): Promise<TestServer> {
  const routes = new Map<string, Route>();
  const hits: string[] = [];
  const state = { endlessBytes: 0 };
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    hits.push(path);
    const route = routes.get(path);
    if (!route) {
      res.writeHead(404).end('not found');
      return;
    }
    switch (route.kind) {
      case 'status':
        res.writeHead(route.status).end();
        return;
      case 'silent':
        return;
      case 'endless':
        res.writeHead(200, { 'access-control-allow-origin': '*' });
        streamForever(res, Buffer.from(route.chunk), (n) => {
          state.endlessBytes += n;
        });
        return;
      case 'bytes':
        res.writeHead(200, {
          ...(route.noLength ? {} : { 'content-length': String(route.body.length) }),
          ...(route.contentType ? { 'content-type': route.contentType } : {}),
          'access-control-allow-origin': '*',
        });
        res.end(Buffer.from(route.body));
        return;
      case 'cut':
      case 'stall':
        res.writeHead(200, {
          'content-length': String(route.body.length),
          'access-control-allow-origin': '*',
        });
        // Part of the body, then either an interrupted connection or silence.
        res.write(Buffer.from(route.body.subarray(0, route.after)), () => {
          if (route.kind === 'cut') res.destroy();
        });
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    routes,
    hits,
    get endlessBytes() {
      return state.endlessBytes;
    },
    close: () => closeServer(server),
  };
}
