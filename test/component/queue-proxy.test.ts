// The queue-proxy over real sockets on 127.0.0.1: forwarding (headers, streaming, SSE, upgrades),
// failures and timeouts, containerConcurrency, readiness, stats, metrics and drain.

import type { ServerResponse } from 'node:http';
import http from 'node:http';
import net from 'node:net';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.ts';
import type { QueueProxyHandle } from '../../src/queue/queue-proxy.ts';
import {
  type App,
  deadPort,
  LOOPBACK,
  metricValue,
  openRaw,
  rawExchange,
  request,
  runClockUntil,
  scrape,
  startApp,
  startTestQueueProxy,
  TEST_INTERNAL_TOKEN,
  waitFor,
} from './proxy-harness.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function app(handler?: Parameters<typeof startApp>[0]): Promise<App> {
  const a = await startApp(handler);
  cleanups.push(() => a.close());
  return a;
}

async function queueProxy(
  userPort: number,
  overrides: Parameters<typeof startTestQueueProxy>[1] = {},
  clock?: ManualClock,
): Promise<QueueProxyHandle> {
  const qp = await startTestQueueProxy(userPort, overrides, clock === undefined ? {} : { clock });
  cleanups.push(() => qp.close());
  return qp;
}

/** An app whose requests wait until released; `held` lists the waiting responses. */
async function holdingApp(): Promise<{ app: App; held: ServerResponse[]; releaseAll: () => void }> {
  const held: ServerResponse[] = [];
  const a = await app((_req, res) => held.push(res));
  return {
    app: a,
    held,
    releaseAll: () => {
      for (const res of held.splice(0)) res.end('released');
    },
  };
}

