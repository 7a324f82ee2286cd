// The autoscaler's Prometheus metrics. Per-service gauges are filled when Prometheus scrapes
// (collect), from the autoscaler's own state, so a tick costs nothing for them; counters count
// events. Per-service labels: namespace and service (and a bounded direction or reason).

import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { SERVICE_LABEL_NAMES, type ServiceLabels } from '../telemetry/service-labels.ts';
import type { Spend } from './cost.ts';

/** What the gauges show for one service; read at collection time. */
export interface ServiceGaugeValues {
  readonly labels: ServiceLabels;
  readonly desiredPods: number | undefined;
  readonly actualPods: number;
  readonly readyPods: number;
  readonly stableConcurrency: number;
  readonly panicConcurrency: number;
  readonly stableRequestsPerSecond: number;
  readonly panicRequestsPerSecond: number;
  readonly metric: 'concurrency' | 'rps';
  /** Per-pod value aimed at (target × utilisation) of `metric`. */
  readonly targetPerPod: number;
  readonly panicking: boolean;
  readonly excessBurstCapacity: number;
  /** Where the autoscaler wants the public endpoints: the activators ('proxy') or the pods. */
  readonly mode: 'proxy' | 'serve';
  /** With schedules: the floor of the warm window in force (0 between windows); else undefined. */
  readonly warmMinPods: number | undefined;
  /** With schedules: when the next warm window opens (ms since the epoch). */
  readonly nextWarmWindowMs: number | undefined;
  /** idlePolicy Predictive: 1 while the plan wants a pod through an idle period, else 0; else undefined. */
  readonly predictedMinPods: number | undefined;
  /** idlePolicy Predictive: idle times in the service's histogram. */
  readonly learnedIdleTimes: number | undefined;
  /** spec.budget: the share of the budget used in the window (1 = all). */
  readonly budgetUsedRatio: number | undefined;
  /** spec.budget: 1 while spent, else 0. */
  readonly budgetExceeded: number | undefined;
}

export type ScaleDirection = 'up' | 'down';

const SERVICE_LABELS = SERVICE_LABEL_NAMES;

type Values = () => Iterable<ServiceGaugeValues>;

function serviceGauge(
  registry: Registry,
  name: string,
  help: string,
  values: Values,
  pick: (v: ServiceGaugeValues) => number | undefined,
): Gauge<(typeof SERVICE_LABELS)[number]> {
  return new Gauge({
    name,
    help,
    labelNames: SERVICE_LABELS,
    registers: [registry],
    collect() {
      this.reset();
      for (const v of values()) {
        const value = pick(v);
        if (value !== undefined) this.set(v.labels, value);
      }
    },
  });
}

export class AutoscalerMetrics {
  readonly #registry: Registry;
  readonly #names: string[] = [];
  readonly #scaleEvents: Counter<'namespace' | 'service' | 'direction'>;
  readonly statusWritesDeferred: Counter;
  readonly #replicaSeconds: Counter<'namespace' | 'service'>;
  readonly #cpuSeconds: Counter<'namespace' | 'service'>;
  readonly #memorySeconds: Counter<'namespace' | 'service'>;
  readonly #requestsServed: Counter<'namespace' | 'service'>;
  readonly #cost: Counter<'namespace' | 'service'>;
  readonly #scrapeErrors: Counter<'namespace' | 'service'>;
  readonly scrapeOverruns: Counter;
  readonly tickDuration: Histogram;
  readonly reports: Counter;
  readonly unknownServiceLoads: Counter;
  readonly pokes: Counter;
  readonly scaleWriteErrors: Counter;
  readonly publishErrors: Counter;
  readonly invalidSpecs: Counter;

