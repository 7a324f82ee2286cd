import { describe, expect, it } from 'vitest';
import {
  adviseIdle,
  binEndMs,
  binOf,
  binStartMs,
  IDLE_RANGE_MS,
  IdleHistogram,
  IdlePlanner,
  IdleTracker,
  planIdle,
  warmSpans,
} from '../../src/autoscaler/scaling/idle-windows.ts';

const histogramOf = (idleMs: readonly number[]): IdleHistogram => {
  const h = new IdleHistogram();
  for (const ms of idleMs) h.add(ms);
  return h;
};

const repeat = (n: number, f: (i: number) => number): number[] => Array.from({ length: n }, (_, i) => f(i));

describe('idle-time bins', () => {
  it('are 10 % wide from 1 s and cover 4 h', () => {
    expect(binOf(0)).toBe(0);
    expect(binOf(999)).toBe(0);
    expect(binOf(1_000)).toBe(1);
    for (const ms of [1_500, 20_000, 600_000, 3_600_000]) {
      const k = binOf(ms);
      expect(binStartMs(k)).toBeLessThanOrEqual(ms);
      expect(binEndMs(k)).toBeGreaterThan(ms);
      expect(binEndMs(k) / binStartMs(k)).toBeCloseTo(1.1, 5);
    }
    expect(binEndMs(binOf(IDLE_RANGE_MS - 1))).toBeGreaterThanOrEqual(IDLE_RANGE_MS);
  });
});

describe('planIdle', () => {
  it('learns first: a keep-alive for the whole range until five idle times are in', () => {
    const plan = planIdle(histogramOf([20_000, 20_000, 20_000, 20_000]), 3_000);
    expect(plan).toEqual({ kind: 'fixed', why: 'learning' });
    expect(warmSpans(plan)).toEqual([{ startMs: 0, endMs: IDLE_RANGE_MS }]);
  });

  it('leaves a service whose idle times are mostly past the range to the KPA', () => {
    const plan = planIdle(
      histogramOf([...repeat(6, () => 5 * 3_600_000), ...repeat(5, () => 60_000)]),
      3_000,
    );
    expect(plan).toEqual({ kind: 'fixed', why: 'out-of-range' });
    expect(warmSpans(plan)).toBeUndefined();
  });

  it('pre-warms a 20 s timer a lead before its bin, and keeps until twice the bin end', () => {
    // Every idle time in [19.5 s, 20.5 s]: one or two bins around 20 s.
    const plan = planIdle(histogramOf(repeat(20, (i) => 19_500 + (i % 11) * 100)), 3_000);
    expect(plan.kind).toBe('learned');
    if (plan.kind !== 'learned') return;
    expect(plan.spans).toHaveLength(1);
    const [span] = plan.spans;
    expect(span!.startMs).toBeGreaterThan(17_000);
    expect(span!.startMs).toBeLessThanOrEqual(19_500);
    expect(span!.endMs).toBeGreaterThanOrEqual(2 * 20_500);
    expect(span!.endMs).toBeLessThan(2 * 23_000);
    // Pod asked for 3 s ahead of the window; let go at once after the request, and after the span.
    expect(adviseIdle(plan.spans, 1_000, 3_000)).toBe('between');
    expect(adviseIdle(plan.spans, span!.startMs - 3_000, 3_000)).toBe('warm');
    expect(adviseIdle(plan.spans, 20_000, 3_000)).toBe('warm');
    expect(adviseIdle(plan.spans, span!.endMs, 3_000)).toBe('release');
  });

  it('keeps the pod when the next request comes sooner than a cold start could be in time', () => {
    const plan = planIdle(histogramOf(repeat(30, (i) => 2_000 + (i % 5) * 200)), 5_000);
    expect(plan.kind === 'learned' && plan.spans[0]!.startMs).toBe(0);
  });

  it('cuts a bursty service into a keep-alive through the burst and a pre-warm before the next', () => {
    // 200 gaps of ~2 s inside bursts, 10 gaps of ~10 min between them.
    const idle = [...repeat(200, (i) => 1_500 + (i % 10) * 100), ...repeat(10, (i) => 590_000 + i * 2_000)];
    const plan = planIdle(histogramOf(idle), 2_000);
    expect(plan.kind).toBe('learned');
    if (plan.kind !== 'learned') return;
    expect(plan.spans).toHaveLength(2);
    expect(plan.spans[0]!.startMs).toBe(0);
    expect(plan.spans[0]!.endMs).toBeLessThan(4_000);
    expect(plan.spans[1]!.startMs).toBeGreaterThan(500_000);
    expect(plan.spans[1]!.startMs).toBeLessThanOrEqual(590_000);
    // Between the burst and the next one the pod is let go.
    expect(adviseIdle(plan.spans, 60_000, 2_000)).toBe('between');
    // One window over the lot would keep a pod for 10 minutes after every burst: 99 % of idle
    // periods end within 2 s, so the plan's expected pod time is a fraction of that.
    expect(plan.expectedIdleMs).toBeLessThan(60_000);
  });

  it('covers 99.9 % of the idle times: none of a five-sample histogram is left out', () => {
    const plan = planIdle(histogramOf([30_000, 31_000, 60_000, 61_000, 62_000]), 2_000);
    expect(plan.kind).toBe('learned');
    if (plan.kind !== 'learned') return;
    for (const t of [30_000, 31_000, 60_000, 61_000, 62_000])
      expect(adviseIdle(plan.spans, t, 2_000)).toBe('warm');
  });
});

describe('IdleHistogram', () => {
  it('stays bounded: counts halve past 1,000 samples', () => {
    const h = histogramOf(repeat(1_001, () => 20_000));
    expect(h.samples).toBeLessThanOrEqual(1_000);
    expect(h.samples).toBeGreaterThan(400);
    h.add(-1);
    h.add(Number.NaN);
    expect(h.samples).toBeLessThanOrEqual(1_000);
  });
});

describe('IdlePlanner', () => {
  it('plans again only when 2 % more samples came in or the lead moved by over 10 %', () => {
    const h = histogramOf(repeat(100, () => 20_000));
    const planner = new IdlePlanner();
    const first = planner.plan(h, 3_000);
    h.add(20_000);
    expect(planner.plan(h, 3_000)).toBe(first);
    h.add(20_000);
    expect(planner.plan(h, 3_000)).not.toBe(first);
    const second = planner.plan(h, 3_000);
    expect(planner.plan(h, 3_200)).toBe(second);
    expect(planner.plan(h, 4_000)).not.toBe(second);
  });
});

describe('IdleTracker', () => {
  it('measures an idle time from the last active bucket to the next, once quiet long enough', () => {
    const t = new IdleTracker();
    t.observe(undefined, 0, 3_000); // no activity yet: nothing
    t.observe(10_000, 10_500, 3_000);
    expect(t.idleSinceMs).toBeUndefined();
    t.observe(10_000, 13_000, 3_000); // 3 s quiet: idle since the last active bucket
    expect(t.idleSinceMs).toBe(10_000);
    t.observe(30_000, 30_200, 3_000); // activity again: one idle time of 20 s
    expect(t.idleSinceMs).toBeUndefined();
    expect(t.histogram.samples).toBe(1);
    expect(t.histogram.counts[binOf(20_000)]).toBe(1);
    t.observe(31_000, 31_100, 3_000); // busy: no new sample
    expect(t.histogram.samples).toBe(1);
  });
});