describe('queue-proxy forwarding', () => {
  it('forwards method, path, body and headers, and rewrites the headers a proxy must', async () => {
    const a = await app((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        res.setHeader('x-app', 'yes');
        res.setHeader('keep-alive', 'timeout=1');
        res.end(JSON.stringify({ method: req.method, url: req.url, body, headers: req.headers }));
      });
    });
    const qp = await queueProxy(a.port);
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const answer = await request(qp.httpPort, {
      method: 'POST',
      path: '/echo?x=1',
      host: 'hello.default.svc',
      body: 'payload',
      headers: {
        'x-request-id': 'req-123',
        traceparent,
        'x-zeroscale-secret': 'forged',
        'proxy-authorization': 'secret',
        connection: 'keep-alive, x-drop-me',
        'x-drop-me': 'hop',
      },
    });
    expect(answer.status).toBe(200);
    expect(answer.headers['x-app']).toBe('yes');
    expect(answer.headers['keep-alive']).not.toBe('timeout=1');
    const seen = JSON.parse(answer.body);
    expect(seen).toMatchObject({ method: 'POST', url: '/echo?x=1', body: 'payload' });
    expect(seen.headers.host).toBe('hello.default.svc');
    expect(seen.headers['x-forwarded-for']).toBe(LOOPBACK);
    expect(seen.headers['x-forwarded-proto']).toBe('http');
    expect(seen.headers['x-forwarded-host']).toBe('hello.default.svc');
    expect(seen.headers['x-request-id']).toBe('req-123');
    expect(seen.headers.traceparent).toBe(traceparent);
    expect(seen.headers['x-zeroscale-secret']).toBeUndefined();
    expect(seen.headers['proxy-authorization']).toBeUndefined();
    expect(seen.headers['x-drop-me']).toBeUndefined();
  });

  it('makes a request id when the client sent none', async () => {
    const a = await app((req, res) => res.end(String(req.headers['x-request-id'])));
    const qp = await queueProxy(a.port);
    const answer = await request(qp.httpPort);
    expect(answer.body).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('streams the request body: the app reads the first chunk before the client sends the rest', async () => {
    let firstChunk: (() => void) | undefined;
    const gotFirst = new Promise<void>((resolve) => (firstChunk = resolve));
    const a = await app((req, res) => {
      let total = 0;
      req.on('data', (c: Buffer) => {
        total += c.length;
        firstChunk?.();
      });
      req.on('end', () => res.end(String(total)));
    });
    const qp = await queueProxy(a.port);
    const answer = new Promise<string>((resolve, reject) => {
      const req = http.request({ host: LOOPBACK, port: qp.httpPort, method: 'PUT', agent: false }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve(body));
      });
      req.on('error', reject);
      req.write(Buffer.alloc(1000, 'a'));
      // The rest goes only once the app has seen the first part: nothing waited for the whole body.
      void gotFirst.then(() => req.end(Buffer.alloc(5000, 'b')));
    });
    expect(await answer).toBe('6000');
  });

  it('streams server-sent events one by one, without waiting for the end', async () => {
    let sendSecond: (() => void) | undefined;
    const a = await app((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: one\n\n');
      sendSecond = () => res.end('data: two\n\n');
    });
    const qp = await queueProxy(a.port);
    const events: string[] = [];
    await new Promise<void>((resolve, reject) => {
      http
        .get({ host: LOOPBACK, port: qp.httpPort, path: '/events', agent: false }, (res) => {
          expect(res.headers['content-type']).toBe('text/event-stream');
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            events.push(chunk);
            // The second event is written only after the first arrived through the proxy.
            if (events.length === 1) sendSecond!();
          });
          res.on('end', resolve);
        })
        .on('error', reject);
    });
    expect(events.join('')).toBe('data: one\n\ndata: two\n\n');
    expect(events[0]).toBe('data: one\n\n');
  });

  it('passes WebSocket upgrades through and splices the two connections', async () => {
    const a = await app();
    a.server.on('upgrade', (req, socket) => {
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nx-upgrade-path: ${req.url}\r\n\r\n`,
      );
      socket.on('data', (d: Buffer) => socket.write(`echo:${d.toString()}`));
      socket.on('end', () => socket.end());
    });
    const qp = await queueProxy(a.port);
    const socket = await openRaw(
      qp.httpPort,
      'GET /ws HTTP/1.1\r\nHost: hello\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
    );
    let received = '';
    socket.setEncoding('latin1');
    socket.on('data', (c: string) => (received += c));
    await waitFor('101 from upstream', () => received.includes('\r\n\r\n'));
    expect(received).toMatch(/^HTTP\/1\.1 101 /);
    expect(received.toLowerCase()).toContain('x-upgrade-path: /ws');
    socket.write('ping');
    await waitFor('echo through the splice', () => received.endsWith('echo:ping'));
    socket.destroy();
    await waitFor(
      'upgrade counted as ended',
      async () => metricValue(await scrape(qp.metricsPort), 'zeroscale_queue_in_flight_requests') === 0,
    );
  });
});

describe('queue-proxy upstream connections', () => {
  /** A raw upstream: `respond` decides, per connection and request, what to write back. */
  async function rawUpstream(
    respond: (socket: net.Socket, request: string, index: number) => void,
  ): Promise<number> {
    let connections = 0;
    const server = net.createServer((socket) => {
      // Numbered at their first request: readiness probes connect without sending anything.
      let index = -1;
      let buffered = '';
      socket.setEncoding('latin1');
      socket.on('data', (chunk: string) => {
        buffered += chunk;
        if (index < 0) index = connections++;
        let end = buffered.indexOf('\r\n\r\n');
        while (end >= 0) {
          const request = buffered.slice(0, end);
          buffered = buffered.slice(end + 4);
          respond(socket, request, index);
          end = buffered.indexOf('\r\n\r\n');
        }
      });
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    return (server.address() as net.AddressInfo).port;
  }

  it('reuses kept-alive connections to the app', async () => {
    const ports = new Set<number>();
    const a = await app((req, res) => {
      ports.add(req.socket.remotePort!);
      res.end('ok');
    });
    const qp = await queueProxy(a.port);
    for (let i = 0; i < 5; i++) expect((await request(qp.httpPort)).status).toBe(200);
    expect(ports.size).toBe(1);
  });

  it('keeps a connection usable after a large answer that filled the client buffers', async () => {
    const big = Buffer.alloc(4 * 1024 * 1024, 'z');
    const a = await app((_req, res) => res.end(big));
    const qp = await queueProxy(a.port, { containerConcurrency: 1 });
    for (let i = 0; i < 3; i++) {
      const answer = await request(qp.httpPort);
      expect(answer.body.length).toBe(big.length);
    }
  });

  it('answers HEAD without a body, whatever Content-Length says', async () => {
    const a = await app((_req, res) => {
      res.setHeader('content-length', '11');
      res.end('hello world');
    });
    const qp = await queueProxy(a.port);
    const agent = new http.Agent({ keepAlive: true });
    const head = await request(qp.httpPort, { method: 'HEAD', agent });
    expect(head).toMatchObject({ status: 200, body: '' });
    expect(head.headers['content-length']).toBe('11');
    // The connection is still in step: the next answer is whole.
    expect(await request(qp.httpPort, { agent })).toMatchObject({ status: 200, body: 'hello world' });
    agent.destroy();
  });

  it('sends a GET again on a new connection when the app had closed the kept-alive one', async () => {
    const port = await rawUpstream((socket, request, index) => {
      // The first connection answers once, then drops whatever comes next, unanswered.
      if (index === 0 && request.startsWith('GET /second')) {
        socket.destroy();
        return;
      }
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${index + 1}\r\n\r\n${'x'.repeat(index + 1)}`);
    });
    const qp = await queueProxy(port, {
      readinessProbe: {
        action: { kind: 'tcp', port },
        periodMs: 60_000,
        timeoutMs: 1_000,
        successThreshold: 1,
        failureThreshold: 3,
      },
    });
    expect(await request(qp.httpPort, { path: '/first' })).toMatchObject({ status: 200, body: 'x' });
    expect(await request(qp.httpPort, { path: '/second' })).toMatchObject({ status: 200, body: 'xx' });
  });

  it('does not send a POST again: 502 with the reason, marked safe to retry elsewhere', async () => {
    const port = await rawUpstream((socket, request, index) => {
      if (index === 0 && request.startsWith('POST')) {
        socket.destroy();
        return;
      }
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    });
    const qp = await queueProxy(port, {
      readinessProbe: {
        action: { kind: 'tcp', port },
        periodMs: 60_000,
        timeoutMs: 1_000,
        successThreshold: 1,
        failureThreshold: 3,
      },
    });
    expect((await request(qp.httpPort)).status).toBe(200);
    const answer = await request(qp.httpPort, { method: 'POST' });
    expect(answer.status).toBe(502);
    expect(answer.headers['x-zeroscale-error']).toBe('UPSTREAM_RESET');
  });

  it('answers 502 for an invalid response and does not reuse that connection', async () => {
    const port = await rawUpstream((socket, _request, index) => {
      if (index === 0) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab');
      else socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    });
    const qp = await queueProxy(port, {
      readinessProbe: {
        action: { kind: 'tcp', port },
        periodMs: 60_000,
        timeoutMs: 1_000,
        successThreshold: 1,
        failureThreshold: 3,
      },
    });
    const bad = await request(qp.httpPort);
    expect(bad.status).toBe(502);
    expect(bad.headers['x-zeroscale-error']).toBe('UPSTREAM_PROTOCOL_ERROR');
    expect(await request(qp.httpPort)).toMatchObject({ status: 200, body: 'ok' });
  });

  it('decodes a chunked answer and sends a chunked request body on', async () => {
    const a = await app((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        res.write(`got ${body.length} bytes`);
        res.write(` as ${req.headers['transfer-encoding']}`);
        res.end();
      });
    });
    const qp = await queueProxy(a.port);
    const answer = await new Promise<string>((resolve, reject) => {
      const req = http.request({ host: LOOPBACK, port: qp.httpPort, method: 'POST', agent: false }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve(body));
      });
      req.on('error', reject);
      req.write('a'.repeat(3000));
      req.end('b'.repeat(3000));
    });
    expect(answer).toBe('got 6000 bytes as chunked');
  });
});

