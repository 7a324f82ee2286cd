// The autoscaler's runtime with a ManualClock, in-memory sources and in-process stats: ticks,
// collection, the double-count rule, pokes, the scale-to-zero handshake and restarts. Pods follow
// setScale at once (as if kubelet were instant), so each tick shows the effect of the last one.
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { Autoscaler } from '../../src/autoscaler/autoscaler.ts';
import { resolveAutoscalerConfig } from '../../src/autoscaler/config.ts';
import {
  MemoryScaleTarget,
  type MemoryServiceOptions,
  MemoryServiceSource,
  MemoryStatsFetcher,
  memoryService,
} from '../../src/autoscaler/memory.ts';
import type { PodStats } from '../../src/autoscaler/metrics/protocol.ts';
import { ManualClock } from '../../src/clock.ts';
import { silentLogger } from '../../src/telemetry/log.ts';

const t0 = Date.UTC(2026, 0, 1);
const NS = 'default';

interface Load {
  /** Requests in flight at the pods, service total. */
  total: number;
  /** The part of `total` that came through an activator. */
  proxied: number;
  /** Whether the pods answer scrapes. */
  answering: boolean;
  /** Each pod's share of `total`, by index; equal shares when absent. */
  weights?: readonly number[];
}

function harness(config: Parameters<typeof resolveAutoscalerConfig>[0] = {}) {
  const clock = new ManualClock(t0);
  const source = new MemoryServiceSource();
  const target = new MemoryScaleTarget();
  const registry = new Registry();
  const loads = new Map<string, Load>();
  const loadOf = (name: string): Load => {
    let load = loads.get(name);
    if (load === undefined) {
      load = { total: 0, proxied: 0, answering: true };
      loads.set(name, load);
    }
    return load;
  };
  const podsOf = (name: string) => source.pods(source.get(NS, name)!).readyAddresses.length;
  // Address "name#i": the pod's share of its service's load.
  const fetcher = new MemoryStatsFetcher((address): PodStats | undefined => {
    const name = address.slice(0, address.indexOf('#'));
    const load = loadOf(name);
    if (!load.answering) return undefined;
    const n = podsOf(name);
    const w = load.weights;
    const share =
      w === undefined ? 1 / n : (w[Number(address.slice(address.indexOf('#') + 1))] ?? 0) / sum(w);
    return {
      pod: address,
      intervalMs: 1_000,
      averageConcurrency: load.total * share,
      averageProxiedConcurrency: load.proxied / n,
      requestsPerSecond: 0,
      proxiedRequestsPerSecond: 0,
    };
  });
  const setPods = (name: string, count: number) =>
    source.setPods(
      NS,
      name,
      Array.from({ length: count }, (_, i) => `${name}#${i}`),
    );
  target.onSetScale = (service, replicas) => setPods(service.name, replicas);
  const autoscaler = new Autoscaler({
    source,
    target,
    fetcher,
    logger: silentLogger(),
    registry,
    clock,
    random: () => 0.5,
    config: resolveAutoscalerConfig(config),
  });
  const add = (name: string, pods: number, options: MemoryServiceOptions = {}) => {
    source.set(memoryService(NS, name, options));
    setPods(name, pods);
    return loadOf(name);
  };
  /** Advances the clock a second and runs a tick to the end, writes included. */
  const tick = async () => {
    clock.advance(1_000);
    await autoscaler.tick();
    await new Promise<void>((resolve) => setImmediate(resolve));
  };
  const ticks = async (n: number) => {
    for (let i = 0; i < n; i++) await tick();
  };
  const replicas = (name: string) => target.replicas(NS, name);
  const view = (name: string) => autoscaler.inspect(NS, name);
  return {
    clock,
    source,
    target,
    registry,
    fetcher,
    autoscaler,
    add,
    tick,
    ticks,
    replicas,
    view,
    setPods,
    loadOf,
  };
}

const short = { stableWindow: '6s' };
const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

