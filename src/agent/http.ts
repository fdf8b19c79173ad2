// The agent's small HTTP servers (health, health-check ports, metrics):
// listen on a bind address, route exact paths, close without waiting for
// keep-alive probers.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseBindAddress } from '../config/bind-address.js';

export interface HttpEndpoint {
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}


/** Exact-path routing like Go's ServeMux patterns without a trailing slash. */
export async function serveHttp(bindAddress: string, routes: Record<string, http.RequestListener>): Promise<HttpEndpoint> {
  const { host, port } = parseBindAddress(bindAddress);
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const route = Object.hasOwn(routes, path) ? routes[path] : undefined;
    if (route) return route(req, res);
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
    res.end('404 page not found\n');
  });
  await listenServer(server, port, host || undefined);
  const a = server.address() as AddressInfo;
  return { address: a.address, port: a.port, close: () => closeServer(server) };
}

/** Resolves once listening, rejects on a bind error (EADDRINUSE, EADDRNOTAVAIL...). */
export function listenServer(server: http.Server, port: number, host?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => { server.off('listening', onListening); reject(e); };
    const onListening = (): void => { server.off('error', onError); resolve(); };
    server.once('error', onError).once('listening', onListening);
    // No host: Node's wildcard, "::" dual-stack where IPv6 exists, else 0.0.0.0.
    server.listen({ port, host });
  });
}

export function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    // Probers keep connections alive; without this close() would wait for them.
    server.closeAllConnections();
  });
}