describe('queue-proxy failures and timeouts', () => {
  it('answers 502 with the reason when the app refuses connections', async () => {
    const qp = await queueProxy(await deadPort());
    const answer = await request(qp.httpPort);
    expect(answer.status).toBe(502);
    expect(answer.headers['x-zeroscale-error']).toBe('UPSTREAM_CONNECT_FAILED');
    expect(answer.body).toBe('upstream unreachable\n');
  });

  it('answers 502 when the app dies in the middle of the request body', async () => {
    const a = await app((req) => req.once('data', () => req.socket.destroy()));
    const qp = await queueProxy(a.port);
    const answer = await new Promise<{ status: number; code: string | undefined }>((resolve, reject) => {
      const req = http.request({ host: LOOPBACK, port: qp.httpPort, method: 'POST', agent: false }, (res) => {
        res.resume();
        res.on('end', () =>
          resolve({ status: res.statusCode!, code: res.headers['x-zeroscale-error'] as string }),
        );
      });
      req.on('error', reject);
      req.write('first part;');
      // The rest follows once the app has dropped the connection.
      void waitFor('app saw the body', () => a.seen.length === 1).then(() =>
        setTimeout(() => req.end('rest'), 20),
      );
    });
    expect(answer.status).toBe(502);
    expect(answer.code).toBe('UPSTREAM_RESET');
  });

  it('cuts the client connection when the app dies after the response began', async () => {
    const a = await app((req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial');
      setImmediate(() => req.socket.destroy());
    });
    const qp = await queueProxy(a.port);
    const outcome = await new Promise<string>((resolve) => {
      http
        .get({ host: LOOPBACK, port: qp.httpPort, agent: false }, (res) => {
          res.on('data', () => {});
          res.on('end', () => resolve('complete'));
          res.on('error', () => resolve('cut'));
          res.on('aborted', () => resolve('cut'));
        })
        .on('error', () => resolve('cut'));
    });
    expect(outcome).toBe('cut');
    const metrics = await scrape(qp.metricsPort);
    expect(metricValue(metrics, 'zeroscale_queue_in_flight_requests')).toBe(0);
  });

  it('answers 504 when the whole-request deadline passes', async () => {
    const { app: a } = await holdingApp();
    const qp = await queueProxy(a.port, { timeoutMs: 200 });
    const answer = await request(qp.httpPort);
    expect(answer.status).toBe(504);
    expect(answer.headers['x-zeroscale-error']).toBe('REQUEST_TIMEOUT');
  });

  it('answers 504 when the app does not start its response in time', async () => {
    const { app: a } = await holdingApp();
    const qp = await queueProxy(a.port, { responseStartTimeoutMs: 100 });
    const answer = await request(qp.httpPort);
    expect(answer.status).toBe(504);
    expect(answer.headers['x-zeroscale-error']).toBe('RESPONSE_START_TIMEOUT');
  });

  it('answers 504 when nothing moves for the idle timeout before the response', async () => {
    const { app: a } = await holdingApp();
    const qp = await queueProxy(a.port, { idleTimeoutMs: 100 });
    const answer = await request(qp.httpPort);
    expect(answer.status).toBe(504);
    expect(answer.headers['x-zeroscale-error']).toBe('IDLE_TIMEOUT');
  });

  it('cuts a response that goes idle after it began', async () => {
    const a = await app((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('begun');
    });
    const qp = await queueProxy(a.port, { idleTimeoutMs: 100 });
    const outcome = await new Promise<string>((resolve) => {
      http
        .get({ host: LOOPBACK, port: qp.httpPort, agent: false }, (res) => {
          res.on('data', () => {});
          res.on('end', () => resolve('complete'));
          res.on('error', () => resolve('cut'));
        })
        .on('error', () => resolve('cut'));
    });
    expect(outcome).toBe('cut');
  });
});