describe('steady load', () => {
  // Pods = ceil(C / (T × U)): 10 / (4 × 50 %) = 5; 21 / (10 × 70 %) = 3; 100 / 70 = 1.43 → 2.
  it.each([
    { c: 10, t: 4, u: 50, expected: 5 },
    { c: 21, t: 10, u: 70, expected: 3 },
    { c: 100, t: 100, u: 70, expected: 2 },
    { c: 7, t: 1, u: 100, expected: 7 },
  ])(
    'concurrency $c, target $t, utilisation $u % settles at $expected pods and holds',
    async ({ c, t, u, expected }) => {
      const h = harness();
      h.add('hello', 1, { scaling: { ...short, target: t, targetUtilizationPercentage: u } }).total = c;
      await h.ticks(20);
      expect(h.replicas('hello')).toBe(expected);
      const calls = h.target.scaleCalls.length;
      await h.ticks(10);
      expect(h.target.scaleCalls.length).toBe(calls);
      expect(h.view('hello')).toMatchObject({
        desiredPods: expected,
        stableConcurrency: c,
        panicking: false,
      });
    },
  );

  it('hands the pods their requests in flight just before a scale-down, and not otherwise', async () => {
    const h = harness();
    const load = h.add('hello', 1, { scaling: { ...short, target: 4, targetUtilizationPercentage: 50 } });
    load.total = 10;
    await h.ticks(20);
    expect(h.replicas('hello')).toBe(5);
    expect(h.target.rankCalls).toEqual([]); // scaling up removes no pod
    // Two requests left, both on pod 2: one pod is enough, and it should be the one kept.
    load.total = 2;
    load.weights = [0, 0, 1, 0, 0];
    await h.ticks(20);
    expect(h.replicas('hello')).toBe(1);
    expect(h.target.rankCalls.length).toBeGreaterThan(0);
    const first = h.target.rankCalls[0]!;
    expect(first.service).toBe(`${NS}/hello`);
    expect(Object.fromEntries(first.loads)).toEqual({
      'hello#0': 0,
      'hello#1': 0,
      'hello#2': 2,
      'hello#3': 0,
      'hello#4': 0,
    });
  });

  it('counts a request once when it came through an activator', async () => {
    // 10 in flight at the pods, 6 of them forwarded by the activator, which reports its 6 itself.
    const h = harness();
    const load = h.add('hello', 1, { scaling: { ...short, target: 4, targetUtilizationPercentage: 50 } });
    load.total = 10;
    load.proxied = 6;
    for (let i = 0; i < 20; i++) {
      await h.tick();
      h.autoscaler.recordReport({
        activator: 'a',
        intervalMs: 1_000,
        services: [{ service: 'default/hello', averageConcurrency: 6, requestsPerSecond: 0, queued: 0 }],
      });
    }
    expect(h.view('hello')?.stableConcurrency).toBe(10);
    expect(h.replicas('hello')).toBe(5);
  });

  it('scrapes a sample of 16 of 1,000 pods and extrapolates to all', async () => {
    const h = harness();
    h.add('big', 1_000, {
      scaling: { ...short, target: 100, targetUtilizationPercentage: 100 },
    }).total = 1_000;
    await h.tick();
    expect(h.fetcher.fetches).toBe(16);
    expect(h.view('big')?.stableConcurrency).toBe(1_000);
  });

  it('scrapes once per second even when ticked more often', async () => {
    const h = harness();
    h.add('hello', 2).total = 4;
    await h.tick();
    await h.autoscaler.tick();
    await h.autoscaler.tick();
    expect(h.fetcher.fetches).toBe(2);
    expect(h.view('hello')?.stableConcurrency).toBe(4);
  });
});

describe('no data', () => {
  it('leaves the replicas alone when no pod answers, and counts the errors', async () => {
    const h = harness();
    h.add('hello', 3).answering = false;
    await h.ticks(5);
    expect(h.target.scaleCalls).toEqual([]);
    expect(h.view('hello')?.reason).toBe('no-data');
    const text = await h.registry.metrics();
    expect(text).toContain(
      'zeroscale_autoscaler_scrape_errors_total{namespace="default",service="hello"} 15',
    );
  });
});

