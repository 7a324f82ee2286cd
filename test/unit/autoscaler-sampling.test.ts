import { describe, expect, it } from 'vitest';
import { random } from '../../bench/prewarm/trace.ts';
import { chooseSample, type RandomSource, sampleSize } from '../../src/autoscaler/scaling/sampling.ts';

/** A seeded PRNG (mulberry32, the trace generator's), so that every run draws the same numbers. */
const seeded = (seed: number): RandomSource => random(seed);

describe('sampleSize', () => {
  // n = N for N <= 3, else ceil(N·X / (N + X − 1)), X = 1.96² × 100 / 5² = 15.3664 (Knative).
  const rows: [ready: number, expected: number][] = [
    [0, 0],
    [1, 1],
    [2, 2],
    [3, 3],
    [4, 4], // 61.47 / 18.37 = 3.35 → 4
    [5, 4], // 76.83 / 19.37 = 3.97 → 4
    [10, 7],
    [20, 9],
    [50, 12],
    [100, 14],
    [1000, 16],
    [1_000_000, 16], // the formula tends to X = 15.37: never more than 16 pods per service
  ];
  it.each(rows)('%i ready pods → %i scraped', (ready, expected) => {
    expect(sampleSize(ready)).toBe(expected);
  });
});

describe('chooseSample', () => {
  const pods = Array.from({ length: 100 }, (_, i) => `10.244.0.${i}`);

  it('takes every item, in order, when the sample is as large as the population', () => {
    const out: string[] = ['stale'];
    expect(chooseSample(pods.slice(0, 3), 3, seeded(1), out)).toEqual(pods.slice(0, 3));
    expect(chooseSample(pods.slice(0, 3), 5, seeded(1), out)).toEqual(pods.slice(0, 3));
  });

  it('takes n distinct items and reuses the output array', () => {
    const out: string[] = [];
    const random = seeded(7);
    for (let round = 0; round < 200; round++) {
      const sample = chooseSample(pods, 14, random, out);
      expect(sample).toBe(out);
      expect(sample).toHaveLength(14);
      expect(new Set(sample).size).toBe(14);
      for (const pod of sample) expect(pods).toContain(pod);
    }
  });

  it('leaves the input untouched', () => {
    const copy = [...pods];
    chooseSample(pods, 16, seeded(3), []);
    expect(pods).toEqual(copy);
  });

  it('gives every item the same chance (Floyd: each n-subset equally likely)', () => {
    // 20 items, samples of 5, 20,000 draws: each item is expected 5,000 times. With a seeded
    // PRNG the counts are fixed; the bound (±6 %) is ~6 standard deviations, so it tests the
    // algorithm (a biased one, e.g. always keeping the last items, misses it by far), not luck.
    const items = pods.slice(0, 20);
    const counts = new Map<string, number>();
    const random = seeded(42);
    const out: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      for (const item of chooseSample(items, 5, random, out)) counts.set(item, (counts.get(item) ?? 0) + 1);
    }
    for (const item of items) {
      expect(counts.get(item)).toBeGreaterThan(4_700);
      expect(counts.get(item)).toBeLessThan(5_300);
    }
  });
});
