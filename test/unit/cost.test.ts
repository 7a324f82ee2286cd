import { describe, expect, it } from 'vitest';
import type { ResolvedBudget } from '../../src/api/defaults.ts';
import { parseQuantity } from '../../src/api/quantity.ts';
import { BudgetGuard, podRequests, RollingSum, type Spend, SpendMeter } from '../../src/autoscaler/cost.ts';

describe('parseQuantity', () => {
  it.each([
    ['250m', 0.25],
    ['1', 1],
    ['1.5', 1.5],
    ['64Mi', 64 * 2 ** 20],
    ['1Gi', 2 ** 30],
    ['1G', 1e9],
    ['2k', 2000],
    ['1e3', 1000],
    ['100u', 1e-4],
  ])('%s → %d', (text, value) => {
    expect(parseQuantity(text)).toBeCloseTo(value, 12);
  });

  it.each(['', 'lots', '1 Gi', '1gi', 'Mi'])('refuses %j', (text) => {
    expect(parseQuantity(text)).toBeUndefined();
  });
});

describe('podRequests', () => {
  it("sums the containers' requests and the queue-proxy's; a limit stands in for a missing request", () => {
    const r = podRequests(
      [
        { image: 'a', resources: { requests: { cpu: '500m', memory: '256Mi' } } },
        { image: 'b', resources: { limits: { cpu: '1', memory: '1Gi' } } },
        { image: 'c' },
        { image: 'd', resources: 'nonsense' },
        { image: 'e', resources: { requests: { cpu: 'lots' } } },
      ],
      { cpu: '25m', memory: '64Mi' },
    );
    expect(r.cpuCores).toBeCloseTo(1.525, 9);
    expect(r.memoryGiB).toBeCloseTo((256 + 1024 + 64) / 1024, 9);
  });
});

describe('SpendMeter', () => {
  it('accrues pods × seconds since the last decision, at most 5 s of it', () => {
    const m = new SpendMeter();
    const req = { cpuCores: 0.5, memoryGiB: 0.25 };
    const prices = { vcpuSecond: 0.00002, gibSecond: 0.000002 };
    expect(m.accrue(0, 3, 10, req, prices).replicaSeconds).toBe(0); // first call: nothing yet
    const s = m.accrue(2_000, 3, 10, req, prices);
    expect(s).toEqual({
      replicaSeconds: 6,
      cpuSeconds: 3,
      memoryGiBSeconds: 1.5,
      cost: 3 * 0.00002 + 1.5 * 0.000002,
      requests: 20,
    });
    expect(m.accrue(62_000, 1, 0, req, undefined)).toMatchObject({ replicaSeconds: 5, cost: 0 });
  });
});

describe('RollingSum', () => {
  it('forgets what is older than the window, a sixtieth at a time', () => {
    const r = new RollingSum(60_000); // 1 s slots
    r.add(0, 10);
    r.add(30_000, 5);
    expect(r.total(59_999)).toBe(15);
    expect(r.nextDropMs(59_999)).toBe(60_000);
    expect(r.total(60_000)).toBe(5);
    expect(r.nextDropMs(60_000)).toBe(90_000);
    expect(r.total(200_000)).toBe(0);
    r.add(200_000, 1);
    expect(r.total(200_500)).toBe(1);
  });
});

const budget = (over: Partial<ResolvedBudget> = {}): ResolvedBudget => ({
  windowMs: 60_000,
  limit: 100,
  unit: 'replica-seconds',
  action: 'Cap',
  maxScale: undefined,
  ...over,
});

const spend = (replicaSeconds: number, cost = 0): Spend => ({
  replicaSeconds,
  cpuSeconds: 0,
  memoryGiBSeconds: 0,
  cost,
  requests: 0,
});

describe('BudgetGuard', () => {
  it('is spent at the limit, caps at the pods it had then, and lifts below 95 % as the window rolls', () => {
    const g = new BudgetGuard(budget());
    let t = 0;
    // 4 pods: 4 pod-seconds a second; the 100 are spent at 25 s.
    while (!g.observe(t, spend(4), 4)) t += 1_000;
    expect(t).toBe(24_000);
    expect(g.cap).toBe(4);
    expect(g.view(t)).toMatchObject({ exceededSinceMs: 24_000, cappedAt: 4, used: 100 });
    // Held at 1 pod from then on: the window drops the 4-pod seconds and the sum falls below 95.
    t += 1_000;
    while (g.observe(t, spend(1), 1)) t += 1_000;
    expect(g.view(t).used).toBeLessThan(95);
    expect(g.cap).toBeUndefined();
    expect(t).toBeGreaterThan(60_000);
    expect(t).toBeLessThan(90_000);
  });

  it("caps at the budget's maxScale when set, and counts cost for a cost budget", () => {
    const g = new BudgetGuard(budget({ unit: 'cost', limit: 1, maxScale: 2 }));
    expect(g.observe(0, spend(1000, 0.5), 8)).toBe(false);
    expect(g.observe(1_000, spend(1000, 0.5), 8)).toBe(true);
    expect(g.cap).toBe(2);
  });

  it('starts a new sum for a new window, keeps it for a new limit', () => {
    const g = new BudgetGuard(budget());
    g.observe(0, spend(90), 1);
    g.update(budget({ limit: 50 }));
    expect(g.observe(1_000, spend(0), 1)).toBe(true);
    g.update(budget({ limit: 50, windowMs: 120_000 }));
    expect(g.view(2_000).used).toBe(0);
  });
});
