// The activator over real sockets on 127.0.0.1, with in-memory service, endpoint and autoscaler
// sources: routing, holding requests while cold, probing, balancing, retries, reporting, limits
// and shutdown. Pods are real queue-proxies in front of test apps.

import type { ServerResponse } from 'node:http';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { ActivatorService } from '../../src/activator/sources.ts';
import { ManualClock } from '../../src/clock.ts';
import {
  type AppHandler,
  activatorTestKit,
  deadPort,
  HELLO,
  LOOPBACK,
  metricValue,
  openRaw,
  rawExchange,
  request,
  runClockUntil,
  scrape,
  startActivatorRig,
  waitFor,
} from './proxy-harness.ts';

const HOST = 'hello.default.svc';
const { cleanups, rig, pod } = activatorTestKit();

/** A handler that holds every request until released; `held` lists the waiting responses. */
function holding(): { handler: AppHandler; held: ServerResponse[]; releaseAll: () => void } {
  const held: ServerResponse[] = [];
  return {
    handler: (_req, res) => held.push(res),
    held,
    releaseAll: () => {
      for (const res of held.splice(0)) res.end('released');
    },
  };
}

const named: AppHandler = (req, res) => res.end(`${req.headers['x-forwarded-for']}|${req.url}`);

describe('activator routing', () => {
  it('routes the cluster names and the status.url host of a service, and 404s other hosts naming them', async () => {
    const r = await rig();
    const p = await pod('p1', (_req, res) => res.end('from p1'));
    r.endpoints.set('default', 'hello', [p.endpoint]);
    for (const host of [
      'hello.default.svc',
      'hello.default.svc.cluster.local',
      'hello.default.example.com',
      'HELLO.default.svc:8080',
    ]) {
      const answer = await request(r.activator.port, { host });
      expect(answer, host).toMatchObject({ status: 200, body: 'from p1' });
    }
    const unknown = await request(r.activator.port, { host: 'nope.default.svc' });
    expect(unknown.status).toBe(404);
    expect(unknown.headers['x-zeroscale-error']).toBe('UNKNOWN_HOST');
    expect(unknown.body).toContain('"nope.default.svc"');
  });

  it('answers its own probe, for the autoscaler and controller', async () => {
    const r = await rig();
    const answer = await request(r.activator.port, {
      host: 'anything',
      headers: { 'x-zeroscale-probe': 'activator' },
    });
    expect(answer).toMatchObject({ status: 200, body: 'activator' });
  });

  it('follows catalog changes: a new service routes, a removed one fails its waiting requests with 503', async () => {
    const r = await rig([]);
    expect((await request(r.activator.port, { host: HOST })).status).toBe(404);
    r.catalog.put(HELLO);
    const waiting = request(r.activator.port, { host: HOST });
    await waitFor('request queued', () => r.activator.service('default', 'hello')?.queued === 1);
    r.catalog.remove('default', 'hello');
    const answer = await waiting;
    expect(answer.status).toBe(503);
    expect(answer.headers['x-zeroscale-error']).toBe('SERVICE_REMOVED');
    expect(r.endpoints.subscribers('default', 'hello')).toBe(0);
  });

  it('routes a service its catalog has not delivered yet, instead of answering 404', async () => {
    // The Kubernetes catalog sends bursts of changes at most every 250 ms; a request in between
    // for a service it already knows must not be turned away.
    const r = await rig([]);
    r.catalog.holdChanges = true;
    r.catalog.put(HELLO);
    const p = await pod('p1', (_req, res) => res.end('from p1'));
    r.endpoints.set('default', 'hello', [p.endpoint]);
    // A host no held change can serve is answered 404 without delivering the change: a flood of
    // made-up hosts during a burst must not rebuild the catalog once per request.
    expect((await request(r.activator.port, { host: 'nope.default.svc' })).status).toBe(404);
    expect(r.catalog.flushes).toBe(0);
    expect(await request(r.activator.port, { host: HOST })).toMatchObject({ status: 200, body: 'from p1' });
    expect(r.catalog.flushes).toBe(1);
    expect((await request(r.activator.port, { host: 'nope.default.svc' })).status).toBe(404);
  });

  it('strips internal headers from clients, marks what it forwards and appends to X-Forwarded-For', async () => {
    const r = await rig();
    const p = await pod('p1', (req, res) => res.end(JSON.stringify(req.headers)));
    r.endpoints.set('default', 'hello', [p.endpoint]);
    const answer = await request(r.activator.port, {
      host: HOST,
      headers: { 'x-zeroscale-proxied': '1', 'x-zeroscale-other': 'x', 'x-forwarded-for': '203.0.113.7' },
    });
    const seen = JSON.parse(answer.body);
    expect(seen['x-zeroscale-other']).toBeUndefined();
    expect(seen['x-zeroscale-proxied']).toBeUndefined();
    // client → activator → queue-proxy: both hops appended.
    expect(seen['x-forwarded-for']).toBe(`203.0.113.7, ${LOOPBACK}, ${LOOPBACK}`);
    expect(seen['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    // The queue-proxy counted it as proxied: the activator reports it itself.
    await waitFor('proxied request in the pod stats', async () => {
      const text = (await request(p.queueProxy.metricsPort, { path: '/stats' })).body;
      return JSON.parse(text).proxiedRequestsPerSecond > 0;
    });
  });
});

describe('activator while a service is cold', () => {
  it('holds requests, pokes the autoscaler once, and forwards them the moment a pod passes its probe', async () => {
    const r = await rig();
    const first = request(r.activator.port, { host: HOST, path: '/first' });
    const second = request(r.activator.port, { host: HOST, path: '/second' });
    await waitFor('two requests held', () => r.activator.service('default', 'hello')?.queued === 2);
    await r.autoscaler.waitFor((c) => c.pokes.length === 1);
    expect(r.autoscaler.pokes).toEqual([{ service: 'default/hello', activator: 'activator-test' }]);
    // The pod is listed before Kubernetes calls it ready: the activator's own probe decides.
    const p = await pod('p1', named);
    r.endpoints.set('default', 'hello', [{ ...p.endpoint, ready: false }]);
    expect((await first).status).toBe(200);
    expect((await second).body).toContain('/second');
    expect(r.activator.service('default', 'hello')).toMatchObject({ healthyPods: 1, queued: 0, active: 0 });
    expect(r.autoscaler.pokes.length).toBe(1);
  });

  it('keeps probing a pod whose queue-proxy is not ready yet, and sends nothing to it until it is', async () => {
    const r = await rig();
    const port = await deadPort();
    r.endpoints.set('default', 'hello', [{ ip: LOOPBACK, port, ready: false }]);
    const held = request(r.activator.port, { host: HOST });
    await waitFor('request held', () => r.activator.service('default', 'hello')?.queued === 1);
    expect(r.activator.service('default', 'hello')).toMatchObject({ pods: 1, healthyPods: 0 });
    const p = await pod('late');
    r.endpoints.set('default', 'hello', [p.endpoint]);
    expect((await held).status).toBe(200);
  });

  it('answers 503 with Retry-After when the service queue is full', async () => {
    const r = await rig(undefined, { queueDepth: 2 });
    const waiting = [request(r.activator.port, { host: HOST }), request(r.activator.port, { host: HOST })];
    await waitFor('queue full', () => r.activator.service('default', 'hello')?.queued === 2);
    const refused = await request(r.activator.port, { host: HOST });
    expect(refused.status).toBe(503);
    expect(refused.headers['x-zeroscale-error']).toBe('QUEUE_FULL');
    expect(refused.headers['retry-after']).toBe('1');
    const p = await pod('p1');
    r.endpoints.set('default', 'hello', [p.endpoint]);
    for (const answer of await Promise.all(waiting)) expect(answer.status).toBe(200);
    const metrics = await scrape(r.activator.metricsPort);
    expect(
      metricValue(metrics, 'zeroscale_activator_rejected_requests_total', {
        service: 'hello',
        reason: 'queue-full',
      }),
    ).toBe(1);
  });

  it('answers 503 when the activator-wide queue limit is reached', async () => {
    const other: ActivatorService = { ...HELLO, name: 'other', url: undefined };
    const r = await rig([HELLO, other], { maxQueued: 1 });
    const waiting = request(r.activator.port, { host: HOST });
    await waitFor('one held', () => r.activator.queued === 1);
    const refused = await request(r.activator.port, { host: 'other.default.svc' });
    expect(refused.status).toBe(503);
    expect(refused.headers['x-zeroscale-error']).toBe('ACTIVATOR_QUEUE_FULL');
    const p = await pod('p1');
    r.endpoints.set('default', 'hello', [p.endpoint]);
    expect((await waiting).status).toBe(200);
  });

  it('answers 504 when no pod comes within timeoutSeconds, queue time included', async () => {
    const r = await rig([{ ...HELLO, timeoutSeconds: 0.2 }]);
    const answer = await request(r.activator.port, { host: HOST });
    expect(answer.status).toBe(504);
    expect(answer.headers['x-zeroscale-error']).toBe('DEADLINE_EXCEEDED');
    expect(r.activator.service('default', 'hello')).toMatchObject({ queued: 0, active: 0 });
  });

  it('removes a client that gives up while queued at once, leaving nothing behind', async () => {
    const r = await rig();
    const quitter = await openRaw(r.activator.port, `GET /quit HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`);
    const stays = request(r.activator.port, { host: HOST, path: '/stays' });
    await waitFor('both held', () => r.activator.service('default', 'hello')?.queued === 2);
    quitter.destroy();
    await waitFor('quitter gone from the queue', () => r.activator.service('default', 'hello')?.queued === 1);
    expect(r.activator.service('default', 'hello')?.active).toBe(1);
    const p = await pod('p1', named);
    r.endpoints.set('default', 'hello', [p.endpoint]);
    expect((await stays).status).toBe(200);
    expect(p.app.seen.map((req) => req.url)).toEqual(['/stays']);
    const metrics = await scrape(r.activator.metricsPort);
    expect(
      metricValue(metrics, 'zeroscale_activator_rejected_requests_total', { reason: 'client-aborted' }),
    ).toBe(1);
    expect(metricValue(metrics, 'zeroscale_activator_queued_requests', { service: 'hello' })).toBe(0);
    expect(metricValue(metrics, 'zeroscale_activator_in_flight_requests', { service: 'hello' })).toBe(0);
  });
});

describe('activator pods and balancing', () => {
  it('drops a pod as soon as it leaves the endpoints, and ignores terminating ones', async () => {
    const r = await rig();
    const [a, b] = [await pod('a', (_q, s) => s.end('a')), await pod('b', (_q, s) => s.end('b'))];
    r.endpoints.set('default', 'hello', [a.endpoint, b.endpoint]);
    await waitFor('both pods healthy', () => r.activator.service('default', 'hello')?.healthyPods === 2);
    r.endpoints.set('default', 'hello', [a.endpoint, { ...b.endpoint, terminating: true }]);
    expect(r.activator.service('default', 'hello')).toMatchObject({ pods: 1, healthyPods: 1 });
    const bodies = new Set<string>();
    for (let i = 0; i < 10; i++) bodies.add((await request(r.activator.port, { host: HOST })).body);
    expect([...bodies]).toEqual(['a']);
    r.endpoints.set('default', 'hello', []);
    expect(r.activator.service('default', 'hello')).toMatchObject({ pods: 0, healthyPods: 0 });
  });

  it('keeps each pod within containerConcurrency and queues the rest', async () => {
    const r = await rig([{ ...HELLO, containerConcurrency: 1 }]);
    const ha = holding();
    const hb = holding();
    const [a, b] = [await pod('a', ha.handler), await pod('b', hb.handler)];
    r.endpoints.set('default', 'hello', [a.endpoint, b.endpoint]);
    await waitFor('both pods healthy', () => r.activator.service('default', 'hello')?.healthyPods === 2);
    const answers = [1, 2, 3].map((i) => request(r.activator.port, { host: HOST, path: `/${i}` }));
    await waitFor('one request at each pod', () => ha.held.length === 1 && hb.held.length === 1);
    await waitFor(
      'third queued in the activator',
      () => r.activator.service('default', 'hello')?.queued === 1,
    );
    ha.releaseAll();
    await waitFor('third sent to the freed pod', () => ha.held.length === 1);
    expect(hb.held.length).toBe(1);
    ha.releaseAll();
    hb.releaseAll();
    for (const answer of await Promise.all(answers)) expect(answer.status).toBe(200);
  });

  it('retries on another pod when the connection is refused, and stops sending to the dead pod', async () => {
    const r = await rig();
    const [a, b] = [await pod('a', (_q, s) => s.end('a')), await pod('b', (_q, s) => s.end('b'))];
    r.endpoints.set('default', 'hello', [a.endpoint, b.endpoint]);
    await waitFor('both pods healthy', () => r.activator.service('default', 'hello')?.healthyPods === 2);
    // Pod a's queue-proxy dies without the endpoints knowing yet.
    await a.queueProxy.close();
    const bodies: string[] = [];
    for (let i = 0; i < 20; i++) {
      const answer = await request(r.activator.port, { host: HOST });
      expect(answer.status).toBe(200);
      bodies.push(answer.body);
    }
    expect(new Set(bodies)).toEqual(new Set(['b']));
    expect(r.activator.service('default', 'hello')?.healthyPods).toBe(1);
    const metrics = await scrape(r.activator.metricsPort);
    expect(metricValue(metrics, 'zeroscale_activator_retries_total', { service: 'hello' })).toBeGreaterThan(
      0,
    );
  });

  it('never retries once body bytes reached the pod: 502 with the reason', async () => {
    // A "pod" that passes the probe and then drops the connection after reading some of the body.
    const fake = http.createServer((req, res) => {
      if (req.headers['x-zeroscale-probe'] === 'queue') {
        res.end('queue');
        return;
      }
      req.once('data', () => req.socket.destroy());
    });
    await new Promise<void>((resolve) => fake.listen(0, LOOPBACK, resolve));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          fake.close(() => resolve());
          fake.closeAllConnections();
        }),
    );
    const other = await pod('other');
    const r = await rig([{ ...HELLO, containerConcurrency: 1 }]);
    // first-available policy (cc 1): the fake pod, listed first, gets the request.
    r.endpoints.set('default', 'hello', [
      { ip: LOOPBACK, port: (fake.address() as AddressInfo).port, ready: true },
      other.endpoint,
    ]);
    await waitFor('both pods healthy', () => r.activator.service('default', 'hello')?.healthyPods === 2);
    const answer = await new Promise<{ status: number; code: unknown; body: string }>((resolve, reject) => {
      const req = http.request(
        { host: LOOPBACK, port: r.activator.port, method: 'POST', agent: false, headers: { host: HOST } },
        (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () =>
            resolve({ status: res.statusCode!, code: res.headers['x-zeroscale-error'], body }),
          );
        },
      );
      req.on('error', reject);
      req.write('some of the body;');
      setTimeout(() => req.end('the rest'), 50);
    });
    expect(answer.status).toBe(502);
    expect(answer.code).toBe('UPSTREAM_RESET');
    // The client is told what happened, never which pod address it happened at.
    expect(answer.body).toBe('upstream closed the connection before responding\n');
    expect(answer.body).not.toContain(LOOPBACK);
    expect(other.app.seen.length).toBe(0);
  });

  it('passes WebSocket upgrades through the activator and the queue-proxy', async () => {
    const r = await rig();
    const p = await pod('p1');
    p.app.server.on('upgrade', (_req, socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\r\n');
      socket.on('data', (d: Buffer) => socket.write(`echo:${d.toString()}`));
      socket.on('end', () => socket.end());
    });
    r.endpoints.set('default', 'hello', [p.endpoint]);
    const socket = await openRaw(
      r.activator.port,
      `GET /ws HTTP/1.1\r\nHost: ${HOST}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`,
    );
    let received = '';
    socket.setEncoding('latin1');
    socket.on('data', (c: string) => (received += c));
    await waitFor('101', () => received.includes('\r\n\r\n'));
    expect(received).toMatch(/^HTTP\/1\.1 101 /);
    socket.write('ping');
    await waitFor('echo', () => received.endsWith('echo:ping'));
    socket.end();
    await waitFor('upgrade ended', () => r.activator.service('default', 'hello')?.active === 0);
  });
});

