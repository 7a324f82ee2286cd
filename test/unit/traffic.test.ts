import { describe, expect, it } from 'vitest';
import { WeightedRoute } from '../../src/activator/weighted-route.ts';
import type { TrafficTarget } from '../../src/api/serverless-service.ts';
import type { RolloutStatus } from '../../src/api/status.ts';
import {
  decideTraffic,
  latestReadyRevision,
  type RevisionView,
  revisionsToCollect,
  type TrafficInput,
  trafficSummary,
} from '../../src/controller/traffic.ts';

// Time is t0 + ms; no test sleeps.
const t0 = Date.UTC(2026, 0, 1);
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

const rev = (n: number, ready = true, extra: Partial<RevisionView> = {}): RevisionView => ({
  name: `hello-${n}`,
  number: n,
  ready,
  createdMs: t0 - (100 - n) * 60_000,
  active: true,
  ...extra,
});

const input = (overrides: Partial<TrafficInput>): TrafficInput => ({
  serviceName: 'hello',
  namespace: 'default',
  domainSuffix: 'example.com',
  traffic: undefined,
  rollout: undefined,
  revisions: [rev(1)],
  previousLatestReady: undefined,
  previousRollout: undefined,
  nowMs: t0,
  ...overrides,
});

const split = (i: TrafficInput) =>
  decideTraffic(i)
    .targets.filter((t) => t.percent > 0)
    .map((t) => `${t.revisionName}=${t.percent}`)
    .join(',');

describe('latest ready revision', () => {
  const cases: [string, RevisionView[], string | undefined][] = [
    ['the newest ready one', [rev(1), rev(2), rev(3, false)], 'hello-2'],
    [
      'no ready revision: the newest, so the first requests wait for it',
      [rev(1, false), rev(2, false)],
      'hello-2',
    ],
    [
      'the newest stopped being ready (its pods crash): the one before, which serves',
      [rev(1), rev(2, false)],
      'hello-1',
    ],
    ['no revision', [], undefined],
  ];
  it.each(cases)('%s', (_name, revisions, expected) => {
    expect(latestReadyRevision(revisions)?.name).toBe(expected);
  });
});

describe('the split', () => {
  it('without spec.traffic: 100 % to the latest ready revision', () => {
    expect(split(input({ revisions: [rev(1), rev(2)] }))).toBe('hello-2=100');
  });

  it('a new template whose pods fail: traffic stays on the last ready revision', () => {
    const d = decideTraffic(input({ revisions: [rev(1), rev(2, false)], previousLatestReady: 'hello-1' }));
    expect(d.targets).toEqual([{ revisionName: 'hello-1', percent: 100, latestRevision: true }]);
    expect(d.reachable).toEqual(new Set(['hello-1']));
  });

  it('90/10 by name, with a tag on the 10 % and a tag-only target at 0 %', () => {
    const traffic: TrafficTarget[] = [
      { revisionName: 'hello-1', percent: 90 },
      { revisionName: 'hello-2', percent: 10, tag: 'canary' },
      { revisionName: 'hello-3', tag: 'next' },
    ];
    const d = decideTraffic(input({ traffic, revisions: [rev(1), rev(2), rev(3), rev(4)] }));
    expect(d.targets).toEqual([
      { revisionName: 'hello-1', percent: 90 },
      { revisionName: 'hello-2', percent: 10, tag: 'canary', url: 'http://canary-hello.default.example.com' },
      { revisionName: 'hello-3', percent: 0, tag: 'next', url: 'http://next-hello.default.example.com' },
    ]);
    // Tag-only targets are reachable; hello-4 (latest, untargeted) is not.
    expect(d.reachable).toEqual(new Set(['hello-1', 'hello-2', 'hello-3']));
    expect(trafficSummary(d.targets)).toBe('hello-1=90,hello-2=10 (+canary,next)');
  });

  it('a target naming a revision that does not exist is reported, the rest routed', () => {
    const traffic: TrafficTarget[] = [
      { revisionName: 'hello-9', percent: 50 },
      { latestRevision: true, percent: 50 },
    ];
    const d = decideTraffic(input({ traffic, revisions: [rev(1)] }));
    expect(d.problems).toEqual([
      { reason: 'RevisionMissing', message: 'spec.traffic names revision hello-9, which does not exist' },
    ]);
    expect(split(input({ traffic, revisions: [rev(1)] }))).toBe('hello-1=50');
  });

  it('pinning 100 % to an old revision by name (rollback) routes there, ready or at zero', () => {
    const traffic: TrafficTarget[] = [{ revisionName: 'hello-1', percent: 100 }];
    expect(split(input({ traffic, revisions: [rev(1), rev(2)], previousLatestReady: 'hello-2' }))).toBe(
      'hello-1=100',
    );
  });
});

