// Fail fast through a real activator over 127.0.0.1, with in-memory sources: when every pod of a
// service is failing (what kube-sources.ts judges from the pod informer), the requests it holds
// and the new ones are answered at once with 503, Retry-After and the reason; the cold start ends
// as failed with the reason (log line, the hook the CLI turns into an Event, metrics); and when
// the failure ends, the next request cold-starts as usual.

import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { API_UNAVAILABLE_REASON } from '../../src/activator/api-health.ts';
import type { ColdStartEnded } from '../../src/activator/cold-start.ts';
import { MemoryServiceFailureSource } from '../../src/activator/memory-sources.ts';
import type { ServiceFailure } from '../../src/activator/sources.ts';
import {
  HELLO,
  metricValue,
  openRaw,
  request,
  scrape,
  startActivatorRig,
  startPod,
  waitFor,
} from './proxy-harness.ts';

const HOST = 'hello.default.svc';
const CRASH = { reason: 'CrashLoopBackOff', message: 'container app exited with code 3 (restarted once)' };
const BODY = `service default/hello cannot start: ${CRASH.message} (CrashLoopBackOff)\n`;
const series = { namespace: 'default', service: 'hello' };

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** A ControlPlaneHealthSource driven by hand. */
function manualControlPlane() {
  const listeners = new Set<(u: ServiceFailure | undefined) => void>();
  return {
    subscribe(onChange: (u: ServiceFailure | undefined) => void) {
      listeners.add(onChange);
      return () => listeners.delete(onChange);
    },
    set(u: ServiceFailure | undefined) {
      for (const l of listeners) l(u);
    },
  };
}

async function rig(services = [HELLO]) {
  const lines: { level: number; msg: string; [k: string]: unknown }[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  const failures = new MemoryServiceFailureSource();
  const controlPlane = manualControlPlane();
  const ended: ColdStartEnded[] = [];
  const r = await startActivatorRig(
    services,
    {},
    {
      logger,
      failures,
      controlPlane,
      onColdStart: (e) => ended.push(e),
    },
  );
  cleanups.push(() => r.close());
  return { ...r, failures, controlPlane, lines, ended };
}

/** Reads a raw connection until it closes. */
function readAll(socket: import('node:net').Socket): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    socket.setEncoding('latin1');
    socket.on('data', (c: string) => (out += c));
    socket.on('close', () => resolve(out));
    socket.on('error', () => resolve(out));
  });
}