describe('activator reports', () => {
  it('reports each service with load to the autoscaler every interval', async () => {
    const clock = new ManualClock(0);
    const r = await rig(undefined, { reportIntervalMs: 100 }, clock);
    const p = await pod('p1');
    r.endpoints.set('default', 'hello', [p.endpoint]);
    for (let i = 0; i < 3; i++) expect((await request(r.activator.port, { host: HOST })).status).toBe(200);
    expect(r.autoscaler.reports).toEqual([]);
    await clock.tick(100);
    await r.autoscaler.waitFor((c) =>
      c.reports.some((rep) => rep.services.some((s) => s.requestsPerSecond > 0)),
    );
    const report = r.autoscaler.reports.find((rep) => rep.services.length > 0)!;
    expect(report.activator).toBe('activator-test');
    expect(report.services[0]).toMatchObject({ service: 'default/hello', queued: 0 });
  });

  it('reports requests held while cold as queued', async () => {
    const clock = new ManualClock(0);
    const r = await rig(undefined, { reportIntervalMs: 100 }, clock);
    const held = request(r.activator.port, { host: HOST });
    await waitFor('the request held', () => r.activator.queued === 1);
    await clock.tick(100);
    await r.autoscaler.waitFor((c) => c.reports.some((rep) => rep.services.some((s) => s.queued === 1)));
    const p = await pod('p1');
    r.endpoints.set('default', 'hello', [p.endpoint]);
    expect((await held).status).toBe(200);
  });

  it('keeps serving when the autoscaler cannot be reached, and counts the failures', async () => {
    const clock = new ManualClock(0);
    const r = await rig(undefined, { reportIntervalMs: 50 }, clock);
    r.autoscaler.failWith = new Error('unreachable');
    const held = request(r.activator.port, { host: HOST });
    await waitFor('the request held', () => r.activator.queued === 1);
    await clock.tick(100);
    await waitFor('failures counted', async () => {
      const n = metricValue(
        await scrape(r.activator.metricsPort),
        'zeroscale_activator_autoscaler_errors_total',
      );
      return n !== undefined && n >= 2;
    });
    const p = await pod('p1');
    r.endpoints.set('default', 'hello', [p.endpoint]);
    expect((await held).status).toBe(200);
  });
});