describe('demand from the activator', () => {
  it('counts requests queued in the activator, and decides a cold service when they arrive', async () => {
    const h = harness();
    h.add('cold', 0, { scaling: { ...short, initialScale: 0, target: 4, targetUtilizationPercentage: 50 } });
    await h.ticks(3);
    expect(h.target.scaleCalls).toEqual([]);
    // 14 waiting, none in flight: ceil(14 / 2) = 7 pods, at once (no tick).
    h.autoscaler.recordReport({
      activator: 'a',
      intervalMs: 1_000,
      services: [{ service: 'default/cold', averageConcurrency: 0, requestsPerSecond: 0, queued: 14 }],
    });
    await Promise.resolve();
    expect(h.replicas('cold')).toBe(7);
  });

  it('decides at once on a poke: 0 → activationScale without a tick', async () => {
    const h = harness();
    h.add('cold', 0, { scaling: { ...short, initialScale: 0, activationScale: 3 } });
    await h.ticks(3);
    expect(h.target.scaleCalls).toEqual([]);
    expect(h.autoscaler.poke({ service: 'default/cold', activator: 'a' })).toBe('decided');
    await Promise.resolve();
    expect(h.target.scaleCalls).toEqual([{ service: 'default/cold', replicas: 3 }]);
    expect(h.view('cold')?.stableConcurrency).toBe(1);
  });

  it('finds a service created since the last tick when poked, and refuses unknown ones', async () => {
    const h = harness();
    await h.tick();
    h.add('new', 0, { scaling: { initialScale: 0 } });
    h.clock.advance(200);
    expect(h.autoscaler.poke({ service: 'default/new', activator: 'a' })).toBe('decided');
    expect(h.autoscaler.poke({ service: 'default/nope', activator: 'a' })).toBe('unknown-service');
    await Promise.resolve();
    expect(h.replicas('new')).toBe(1);
  });
});

describe('panic', () => {
  it('enters panic on a burst and scales up at the first tick after it', async () => {
    const h = harness();
    const load = h.add('hello', 2, { scaling: { ...short, target: 4, targetUtilizationPercentage: 50 } });
    load.total = 4;
    await h.ticks(10);
    expect(h.replicas('hello') ?? 2).toBe(2);
    expect(h.view('hello')?.panicking).toBe(false);
    load.total = 40;
    await h.tick();
    // Panic window 1 s (6 s × 10 %): 40 / 2 = 20 pods wanted, 20 / 2 ready = 10 >= 2 → panic.
    expect(h.view('hello')?.panicking).toBe(true);
    expect(h.replicas('hello')).toBe(20);
  });
});

