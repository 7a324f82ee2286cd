// Autoscaler cost at 1,000 services: tick time (p50/p99) and memory with in-memory sources and
// in-process queue-proxy stats (no sockets: the scrape is an injected fetcher), beside baselines
// (the pure KPA decision alone for 1,000 services, and the same runtime at 10 services); and the
// reaction time from a step in load to the first scale decision, in ticks (ManualClock) and in
// milliseconds with the real 1 s loop. Bounded to well under a minute on 2 cores.
import { PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Registry } from 'prom-client';
import { Autoscaler } from '../src/autoscaler/autoscaler.ts';
import { resolveAutoscalerConfig, toScalingSpec } from '../src/autoscaler/config.ts';
import {
  MemoryScaleTarget,
  MemoryServiceSource,
  MemoryStatsFetcher,
  memoryService,
} from '../src/autoscaler/memory.ts';
import { ServiceSeries } from '../src/autoscaler/metrics/collector.ts';
import type { ActivatorReport, PodStats, ServiceLoad } from '../src/autoscaler/metrics/protocol.ts';
import {
  type DeciderState,
  decideScale,
  initialDeciderState,
  type ScalingSpec,
} from '../src/autoscaler/scaling/decider.ts';
import { sampleSize } from '../src/autoscaler/scaling/sampling.ts';
import { type Clock, ManualClock, systemClock } from '../src/clock.ts';
import { silentLogger } from '../src/telemetry/log.ts';
import { percentile, writeResult } from './stats.ts';

const SERVICES = 1_000;
const WARMUP_TICKS = 70; // more than the 60 s stable window, so every ring is full
const MEASURED_TICKS = 300;
const REACTION_SAMPLES = 8;
const t0 = Date.UTC(2026, 0, 1);

/** gc() for honest heap numbers without a command-line flag. */
function collectGarbage(): void {
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
}

function heapUsed(): number {
  collectGarbage();
  return process.memoryUsage().heapUsed;
}

/** Deterministic pod counts: most services small, a tail of large ones (sampled, not fully scraped). */
function podCount(i: number): number {
  const r = (i * 7919) % 100;
  if (r < 55) return 1;
  if (r < 80) return 2 + (i % 2);
  if (r < 93) return 5 + (i % 16);
  if (r < 99) return 50;
  return 200;
}

interface Fleet {
  readonly clock: ManualClock;
  readonly autoscaler: Autoscaler;
  readonly fetcher: MemoryStatsFetcher;
  readonly reports: ActivatorReport[];
  /** Sets each service's load for second `tick`: a slow wave, so decisions do change. */
  readonly vary: (tick: number) => void;
}

type MutableStats = { -readonly [K in keyof PodStats]: PodStats[K] };

interface BenchService {
  readonly name: string;
  /** The pod count the service was built with: its demand is sized on it. */
  readonly basePods: number;
  pods: number;
  /** One stats object shared by the service's pods and mutated in place: the fake allocates nothing. */
  readonly stats: MutableStats;
}

/**
 * n services with pods that follow setScale at once and stats served from memory. Each service's
 * demand is a total that its pods share (so adding pods lowers the per-pod value, as in life):
 * base pods × 7 (target 10 × 70 %) × a slow wave between 0.6 and 1.4, each on its own phase.
 */
