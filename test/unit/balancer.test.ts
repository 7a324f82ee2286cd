import { describe, expect, it } from 'vitest';
import { type BalancePolicy, Balancer, type PodSlot, policyFor } from '../../src/activator/balancer.ts';

type Step =
  | { readonly pods: readonly string[] }
  | { readonly pick: number }
  | { readonly release: string }
  | { readonly add: string }
  | { readonly remove: string };

interface Case {
  readonly name: string;
  readonly cc: number;
  /** Values the random source returns, in order (least-of-two draws two per pick). */
  readonly random?: readonly number[];
  readonly steps: readonly Step[];
  /** Every pick in order; null = no pod had room. */
  readonly picks: readonly (string | null)[];
  readonly inFlight?: Readonly<Record<string, number>>;
  readonly capacity?: number;
}

const cases: readonly Case[] = [
  // containerConcurrency 0: least loaded of two distinct random pods.
  {
    name: 'unlimited, one pod: always that pod',
    cc: 0,
    steps: [{ pods: ['a'] }, { pick: 3 }],
    picks: ['a', 'a', 'a'],
    inFlight: { a: 3 },
    capacity: Number.POSITIVE_INFINITY,
  },
  {
    name: 'unlimited: the less loaded of the two drawn pods, the first on a tie',
    cc: 0,
    // 0.0 → a; 0.5 of the other two → c. Tie → a. Same draw again → c (a has 1). 0.4 → b, 0.0 → a: b.
    random: [0.0, 0.5, 0.0, 0.5, 0.4, 0.0],
    steps: [{ pods: ['a', 'b', 'c'] }, { pick: 3 }],
    picks: ['a', 'c', 'b'],
    inFlight: { a: 1, b: 1, c: 1 },
  },
  {
    name: 'unlimited: the two draws never name the same pod',
    cc: 0,
    // 0.99 → b (index 1); second 0.99 of the remaining one → a. a is less loaded after b is taken.
    random: [0.99, 0.99, 0.99, 0.99],
    steps: [{ pods: ['a', 'b'] }, { pick: 2 }],
    picks: ['b', 'a'],
  },
  {
    name: 'unlimited, no pods: nothing to pick and no capacity',
    cc: 0,
    steps: [{ pick: 1 }],
    picks: [null],
    capacity: 0,
  },
  // containerConcurrency 1-3: first pod with room, in order.
  {
    name: 'small limit: fills the first pod before the next, then has no room',
    cc: 2,
    steps: [{ pods: ['a', 'b'] }, { pick: 5 }],
    picks: ['a', 'a', 'b', 'b', null],
    capacity: 4,
  },
  {
    name: 'small limit: a freed slot on the first pod is used first',
    cc: 2,
    steps: [{ pods: ['a', 'b'] }, { pick: 3 }, { release: 'a' }, { pick: 1 }],
    picks: ['a', 'a', 'b', 'a'],
    inFlight: { a: 2, b: 1 },
  },
  // containerConcurrency > 3: round robin over pods with room.
  {
    name: 'larger limit: round robin',
    cc: 4,
    steps: [{ pods: ['a', 'b', 'c'] }, { pick: 4 }],
    picks: ['a', 'b', 'c', 'a'],
    capacity: 12,
  },
  {
    name: 'larger limit: full pods are skipped, and nothing is picked when all are full',
    cc: 4,
    steps: [{ pods: ['a', 'b'] }, { pick: 8 }, { release: 'b' }, { pick: 2 }],
    picks: ['a', 'b', 'a', 'b', 'a', 'b', 'a', 'b', 'b', null],
  },
  {
    name: 'larger limit: removing a pod keeps the rotation on the next one',
    cc: 4,
    steps: [{ pods: ['a', 'b', 'c'] }, { pick: 2 }, { remove: 'b' }, { pick: 3 }],
    picks: ['a', 'b', 'c', 'a', 'c'],
    capacity: 8,
  },
  // Pods coming and going.
  {
    name: 'a removed pod gets nothing new but its requests can still be released',
    cc: 2,
    steps: [{ pods: ['a', 'b'] }, { pick: 1 }, { remove: 'a' }, { pick: 1 }, { release: 'a' }],
    picks: ['a', 'b'],
    inFlight: { a: 0, b: 1 },
    capacity: 2,
  },
  {
    name: 'a pod that flaps out and back keeps its in-flight count and is not overfilled',
    cc: 2,
    steps: [{ pods: ['a', 'b'] }, { pick: 2 }, { remove: 'a' }, { add: 'a' }, { pick: 3 }],
    picks: ['a', 'a', 'b', 'b', null],
    inFlight: { a: 2, b: 2 },
  },
  {
    name: 'setPods keeps the counts of pods it keeps and ignores duplicates',
    cc: 2,
    steps: [{ pods: ['a', 'b'] }, { pick: 2 }, { pods: ['c', 'a', 'c'] }, { pick: 3 }],
    picks: ['a', 'a', 'c', 'c', null],
    inFlight: { a: 2, b: 0, c: 2 },
    capacity: 4,
  },
  {
    name: 'all pods gone: no picks, capacity 0 so the breaker holds requests',
    cc: 5,
    steps: [{ pods: ['a'] }, { pick: 1 }, { pods: [] }, { pick: 1 }],
    picks: ['a', null],
    capacity: 0,
  },
];

