// The one admin HTTP server of every component: /metrics for Prometheus, /healthz for liveness,
// /readyz for readiness (the component says what healthy and ready mean), plus each component's
// own routes (the queue-proxy's /stats and /wait-for-drain). GET and HEAD only.

import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { type Clock, systemClock } from '../clock.ts';
import { closeServer, listen } from '../http/server.ts';
import type { MetricsSource } from './collected.ts';

export type AdminRoute = (req: IncomingMessage, res: ServerResponse) => void;

export interface AdminServerConfig {
  readonly registry: MetricsSource;
  /** /readyz; the activator also fails /healthz with it while draining (see `healthy`). */
  readonly ready: () => boolean;
  /** /healthz; always healthy when absent. */
  readonly healthy?: () => boolean;
  /** Component routes by exact path, beside the three fixed ones. */
  readonly routes?: Readonly<Record<string, AdminRoute>>;
  /** On close, answered callers (a preStop hook) get this long to read their answer; default 0. */
  readonly closeGraceMs?: number;
  /** Times the close grace; the system clock when absent. */
  readonly clock?: Clock;
}

export class AdminServer {
  readonly #config: AdminServerConfig;
  readonly #server: http.Server;
  #port = 0;

  constructor(config: AdminServerConfig) {
    this.#config = config;
    // Long waits (/wait-for-drain) are the point of some routes: no request timeout.
    this.#server = http.createServer({ requestTimeout: 0, keepAliveTimeout: 65_000 }, (req, res) =>
      this.#onRequest(req, res),
    );
  }

  get port(): number {
    return this.#port;
  }

  async listen(port: number, host: string): Promise<void> {
    this.#port = await listen(this.#server, port, host);
  }

  async close(): Promise<void> {
    const closed = closeServer(this.#server);
    const grace = this.#config.closeGraceMs ?? 0;
    if (grace <= 0) {
      this.#server.closeAllConnections();
      await closed;
      return;
    }
    const clock = this.#config.clock ?? systemClock;
    const force = clock.setTimeout(() => this.#server.closeAllConnections(), grace);
    await closed;
    clock.clearTimeout(force);
  }

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      plain(res, 405, 'only GET\n');
      return;
    }
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const c = this.#config;
    switch (path) {
      case '/metrics':
        c.registry.metrics().then(
          (text) => {
            res.writeHead(200, ['content-type', c.registry.contentType]);
            res.end(text);
          },
          (err: Error) => plain(res, 500, `metrics failed: ${err.message}\n`),
        );
        return;
      case '/healthz':
        if (c.healthy === undefined || c.healthy()) plain(res, 200, 'ok\n');
        else plain(res, 503, 'shutting down\n');
        return;
      case '/readyz':
        if (c.ready()) plain(res, 200, 'ready\n');
        else plain(res, 503, 'not ready\n');
        return;
    }
    const route = c.routes?.[path];
    if (route !== undefined) route(req, res);
    else plain(res, 404, `no such endpoint ${path}\n`);
  }
}

export interface AdminServerOptions {
  readonly port: number;
  readonly host?: string;
  readonly registry: MetricsSource;
  readonly ready: () => boolean;
}

/** The control plane's form: an admin server listening on port (0.0.0.0 unless told). */
export async function startAdminServer(o: AdminServerOptions): Promise<AdminServer> {
  const server = new AdminServer({ registry: o.registry, ready: o.ready });
  await server.listen(o.port, o.host ?? '0.0.0.0');
  return server;
}

/** A text/plain answer with its length. */
export function plain(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, [
    'content-type',
    'text/plain; charset=utf-8',
    'content-length',
    String(Buffer.byteLength(body)),
  ]);
  res.end(body);
}