function buildFleet(n: number): Fleet {
  const clock = new ManualClock(t0);
  const source = new MemoryServiceSource();
  const target = new MemoryScaleTarget({ keepHistory: false });
  const services = new Map<string, BenchService>();
  const addresses = (name: string, count: number) => Array.from({ length: count }, (_, i) => `${name}#${i}`);
  for (let i = 0; i < n; i++) {
    const name = `svc-${i}`;
    const pods = podCount(i);
    source.set(memoryService('bench', name, { scaling: { target: 10, targetUtilizationPercentage: 70 } }));
    source.setPods('bench', name, addresses(name, pods));
    services.set(name, {
      name,
      basePods: pods,
      pods,
      stats: {
        pod: name,
        intervalMs: 1_000,
        averageConcurrency: 0,
        averageProxiedConcurrency: 0,
        requestsPerSecond: 0,
        proxiedRequestsPerSecond: 0,
      },
    });
  }
  target.onSetScale = (service, replicas) => {
    source.setPods(service.namespace, service.name, addresses(service.name, replicas));
    services.get(service.name)!.pods = replicas;
  };
  const fetcher = new MemoryStatsFetcher(
    (address) => services.get(address.slice(0, address.indexOf('#')))?.stats,
  );
  const autoscaler = new Autoscaler({
    source,
    target,
    fetcher,
    logger: silentLogger(),
    registry: new Registry(),
    clock,
    config: resolveAutoscalerConfig(),
  });
  // Two activators, each reporting a third of the services every second.
  const names = [...services.keys()];
  const reports: ActivatorReport[] = [0, 1].map((a) => ({
    activator: `activator-${a}`,
    intervalMs: 1_000,
    services: names
      .filter((_, i) => i % 3 === a)
      .map(
        (name): ServiceLoad => ({
          service: `bench/${name}`,
          averageConcurrency: 2,
          requestsPerSecond: 5,
          queued: 0,
        }),
      ),
  }));
  const vary = (tick: number) => {
    let i = 0;
    for (const service of services.values()) {
      const total = service.basePods * 7 * (1 + 0.4 * Math.sin((tick + i * 13) / 40));
      service.stats.averageConcurrency = total / Math.max(1, service.pods);
      service.stats.requestsPerSecond = service.stats.averageConcurrency * 10;
      i++;
    }
  };
  return { clock, autoscaler, fetcher, reports, vary };
}

interface TickNumbers {
  readonly services: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly scrapesPerTick: number;
  readonly heapPerServiceBytes: number;
  /** Garbage collections during the measured ticks, and their total pause, per tick. */
  readonly gcPerTick: number;
  readonly gcPauseMsPerTick: number;
}

async function measureTicks(n: number): Promise<TickNumbers> {
  const before = heapUsed();
  const fleet = buildFleet(n);
  const run = async (tick: number) => {
    fleet.vary(tick);
    fleet.clock.advance(1_000);
    for (const report of fleet.reports) fleet.autoscaler.recordReport(report);
    const started = performance.now();
    await fleet.autoscaler.tick();
    return performance.now() - started;
  };
  for (let t = 0; t < WARMUP_TICKS; t++) await run(t);
  const fetchesBefore = fleet.fetcher.fetches;
  let gcCount = 0;
  let gcMs = 0;
  const gcObserver = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gcCount++;
      gcMs += entry.duration;
    }
  });
  gcObserver.observe({ entryTypes: ['gc'] });
  const times: number[] = [];
  for (let t = 0; t < MEASURED_TICKS; t++) times.push(await run(WARMUP_TICKS + t));
  // GC entries are delivered on a later turn of the event loop.
  await new Promise((resolve) => setTimeout(resolve, 20));
  gcObserver.disconnect();
  const scrapesPerTick = (fleet.fetcher.fetches - fetchesBefore) / MEASURED_TICKS;
  const after = heapUsed();
  const numbers = {
    services: n,
    p50Ms: percentile(times, 50),
    p99Ms: percentile(times, 99),
    maxMs: percentile(times, 100),
    scrapesPerTick,
    heapPerServiceBytes: (after - before) / n,
    gcPerTick: gcCount / MEASURED_TICKS,
    gcPauseMsPerTick: gcMs / MEASURED_TICKS,
  };
  await fleet.autoscaler.stop();
  return numbers;
}