describe('queue-proxy containerConcurrency', () => {
  it('holds requests beyond the limit in a bounded queue and answers 503 when it is full', async () => {
    const { app: a, held, releaseAll } = await holdingApp();
    const qp = await queueProxy(a.port, { containerConcurrency: 1, queueDepth: 1 });
    const first = request(qp.httpPort, { path: '/1' });
    await waitFor('first request at the app', () => held.length === 1);
    const second = request(qp.httpPort, { path: '/2' });
    await waitFor(
      'second request queued',
      async () => metricValue(await scrape(qp.metricsPort), 'zeroscale_queue_queued_requests') === 1,
    );
    const third = await request(qp.httpPort, { path: '/3' });
    expect(third.status).toBe(503);
    expect(third.headers['x-zeroscale-error']).toBe('QUEUE_FULL');
    expect(third.headers['retry-after']).toBe('1');
    expect(a.seen.length).toBe(1);
    releaseAll();
    expect((await first).status).toBe(200);
    await waitFor('second request admitted', () => held.length === 1);
    releaseAll();
    expect((await second).status).toBe(200);
    const metrics = await scrape(qp.metricsPort);
    expect(metricValue(metrics, 'zeroscale_queue_rejected_requests_total', { reason: 'queue-full' })).toBe(1);
    expect(metricValue(metrics, 'zeroscale_queue_requests_total', { code_class: '5xx' })).toBe(1);
    expect(metricValue(metrics, 'zeroscale_queue_requests_total', { code_class: '2xx' })).toBe(2);
  });

  it('counts the requests still waiting when it stops as shutting-down, not queue-full', async () => {
    const { app: a, held } = await holdingApp();
    const registry = new Registry();
    const qp = await startTestQueueProxy(a.port, { containerConcurrency: 1, queueDepth: 1 }, { registry });
    cleanups.push(() => qp.close());
    const first = request(qp.httpPort, { path: '/1' }).catch(() => undefined);
    await waitFor('first request at the app', () => held.length === 1);
    const second = request(qp.httpPort, { path: '/2' }).catch(() => undefined);
    await waitFor(
      'second request queued',
      async () => metricValue(await registry.metrics(), 'zeroscale_queue_queued_requests') === 1,
    );
    await qp.close();
    await Promise.all([first, second]);
    const metrics = await registry.metrics();
    expect(metricValue(metrics, 'zeroscale_queue_rejected_requests_total', { reason: 'shutting-down' })).toBe(
      1,
    );
    expect(
      metricValue(metrics, 'zeroscale_queue_rejected_requests_total', { reason: 'queue-full' }) ?? 0,
    ).toBe(0);
  });

  it('removes a client that disconnects while queued at once, and the app never sees it', async () => {
    const { app: a, held, releaseAll } = await holdingApp();
    const qp = await queueProxy(a.port, { containerConcurrency: 1, queueDepth: 5 });
    const first = request(qp.httpPort, { path: '/first' });
    await waitFor('first request at the app', () => held.length === 1);
    const quitter = await openRaw(qp.httpPort, 'GET /quitter HTTP/1.1\r\nHost: hello\r\n\r\n');
    await waitFor(
      'quitter queued',
      async () => metricValue(await scrape(qp.metricsPort), 'zeroscale_queue_queued_requests') === 1,
    );
    quitter.destroy();
    await waitFor(
      'queue empty again',
      async () => metricValue(await scrape(qp.metricsPort), 'zeroscale_queue_queued_requests') === 0,
    );
    releaseAll();
    expect((await first).status).toBe(200);
    const next = request(qp.httpPort, { path: '/next' });
    await waitFor('next request at the app', () => held.length === 1);
    releaseAll();
    expect((await next).status).toBe(200);
    expect(a.seen.map((r) => r.url)).toEqual(['/first', '/next']);
    const metrics = await scrape(qp.metricsPort);
    expect(
      metricValue(metrics, 'zeroscale_queue_rejected_requests_total', { reason: 'client-aborted' }),
    ).toBe(1);
    expect(metricValue(metrics, 'zeroscale_queue_in_flight_requests')).toBe(0);
  });
});

