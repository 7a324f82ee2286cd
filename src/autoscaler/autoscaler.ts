// The autoscaler's runtime: one tick loop for all services (no timer per service). Each tick reads
// the services and their ready pods, scrapes a sample of each service's pods, records the result,
// and decides that service as soon as its scrape is in; services without pods are decided at once.
// Activator reports feed the same series between ticks; a poke decides its service immediately.

import type { Registry } from 'prom-client';
import { serviceKey } from '../api/names.ts';
import { type Clock, systemClock, type Timer } from '../clock.ts';
import { ZeroscaleError } from '../errors.ts';
import { WriteBudget } from '../kube/write-budget.ts';
import type { Logger } from '../telemetry/log.ts';
import { AutoscalerMetrics } from './autoscaler-metrics.ts';
import { type AutoscalerConfig, resolveAutoscalerConfig } from './config.ts';
import { activatorConcurrency, extrapolate, sumScrape } from './metrics/collector.ts';
import type { ActivatorReport, Poke } from './metrics/protocol.ts';
import type { StatsFetcher } from './metrics/stats-fetcher.ts';
import type { ScaleTarget } from './scale-target.ts';
import { DEFAULT_BUCKET_MS } from './scaling/buckets.ts';
import { chooseSample, type RandomSource, sampleSize } from './scaling/sampling.ts';
import { ServiceScaler, type ServiceScalerContext, type ServiceView } from './service-scaler.ts';
import type { AutoscaledService, ServiceSource } from './service-source.ts';

export interface AutoscalerOptions {
  readonly source: ServiceSource;
  readonly target: ScaleTarget;
  readonly fetcher: StatsFetcher;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly clock?: Clock;
  /** For the pod sample; Math.random by default, seeded in tests. */
  readonly random?: RandomSource;
  readonly config?: AutoscalerConfig;
  /**
   * False for a hot standby: it takes the same reports, scrapes and decides like the leader, but
   * writes nothing, exports no per-service gauges and logs no decisions, until `lead()`. So a new
   * leader starts with full windows and the same scale-down and scale-to-zero clocks as the old
   * one, instead of a minute of fresh history. Default true.
   */
  readonly leading?: boolean;
}

export type PokeOutcome = 'decided' | 'unknown-service';

/** No ready pod and nothing decided above zero: demand must be acted on now, not at the tick. */
function isCold(state: ServiceScaler): boolean {
  return state.readyPods === 0 && (state.desiredScale ?? 0) === 0;
}

/** A poke for a service not seen yet re-reads the services, but not more often than this. */
const RESYNC_ON_UNKNOWN_MS = 100;
/** Ticks fire this long after a tick boundary, clear of timer jitter around the boundary. */
const TICK_PHASE_MS = 10;
/** Status writes that can wait, across services (see ServiceScalerContext.statusBudget). */
const STATUS_WRITES_PER_SECOND = 50;
const STATUS_WRITES_BURST = 100;

export class Autoscaler {
  readonly config: AutoscalerConfig;
  readonly #source: ServiceSource;
  readonly #fetcher: StatsFetcher;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #random: RandomSource;
  readonly #metrics: AutoscalerMetrics;
  readonly #context: ServiceScalerContext;
  readonly #services = new Map<string, ServiceScaler>();
  /** Keys whose settings were refused, with the settings object, so each is logged once. */
  readonly #invalid = new Map<string, AutoscaledService['scaling']>();
  #syncMark = 0;
  #lastSyncMs = Number.NEGATIVE_INFINITY;
  #scrapesInFlight = 0;
  #idle: { promise: Promise<void>; resolve: () => void } | undefined;
  #timer: Timer | undefined;
  #running = true;
  #leading: boolean;

  constructor(options: AutoscalerOptions) {
    this.config = options.config ?? resolveAutoscalerConfig();
    this.#source = options.source;
    this.#fetcher = options.fetcher;
    this.#log = options.logger;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#leading = options.leading ?? true;
    this.#metrics = new AutoscalerMetrics(options.registry, () => this.#gaugeValues());
    this.#context = {
      config: this.config,
      target: options.target,
      metrics: this.#metrics,
      fetcher: this.#fetcher,
      acting: () => this.#running && this.#leading,
      statusBudget: new WriteBudget(STATUS_WRITES_PER_SECOND, STATUS_WRITES_BURST, this.#clock.now()),
    };
  }