describe('activator logs', () => {
  it('logs failed autoscaler calls at most once a second, saying how many it left out', async () => {
    const lines: { msg: string; suppressed?: number }[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const clock = new ManualClock(0);
    const r = await startActivatorRig(undefined, { reportIntervalMs: 50 }, { clock, logger });
    cleanups.push(() => r.close());
    r.autoscaler.failWith = new Error('unreachable');
    const held = request(r.activator.port, { host: HOST });
    await waitFor('the request held', () => r.activator.queued === 1);
    await clock.tick(500);
    const failed = () => lines.filter((l) => l.msg === 'autoscaler call failed');
    expect(failed()).toHaveLength(1);
    await clock.tick(1_000);
    await waitFor('the second line', () => failed().length === 2);
    expect(failed()[1]!.suppressed).toBeGreaterThanOrEqual(9);
    const p = await pod('p1');
    r.endpoints.set('default', 'hello', [p.endpoint]);
    expect((await held).status).toBe(200);
  });
});

describe('activator bad input', () => {
  it('answers 413 for a declared body over the limit, without reading it', async () => {
    const r = await rig(undefined, { maxBodyBytes: 100 });
    const answer = await request(r.activator.port, { host: HOST, method: 'POST', body: Buffer.alloc(101) });
    expect(answer.status).toBe(413);
    expect(answer.headers.connection).toBe('close');
    expect(answer.headers['x-zeroscale-error']).toBe('BODY_TOO_LARGE');
  });

  it('answers 413 when a chunked body grows over the limit while streaming', async () => {
    const r = await rig(undefined, { maxBodyBytes: 100 });
    const p = await pod('p1', (req, res) => {
      req.resume();
      req.on('end', () => res.end('read it all'));
    });
    r.endpoints.set('default', 'hello', [p.endpoint]);
    const answer = await new Promise<{ status: number; code: unknown }>((resolve, reject) => {
      const req = http.request(
        {
          host: LOOPBACK,
          port: r.activator.port,
          method: 'POST',
          agent: false,
          headers: { host: HOST, 'transfer-encoding': 'chunked' },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode!, code: res.headers['x-zeroscale-error'] }));
        },
      );
      req.on('error', reject);
      req.write(Buffer.alloc(60));
      req.write(Buffer.alloc(60));
    });
    expect(answer).toEqual({ status: 413, code: 'BODY_TOO_LARGE' });
  });

  it('answers 431 for headers over the limit, 400 for malformed requests, 408 for slow headers, and stays healthy', async () => {
    const r = await rig(undefined, { limits: { maxHeaderBytes: 2048, headersTimeoutMs: 200 } });
    const p = await pod('p1');
    r.endpoints.set('default', 'hello', [p.endpoint]);
    const port = r.activator.port;
    const tooLarge = await rawExchange(
      port,
      `GET / HTTP/1.1\r\nHost: ${HOST}\r\nx-big: ${'a'.repeat(4096)}\r\n\r\n`,
    );
    expect(tooLarge).toMatch(/^HTTP\/1\.1 431 /);
    const malformed = await rawExchange(port, 'NOT HTTP AT ALL\r\n\r\n');
    expect(malformed).toMatch(/^HTTP\/1\.1 400 /);
    const noHost = await rawExchange(port, 'GET / HTTP/1.1\r\n\r\n');
    expect(noHost).toMatch(/^HTTP\/1\.1 400 /);
    // A client that starts its headers and never finishes them.
    const slow = await rawExchange(port, `GET / HTTP/1.1\r\nHost: ${HOST}\r\nx-slow: `);
    expect(slow).toMatch(/^HTTP\/1\.1 408 /);
    expect((await request(port, { host: HOST })).status).toBe(200);
    const metrics = await scrape(r.activator.metricsPort);
    for (const reason of ['headers-too-large', 'bad-request', 'headers-timeout']) {
      expect(
        metricValue(metrics, 'zeroscale_activator_rejected_requests_total', { reason }),
        reason,
      ).toBeGreaterThan(0);
    }
  });

  it('forgets a client that disconnects in the middle of its body', async () => {
    const r = await rig();
    const got: string[] = [];
    const p = await pod('p1', (req, res) => {
      req.on('data', (c) => got.push(String(c)));
      req.on('end', () => res.end());
      req.on('error', () => {});
    });
    r.endpoints.set('default', 'hello', [p.endpoint]);
    const socket = await openRaw(
      r.activator.port,
      `POST / HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 1000\r\n\r\nfirst part`,
    );
    await waitFor('first part at the app', () => got.join('') === 'first part');
    socket.destroy();
    await waitFor('nothing left in flight', () => r.activator.service('default', 'hello')?.active === 0);
    await waitFor(
      'queue-proxy forgot it too',
      async () =>
        metricValue(await scrape(p.queueProxy.metricsPort), 'zeroscale_queue_in_flight_requests') === 0,
    );
    expect((await request(r.activator.port, { host: HOST })).status).toBe(200);
  });
});