const PROBE = { 'x-zeroscale-probe': 'queue' };
const heldProbes = (metrics: string): number | undefined =>
  metricValue(metrics, 'zeroscale_queue_held_probes');

/** A queue-proxy for an app on `port` that does not listen yet; probed every 20 ms, as in a pod. */
async function notReadyQueueProxy(port: number): Promise<QueueProxyHandle> {
  return queueProxy(port, {
    readinessProbe: {
      action: { kind: 'tcp', port },
      periodMs: 600_000,
      timeoutMs: 1_000,
      successThreshold: 1,
      failureThreshold: 3,
    },
  });
}

describe('queue-proxy readiness', () => {
  it('is not ready until the app listens, then ready without waiting for a probe period', async () => {
    const port = await deadPort();
    // A probe period far longer than the test: only the aggressive probing can make it ready.
    const qp = await startTestQueueProxy(port, {
      readinessProbe: {
        action: { kind: 'tcp', port },
        periodMs: 600_000,
        timeoutMs: 1_000,
        successThreshold: 1,
        failureThreshold: 3,
      },
    });
    cleanups.push(() => qp.close());
    expect((await request(qp.httpPort, { path: '/healthz/ready' })).status).toBe(503);
    const probe = await request(qp.httpPort, { headers: { 'x-zeroscale-probe': 'queue' } });
    expect(probe.status).toBe(503);
    expect(probe.headers['x-zeroscale-error']).toBe('NOT_READY');
    const real = await startApp((_req, res) => res.end('app'), port);
    cleanups.push(() => real.close());
    await qp.whenReady();
    const ready = await request(qp.httpPort, { headers: { 'x-zeroscale-probe': 'queue' } });
    expect(ready).toMatchObject({ status: 200, body: 'queue' });
    expect((await request(qp.httpPort, { path: '/healthz/ready' })).status).toBe(200);
    // The probe answers come from the queue-proxy: the app saw none of them.
    expect(real.seen.length).toBe(0);
  });

  it('holds an activator probe that asks to wait and answers it the moment the app is ready', async () => {
    const port = await deadPort();
    const qp = await notReadyQueueProxy(port);
    const held = request(qp.httpPort, { path: '/healthz/ready?wait-ms=5000', headers: PROBE });
    await waitFor('the probe is held', async () => heldProbes(await scrape(qp.metricsPort)) === 1);
    const real = await startApp((_req, res) => res.end('app'), port);
    cleanups.push(() => real.close());
    // Sent while not ready, answered 200: it was held until the app listened.
    expect(await held).toMatchObject({ status: 200, body: 'queue' });
    expect(heldProbes(await scrape(qp.metricsPort))).toBe(0);
  });

  it('answers a held probe 503 when its wait runs out, holds at most 64, and forgets clients that leave', async () => {
    const qp = await notReadyQueueProxy(await deadPort());
    const timedOut = await request(qp.httpPort, { path: '/healthz/ready?wait-ms=200', headers: PROBE });
    expect(timedOut.status).toBe(503);
    expect(timedOut.headers['x-zeroscale-error']).toBe('NOT_READY');
    const probe = 'GET /healthz/ready?wait-ms=999999 HTTP/1.1\r\nHost: x\r\nx-zeroscale-probe: queue\r\n\r\n';
    const sockets = await Promise.all(Array.from({ length: 64 }, () => openRaw(qp.httpPort, probe)));
    await waitFor('64 probes held', async () => heldProbes(await scrape(qp.metricsPort)) === 64);
    // The 65th is answered at once, though it asks to wait.
    const over = await request(qp.httpPort, { path: '/healthz/ready?wait-ms=5000', headers: PROBE });
    expect(over.headers['x-zeroscale-error']).toBe('NOT_READY');
    for (const s of sockets) s.destroy();
    await waitFor(
      'clients that left are forgotten',
      async () => heldProbes(await scrape(qp.metricsPort)) === 0,
    );
  });

  it('answers held probes 503 DRAINING as soon as it drains', async () => {
    const qp = await notReadyQueueProxy(await deadPort());
    const held = request(qp.httpPort, { path: '/healthz/ready?wait-ms=5000', headers: PROBE });
    await waitFor('the probe is held', async () => heldProbes(await scrape(qp.metricsPort)) === 1);
    void qp.drain();
    const answer = await held;
    expect(answer.status).toBe(503);
    expect(answer.headers['x-zeroscale-error']).toBe('DRAINING');
  });

  it('runs the app HTTP readiness probe with its path and headers', async () => {
    let appReady = false;
    const a = await app((req, res) => {
      if (req.url === '/ready') {
        res.statusCode = appReady && req.headers['x-probe'] === 'yes' ? 200 : 503;
        res.end();
        return;
      }
      res.end('ok');
    });
    const qp = await queueProxy(a.port, {
      readinessProbe: {
        action: {
          kind: 'http',
          port: a.port,
          path: '/ready',
          scheme: 'http',
          headers: ['x-probe', 'yes'],
          h2c: false,
        },
        periodMs: 50,
        timeoutMs: 1_000,
        successThreshold: 1,
        failureThreshold: 1,
      },
    });
    await waitFor('a few probes', () => a.seen.filter((r) => r.url === '/ready').length >= 2);
    expect(qp.ready).toBe(false);
    appReady = true;
    await qp.whenReady();
    expect((await request(qp.httpPort, { path: '/healthz/ready' })).status).toBe(200);
    appReady = false;
    await waitFor('not ready after the app fails its probe', () => !qp.ready);
  });

  it('refuses unknown probe kinds with 400', async () => {
    const a = await app();
    const qp = await queueProxy(a.port);
    const answer = await request(qp.httpPort, { headers: { 'x-zeroscale-probe': 'something' } });
    expect(answer.status).toBe(400);
    expect(answer.headers['x-zeroscale-error']).toBe('UNKNOWN_PROBE');
  });
});