/** The baseline: the pure KPA decision for n services, state kept, averages from full windows. */
function measureDecisionsOnly(n: number): { p50Ms: number; p99Ms: number } {
  const config = resolveAutoscalerConfig();
  const spec: ScalingSpec = toScalingSpec(
    memoryService('bench', 'x', { scaling: { target: 10, targetUtilizationPercentage: 70 } }).scaling,
    0,
    config.cluster,
  );
  const series = Array.from({ length: n }, () => new ServiceSeries(spec));
  const states: DeciderState[] = Array.from({ length: n }, (_, i) =>
    initialDeciderState({ spec, readyPods: podCount(i), nowMs: t0 }),
  );
  const times: number[] = [];
  let now = t0;
  for (let t = 0; t < WARMUP_TICKS + MEASURED_TICKS; t++) {
    now += 1_000;
    for (let i = 0; i < n; i++) series[i]!.record(now, 5 + 4 * Math.sin((t + i * 13) / 40), 50);
    const started = performance.now();
    for (let i = 0; i < n; i++) {
      const decision = decideScale(
        {
          spec,
          averages: series[i]!.averages('concurrency', now),
          readyPods: podCount(i),
          state: states[i]!,
        },
        now,
      );
      states[i] = decision.state;
    }
    if (t >= WARMUP_TICKS) times.push(performance.now() - started);
  }
  return { p50Ms: percentile(times, 50), p99Ms: percentile(times, 99) };
}

/**
 * One service at 1 pod with 3 in flight (target 10 × 70 % = 7), then a step to 70 at a random
 * moment: panic (10 pods wanted from 1) and a decision at the first tick after the step.
 * Returns the time from the step to the first setScale above 1, in ms, and in ticks.
 */
