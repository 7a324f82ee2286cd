import pino from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import {
  ColdStartMetrics,
  type ColdStartTimes,
  ColdStartTracker,
  coldStartPhases,
} from '../../src/activator/cold-start.ts';

const t0 = 10_000;

describe('coldStartPhases', () => {
  it.each<{ name: string; times: ColdStartTimes; expected: [string, number][] }>([
    {
      name: 'in order: the durations add up to the total',
      times: {
        startedAt: t0,
        pokedAt: t0,
        at: { decision: t0 + 4, pod_discovered: t0 + 900, pod_ready: t0 + 1400, forwarded: t0 + 1412 },
      },
      expected: [
        ['decision', 4],
        ['pod_discovered', 896],
        ['pod_ready', 500],
        ['forwarded', 12],
      ],
    },
    {
      name: 'with the phases a pod informer reports, in their place',
      times: {
        startedAt: t0,
        pokedAt: t0 + 1,
        at: {
          decision: t0 + 5,
          pod_created: t0 + 30,
          pod_scheduled: t0 + 40,
          pod_discovered: t0 + 300,
          pod_ready: t0 + 800,
          forwarded: t0 + 810,
        },
      },
      expected: [
        ['decision', 4],
        ['pod_created', 25],
        ['pod_scheduled', 10],
        ['pod_discovered', 260],
        ['pod_ready', 500],
        ['forwarded', 10],
      ],
    },
    {
      name: 'no decision seen (poke failed, or sent before): phases run from the start',
      times: { startedAt: t0, pokedAt: undefined, at: { pod_ready: t0 + 50, forwarded: t0 + 60 } },
      expected: [
        ['pod_ready', 50],
        ['forwarded', 10],
      ],
    },
    {
      name: 'out of order: a phase that ended before an earlier one counts 0, the next runs from the latest',
      times: {
        startedAt: t0,
        pokedAt: t0,
        at: { decision: t0 + 500, pod_discovered: t0 + 200, pod_ready: t0 + 700 },
      },
      expected: [
        ['decision', 500],
        ['pod_discovered', 0],
        ['pod_ready', 200],
      ],
    },
    { name: 'nothing seen', times: { startedAt: t0, pokedAt: undefined, at: {} }, expected: [] },
  ])('$name', ({ times, expected }) => {
    expect(coldStartPhases(times).map((p) => [p.phase, p.ms])).toEqual(expected);
  });
});

/** A tracker on a fresh registry with a logger whose lines the test reads. */
function tracker() {
  const registry = new Registry();
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  const metrics = new ColdStartMetrics(registry);
  const t = new ColdStartTracker({ namespace: 'default', service: 'hello', revision: '' }, log, metrics);
  const value = async (name: string, labels: Record<string, string> = {}) => {
    const metric = await registry.getSingleMetric(name)!.get();
    const wanted = { namespace: 'default', service: 'hello', ...labels };
    return metric.values.find(
      (v) =>
        ((v as { metricName?: string }).metricName ?? name) ===
          (name.endsWith('_seconds') ? `${name}_count` : name) &&
        Object.entries(wanted).every(([k, want]) => String(v.labels[k]) === want),
    )?.value;
  };
  return { t, lines, registry, value };
}

describe('ColdStartTracker', () => {
  it('begins a cold start only when the service has no ready pod, and lets later waiters join it', async () => {
    const { t, value } = tracker();
    expect(t.join(t0, false)).toBeUndefined();
    const first = t.join(t0, true)!;
    const second = t.join(t0 + 10, false)!;
    expect(second).toBe(first);
    expect(first).toMatchObject({ startedAt: t0, waiting: 2, requests: 2 });
    expect(await value('zeroscale_cold_starts_total')).toBe(1);
  });

  it('records the total, every phase and one log line when a pod answers a waiting request', async () => {
    const { t, lines, value } = tracker();
    const cs = t.join(t0, true)!;
    t.decided(t0, t0 + 3);
    t.mark('pod_discovered', t0 + 400);
    t.mark('pod_discovered', t0 + 450); // a second pod: the first one counts
    t.mark('pod_ready', t0 + 900);
    t.served(cs, t0 + 910, { requestId: 'r1', traceId: 'abc', pod: 'hello-1' });
    expect(t.current).toBeUndefined();
    expect(cs.outcome).toBe('served');
    expect(await value('zeroscale_cold_start_duration_seconds')).toBe(1);
    for (const phase of ['decision', 'pod_discovered', 'pod_ready', 'forwarded']) {
      expect(await value('zeroscale_cold_start_phase_duration_seconds', { phase }), phase).toBe(1);
    }
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 30,
      requestId: 'r1',
      traceId: 'abc',
      pod: 'hello-1',
      coldStart: {
        outcome: 'served',
        durationMs: 910,
        phasesMs: { decision: 3, pod_discovered: 397, pod_ready: 500, forwarded: 10 },
        requests: 1,
      },
    });
    // Later answers to requests of the same cold start change nothing.
    t.served(cs, t0 + 950, { requestId: 'r2', traceId: undefined, pod: undefined });
    t.left(cs);
    expect(lines).toHaveLength(1);
    expect(await value('zeroscale_cold_start_duration_seconds')).toBe(1);
  });

  it('ignores a poke answer for a poke sent before the cold start began', () => {
    const { t } = tracker();
    const cs = t.join(t0, true)!;
    t.decided(t0 - 5, t0 + 2);
    expect(cs.at.decision).toBeUndefined();
    t.decided(t0 + 1, t0 + 2);
    expect(cs).toMatchObject({ pokedAt: t0 + 1, at: { decision: t0 + 2 } });
  });

  it('ignores pod lifecycle times from before the cold start', () => {
    const { t } = tracker();
    const cs = t.join(t0, true)!;
    t.mark('pod_created', t0 - 1);
    t.mark('pod_scheduled', t0 + 20);
    expect(cs.at).toEqual({ pod_scheduled: t0 + 20 });
  });

  it('is abandoned when all its requests ended unserved: counted, phases kept, no duration; the next waiter begins a new one', async () => {
    const { t, lines, value } = tracker();
    const cs = t.join(t0, true)!;
    t.join(t0 + 5, true);
    t.decided(t0, t0 + 2);
    t.left(cs);
    expect(t.current).toBe(cs);
    t.left(cs);
    expect(t.current).toBeUndefined();
    expect(cs.outcome).toBe('abandoned');
    expect(await value('zeroscale_cold_start_duration_seconds')).toBe(0);
    expect(await value('zeroscale_cold_start_phase_duration_seconds', { phase: 'decision' })).toBe(1);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ coldStart: { outcome: 'abandoned', requests: 2 } });
    expect(lines[0]!.coldStart).not.toHaveProperty('durationMs');
    // A mark after the end is not attributed to it.
    t.mark('pod_ready', t0 + 100);
    expect(cs.at.pod_ready).toBeUndefined();
    const next = t.join(t0 + 200, true)!;
    expect(next).not.toBe(cs);
    expect(await value('zeroscale_cold_starts_total')).toBe(2);
  });

  it('records nothing once closed and drops the series of the service', async () => {
    const { t, lines, registry } = tracker();
    const cs = t.join(t0, true)!;
    t.close();
    t.left(cs);
    expect(lines).toHaveLength(0);
    expect(t.join(t0 + 1, true)).toBeUndefined();
    expect(await registry.metrics()).not.toContain('service="hello"');
  });
});
