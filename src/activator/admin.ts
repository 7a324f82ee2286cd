// The activator's metrics port: /metrics for Prometheus, /healthz and /readyz for kubelet (both
// fail once the activator is draining, so endpoints drop it before it stops).

import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { closeServer, listen } from '../http/server.ts';

export class AdminServer {
  readonly #registry: Registry;
  readonly #healthy: () => boolean;
  readonly #server: http.Server;
  #port = 0;

  constructor(registry: Registry, healthy: () => boolean) {
    this.#registry = registry;
    this.#healthy = healthy;
    this.#server = http.createServer({ keepAliveTimeout: 65_000 }, (req, res) => this.#onRequest(req, res));
  }

  get port(): number {
    return this.#port;
  }

  async listen(port: number, host: string): Promise<void> {
    this.#port = await listen(this.#server, port, host);
  }

  async close(): Promise<void> {
    const closed = closeServer(this.#server);
    this.#server.closeAllConnections();
    await closed;
  }

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    switch (path) {
      case '/metrics':
        this.#registry.metrics().then(
          (text) => {
            res.writeHead(200, ['content-type', this.#registry.contentType]);
            res.end(text);
          },
          (err: Error) => plain(res, 500, `${err.message}\n`),
        );
        return;
      case '/healthz':
      case '/readyz':
        if (this.#healthy()) plain(res, 200, 'ok\n');
        else plain(res, 503, 'shutting down\n');
        return;
      default:
        plain(res, 404, `no such endpoint ${path}\n`);
    }
  }
}

function plain(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, [
    'content-type',
    'text/plain; charset=utf-8',
    'content-length',
    String(Buffer.byteLength(body)),
  ]);
  res.end(body);
}