describe('activator fail fast', () => {
  it('answers the requests it holds with 503, Retry-After and the reason once every pod fails', async () => {
    const r = await rig();
    // One parked (first request of a connection, no body), one through the parser (a body).
    const parked = await openRaw(r.activator.port, `GET /a HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`);
    const parkedAnswer = readAll(parked);
    const withBody = request(r.activator.port, { host: HOST, method: 'POST', path: '/b', body: 'x' });
    await waitFor('both held', () => r.activator.service('default', 'hello')?.queued === 2);

    r.failures.set('default', 'hello', CRASH);

    const answer = await withBody;
    expect(answer.status).toBe(503);
    expect(answer.headers['retry-after']).toBe('10');
    expect(answer.headers['x-zeroscale-error']).toBe('SERVICE_CANNOT_START');
    expect(answer.body).toBe(BODY);
    const raw = await parkedAnswer;
    expect(raw).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/);
    expect(raw).toMatch(/\r\nretry-after: 10\r\n/i);
    expect(raw.endsWith(`\r\n\r\n${BODY}`)).toBe(true);
    expect(r.activator.service('default', 'hello')?.queued).toBe(0);

    // The cold start they waited through ended as failed, with the reason, once.
    await waitFor('cold start recorded', () => r.ended.length === 1);
    expect(r.ended[0]).toMatchObject({ totalMs: undefined, failure: CRASH });
    const line = r.lines.find((l) => l.msg.startsWith('cold start failed'));
    expect(line?.msg).toBe(
      `cold start failed: ${CRASH.message} (CrashLoopBackOff); its 2 requests were answered 503`,
    );
    expect(line?.coldStart).toMatchObject({ outcome: 'failed', failure: CRASH });

    const text = await scrape(r.activator.metricsPort);
    expect(
      metricValue(text, 'zeroscale_activator_fail_fast_total', { ...series, reason: 'CrashLoopBackOff' }),
    ).toBe(2);
    expect(
      metricValue(text, 'zeroscale_activator_rejected_requests_total', {
        ...series,
        reason: 'service-failing',
      }),
    ).toBe(2);
    expect(
      metricValue(text, 'zeroscale_activator_service_failing', { ...series, reason: 'CrashLoopBackOff' }),
    ).toBe(1);
  });

  it('answers new requests at once while the failure holds, without a poke or a cold start', async () => {
    const r = await rig();
    r.failures.set('default', 'hello', CRASH);
    for (const path of ['/1', '/2', '/3']) {
      const answer = await request(r.activator.port, { host: HOST, path });
      expect(answer).toMatchObject({ status: 503, body: BODY });
      expect(answer.headers['retry-after']).toBe('10');
    }
    // A new connection's first request is not parked for a failing service either.
    const raw = readAll(
      await openRaw(r.activator.port, `GET / HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`),
    );
    expect(await raw).toMatch(/^HTTP\/1\.1 503 /);
    expect(r.autoscaler.pokes).toEqual([]);
    const text = await scrape(r.activator.metricsPort);
    expect(metricValue(text, 'zeroscale_cold_starts_total', series) ?? 0).toBe(0);
    expect(
      metricValue(text, 'zeroscale_activator_fail_fast_total', { ...series, reason: 'CrashLoopBackOff' }),
    ).toBe(4);
  });

  it('waits for pods again once the failure ends: the next request cold-starts and is served', async () => {
    const r = await rig();
    r.failures.set('default', 'hello', {
      reason: 'ImagePullBackOff',
      message: 'container app: image "x" cannot be pulled',
    });
    expect((await request(r.activator.port, { host: HOST })).status).toBe(503);
    r.failures.set('default', 'hello', undefined);
    const waiting = request(r.activator.port, { host: HOST, path: '/fixed' });
    await waitFor('held again', () => r.activator.service('default', 'hello')?.queued === 1);
    await r.autoscaler.waitFor((c) => c.pokes.length === 1);
    const p = await startPod('hello-1', (req, res) => res.end(`served ${req.url}`));
    cleanups.push(() => p.close());
    r.endpoints.set('default', 'hello', [p.endpoint]);
    expect(await waiting).toMatchObject({ status: 200, body: 'served /fixed' });
    const text = await scrape(r.activator.metricsPort);
    expect(metricValue(text, 'zeroscale_activator_service_failing', series)).toBeUndefined();
    expect(r.lines.some((l) => l.msg === 'service can start again; requests wait for its pods again')).toBe(
      true,
    );
  });

  it('still serves from a pod that is healthy: only requests that would wait are answered at once', async () => {
    const r = await rig();
    const p = await startPod('hello-1', (_req, res) => res.end('ok'));
    cleanups.push(() => p.close());
    r.endpoints.set('default', 'hello', [p.endpoint]);
    await waitFor('pod healthy', () => r.activator.service('default', 'hello')?.healthyPods === 1);
    r.failures.set('default', 'hello', CRASH);
    expect(await request(r.activator.port, { host: HOST })).toMatchObject({ status: 200, body: 'ok' });
  });

  it('answers only services with no pod while the Kubernetes API is unavailable, until it is back', async () => {
    const WARM = { ...HELLO, name: 'warm' };
    const r = await rig([HELLO, WARM]);
    const p = await startPod('warm-1', (_req, res) => res.end('warm'));
    cleanups.push(() => p.close());
    r.endpoints.set('default', 'warm', [p.endpoint]);
    await waitFor('warm pod healthy', () => r.activator.service('default', 'warm')?.healthyPods === 1);
    const held = request(r.activator.port, { host: HOST, method: 'POST', body: 'x' });
    await waitFor('cold request held', () => r.activator.service('default', 'hello')?.queued === 1);

    const unavailable = {
      reason: API_UNAVAILABLE_REASON,
      message: 'the Kubernetes API is unavailable, so no pod can be started for it now',
    };
    r.controlPlane.set(unavailable);
    const answer = await held;
    expect(answer.status).toBe(503);
    expect(answer.body).toBe(
      `service default/hello cannot start: ${unavailable.message} (${API_UNAVAILABLE_REASON})\n`,
    );
    expect(answer.headers['retry-after']).toBe('10');
    // A service with a pod keeps serving from what the activator knows.
    expect(await request(r.activator.port, { host: 'warm.default.svc' })).toMatchObject({
      status: 200,
      body: 'warm',
    });

    r.controlPlane.set(undefined);
    const waiting = request(r.activator.port, { host: HOST, path: '/back' });
    await waitFor('held again', () => r.activator.service('default', 'hello')?.queued === 1);
    const q = await startPod('hello-1', (req, res) => res.end(`served ${req.url}`));
    cleanups.push(() => q.close());
    r.endpoints.set('default', 'hello', [q.endpoint]);
    expect(await waiting).toMatchObject({ status: 200, body: 'served /back' });
  });
});

describe('activator budget refusal (spec.budget action Reject)', () => {
  it('answers 429 with Retry-After and what was spent while refused, pods or not, and serves again after', async () => {
    const r = await rig();
    const p = await startPod('p1', (_req, res) => res.end('served'));
    cleanups.push(() => p.close());
    r.endpoints.set('default', 'hello', [p.endpoint]);
    expect(await request(r.activator.port, { host: HOST })).toMatchObject({ status: 200, body: 'served' });

    const refusal = 'budget spent: used 3601 of 3600 replica-seconds in the last 3600s';
    const pokes = r.autoscaler.pokes.length;
    r.catalog.put({ ...HELLO, refusal }); // the catalog tells the activator at once
    const answer = await request(r.activator.port, { host: HOST, method: 'POST', path: '/x', body: 'data' });
    expect(answer.status).toBe(429);
    expect(answer.headers['retry-after']).toBe('60');
    expect(answer.headers['x-zeroscale-error']).toBe('BUDGET_EXCEEDED');
    expect(answer.body).toBe(`service default/hello: ${refusal}\n`);
    // Also a new connection's first request at zero pods: not parked, not woken, refused at once.
    r.endpoints.set('default', 'hello', []);
    const raw = readAll(
      await openRaw(r.activator.port, `GET / HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`),
    );
    expect(await raw).toMatch(/^HTTP\/1\.1 429 /);
    expect(r.autoscaler.pokes.length).toBe(pokes);
    const text = await scrape(r.activator.metricsPort);
    expect(
      metricValue(text, 'zeroscale_activator_rejected_requests_total', {
        ...series,
        reason: 'budget-exceeded',
      }),
    ).toBe(2);

    r.catalog.put(HELLO);
    r.endpoints.set('default', 'hello', [p.endpoint]);
    await waitFor(
      'served again',
      async () => (await request(r.activator.port, { host: HOST })).status === 200,
    );
  });
});