async function reactionOnce(
  clock: Clock,
  manual: boolean,
  name: string,
): Promise<{ ms: number; ticks: number }> {
  const source = new MemoryServiceSource();
  const target = new MemoryScaleTarget({ keepHistory: false });
  let load = 3;
  const stats = (): PodStats => ({
    pod: name,
    intervalMs: 1_000,
    averageConcurrency: load,
    averageProxiedConcurrency: 0,
    requestsPerSecond: 0,
    proxiedRequestsPerSecond: 0,
  });
  source.set(
    memoryService('bench', name, {
      scaling: { stableWindow: '60s', target: 10, targetUtilizationPercentage: 70 },
    }),
  );
  source.setPods('bench', name, ['p#0']);
  let stepAt = Number.NaN;
  let decidedAt = Number.NaN;
  let ticksAfterStep = 0;
  const decided = new Promise<void>((resolve) => {
    target.onSetScale = (_service, replicas) => {
      if (replicas > 1 && Number.isNaN(decidedAt)) {
        decidedAt = performance.now();
        resolve();
      }
    };
  });
  const autoscaler = new Autoscaler({
    source,
    target,
    fetcher: new MemoryStatsFetcher(stats),
    logger: silentLogger(),
    registry: new Registry(),
    clock,
    config: resolveAutoscalerConfig(),
  });
  try {
    if (manual) {
      const m = clock as ManualClock;
      for (let t = 0; t < 3; t++) {
        m.advance(1_000);
        await autoscaler.tick();
      }
      m.advance(300 + Math.floor(Math.random() * 600));
      load = 70;
      stepAt = performance.now();
      while (Number.isNaN(decidedAt) && ticksAfterStep < 10) {
        m.set((Math.floor(m.now() / 1_000) + 1) * 1_000 + 10);
        ticksAfterStep++;
        await autoscaler.tick();
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } else {
      autoscaler.start();
      // Let the loop settle at one pod for two ticks, then step at a random point of a tick.
      await new Promise((resolve) => setTimeout(resolve, 2_000 + Math.floor(Math.random() * 1_000)));
      load = 70;
      stepAt = performance.now();
      await Promise.race([decided, new Promise((resolve) => setTimeout(resolve, 5_000))]);
    }
  } finally {
    await autoscaler.stop();
  }
  return { ms: decidedAt - stepAt, ticks: ticksAfterStep };
}

export async function benchAutoscaler(): Promise<void> {
  const rssAtStart = process.memoryUsage().rss;
  const decisions = measureDecisionsOnly(SERVICES);
  const small = await measureTicks(10);
  const large = await measureTicks(SERVICES);
  const rss = process.memoryUsage().rss;

  const manualTicks: number[] = [];
  for (let i = 0; i < REACTION_SAMPLES; i++) {
    manualTicks.push((await reactionOnce(new ManualClock(t0), true, `m${i}`)).ticks);
  }
  const realMs: number[] = [];
  for (let i = 0; i < REACTION_SAMPLES; i++)
    realMs.push((await reactionOnce(systemClock, false, `r${i}`)).ms);

  const ms = (x: number) => `${x.toFixed(2)} ms`;
  const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
  const totalSample = Array.from({ length: SERVICES }, (_, i) => sampleSize(podCount(i))).reduce(
    (a, b) => a + b,
    0,
  );
  const totalPods = Array.from({ length: SERVICES }, (_, i) => podCount(i)).reduce((a, b) => a + b, 0);
  writeResult(
    'autoscaler',
    {
      date: new Date().toISOString(),
      node: process.versions.node,
      services: SERVICES,
      podsAtStart: totalPods,
      sampledPodsAtStart: totalSample,
      warmupTicks: WARMUP_TICKS,
      measuredTicks: MEASURED_TICKS,
      decisionsOnly: decisions,
      tick10: small,
      tick1000: large,
      rssBytesAtStart: rssAtStart,
      rssBytes: rss,
      reaction: { manualClockTicks: manualTicks, realClockMs: realMs },
    },
    [
      `| autoscaler (${new Date().toISOString().slice(0, 10)}, 2 cores, ${MEASURED_TICKS} ticks after ${WARMUP_TICKS} of warm-up) | p50 | p99 | max |`,
      '|---|---|---|---|',
      `| tick, ${SERVICES} services (${totalPods} pods at start, ${totalSample} sampled; ~${Math.round(large.scrapesPerTick)} in-process scrapes/tick measured; 2 activator reports/tick) | ${ms(large.p50Ms)} | ${ms(large.p99Ms)} | ${ms(large.maxMs)} |`,
      `| baseline: same tick, 10 services | ${ms(small.p50Ms)} | ${ms(small.p99Ms)} | ${ms(small.maxMs)} |`,
      `| baseline: the pure KPA decision alone (decideScale + window averages), ${SERVICES} services | ${ms(decisions.p50Ms)} | ${ms(decisions.p99Ms)} | |`,
      `| reaction, step in load → first scale decision, ManualClock (ticks) | ${percentile(manualTicks, 50)} | ${percentile(manualTicks, 100)} | |`,
      `| reaction, step in load → first scale decision, real 1 s loop (${REACTION_SAMPLES} steps at random moments) | ${ms(percentile(realMs, 50))} | ${ms(percentile(realMs, 100))} | |`,
      '',
      `Memory: retained heap ${kb(large.heapPerServiceBytes)} per service at ${SERVICES} services (after gc; sources and fakes included), ${kb(small.heapPerServiceBytes)} at 10; process RSS ${(rssAtStart / 1024 / 1024).toFixed(0)} MiB at the start (Node and the modules) and ${(rss / 1024 / 1024).toFixed(0)} MiB after the tick runs.`,
      `Garbage: ${large.gcPerTick.toFixed(2)} collections and ${large.gcPauseMsPerTick.toFixed(2)} ms of GC pause per tick at ${SERVICES} services (${small.gcPerTick.toFixed(2)} and ${small.gcPauseMsPerTick.toFixed(2)} ms at 10): the per-tick garbage is ~2 promises per scraped pod, collected young.`,
    ].join('\n'),
  );
}

if (import.meta.url === `file://${process.argv[1]}`) await benchAutoscaler();
