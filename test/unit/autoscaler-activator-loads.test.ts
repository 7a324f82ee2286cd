import { describe, expect, it } from 'vitest';
import { ActivatorLoads } from '../../src/autoscaler/metrics/activator-loads.ts';
import { ServiceSeries } from '../../src/autoscaler/metrics/collector.ts';

const windows = { stableWindowMs: 6_000, panicWindowPercentage: 17 }; // panic window 1 s
const lastSecond = (series: ServiceSeries, nowMs: number) => series.averages('concurrency', nowMs)?.panic;

describe('ActivatorLoads', () => {
  it('counts each activator once per second however its reports fall', () => {
    const loads = new ActivatorLoads();
    const series = new ServiceSeries(windows);
    // Activator a reports twice within second 10, b once; the tick at 10.5 s folds the newest of each.
    loads.report('a', 5, 50, 1_000, 10_000);
    loads.report('a', 6, 60, 1_000, 10_400);
    loads.report('b', 4, 40, 1_000, 10_100);
    loads.foldInto(series, 10_500);
    expect(lastSecond(series, 10_500)).toBe(10);
    // No report in second 11: the held values stand for it (sample and hold).
    loads.foldInto(series, 11_500);
    expect(lastSecond(series, 11_500)).toBe(10);
  });

  it('adds only the rest when it folds twice in one second (a poke, then the report)', () => {
    const loads = new ActivatorLoads();
    const series = new ServiceSeries(windows);
    loads.poke('a', 20_000);
    loads.foldInto(series, 20_000);
    expect(lastSecond(series, 20_000)).toBe(1);
    loads.report('a', 14, 14, 1_000, 20_300);
    loads.foldInto(series, 20_300);
    loads.foldInto(series, 20_900);
    expect(lastSecond(series, 20_900)).toBe(14);
  });

  it('keeps a poke as a floor of one request until the activator reports', () => {
    const loads = new ActivatorLoads();
    const series = new ServiceSeries(windows);
    loads.report('a', 3, 3, 1_000, 30_000);
    loads.poke('a', 30_100);
    loads.foldInto(series, 30_200);
    expect(lastSecond(series, 30_200)).toBe(3);
    loads.report('a', 0, 0, 1_000, 31_000);
    loads.foldInto(series, 31_100);
    expect(lastSecond(series, 31_100)).toBe(0);
  });

  it('forgets an activator that stopped reporting for the service after two intervals (at least 2 s)', () => {
    const loads = new ActivatorLoads();
    const series = new ServiceSeries(windows);
    loads.report('a', 8, 8, 1_000, 40_000);
    expect(loads.hasAny(41_999)).toBe(true);
    expect(loads.hasAny(42_000)).toBe(false);
    loads.foldInto(series, 42_000);
    expect(series.averages('concurrency', 42_000)).toBeUndefined();
  });

  it('records nothing, not zero, when no activator has a value', () => {
    const loads = new ActivatorLoads();
    const series = new ServiceSeries(windows);
    loads.foldInto(series, 50_000);
    expect(series.averages('concurrency', 50_000)).toBeUndefined();
    loads.report('a', 0, 0, 1_000, 50_000);
    loads.foldInto(series, 50_000);
    expect(series.averages('concurrency', 50_000)).toEqual({ stable: 0, panic: 0 });
  });
});