  /** A standby becomes the leader: from its next decision on it writes what it decides. */
  lead(): void {
    if (this.#leading) return;
    this.#leading = true;
    this.#log.info({ services: this.#services.size }, 'leading with the history the standby kept');
  }

  get leading(): boolean {
    return this.#leading;
  }

  /**
   * Starts the tick loop: one timer for all services, re-armed after each tick to fire just after
   * the next whole tick boundary (…, 12.010 s, 13.010 s, …), so that timer drift never puts two
   * scrapes in one 1 s bucket or leaves one empty.
   */
  start(): void {
    if (!this.#running) {
      throw new ZeroscaleError(
        'AUTOSCALER_STOPPED',
        'a stopped Autoscaler cannot start again; make a new one',
      );
    }
    if (this.#timer !== undefined) return;
    this.#schedule();
  }

  /**
   * Stops the loop and all writes at once (writes already started finish), waits for the scrapes
   * in flight (they end within the fetcher's timeout) and removes this instance's metrics, so a
   * new Autoscaler can be made on the same registry (leadership lost and regained).
   */
  async stop(): Promise<void> {
    this.#running = false;
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#whenIdle();
    this.#metrics.unregister();
  }

  /**
   * One tick: sync the services, then for each either decide now (no ready pod) or start its
   * scrape, which decides it when it completes. Resolves when every scrape started by this or an
   * earlier tick has completed and been decided. Never rejects.
   */
  tick(): Promise<void> {
    const started = this.#clock.monotonicNow();
    const nowMs = this.#clock.now();
    this.#sync(nowMs);
    for (const state of this.#services.values()) {
      if (state.scraping) {
        // A slow scrape from the last tick: it decides the service when it completes.
        this.#metrics.scrapeOverruns.inc();
        continue;
      }
      let addresses: readonly string[];
      try {
        const pods = this.#source.pods(state.service);
        state.setPods(pods);
        addresses = pods.readyAddresses;
      } catch (err) {
        state.log.error({ err }, 'failed to read the ready pods');
        continue;
      }
      // One scrape per service per 1 s bucket: the series adds up what lands in a bucket, so a
      // second scrape in the same second would count the pods twice. An early tick only decides.
      const second = Math.floor(nowMs / DEFAULT_BUCKET_MS);
      const size = sampleSize(addresses.length);
      if (size === 0 || state.scrapeSecond === second) this.#foldAndDecide(state, nowMs);
      else {
        state.scrapeSecond = second;
        this.#startScrape(state, addresses, size, nowMs);
      }
    }
    const idle = this.#whenIdle();
    void idle.then(() => this.#metrics.tickDuration.observe((this.#clock.monotonicNow() - started) / 1_000));
    return idle;
  }

  /**
   * Holds an activator's report for each of its services until the next tick folds it in. A
   * report of demand for a cold service (no ready pod, nothing decided above zero) is folded and
   * decided at once, as a poke would be (Knative pokes on such a stat), in case the poke was lost.
   */
  recordReport(report: ActivatorReport): void {
    const nowMs = this.#clock.now();
    this.#metrics.reports.inc();
    for (const load of report.services) {
      const state = this.#services.get(load.service);
      if (state === undefined) {
        this.#metrics.unknownServiceLoads.inc();
        continue;
      }
      const concurrency = activatorConcurrency(load);
      state.activators.report(
        report.activator,
        concurrency,
        load.requestsPerSecond,
        report.intervalMs,
        nowMs,
      );
      if (concurrency > 0 && isCold(state) && !state.scraping) this.#foldAndDecide(state, nowMs);
    }
  }

  /**
   * A request is waiting in an activator for a service with no ready pod: hold it as at least one
   * request of demand from that activator and, if the service is cold, decide it now instead of
   * at the next tick, so that 0 → activationScale starts at once.
   */
  poke(poke: Poke): PokeOutcome {
    const nowMs = this.#clock.now();
    let state = this.#services.get(poke.service);
    if (state === undefined && nowMs - this.#lastSyncMs >= RESYNC_ON_UNKNOWN_MS) {
      this.#sync(nowMs);
      state = this.#services.get(poke.service);
    }
    if (state === undefined) {
      this.#metrics.unknownServiceLoads.inc();
      return 'unknown-service';
    }
    this.#metrics.pokes.inc();
    try {
      state.setPods(this.#source.pods(state.service));
    } catch (err) {
      state.log.error({ err }, 'failed to read the ready pods');
    }
    state.activators.poke(poke.activator, nowMs);
    if (isCold(state) && !state.scraping) this.#foldAndDecide(state, nowMs);
    return 'decided';
  }

  /** What the autoscaler knows of one service; undefined when it does not scale it. */
  inspect(namespace: string, name: string): ServiceView | undefined {
    return this.#services.get(serviceKey(namespace, name))?.view();
  }

  get serviceCount(): number {
    return this.#services.size;
  }

  #schedule(): void {
    const tickMs = this.config.tickMs;
    const nowMs = this.#clock.now();
    const next = (Math.floor(nowMs / tickMs) + 1) * tickMs + TICK_PHASE_MS;
    this.#timer = this.#clock.setTimeout(() => {
      if (!this.#running) return;
      void this.tick();
      this.#schedule();
    }, next - nowMs);
  }

  /** Reads the services: adds new ones, takes changes, forgets those that are gone. */
  #sync(nowMs: number): void {
    const mark = ++this.#syncMark;
    this.#lastSyncMs = nowMs;
    let services: Iterable<AutoscaledService>;
    try {
      services = this.#source.services();
    } catch (err) {
      // Keep every service as it was: a failed read is not a deletion.
      this.#log.error({ err }, 'failed to read the services');
      for (const state of this.#services.values()) state.seen = mark;
      return;
    }
    for (const service of services) {
      const key = serviceKey(service.namespace, service.name);
      const state = this.#services.get(key);
      try {
        if (state === undefined) this.#add(key, service, mark);
        else {
          state.seen = mark;
          state.update(service);
        }
        this.#invalid.delete(key);
      } catch (err) {
        if (state !== undefined) state.seen = mark;
        if (this.#invalid.get(key) !== service.scaling) {
          this.#invalid.set(key, service.scaling);
          this.#metrics.invalidSpecs.inc();
          this.#log.warn(
            { err, namespace: service.namespace, service: service.name },
            'skipped unusable scaling settings',
          );
        }
      }
    }
    for (const [key, state] of this.#services) {
      if (state.seen === mark) continue;
      state.removed = true;
      this.#services.delete(key);
      this.#invalid.delete(key);
      this.#metrics.forget(state.labels);
      state.log.info('forgot the deleted service');
    }
  }

  #add(key: string, service: AutoscaledService, mark: number): void {
    const log = this.#log.child({ namespace: service.namespace, service: service.name });
    const state = new ServiceScaler(key, service, this.#context, log);
    state.seen = mark;
    this.#services.set(key, state);
    log.debug('started scaling the service');
  }

  /** Adds the activators' held share to this second's bucket, then decides. */
  #foldAndDecide(state: ServiceScaler, nowMs: number): void {
    state.activators.foldInto(state.series, nowMs);
    this.#decide(state, nowMs);
  }

