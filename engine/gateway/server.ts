// Puts a gateway on a TCP port with @hono/node-server.
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import type { Hono } from 'hono';
import { ConfigError } from '../errors.ts';

export interface ServedGateway {
  url: string;
  port: number;
  server: ServerType;
  /**
   * Stops accepting connections, lets requests in flight finish (closing idle keep-alive
   * connections at once), and cuts whatever is left after `graceMs` (default 10 s).
   */
  close(graceMs?: number): Promise<void>;
}

export function serveGateway(app: Hono, options: { port: number; host: string }): Promise<ServedGateway> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port: options.port, hostname: options.host }, (info: AddressInfo) => {
      const host = info.family === 'IPv6' ? `[${info.address}]` : info.address;
      resolve({
        url: `http://${host}:${info.port}`,
        port: info.port,
        server,
        close: (graceMs = 10_000) => new Promise<void>((done) => {
          const http = server as { closeIdleConnections?: () => void; closeAllConnections?: () => void };
          const cut = setTimeout(() => http.closeAllConnections?.(), graceMs);
          server.close(() => {
            clearTimeout(cut);
            done();
          });
          http.closeIdleConnections?.();
        }),
      });
    });
    server.once('error', (err: NodeJS.ErrnoException) => {
      const where = `${options.host}:${options.port}`;
      if (err.code === 'EADDRINUSE') reject(new ConfigError(`cannot listen on ${where}: the address is already in use (try another --port)`));
      else if (err.code === 'EACCES') reject(new ConfigError(`cannot listen on ${where}: permission denied`));
      else if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND') reject(new ConfigError(`cannot listen on ${where}: no such local address`));
      else reject(err);
    });
  });
}