describe('activator shutdown', () => {
  it('fails its health at once, finishes what it holds, then stops', async () => {
    const clock = new ManualClock(0);
    const r = await startActivatorRig(undefined, { drainMs: 100 }, { clock });
    const h = holding();
    const p = await pod('p1', h.handler);
    r.endpoints.set('default', 'hello', [p.endpoint]);
    const inFlight = request(r.activator.port, { host: HOST });
    await waitFor('request at the app', () => h.held.length === 1);
    const metricsPort = r.activator.metricsPort;
    const port = r.activator.port;
    const drained = r.activator.drain();
    expect((await request(metricsPort, { path: '/healthz' })).status).toBe(503);
    expect((await request(port, { headers: { 'x-zeroscale-probe': 'activator' } })).status).toBe(503);
    const during = request(port, { host: HOST, path: '/during' });
    await waitFor('request during the drain at the app', () => h.held.length === 2);
    h.releaseAll();
    expect((await inFlight).status).toBe(200);
    const duringAnswer = await during;
    expect(duringAnswer.status).toBe(200);
    expect(duringAnswer.headers.connection).toBe('close');
    await runClockUntil(clock, drained);
    expect(clock.now()).toBeGreaterThanOrEqual(100);
    await expect(request(port, { host: HOST })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});