describe('scale to zero', () => {
  /** Plays the controller: the public endpoints follow the published mode, observed at once. */
  function followMode(h: ReturnType<typeof harness>, events: string[]) {
    h.target.onPublish = (service, status) => {
      const current = h.source.get(service.namespace, service.name)!;
      const inPath = status.mode === 'proxy' ? (current.activatorInPathSinceMs ?? h.clock.now()) : undefined;
      if (inPath !== current.activatorInPathSinceMs) {
        h.source.setActivatorInPath(service.namespace, service.name, inPath);
        events.push(
          `${(h.clock.now() - t0) / 1000}s activator ${inPath === undefined ? 'out of' : 'in'} path`,
        );
      }
    };
    const onSetScale = h.target.onSetScale;
    h.target.onSetScale = (service, replicas) => {
      events.push(`${(h.clock.now() - t0) / 1000}s scale ${replicas}`);
      return onSetScale?.(service, replicas);
    };
  }

  it('goes to zero after the window, with the activator in the path for the grace period', async () => {
    // TBC 0: serve mode while active, so the activator enters the path only when going idle.
    const h = harness({ cluster: { scaleToZeroGracePeriodMs: 3_000 } });
    h.add('idle', 1, { scaling: { ...short, targetBurstCapacity: 0 } });
    const events: string[] = [];
    followMode(h, events);
    await h.ticks(15);
    expect(h.replicas('idle')).toBe(0);
    expect(h.view('idle')?.phase).toBe('zero');
    // First decision at 1 s; active for the 6 s window, then idle: proxy at 7 s, zero 3 s (the
    // grace) later.
    expect(events).toEqual(['1s scale 1', '7s activator in path', '10s scale 0']);
  });

  it('starts the pods of a warm window ahead of it, holds its floor, shows it in status, and lets go after', async () => {
    const h = harness();
    // t0 is 00:00Z; the window opens at 00:10 for 2 minutes. Until a cold start is measured,
    // pods are started 30 s ahead.
    h.add('warm', 0, {
      activatorInPathSinceMs: t0,
      scaling: {
        ...short,
        minScale: 0,
        initialScale: 0,
        schedules: [{ cron: '10 0 * * *', duration: '2m', minScale: 2 }],
      },
    });
    h.clock.advance(9 * 60_000 + 20_000);
    await h.ticks(5); // 00:09:25
    expect(h.replicas('warm') ?? 0).toBe(0);
    expect(h.target.status(NS, 'warm')?.nextWarmWindowMs).toBe(t0 + 10 * 60_000);
    await h.ticks(10); // 00:09:35: within the lead
    expect(h.replicas('warm')).toBe(2);
    expect(h.target.status(NS, 'warm')?.warmWindow).toEqual({
      startMs: t0 + 10 * 60_000,
      endMs: t0 + 12 * 60_000,
      minScale: 2,
    });
    expect(h.target.status(NS, 'warm')?.nextWarmWindowMs).toBe(t0 + 24 * 60 * 60_000 + 10 * 60_000);
    const metrics = await h.registry.metrics();
    expect(metrics).toContain(
      'zeroscale_autoscaler_warm_window_min_pods{namespace="default",service="warm"} 2',
    );
    expect(metrics).toContain(
      `zeroscale_autoscaler_next_warm_window_timestamp_seconds{namespace="default",service="warm"} ${(t0 + 24 * 60 * 60_000 + 10 * 60_000) / 1000}`,
    );
    h.clock.advance(2 * 60_000); // 00:11:35, inside the window: the floor holds without traffic
    await h.tick();
    expect(h.replicas('warm')).toBe(2);
    await h.ticks(60); // past 00:12 and a stable window
    expect(h.replicas('warm')).toBe(0);
    expect(h.target.status(NS, 'warm')?.warmWindow).toBeUndefined();
  });

  it('idlePolicy Predictive: learns a 20 s timer, lets the pod go after each request and starts it again before the next', async () => {
    const h = harness();
    const load = h.add('timer', 0, {
      activatorInPathSinceMs: t0,
      scaling: { ...short, minScale: 0, initialScale: 0, idlePolicy: 'Predictive' },
    });
    let coldStarts = 0;
    const podsSeen: number[] = [];
    // One request every 20 s, in flight for 2 s; at zero pods it waits at an activator (a poke).
    for (let period = 0; period < 14; period++) {
      for (let second = 0; second < 20; second++) {
        const pods = h.replicas('timer') ?? 0;
        if (second === 0 && pods === 0) {
          coldStarts++;
          h.autoscaler.poke({ service: 'default/timer', activator: 'a' });
        }
        load.total = second < 2 ? 1 : 0;
        if (period >= 8) podsSeen.push(pods);
        await h.tick();
      }
    }
    // The first request is cold; while learning (5 idle times) the pod is kept; then each
    // request finds the pod started ahead of it.
    expect(coldStarts).toBe(1);
    // Learned: between two requests the pod went away, so it was pre-warmed, not kept.
    expect(podsSeen).toContain(0);
    const status = h.target.status(NS, 'timer');
    expect(status?.prediction).toMatchObject({ state: 'learned' });
    expect(status?.prediction?.idleTimes).toBeGreaterThanOrEqual(12);
    const [window] = status?.prediction?.windows ?? [];
    expect(window?.startMs).toBeGreaterThan(15_000);
    expect(window?.startMs).toBeLessThan(19_000);
    const metrics = await h.registry.metrics();
    expect(metrics).toMatch(
      /zeroscale_autoscaler_learned_idle_times\{namespace="default",service="timer"\} \d+/,
    );
    expect(metrics).toMatch(
      /zeroscale_autoscaler_predicted_min_pods\{namespace="default",service="timer"\} [01]/,
    );
  });

  it('idlePolicy Fixed (the default): the same timer is a cold start each time', async () => {
    const h = harness();
    const load = h.add('timer', 0, {
      activatorInPathSinceMs: t0,
      scaling: { ...short, minScale: 0, initialScale: 0 },
    });
    let coldStarts = 0;
    for (let period = 0; period < 6; period++) {
      for (let second = 0; second < 20; second++) {
        if (second === 0 && (h.replicas('timer') ?? 0) === 0) {
          if (period >= 2) coldStarts++; // once the first wake-up has settled
          h.autoscaler.poke({ service: 'default/timer', activator: 'a' });
        }
        load.total = second < 2 ? 1 : 0;
        await h.tick();
      }
    }
    expect(coldStarts).toBe(4);
    expect(h.target.status(NS, 'timer')?.prediction).toBeUndefined();
  });

  it('spec.budget Cap: holds a loaded service at its cap once the window is spent, and lifts as it rolls', async () => {
    const h = harness();
    const load = h.add('spender', 1, {
      activatorInPathSinceMs: t0,
      scaling: { ...short, target: 10, targetUtilizationPercentage: 100 },
      budget: { window: '1m', replicaSeconds: 100, maxScale: 1 },
      requests: { cpu: '500m', memory: '512Mi' },
      prices: { vcpuSecond: 0.01, gibSecond: 0.001 },
    });
    load.total = 40; // 4 pods wanted
    await h.ticks(10);
    expect(h.replicas('spender')).toBe(4);
    expect(h.target.status(NS, 'spender')?.budget).toMatchObject({ exceededSinceMs: undefined });
    await h.ticks(30); // ~4 pod-seconds a second: spent within the next half minute
    expect(h.replicas('spender')).toBe(1);
    const spent = h.target.status(NS, 'spender')?.budget;
    expect(spent).toMatchObject({ action: 'Cap', cappedAt: 1, limit: 100, unit: 'replica-seconds' });
    expect(spent?.used).toBeGreaterThanOrEqual(100);
    const metrics = await h.registry.metrics();
    expect(metrics).toContain(
      'zeroscale_autoscaler_budget_exceeded{namespace="default",service="spender"} 1',
    );
    const counter = (name: string) =>
      Number(
        new RegExp(`${name}\\{namespace="default",service="spender"\\} ([0-9.e+-]+)`).exec(metrics)?.[1],
      );
    const podSeconds = counter('zeroscale_replica_seconds_total');
    expect(podSeconds).toBeGreaterThan(100);
    // 0.5 vCPU + the queue-proxy's 0 here; 0.5 GiB: cost = pod-s × (0.5 × 0.01 + 0.5 × 0.001).
    expect(counter('zeroscale_requested_cpu_seconds_total')).toBeCloseTo(podSeconds * 0.5, 6);
    expect(counter('zeroscale_cost_total')).toBeCloseTo(podSeconds * 0.0055, 6);
    // The load drops to one pod's worth: once the 4-pod seconds have left the window, it lifts,
    // and the next rise gets its pods again.
    load.total = 10;
    await h.ticks(70);
    expect(h.target.status(NS, 'spender')?.budget?.exceededSinceMs).toBeUndefined();
    load.total = 40;
    await h.ticks(3);
    expect(h.replicas('spender')).toBe(4);
  });

  it('spec.budget Reject: goes to zero once spent, whatever the load', async () => {
    const h = harness();
    const load = h.add('refused', 2, {
      activatorInPathSinceMs: t0,
      scaling: { ...short, target: 10, targetUtilizationPercentage: 100 },
      budget: { window: '1m', replicaSeconds: 20, action: 'Reject' },
    });
    load.total = 20;
    await h.ticks(40); // spent within ~10 s; the last pod goes once the activator's grace is over
    expect(h.replicas('refused')).toBe(0);
    expect(h.target.status(NS, 'refused')?.budget).toMatchObject({ action: 'Reject' });
    expect(h.target.status(NS, 'refused')?.budget?.exceededSinceMs).toBeDefined();
  });

  it('takes the fast path when the activator was in the path all along (default burst capacity)', async () => {
    const h = harness({ cluster: { scaleToZeroGracePeriodMs: 3_000 } });
    h.add('idle', 1, { scaling: short });
    const events: string[] = [];
    followMode(h, events);
    await h.ticks(15);
    expect(events).toEqual(['1s scale 1', '1s activator in path', '7s scale 0']);
  });

  it('keeps one pod while the activator is not in the path', async () => {
    const h = harness({ cluster: { scaleToZeroGracePeriodMs: 1_000 } });
    h.add('idle', 1, { scaling: short });
    await h.ticks(20);
    expect(h.replicas('idle')).toBe(1);
    expect(h.view('idle')).toMatchObject({
      phase: 'inactive',
      reason: 'waiting-for-activator',
      mode: 'proxy',
    });
  });
});

