// A real HTTP server on 127.0.0.1 for loader tests; each route can serve bytes, fail, or cut the connection.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Route =
  | { kind: 'bytes'; body: Uint8Array }
  | { kind: 'status'; status: number }
  | { kind: 'cut'; body: Uint8Array; after: number };

export interface TestServer {
  url: string;
  routes: Map<string, Route>;
  hits: string[];
  close(): Promise<void>;
}

export async function startServer(): Promise<TestServer> {
  const routes = new Map<string, Route>();
  const hits: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    hits.push(path);
    const route = routes.get(path);
    if (!route) {
      res.writeHead(404).end('not found');
      return;
    }
    if (route.kind === 'status') {
      res.writeHead(route.status).end();
      return;
    }
    res.writeHead(200, { 'content-length': String(route.body.length), 'access-control-allow-origin': '*' });
    if (route.kind === 'bytes') {
      res.end(Buffer.from(route.body));
      return;
    }
    // Send part of the body, then destroy the socket: an interrupted download.
    res.write(Buffer.from(route.body.subarray(0, route.after)), () => res.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    routes,
    hits,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