function run(c: Case) {
  const random = [...(c.random ?? [])];
  const balancer = new Balancer({
    containerConcurrency: c.cc,
    random: () => {
      const value = random.shift();
      if (value === undefined) throw new Error('test ran out of random values');
      return value;
    },
  });
  const picks: (string | null)[] = [];
  const held = new Map<string, PodSlot[]>();
  for (const step of c.steps) {
    if ('pods' in step) balancer.setPods(step.pods);
    else if ('add' in step) balancer.addPod(step.add);
    else if ('remove' in step) balancer.removePod(step.remove);
    else if ('release' in step) balancer.release(held.get(step.release)!.pop()!);
    else {
      for (let i = 0; i < step.pick; i++) {
        const slot = balancer.pick();
        picks.push(slot?.id ?? null);
        if (slot) held.set(slot.id, [...(held.get(slot.id) ?? []), slot]);
      }
    }
  }
  return { balancer, picks };
}

describe('Balancer', () => {
  it.each(cases)('$name', (c) => {
    const { balancer, picks } = run(c);
    expect(picks).toEqual(c.picks);
    for (const [id, n] of Object.entries(c.inFlight ?? {})) expect(balancer.inFlightOf(id)).toBe(n);
    if (c.capacity !== undefined) expect(balancer.capacity).toBe(c.capacity);
  });

  it.each<{ cc: number; policy: BalancePolicy }>([
    { cc: 0, policy: 'least-of-two' },
    { cc: 1, policy: 'first-available' },
    { cc: 3, policy: 'first-available' },
    { cc: 4, policy: 'round-robin' },
    { cc: 1000, policy: 'round-robin' },
  ])('containerConcurrency $cc uses $policy', ({ cc, policy }) => {
    expect(policyFor(cc)).toBe(policy);
    expect(new Balancer({ containerConcurrency: cc }).policy).toBe(policy);
  });

  it('switches policy when containerConcurrency changes', () => {
    const balancer = new Balancer({ containerConcurrency: 2 });
    balancer.setPods(['a', 'b']);
    balancer.setContainerConcurrency(10);
    expect(balancer.policy).toBe('round-robin');
    expect(balancer.capacity).toBe(20);
  });

  it('refuses a second release of the same request', () => {
    const balancer = new Balancer({ containerConcurrency: 1 });
    balancer.setPods(['a']);
    const slot = balancer.pick()!;
    balancer.release(slot);
    expect(() => balancer.release(slot)).toThrow(
      expect.objectContaining({ code: 'BALANCER_RELEASE_UNDERFLOW' }),
    );
  });

  it.each([-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('rejects containerConcurrency %s', (cc) => {
    expect(() => new Balancer({ containerConcurrency: cc })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTIONS' }),
    );
  });
});
