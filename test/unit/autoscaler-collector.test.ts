import { describe, expect, it } from 'vitest';
import {
  activatorConcurrency,
  extrapolate,
  podDirectConcurrency,
  podDirectRequestsPerSecond,
  ServiceSeries,
  sumScrape,
} from '../../src/autoscaler/metrics/collector.ts';
import type { PodStats, ServiceLoad } from '../../src/autoscaler/metrics/protocol.ts';

const pod = (c: number, proxiedC: number, rps = 0, proxiedRps = 0): PodStats => ({
  pod: 'p',
  intervalMs: 1_000,
  averageConcurrency: c,
  averageProxiedConcurrency: proxiedC,
  requestsPerSecond: rps,
  proxiedRequestsPerSecond: proxiedRps,
});
const activator = (c: number, queued: number, rps = 0): ServiceLoad => ({
  service: 'default/hello',
  averageConcurrency: c,
  requestsPerSecond: rps,
  queued,
});

describe('the double-count rule', () => {
  const rows: { name: string; stats: PodStats; concurrency: number; rps: number }[] = [
    { name: 'all direct (serve mode)', stats: pod(5, 0, 40, 0), concurrency: 5, rps: 40 },
    {
      name: 'all through the activator (proxy mode): counted there',
      stats: pod(5, 5, 40, 40),
      concurrency: 0,
      rps: 0,
    },
    { name: 'mixed: only the direct part', stats: pod(9, 5, 30, 10), concurrency: 4, rps: 20 },
    {
      name: 'proxied a hair above all (sampling skew): 0, not negative',
      stats: pod(2, 2.0001, 1, 1.5),
      concurrency: 0,
      rps: 0,
    },
  ];
  it.each(rows)('pod: $name', ({ stats, concurrency, rps }) => {
    expect(podDirectConcurrency(stats)).toBeCloseTo(concurrency, 9);
    expect(podDirectRequestsPerSecond(stats)).toBeCloseTo(rps, 9);
  });

  it.each([
    { name: 'in flight only', load: activator(6, 0), expected: 6 },
    { name: 'queued requests are demand too', load: activator(2, 30), expected: 32 },
    { name: 'nothing', load: activator(0, 0), expected: 0 },
  ])('activator: $name', ({ load, expected }) => {
    expect(activatorConcurrency(load)).toBe(expected);
  });

  it('counts each request once: activator → A and B (5 each), 4 straight to A → 14', () => {
    const series = new ServiceSeries({ stableWindowMs: 6_000, panicWindowPercentage: 50 });
    const scraped = extrapolate(sumScrape([pod(9, 5), pod(5, 5)]), 2)!;
    series.record(10_000, scraped.concurrency, scraped.requestsPerSecond);
    series.record(10_400, activatorConcurrency(activator(10, 0)), 0);
    expect(series.averages('concurrency', 10_500)).toEqual({ stable: 14, panic: 14 });
  });
});

describe('sumScrape and extrapolate', () => {
  const rows: {
    name: string;
    answers: (PodStats | undefined)[];
    ready: number;
    expected: { concurrency: number; requestsPerSecond: number } | undefined;
  }[] = [
    {
      name: 'every pod answered: the sum',
      answers: [pod(1, 0, 10), pod(2, 0, 20), pod(3, 0, 30)],
      ready: 3,
      expected: { concurrency: 6, requestsPerSecond: 60 },
    },
    // 16 of 100 pods, 3 in flight each → 48 / 16 × 100 = 300.
    {
      name: 'a sample: mean × ready pods',
      answers: Array.from({ length: 16 }, () => pod(3, 0, 5)),
      ready: 100,
      expected: { concurrency: 300, requestsPerSecond: 500 },
    },
    {
      name: 'a failed pod: the others stand for it',
      answers: [pod(4, 0), undefined, pod(2, 0)],
      ready: 3,
      expected: { concurrency: 9, requestsPerSecond: 0 },
    },
    {
      name: 'the proxied part is left out before extrapolating',
      answers: [pod(10, 6), pod(4, 0)],
      ready: 4,
      expected: { concurrency: 16, requestsPerSecond: 0 },
    },
    {
      name: 'no pod answered: no data (not zero)',
      answers: [undefined, undefined],
      ready: 2,
      expected: undefined,
    },
    {
      name: 'zero load is data',
      answers: [pod(0, 0)],
      ready: 1,
      expected: { concurrency: 0, requestsPerSecond: 0 },
    },
  ];
  it.each(rows)('$name', ({ answers, ready, expected }) => {
    expect(extrapolate(sumScrape(answers), ready)).toEqual(expected);
  });
});

describe('ServiceSeries', () => {
  it('adds pods and activators of one second into one bucket, per metric', () => {
    const series = new ServiceSeries({ stableWindowMs: 6_000, panicWindowPercentage: 50 });
    series.record(1_000, 4, 40);
    series.record(1_900, 6, 10);
    series.record(2_000, 2, 0);
    // Stable: (10 + 2) / 2 = 6; panic window 3 s also covers both seconds.
    expect(series.averages('concurrency', 2_000)).toEqual({ stable: 6, panic: 6 });
    expect(series.averages('rps', 2_000)).toEqual({ stable: 25, panic: 25 });
    expect(series.stableConcurrency(2_000)).toBe(6);
    expect(series.stableRequestsPerSecond(2_000)).toBe(25);
  });

  it('has no data before the first record and a window after the last', () => {
    const series = new ServiceSeries({ stableWindowMs: 6_000, panicWindowPercentage: 10 });
    expect(series.averages('concurrency', 0)).toBeUndefined();
    series.record(0, 1, 1);
    expect(series.averages('concurrency', 5_999)).toBeDefined();
    expect(series.averages('concurrency', 6_000)).toBeUndefined();
  });

  it('fits specs with the same windows only', () => {
    const series = new ServiceSeries({ stableWindowMs: 60_000, panicWindowPercentage: 10 });
    expect(series.fits({ stableWindowMs: 60_000, panicWindowPercentage: 10 })).toBe(true);
    expect(series.fits({ stableWindowMs: 30_000, panicWindowPercentage: 10 })).toBe(false);
    expect(series.fits({ stableWindowMs: 60_000, panicWindowPercentage: 20 })).toBe(false);
  });
});