describe('restart', () => {
  const restored = {
    phase: { kind: 'active' as const, sinceMs: t0 - 3_600_000 },
    scaleTargetInitialized: true,
  };

  it('does not scale a loaded service down on the first seconds of new data', async () => {
    // 4 pods when the autoscaler restarts; the first scrapes happen to see almost nothing.
    const h = harness();
    h.add('busy', 4, {
      scaling: { ...short, target: 4, targetUtilizationPercentage: 50 },
      restored,
    }).total = 0.5;
    for (let i = 0; i < 6; i++) {
      await h.tick();
      expect(h.replicas('busy') ?? 4).toBe(4);
    }
    expect(h.view('busy')?.panicking).toBe(true);
  });

  it('keeps the one pod of a restored active service for a stable window', async () => {
    const h = harness({ cluster: { scaleToZeroGracePeriodMs: 0 } });
    h.add('one', 1, { scaling: short, restored, activatorInPathSinceMs: t0 - 3_600_000 });
    for (let i = 0; i < 5; i++) {
      await h.tick();
      expect(h.replicas('one') ?? 1).toBe(1);
    }
    await h.ticks(3);
    expect(h.replicas('one')).toBe(0);
  });

  it('keeps a restored inactive phase, so the grace period is not started over', async () => {
    const h = harness({ cluster: { scaleToZeroGracePeriodMs: 30_000 } });
    h.add('idle', 1, {
      scaling: short,
      restored: { phase: { kind: 'inactive', sinceMs: t0 - 29_000 }, scaleTargetInitialized: true },
      activatorInPathSinceMs: t0 - 29_000,
    });
    await h.ticks(2);
    expect(h.replicas('idle')).toBe(0);
  });

  it('does not lift a service below its initialScale back up when it was initialised before', async () => {
    const h = harness();
    h.add('small', 2, {
      scaling: { ...short, initialScale: 5, target: 4, targetUtilizationPercentage: 50 },
      restored,
    }).total = 4;
    await h.ticks(10);
    expect(h.replicas('small') ?? 2).toBe(2);
  });
});

