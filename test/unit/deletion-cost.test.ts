import { describe, expect, it } from 'vitest';
import { costWrites, deletionCost } from '../../src/autoscaler/deletion-cost.ts';
import { WriteBudget } from '../../src/kube/write-budget.ts';

describe('deletionCost', () => {
  it.each([
    [0, 0],
    [-1, 0],
    [Number.NaN, 0],
    [0.0004, 0],
    [0.25, 250],
    [1, 1_000],
    [3.5, 3_500],
    [1e9, 1_000_000],
  ])('%s requests in flight cost %s', (concurrency, cost) => {
    expect(deletionCost(concurrency)).toBe(cost);
  });
});

describe('costWrites', () => {
  const written = new Map<string, number>([
    ['busy-before', 2_000],
    ['idle-now', 1_000],
  ]);
  const last = (pod: string) => written.get(pod);

  it('writes busy pods, busiest first, and idle pods that still carry a cost; nothing for idle pods never written', () => {
    const loads = new Map([
      ['idle', 0],
      ['one', 1],
      ['two', 2],
      ['idle-now', 0],
    ]);
    expect(costWrites(loads, last)).toEqual([
      { pod: 'two', cost: 2_000 },
      { pod: 'one', cost: 1_000 },
      { pod: 'idle-now', cost: 0 },
    ]);
  });

  it('writes nothing when every pod already has its cost', () => {
    expect(
      costWrites(
        new Map([
          ['busy-before', 2],
          ['idle', 0],
        ]),
        last,
      ),
    ).toEqual([]);
  });
});

describe('WriteBudget', () => {
  it('allows a burst, then perSecond, and never saves up more than the burst', () => {
    const budget = new WriteBudget(10, 3, 0);
    expect([0, 0, 0, 0].map(() => budget.take(0))).toEqual([true, true, true, false]);
    expect(budget.take(100)).toBe(true); // 0.1 s refills one
    expect(budget.take(100)).toBe(false);
    expect([1, 2, 3, 4].map(() => budget.take(60_000))).toEqual([true, true, true, false]);
  });
});
