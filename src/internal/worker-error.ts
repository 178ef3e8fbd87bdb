// How a worker thread reports an error to the thread that started it: structured-clone-safe fields, the code of
// a FashionMnistError (or a Node system error) kept, so that the pool can rebuild a typed error. Shared by the
// k-NN and CNN workers.

/** An error as a worker thread posts it. */
export interface WorkerErrorMessage {
  name: string;
  message: string;
  code?: string;
  stack?: string;
}

/** The posted form of anything thrown in a worker. */
export function describeWorkerError(e: unknown): WorkerErrorMessage {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return {
      name: e.name,
      message: e.message,
      stack: e.stack,
      ...(typeof code === 'string' ? { code } : {}),
    };
  }
  return { name: 'Error', message: String(e) };
}
