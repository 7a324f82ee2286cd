// Cold-start telemetry through a real activator over 127.0.0.1, with in-memory sources: the
// histogram, the counter, every phase (including those a pod informer reports through the
// PodLifecycleSource hook) and the one log line per cold start.

import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { COLD_START_PHASES } from '../../src/activator/cold-start.ts';
import { MemoryPodLifecycleSource } from '../../src/activator/memory-sources.ts';
import type { ActivatorOptions } from '../../src/activator/options.ts';
import type { ActivatorService } from '../../src/activator/sources.ts';
import {
  type ActivatorRig,
  HELLO,
  metricValue,
  type Pod,
  request,
  scrape,
  startActivatorRig,
  startPod,
  waitFor,
} from './proxy-harness.ts';

const HOST = 'hello.default.svc';
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [field: string]: unknown;
}

/** An activator whose log lines the test reads, with a pod lifecycle source it can drive. */
async function rig(
  services: readonly ActivatorService[] = [HELLO],
  overrides: Partial<ActivatorOptions> = {},
) {
  const lines: LogLine[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  const lifecycle = new MemoryPodLifecycleSource();
  const r: ActivatorRig = await startActivatorRig(services, overrides, { logger, podLifecycle: lifecycle });
  cleanups.push(() => r.close());
  const coldStartLines = () => lines.filter((l) => l.coldStart !== undefined);
  const infoLines = () => lines.filter((l) => l.level >= 30);
  return { ...r, lines, lifecycle, coldStartLines, infoLines };
}

async function pod(name: string): Promise<Pod> {
  const p = await startPod(name, (req, res) => res.end(`served ${req.url}`));
  cleanups.push(() => p.close());
  return p;
}

const series = { namespace: 'default', service: 'hello' };

describe('activator cold-start telemetry', () => {
  it('records the duration, the count and every phase of a cold start, and logs it once', async () => {
    const r = await rig();
    const waiting = request(r.activator.port, { host: HOST, path: '/first' });
    await waitFor('request held', () => r.activator.service('default', 'hello')?.queued === 1);
    await r.autoscaler.waitFor((c) => c.pokes.length === 1);
    // What a pod informer would report once the autoscaler scaled up.
    r.lifecycle.emit('default', 'hello', { phase: 'pod_created', pod: 'hello-1' });
    r.lifecycle.emit('default', 'hello', { phase: 'pod_scheduled', pod: 'hello-1' });
    const p = await pod('hello-1');
    // Listed before Kubernetes calls it ready: the activator's own probe decides.
    r.endpoints.set('default', 'hello', [{ ...p.endpoint, ready: false }]);
    expect(await waiting).toMatchObject({ status: 200, body: 'served /first' });

    const text = await scrape(r.activator.metricsPort);
    expect(metricValue(text, 'zeroscale_cold_starts_total', series)).toBe(1);
    expect(metricValue(text, 'zeroscale_cold_start_duration_seconds_count', series)).toBe(1);
    expect(metricValue(text, 'zeroscale_cold_start_duration_seconds_sum', series)).toBeGreaterThan(0);
    for (const phase of COLD_START_PHASES) {
      expect(
        metricValue(text, 'zeroscale_cold_start_phase_duration_seconds_count', { ...series, phase }),
        phase,
      ).toBe(1);
    }

    const [line, ...more] = r.coldStartLines();
    expect(more).toEqual([]);
    expect(line).toMatchObject({
      level: 30,
      service: 'default/hello',
      pod: 'hello-1',
      coldStart: { outcome: 'served', requests: 1 },
    });
    expect(line!.requestId).toMatch(/^[0-9a-f-]{36}$/);
    const cold = line!.coldStart as { durationMs: number; phasesMs: Record<string, number> };
    expect(Object.keys(cold.phasesMs).sort()).toEqual([...COLD_START_PHASES].sort());
    expect(cold.durationMs).toBeGreaterThan(0);

    // Warm requests: no cold start, and not one line per request at info.
    const infoBefore = r.infoLines().length;
    for (let i = 0; i < 5; i++) expect((await request(r.activator.port, { host: HOST })).status).toBe(200);
    expect(r.infoLines().length).toBe(infoBefore);
    const after = await scrape(r.activator.metricsPort);
    expect(metricValue(after, 'zeroscale_cold_starts_total', series)).toBe(1);
    expect(metricValue(after, 'zeroscale_activator_requests_total', { ...series, code: '200' })).toBe(6);
  });

  it('counts one cold start for all the requests that waited through it', async () => {
    const r = await rig();
    const waiting = [1, 2, 3].map((i) => request(r.activator.port, { host: HOST, path: `/${i}` }));
    await waitFor('three held', () => r.activator.service('default', 'hello')?.queued === 3);
    const p = await pod('hello-1');
    r.endpoints.set('default', 'hello', [p.endpoint]);
    for (const answer of await Promise.all(waiting)) expect(answer.status).toBe(200);
    const text = await scrape(r.activator.metricsPort);
    expect(metricValue(text, 'zeroscale_cold_starts_total', series)).toBe(1);
    expect(metricValue(text, 'zeroscale_cold_start_duration_seconds_count', series)).toBe(1);
    expect(r.coldStartLines()).toMatchObject([{ coldStart: { outcome: 'served', requests: 3 } }]);
  });

  it('counts a cold start whose requests all gave up, without a duration, and logs it as abandoned', async () => {
    const r = await rig([{ ...HELLO, timeoutSeconds: 0.2 }]);
    const answer = await request(r.activator.port, { host: HOST });
    expect(answer.status).toBe(504);
    await waitFor('the cold start ended', () => r.coldStartLines().length === 1);
    const text = await scrape(r.activator.metricsPort);
    expect(metricValue(text, 'zeroscale_cold_starts_total', series)).toBe(1);
    expect(metricValue(text, 'zeroscale_cold_start_duration_seconds_count', series)).toBe(0);
    expect(
      metricValue(text, 'zeroscale_cold_start_phase_duration_seconds_count', {
        ...series,
        phase: 'decision',
      }),
    ).toBe(1);
    expect(
      metricValue(text, 'zeroscale_activator_rejected_requests_total', { ...series, reason: 'deadline' }),
    ).toBe(1);
    expect(r.coldStartLines()[0]).toMatchObject({
      level: 30,
      coldStart: { outcome: 'abandoned', requests: 1 },
    });
  });

  it('logs a request it failed to forward with its request id and trace id', async () => {
    const r = await rig([HELLO], { maxAttempts: 1 });
    const p = await pod('hello-1');
    r.endpoints.set('default', 'hello', [p.endpoint]);
    await waitFor('pod healthy', () => r.activator.service('default', 'hello')?.healthyPods === 1);
    await p.queueProxy.close();
    const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const answer = await request(r.activator.port, {
      host: HOST,
      headers: { 'x-request-id': 'req-1', traceparent: `00-${trace}-00f067aa0ba902b7-01` },
    });
    expect(answer.status).toBe(502);
    expect(answer.headers['x-zeroscale-error']).toBe('UPSTREAM_CONNECT_FAILED');
    const warned = r.lines.filter((l) => l.level === 40 && l.msg.startsWith('request failed'));
    expect(warned).toMatchObject([
      {
        requestId: 'req-1',
        traceId: trace,
        code: 'UPSTREAM_CONNECT_FAILED',
        pod: 'hello-1',
        service: 'default/hello',
      },
    ]);
  });
});