  constructor(registry: Registry, values: Values) {
    this.#registry = registry;
    const before = new Set(registry.getMetricsAsArray().map((m) => m.name));
    const reg = [registry];
    const g = (name: string, help: string, pick: (v: ServiceGaugeValues) => number | undefined) =>
      serviceGauge(registry, `zeroscale_autoscaler_${name}`, help, values, pick);
    g('desired_pods', 'Pods the autoscaler last decided.', (v) => v.desiredPods);
    g('actual_pods', 'Pods of the service, ready or not.', (v) => v.actualPods);
    g('ready_pods', 'Ready pods of the service.', (v) => v.readyPods);
    g(
      'stable_concurrency',
      'Requests in flight, stable-window average, service total.',
      (v) => v.stableConcurrency,
    );
    g(
      'panic_concurrency',
      'Requests in flight, panic-window average, service total.',
      (v) => v.panicConcurrency,
    );
    g(
      'stable_requests_per_second',
      'Requests per second, stable-window average, service total.',
      (v) => v.stableRequestsPerSecond,
    );
    g(
      'panic_requests_per_second',
      'Requests per second, panic-window average, service total.',
      (v) => v.panicRequestsPerSecond,
    );
    g('target_concurrency_per_pod', 'Requests in flight per pod aimed at (metric concurrency).', (v) =>
      v.metric === 'concurrency' ? v.targetPerPod : undefined,
    );
    g('target_requests_per_second_per_pod', 'Requests per second per pod aimed at (metric rps).', (v) =>
      v.metric === 'rps' ? v.targetPerPod : undefined,
    );
    g('panic_mode', '1 while the service is in panic mode, else 0.', (v) => (v.panicking ? 1 : 0));
    g(
      'proxy_mode',
      '1 while the activators are wanted in the request path (proxy mode), 0 while traffic goes straight to the pods (serve mode).',
      (v) => (v.mode === 'proxy' ? 1 : 0),
    );
    g(
      'excess_burst_capacity',
      'Spare capacity beyond the target burst capacity; below 0 the activator stays in the path.',
      (v) => v.excessBurstCapacity,
    );
    g(
      'warm_window_min_pods',
      'Services with spec.scaling.schedules: the floor of the warm window in force, or whose pods are starting ahead of it; 0 between windows.',
      (v) => v.warmMinPods,
    );
    g(
      'next_warm_window_timestamp_seconds',
      'Services with spec.scaling.schedules: when the next warm window opens, in seconds since the epoch.',
      (v) => (v.nextWarmWindowMs === undefined ? undefined : v.nextWarmWindowMs / 1000),
    );
    g(
      'predicted_min_pods',
      'Services with spec.scaling.idlePolicy Predictive: 1 while the learned plan keeps or pre-warms a pod through an idle period, else 0.',
      (v) => v.predictedMinPods,
    );
    g(
      'learned_idle_times',
      'Services with spec.scaling.idlePolicy Predictive: idle times in the histogram the plan is made of (old ones fade by halving).',
      (v) => v.learnedIdleTimes,
    );
    g(
      'budget_used_ratio',
      'Services with spec.budget: the share of the budget used in its rolling window (1 = all of it).',
      (v) => v.budgetUsedRatio,
    );
    g(
      'budget_exceeded',
      'Services with spec.budget: 1 while the budget is spent (held at its cap, or refused with action Reject), else 0.',
      (v) => v.budgetExceeded,
    );
    const spendCounter = (name: string, help: string) =>
      new Counter({ name, help, labelNames: SERVICE_LABELS, registers: reg });
    this.#replicaSeconds = spendCounter(
      'zeroscale_replica_seconds_total',
      'Pod-seconds of the service: ready and terminating pods, accrued each decision.',
    );
    this.#cpuSeconds = spendCounter(
      'zeroscale_requested_cpu_seconds_total',
      "vCPU-seconds the service's pods requested (its containers' requests plus the queue-proxy's, times pod-seconds).",
    );
    this.#memorySeconds = spendCounter(
      'zeroscale_requested_memory_gib_seconds_total',
      "GiB-seconds of memory the service's pods requested.",
    );
    this.#requestsServed = spendCounter(
      'zeroscale_requests_served_total',
      'Requests the service served, as the autoscaler measures them (the pods and activators report rates; sampled services are extrapolated).',
    );
    this.#cost = spendCounter(
      'zeroscale_cost_total',
      'Cost of the requested CPU and memory at the prices of the zeroscale-config ConfigMap (price-per-vcpu-second, price-per-gib-second); absent without prices.',
    );
    new Gauge({
      name: 'zeroscale_autoscaler_services',
      help: 'Services the autoscaler scales and has decided at least once.',
      registers: reg,
      collect() {
        let n = 0;
        for (const _ of values()) n++;
        this.set(n);
      },
    });
    this.#scaleEvents = new Counter({
      name: 'zeroscale_autoscaler_scale_events_total',
      help: 'Changes of the desired pod count, by direction.',
      labelNames: [...SERVICE_LABEL_NAMES, 'direction'],
      registers: reg,
    });
    this.#scrapeErrors = new Counter({
      name: 'zeroscale_autoscaler_scrape_errors_total',
      help: 'Pod stats scrapes that failed (timeout, refused, bad status or body, queue full).',
      labelNames: SERVICE_LABELS,
      registers: reg,
    });
    this.statusWritesDeferred = new Counter({
      name: 'zeroscale_autoscaler_status_writes_deferred_total',
      help: 'Status writes that could wait (a first status with nothing to act on, refreshed averages) put off to a later tick: over 50 a second (burst 100) across services.',
      registers: reg,
    });
    this.scrapeOverruns = new Counter({
      name: 'zeroscale_autoscaler_scrape_overruns_total',
      help: 'Services left out of a tick because their previous scrape was still running.',
      registers: reg,
    });
    this.tickDuration = new Histogram({
      name: 'zeroscale_autoscaler_tick_duration_seconds',
      help: 'From the start of a tick until every service of it was scraped and decided.',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: reg,
    });
    this.reports = new Counter({
      name: 'zeroscale_autoscaler_activator_reports_total',
      help: 'Activator stats reports accepted.',
      registers: reg,
    });
    this.unknownServiceLoads = new Counter({
      name: 'zeroscale_autoscaler_unknown_service_loads_total',
      help: 'Entries of activator reports and pokes for services the autoscaler does not know (ignored).',
      registers: reg,
    });
    this.pokes = new Counter({
      name: 'zeroscale_autoscaler_pokes_total',
      help: 'Pokes received for known services.',
      registers: reg,
    });
    this.scaleWriteErrors = new Counter({
      name: 'zeroscale_autoscaler_scale_write_errors_total',
      help: 'Failed writes of replicas to the scale subresource (retried with back-off).',
      registers: reg,
    });
    this.publishErrors = new Counter({
      name: 'zeroscale_autoscaler_publish_errors_total',
      help: 'Failed writes of the autoscaler status (retried with back-off).',
      registers: reg,
    });
    this.invalidSpecs = new Counter({
      name: 'zeroscale_autoscaler_invalid_specs_total',
      help: 'Services skipped because their scaling settings were unusable.',
      registers: reg,
    });
    for (const metric of registry.getMetricsAsArray()) {
      if (!before.has(metric.name)) this.#names.push(metric.name);
    }
  }

  /**
   * Removes every metric of this instance from the registry, so that an autoscaler started again
   * in the same process (leadership lost and regained) can register its own.
   */
  unregister(): void {
    for (const name of this.#names) this.#registry.removeSingleMetric(name);
    this.#names.length = 0;
  }

  /** A decision's spend; `priced`: whether the cluster has prices (else no cost series). */
  spent(labels: ServiceLabels, spend: Spend, priced: boolean): void {
    if (spend.replicaSeconds === 0 && spend.requests === 0) return;
    this.#replicaSeconds.inc(labels, spend.replicaSeconds);
    this.#cpuSeconds.inc(labels, spend.cpuSeconds);
    this.#memorySeconds.inc(labels, spend.memoryGiBSeconds);
    this.#requestsServed.inc(labels, spend.requests);
    if (priced) this.#cost.inc(labels, spend.cost);
  }

  scaleEvent(labels: ServiceLabels, direction: ScaleDirection): void {
    this.#scaleEvents.inc({ ...labels, direction });
  }

  scrapeErrors(labels: ServiceLabels, count: number): void {
    this.#scrapeErrors.inc(labels, count);
  }

  /** Drops a deleted service's counters (its gauges go with it at the next collection). */
  forget(labels: ServiceLabels): void {
    this.#scaleEvents.remove({ ...labels, direction: 'up' });
    this.#scaleEvents.remove({ ...labels, direction: 'down' });
    this.#scrapeErrors.remove(labels);
    for (const c of [
      this.#replicaSeconds,
      this.#cpuSeconds,
      this.#memorySeconds,
      this.#requestsServed,
      this.#cost,
    ]) {
      c.remove(labels);
    }
  }
}