describe('gradual rollout', () => {
  const policy = { durationMs: 100_000, steps: 5 };
  const started = (step: number): RolloutStatus => ({
    fromRevision: 'hello-1',
    toRevision: 'hello-2',
    started: iso(t0),
    step,
    steps: 5,
  });

  it('starts when a newer revision becomes ready: the first step at once', () => {
    const d = decideTraffic(
      input({ rollout: policy, revisions: [rev(1), rev(2)], previousLatestReady: 'hello-1' }),
    );
    expect(d.rollout).toEqual(started(1));
    expect(d.targets.map((t) => `${t.revisionName}=${t.percent}`)).toEqual(['hello-1=80', 'hello-2=20']);
    expect(d.nextStepAtMs).toBe(t0 + 20_000);
    expect(d.reachable).toEqual(new Set(['hello-1', 'hello-2']));
  });

  const steps: [number, string, number | undefined][] = [
    [19_999, 'hello-1=80,hello-2=20', t0 + 20_000],
    [20_000, 'hello-1=60,hello-2=40', t0 + 40_000],
    [79_999, 'hello-1=20,hello-2=80', t0 + 80_000],
    [80_000, 'hello-2=100', undefined],
  ];
  it.each(steps)('at t0 + %i ms: %s', (at, expected, next) => {
    const i = input({
      rollout: policy,
      revisions: [rev(1), rev(2)],
      previousLatestReady: 'hello-2',
      previousRollout: started(1),
      nowMs: t0 + at,
    });
    expect(split(i)).toBe(expected);
    expect(decideTraffic(i).nextStepAtMs).toBe(next);
  });

  it('ends after its last step: the old revision is unreachable', () => {
    const d = decideTraffic(
      input({
        rollout: policy,
        revisions: [rev(1), rev(2)],
        previousLatestReady: 'hello-2',
        previousRollout: started(4),
        nowMs: t0 + 90_000,
      }),
    );
    expect(d.rollout).toBeUndefined();
    expect(d.reachable).toEqual(new Set(['hello-2']));
  });

  it('is called off when the new revision stops being ready: all back on the old one', () => {
    const d = decideTraffic(
      input({
        rollout: policy,
        revisions: [rev(1), rev(2, false)],
        previousLatestReady: 'hello-2',
        previousRollout: started(2),
        nowMs: t0 + 30_000,
      }),
    );
    expect(d.rollout).toBeUndefined();
    expect(d.latestReady).toBe('hello-1');
    expect(d.targets).toEqual([{ revisionName: 'hello-1', percent: 100, latestRevision: true }]);
  });

  it('only moves the latest-revision share; a pinned share stays', () => {
    const traffic: TrafficTarget[] = [
      { revisionName: 'hello-1', percent: 50 },
      { latestRevision: true, percent: 50 },
    ];
    expect(
      split(input({ traffic, rollout: policy, revisions: [rev(1), rev(2)], previousLatestReady: 'hello-1' })),
    ).toBe('hello-1=50,hello-1=40,hello-2=10');
  });

  it('no rollout without a duration: the new revision takes the share at once', () => {
    expect(
      split(
        input({
          rollout: { durationMs: 0, steps: 5 },
          revisions: [rev(1), rev(2)],
          previousLatestReady: 'hello-1',
        }),
      ),
    ).toBe('hello-2=100');
  });
});

