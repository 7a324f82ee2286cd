// The admin HTTP server every control-plane component runs: /metrics for Prometheus, /healthz for
// liveness, /readyz for readiness (the component says what ready means).

import http from 'node:http';
import type { Registry } from 'prom-client';

export interface AdminServerOptions {
  readonly port: number;
  readonly host?: string;
  readonly registry: Registry;
  readonly ready: () => boolean;
}

export function startAdminServer(o: AdminServerOptions): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const path = req.url?.split('?')[0];
    if (path === '/metrics') {
      o.registry
        .metrics()
        .then((text) => {
          res.writeHead(200, { 'content-type': o.registry.contentType });
          res.end(text);
        })
        .catch((err: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`metrics failed: ${String(err)}\n`);
        });
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok\n');
      return;
    }
    if (path === '/readyz') {
      const ready = o.ready();
      res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' });
      res.end(ready ? 'ready\n' : 'not ready\n');
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end(`no such path: ${path}\n`);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: o.port, host: o.host ?? '0.0.0.0' }, () => resolve(server));
  });
}