describe('services come and go', () => {
  it('forgets a deleted service and its metrics', async () => {
    const h = harness();
    h.add('a', 1).total = 1;
    h.add('b', 1).total = 1;
    await h.ticks(2);
    expect(await h.registry.metrics()).toContain('service="a"');
    h.source.delete(NS, 'a');
    await h.tick();
    expect(h.autoscaler.inspect(NS, 'a')).toBeUndefined();
    expect(h.autoscaler.serviceCount).toBe(1);
    expect(await h.registry.metrics()).not.toContain('service="a"');
  });

  it('skips a service with unusable settings and decides the others', async () => {
    const h = harness();
    h.add('good', 1).total = 1;
    const bad = memoryService(NS, 'bad');
    h.source.set({ ...bad, scaling: { ...bad.scaling, target: 0 } });
    await h.ticks(2);
    expect(h.autoscaler.inspect(NS, 'bad')).toBeUndefined();
    expect(h.view('good')?.desiredPods).toBe(1);
    expect(await h.registry.metrics()).toContain('zeroscale_autoscaler_invalid_specs_total 1');
  });

  it('takes new windows with a fresh history', async () => {
    const h = harness();
    h.add('hello', 1, { scaling: { stableWindow: '60s' } }).total = 10;
    await h.ticks(3);
    h.source.set({ ...memoryService(NS, 'hello', { scaling: { stableWindow: '6s' } }) });
    await h.tick();
    expect(h.view('hello')?.stableConcurrency).toBe(10);
  });
});

describe('writes', () => {
  it('publishes status when the decision changes, not every tick', async () => {
    const h = harness({ statusRefreshMs: 10_000 });
    h.add('hello', 1, { scaling: { ...short, target: 4, targetUtilizationPercentage: 50 } }).total = 1;
    await h.ticks(30);
    const published = h.target.publishCalls.length;
    // The first publish, the phase/initialisation settling, and a refresh every 10 s at most.
    expect(published).toBeLessThanOrEqual(6);
    expect(h.target.status(NS, 'hello')).toMatchObject({
      desiredScale: 1,
      mode: 'proxy',
      readyPods: 1,
      panicking: false,
    });
  });

  it('writes nothing once stopped', async () => {
    const h = harness();
    h.add('hello', 1).total = 100;
    await h.autoscaler.stop();
    await h.ticks(3);
    expect(h.target.scaleCalls).toEqual([]);
    expect(h.target.publishCalls).toEqual([]);
  });

  it('exposes the gauges per service', async () => {
    const h = harness();
    h.add('hello', 1, { scaling: { ...short, target: 4, targetUtilizationPercentage: 50 } }).total = 10;
    await h.ticks(3);
    const text = await h.registry.metrics();
    expect(text).toContain('zeroscale_autoscaler_desired_pods{namespace="default",service="hello"} 5');
    expect(text).toContain(
      'zeroscale_autoscaler_target_concurrency_per_pod{namespace="default",service="hello"} 2',
    );
    expect(text).toContain(
      'zeroscale_autoscaler_scale_events_total{namespace="default",service="hello",direction="up"} 1',
    );
  });
});