  #decide(state: ServiceScaler, nowMs: number): void {
    try {
      state.decide(nowMs);
    } catch (err) {
      // A bug or a throwing ScaleTarget must not stop the other services' decisions.
      state.log.error({ err }, 'failed to decide the scale');
    }
  }

  #startScrape(state: ServiceScaler, addresses: readonly string[], size: number, nowMs: number): void {
    chooseSample(addresses, size, this.#random, state.sample);
    const n = state.sample.length;
    state.answers.length = n;
    state.answers.fill(undefined);
    state.scraping = true;
    state.scrapeAtMs = nowMs;
    state.scrapeReadyPods = state.readyPods;
    state.scrapeRemaining = n;
    state.scrapeFailures = 0;
    this.#scrapesInFlight++;
    for (let i = 0; i < n; i++) void this.#scrapePod(state, i);
  }

  async #scrapePod(state: ServiceScaler, index: number): Promise<void> {
    try {
      state.answers[index] = await this.#fetcher.fetchStats(state.sample[index]!);
    } catch (err) {
      state.scrapeFailures++;
      if (state.log.isLevelEnabled('debug')) {
        state.log.debug({ err, address: state.sample[index] }, 'failed to scrape a pod');
      }
    }
    if (--state.scrapeRemaining === 0) this.#finishScrape(state);
  }

  /** All answers are in: record the extrapolated total in the tick's bucket, then decide. */
  #finishScrape(state: ServiceScaler): void {
    state.scraping = false;
    if (!state.removed) {
      if (state.scrapeFailures > 0) {
        this.#metrics.scrapeErrors(state.labels, state.scrapeFailures);
      }
      // No answer at all records nothing: "no data" keeps the scale, where a 0 would shrink it.
      const total = extrapolate(sumScrape(state.answers), state.scrapeReadyPods);
      if (total !== undefined) {
        state.series.record(state.scrapeAtMs, total.concurrency, total.requestsPerSecond);
      }
      state.activators.foldInto(state.series, state.scrapeAtMs);
      this.#decide(state, Math.max(state.scrapeAtMs, this.#clock.now()));
    }
    if (--this.#scrapesInFlight === 0 && this.#idle !== undefined) {
      const { resolve } = this.#idle;
      this.#idle = undefined;
      resolve();
    }
  }

  /** Resolves once no scrape is in flight: every service a tick started to scrape was decided. */
  idle(): Promise<void> {
    return this.#whenIdle();
  }

  #whenIdle(): Promise<void> {
    if (this.#scrapesInFlight === 0) return Promise.resolve();
    if (this.#idle === undefined) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => {
        resolve = r;
      });
      this.#idle = { promise, resolve };
    }
    return this.#idle.promise;
  }

  *#gaugeValues() {
    // One series per service in Prometheus: the standby's would double every sum.
    if (!this.#leading) return;
    for (const state of this.#services.values()) {
      if (state.decider !== undefined) yield state.gaugeValues();
    }
  }
}