describe('revision garbage collection', () => {
  const hour = 3_600_000;
  const old = (n: number, lastRoutedAgo: number) =>
    rev(n, true, { lastRoutedMs: t0 - lastRoutedAgo, active: false });
  const revisions = [old(1, 5 * hour), old(2, 3 * hour), old(3, 1 * hour), old(4, 2 * hour), rev(5), rev(6)];
  const keep = { reachable: new Set(['hello-5']), latestCreated: 'hello-6', latestReady: 'hello-5' };

  it('keeps the newest unrouted ones, and the rest until the retention has passed', () => {
    expect(revisionsToCollect(revisions, keep, { keepCount: 1, retainForMs: 2 * hour }, t0)).toEqual([
      'hello-2',
      'hello-1',
    ]);
  });
  it('keeps everything routed, latest or rolling, whatever the policy', () => {
    expect(
      revisionsToCollect(
        revisions,
        { ...keep, rolloutFrom: 'hello-4' },
        { keepCount: 0, retainForMs: 0 },
        t0,
      ),
    ).toEqual(['hello-3', 'hello-2', 'hello-1']);
  });
  it('a revision routed until now is kept: its retention starts now', () => {
    const justLeft = [rev(1, true, { createdMs: t0 - 100 * hour, active: true }), rev(2)];
    expect(
      revisionsToCollect(
        justLeft,
        { reachable: new Set(['hello-2']) },
        { keepCount: 0, retainForMs: hour },
        t0,
      ),
    ).toEqual([]);
  });
  it('an unrouted revision never noted as routed counts from its creation', () => {
    const fresh = [rev(1, true, { createdMs: t0 - 10_000, active: false }), rev(2)];
    expect(
      revisionsToCollect(
        fresh,
        { reachable: new Set(['hello-2']) },
        { keepCount: 0, retainForMs: 60_000 },
        t0,
      ),
    ).toEqual([]);
  });
});

describe('weighted route (activator)', () => {
  it('splits 90/10 exactly over any 10 requests, interleaved', () => {
    const route = new WeightedRoute([
      { backend: 'a', weight: 90 },
      { backend: 'b', weight: 10 },
    ]);
    const picks = Array.from({ length: 1_000 }, () => route.pick());
    expect(picks.filter((p) => p === 'b').length).toBe(100);
    for (let i = 0; i < 1_000; i += 10)
      expect(picks.slice(i, i + 10).filter((p) => p === 'b').length).toBe(1);
  });
  it('leaves out backends at 0 % and has none when all are', () => {
    const route = new WeightedRoute([
      { backend: 'a', weight: 0 },
      { backend: 'b', weight: 100 },
    ]);
    expect(route.has('a')).toBe(false);
    expect([route.pick(), route.pick()]).toEqual(['b', 'b']);
    expect(new WeightedRoute([{ backend: 'a', weight: 0 }]).pick()).toBeUndefined();
  });
});

describe('template hash', () => {
  it('is the same for a template whatever the order of its keys (the apiserver sorts them)', async () => {
    const { templateHash } = await import('../../src/controller/resources/revision.ts');
    const a = { spec: { containers: [{ name: 'app', image: 'a:1', ports: [{ containerPort: 8080 }] }] } };
    const b = { spec: { containers: [{ ports: [{ containerPort: 8080 }], image: 'a:1', name: 'app' }] } };
    expect(templateHash(a as never)).toBe(templateHash(b as never));
    const c = { spec: { containers: [{ name: 'app', image: 'a:2', ports: [{ containerPort: 8080 }] }] } };
    expect(templateHash(c as never)).not.toBe(templateHash(a as never));
  });
});