describe('queue-proxy stats and metrics', () => {
  it('serves the last whole interval at /stats, telling proxied requests apart', async () => {
    const { app: a, held, releaseAll } = await holdingApp();
    const clock = new ManualClock(0);
    const qp = await queueProxy(a.port, { statsIntervalMs: 100 }, clock);
    const stats = async () => JSON.parse((await request(qp.metricsPort, { path: '/stats' })).body);
    const direct = request(qp.httpPort);
    const proxied = request(qp.httpPort, { headers: { 'x-zeroscale-proxied': TEST_INTERNAL_TOKEN } });
    await waitFor('both requests at the app', () => held.length === 2);
    expect(a.seen.map((r) => r.headers['x-zeroscale-proxied'])).toEqual([undefined, undefined]);
    expect(await stats()).toMatchObject({ intervalMs: 0, averageConcurrency: 0 });
    clock.advance(100);
    const loaded = await stats();
    expect(loaded).toMatchObject({ pod: 'hello-pod-1', averageConcurrency: 2, averageProxiedConcurrency: 1 });
    expect(loaded.intervalMs).toBeGreaterThan(0);
    releaseAll();
    await Promise.all([direct, proxied]);
    clock.advance(100);
    clock.advance(100);
    expect(await stats()).toMatchObject({ averageConcurrency: 0, requestsPerSecond: 0 });
  });

  it('exposes Prometheus metrics labelled by namespace, service and revision only', async () => {
    const a = await app();
    const qp = await queueProxy(a.port);
    await request(qp.httpPort);
    const text = await scrape(qp.metricsPort);
    expect(
      metricValue(text, 'zeroscale_queue_requests_total', {
        namespace: 'default',
        service: 'hello',
        code_class: '2xx',
      }),
    ).toBe(1);
    expect(metricValue(text, 'zeroscale_queue_request_duration_seconds_count', { service: 'hello' })).toBe(1);
    expect(metricValue(text, 'zeroscale_queue_in_flight_requests', { service: 'hello' })).toBe(0);
    expect(metricValue(text, 'zeroscale_queue_queued_requests', { service: 'hello' })).toBe(0);
    expect(text).toContain('zeroscale_build_info');
    for (const line of text.split('\n').filter((l) => l.startsWith('zeroscale_queue_'))) {
      const labels = [...line.matchAll(/(\w+)="/g)].map((m) => m[1]);
      expect(
        labels.every((l) =>
          ['namespace', 'service', 'revision', 'code', 'code_class', 'reason', 'le'].includes(l!),
        ),
      ).toBe(true);
    }
  });
});

describe('queue-proxy drain', () => {
  it('fails readiness at once, serves in-flight and new requests with Connection: close, then closes', async () => {
    const { app: a, held, releaseAll } = await holdingApp();
    const clock = new ManualClock(0);
    const qp = await queueProxy(a.port, { drainMs: 300 }, clock);
    await qp.whenReady();
    const inFlight = request(qp.httpPort, { path: '/in-flight' });
    await waitFor('request at the app', () => held.length === 1);
    const waitForDrain = request(qp.metricsPort, { path: '/wait-for-drain' });
    const drained = qp.drain();
    expect((await request(qp.httpPort, { path: '/healthz/ready' })).status).toBe(503);
    const probe = await request(qp.httpPort, { headers: { 'x-zeroscale-probe': 'queue' } });
    expect(probe.headers['x-zeroscale-error']).toBe('DRAINING');
    const during = request(qp.httpPort, { path: '/during-drain' });
    await waitFor('request during drain at the app', () => held.length === 2);
    releaseAll();
    expect((await inFlight).status).toBe(200);
    const duringAnswer = await during;
    expect(duringAnswer.status).toBe(200);
    expect(duringAnswer.headers.connection).toBe('close');
    await runClockUntil(clock, drained);
    expect(clock.now()).toBeGreaterThanOrEqual(300);
    expect((await waitForDrain).body).toBe('drained\n');
    await expect(request(qp.httpPort)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('answers /wait-for-drain callers once drained, then closes the metrics port', async () => {
    const a = await app();
    const qp = await startTestQueueProxy(a.port, { drainMs: 200 });
    const port = qp.metricsPort;
    // The preStop hook's connection is open before the drain starts.
    const agent = new http.Agent({ keepAlive: true });
    expect((await request(port, { path: '/stats', agent })).status).toBe(200);
    const waiting = request(port, { path: '/wait-for-drain', agent });
    await qp.drain();
    expect((await waiting).status).toBe(200);
    agent.destroy();
    await expect(request(port, { path: '/wait-for-drain' })).rejects.toThrow(/ECONNREFUSED|ECONNRESET/);
  });
});

describe('queue-proxy bad input', () => {
  it('answers malformed requests with 400 and stays healthy', async () => {
    const a = await app();
    const qp = await queueProxy(a.port);
    const answer = await rawExchange(qp.httpPort, 'GARBAGE\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect((await request(qp.httpPort)).status).toBe(200);
    const metrics = await scrape(qp.metricsPort);
    expect(metricValue(metrics, 'zeroscale_queue_rejected_requests_total', { reason: 'bad-request' })).toBe(
      1,
    );
  });
});

describe('queue-proxy logs', () => {
  it('logs a request it could not forward with its request id and trace id, and nothing per request at info', async () => {
    const lines: { level: number; msg: string; [k: string]: unknown }[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const a = await app((_req, res) => res.end('ok'));
    const qp = await startTestQueueProxy(a.port, {}, { logger });
    cleanups.push(() => qp.close());
    await qp.whenReady();
    const before = lines.length;
    for (let i = 0; i < 3; i++) expect((await request(qp.httpPort)).status).toBe(200);
    expect(lines.length).toBe(before);
    await a.close();
    const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const answer = await request(qp.httpPort, {
      headers: { 'x-request-id': 'req-9', traceparent: `00-${trace}-00f067aa0ba902b7-01` },
    });
    expect(answer.status).toBe(502);
    expect(lines.filter((l) => l.level === 40)).toMatchObject([
      { requestId: 'req-9', traceId: trace, code: 'UPSTREAM_CONNECT_FAILED', service: 'hello' },
    ]);
  });
});
