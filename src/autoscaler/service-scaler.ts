// The scaler of one service: everything the autoscaler keeps for it between ticks: its decider spec and state, its
// two metric series, what it last saw of its pods, and the writers of its replicas and status.
// `decide(now)` is the per-service step of a tick: averages → decideScale → act.

import { type WarmFloor, warmFloor } from '../api/warm-schedule.ts';
import type { WriteBudget } from '../kube/write-budget.ts';
import type { Logger } from '../telemetry/log.ts';
import { type ServiceLabels, serviceLabels } from '../telemetry/service-labels.ts';
import type { AutoscalerMetrics, ServiceGaugeValues } from './autoscaler-metrics.ts';
import { CoalescingWriter, type WritePolicy } from './coalescing-writer.ts';
import { type AutoscalerConfig, sameScaling, toScalingSpec } from './config.ts';
import { BudgetGuard, type PodRequests, SpendMeter } from './cost.ts';
import { ActivatorLoads } from './metrics/activator-loads.ts';
import { ServiceSeries } from './metrics/collector.ts';
import type { PodStats } from './metrics/protocol.ts';
import type { StatsFetcher } from './metrics/stats-fetcher.ts';
import type { AutoscalerStatus, ScaleTarget, ServiceRef } from './scale-target.ts';
import {
  type DeciderState,
  decideScale,
  type EndpointsMode,
  initialDeciderState,
  resolveTargets,
  type ScaleReason,
  type ScalingSpec,
} from './scaling/decider.ts';
import {
  adviseIdle,
  type IdleAdvice,
  type IdlePlan,
  IdlePlanner,
  IdleTracker,
  warmSpans,
} from './scaling/idle-windows.ts';
import type { ServingPhase } from './scaling/scale-to-zero.ts';
import type { AutoscaledService, ServicePods } from './service-source.ts';

/**
 * How far ahead of a warm window its pods are started: 1.5 × the service's last measured cold
 * start (decision at zero pods until the first ready pod), within these bounds; 30 s before the
 * first is measured.
 */
const MIN_WARM_LEAD_MS = 5_000;
const MAX_WARM_LEAD_MS = 5 * 60_000;
const UNMEASURED_WARM_LEAD_MS = 30_000;

/**
 * How long without any request makes an idle period for the predictive policy: a bucket, a tick
 * and the 2 s an activator's report is held (metrics/activator-loads.ts).
 */
const IDLE_QUIET_MS = 3_000;

const NO_REQUESTS: PodRequests = { cpuCores: 0, memoryGiB: 0 };

/** Pods scraped at a scale-down beyond the tick's sample; a bigger service ranks only these. */
const MAX_EXTRA_SCRAPES = 100;

export interface ServiceScalerContext {
  readonly config: AutoscalerConfig;
  readonly target: ScaleTarget;
  readonly metrics: AutoscalerMetrics;
  /** Scrapes the pods the last sample left out, before a scale-down ranks them. */
  readonly fetcher: StatsFetcher;
  /**
   * Whether the autoscaler writes, counts and logs its decisions: false once stopped, and on a hot
   * standby, which decides the same way only to keep its state ready for a takeover.
   */
  readonly acting: () => boolean;
  /**
   * Status writes that can wait (a first status with nothing to act on, refreshed averages) share
   * this budget across services, so 1,000 services created at once do not write 1,000 statuses
   * in the same second as the controller's; decision changes never wait.
   */
  readonly statusBudget: WriteBudget;
}

/** What a test or a debug endpoint can see of one service. */
export interface ServiceView extends ServiceGaugeValues {
  readonly mode: EndpointsMode;
  readonly phase: ServingPhase['kind'];
  readonly reason: ScaleReason | 'no-data' | undefined;
  readonly scaleTargetInitialized: boolean;
}

export class ServiceScaler {
  readonly key: string;
  readonly ref: ServiceRef;
  /** The labels of its series: namespace, service and revision. */
  readonly labels: ServiceLabels;
  readonly log: Logger;
  service: AutoscaledService;
  spec: ScalingSpec;
  series: ServiceSeries;
  /** Created at the first decision, when the ready count is known. */
  decider: DeciderState | undefined;

  /** Mark of the last sync that saw the service; an older mark means it was deleted. */
  seen = 0;
  removed = false;

  // What the last read of the pods gave.
  readyPods = 0;
  actualPods = 0;

  // The scrape in flight (at most one): its time, ready count, sample and answers. The arrays are
  // reused from tick to tick: no allocation per scrape beyond the fetcher's.
  scraping = false;
  /** Second (bucket) of the last scrape started. */
  scrapeSecond = Number.NaN;
  scrapeAtMs = 0;
  scrapeReadyPods = 0;
  scrapeRemaining = 0;
  scrapeFailures = 0;
  readonly sample: string[] = [];
  readonly answers: (PodStats | undefined)[] = [];

  /** The activators' newest reports, folded into the series once per tick. */
  readonly activators = new ActivatorLoads();

  // The last decision.
  desiredScale: number | undefined;
  lastScaleTimeMs: number | undefined;
  mode: EndpointsMode = 'proxy';
  panicking = false;
  excessBurstCapacity = 0;
  reason: ServiceView['reason'];
  stableValue = 0;
  panicValue = 0;
  stableConcurrency = 0;
  panicConcurrency = 0;
  stableRequestsPerSecond = 0;
  panicRequestsPerSecond = 0;

  readonly #context: ServiceScalerContext;
  #pods: ServicePods | undefined;
  /** The schedules' floor at the last decision; undefined without schedules. */
  warm: WarmFloor | undefined;
  /** When pods were last asked for at zero ready pods, until one is ready; then the cold start. */
  #wakeAtMs: number | undefined;
  coldStartMs: number | undefined;
  /** spec.scaling.idlePolicy Predictive: the idle times learned, and the plan made of them. */
  #idle: IdleTracker | undefined;
  readonly #planner = new IdlePlanner();
  idlePlan: IdlePlan | undefined;
  /** The plan's advice at the last decision; undefined while busy, or when the KPA decides. */
  idleAdvice: IdleAdvice | undefined;
  /** What the service spends, and its budget (spec.budget) when it has one. */
  readonly #spend = new SpendMeter();
  #lastDecisionMs = 0;
  budget: BudgetGuard | undefined;
  /** The spec with minScale raised to a warm floor, for that floor (made once per floor). */
  #flooredSpec: ScalingSpec | undefined;
  readonly #scaleWriter: CoalescingWriter<number>;
  readonly #statusWriter: CoalescingWriter<AutoscalerStatus>;

  /** Throws INVALID_SCALING_SPEC when the service's settings cannot be decided on. */
  constructor(key: string, service: AutoscaledService, context: ServiceScalerContext, log: Logger) {
    this.key = key;
    this.ref = { namespace: service.namespace, name: service.name };
    this.labels = serviceLabels(service.namespace, service.name, service.service);
    this.log = log;
    this.#context = context;
    this.service = service;
    this.spec = toScalingSpec(service.scaling, service.containerConcurrency, context.config.cluster);
    this.series = new ServiceSeries(this.spec);
    const { target, metrics, config } = context;
    this.#scaleWriter = new CoalescingWriter<number>({
      write: async (replicas) => {
        // Fewer replicas than pods: some pods go, and the busy ones should be the last.
        if (replicas > 0 && replicas < this.actualPods && target.rankPodsForRemoval !== undefined) {
          await target.rankPodsForRemoval(this.ref, await this.#podLoads());
        }
        await target.setScale(this.ref, replicas);
      },
      policy: scalePolicy(config.scaleResyncMs),
      onError: (err, failures) => {
        metrics.scaleWriteErrors.inc();
        if (failures === 1) this.log.warn({ err }, 'failed to write the replicas');
      },
    });
    this.#statusWriter = new CoalescingWriter<AutoscalerStatus>({
      write: (status) => target.publish(this.ref, status),
      policy: statusPolicy(config.statusRefreshMs, (nowMs) => {
        if (context.statusBudget.take(nowMs)) return true;
        metrics.statusWritesDeferred.inc();
        return false;
      }),
      onError: (err, failures) => {
        metrics.publishErrors.inc();
        if (failures === 1) this.log.warn({ err }, 'failed to publish the autoscaler status');
      },
    });
  }

  /**
   * Takes the newest read of the service. A changed spec is re-resolved (throws when invalid, and
   * the old spec stays); changed windows start a new history, as the old buckets do not fit them.
   */
  update(service: AutoscaledService): void {
    const previous = this.service;
    this.service = service;
    if (
      service.containerConcurrency === previous.containerConcurrency &&
      sameScaling(service.scaling, previous.scaling)
    ) {
      return;
    }
    const spec = toScalingSpec(service.scaling, service.containerConcurrency, this.#context.config.cluster);
    this.spec = spec;
    this.#flooredSpec = undefined;
    if (!this.series.fits(spec)) {
      this.series = new ServiceSeries(spec);
      this.activators.resetFold();
    }
    this.log.info('took the changed scaling settings');
  }

  setPods(pods: ServicePods): void {
    this.#pods = pods;
    this.readyPods = pods.readyAddresses.length;
    this.actualPods = pods.actualCount;
  }

  /** One KPA step for this service at `nowMs`, then the writes it calls for. */
  decide(nowMs: number): void {
    this.#lastDecisionMs = nowMs;
    this.#meter(nowMs);
    this.#adviseIdle(nowMs);
    const spec = this.#specAt(nowMs);
    this.decider ??= this.#initialState(nowMs);
    const averages = this.series.averages(spec.metric, nowMs);
    const decision = decideScale(
      {
        spec,
        averages,
        readyPods: this.readyPods,
        activatorInPathSinceMs: this.service.activatorInPathSinceMs,
        reachable: this.service.reachable,
        release: this.#rejecting()
          ? 'budget'
          : this.idleAdvice === 'between' || this.idleAdvice === 'release'
            ? 'idle'
            : undefined,
        state: this.decider,
      },
      nowMs,
    );
    this.decider = decision.state;
    this.stableValue = averages?.stable ?? 0;
    this.panicValue = averages?.panic ?? 0;
    this.stableConcurrency = this.series.stableConcurrency(nowMs);
    this.panicConcurrency = this.series.panicConcurrency(nowMs);
    this.stableRequestsPerSecond = this.series.stableRequestsPerSecond(nowMs);
    this.panicRequestsPerSecond = this.series.panicRequestsPerSecond(nowMs);
    if (decision.mode !== this.mode) {
      // The controller points the public endpoints at the activators (proxy) or the pods (serve).
      this.log.info(
        {
          from: this.mode,
          to: decision.mode,
          excessBurstCapacity: decision.excessBurstCapacity,
          ready: this.readyPods,
          stable: this.stableValue,
          panic: this.panicValue,
        },
        `switched to ${decision.mode} mode`,
      );
    }
    this.mode = decision.mode;
    this.excessBurstCapacity = decision.excessBurstCapacity;
    this.reason = decision.reason;
    if (decision.panicking !== this.panicking) {
      this.log.info(
        { stable: this.stableValue, panic: this.panicValue },
        decision.panicking ? 'entered panic mode' : 'left panic mode',
      );
      this.panicking = decision.panicking;
    }
    if (decision.kind === 'scale' && decision.desiredScale !== this.desiredScale) {
      this.#scaled(decision.desiredScale, decision.reason, nowMs);
    } else if (
      decision.kind === 'no-decision' &&
      spec !== this.spec &&
      spec.minScale > (this.desiredScale ?? this.actualPods)
    ) {
      // A warm window or a pre-warm on a service with no data (idle at zero: nothing to scrape,
      // no activator load): the floor needs no data.
      this.#scaled(spec.minScale, 'min-scale', nowMs);
    }
    this.#measureColdStart(nowMs);
    if (!this.#context.acting()) return;
    if (this.desiredScale !== undefined) this.#scaleWriter.offer(this.desiredScale, nowMs);
    this.#statusWriter.offer(this.#status(), nowMs);
  }

  /**
   * Requests in flight per ready pod, by the pod's name in the EndpointSlices: the last scrape's
   * answers, and a scrape now of the pods its sample left out (at most MAX_EXTRA_SCRAPES), so
   * that a busy pod is not removed for not being sampled. Only on a scale-down.
   */
  async #podLoads(): Promise<Map<string, number>> {
    const loads = new Map<string, number>();
    const pods = this.#pods;
    const names = pods?.readyPodNames;
    if (pods === undefined || names === undefined) return loads;
    const sampled = new Set<string>();
    for (let i = 0; i < this.sample.length; i++) {
      const address = this.sample[i]!;
      const answer = this.answers[i];
      const name = names[pods.readyAddresses.indexOf(address)];
      if (answer === undefined || name === undefined) continue;
      sampled.add(address);
      loads.set(name, answer.averageConcurrency);
    }
    const extra: Promise<void>[] = [];
    pods.readyAddresses.forEach((address, i) => {
      const name = names[i];
      if (name === undefined || sampled.has(address) || extra.length >= MAX_EXTRA_SCRAPES) return;
      extra.push(
        this.#context.fetcher.fetchStats(address).then(
          (stats) => void loads.set(name, stats.averageConcurrency),
          () => undefined, // no answer: Kubernetes' own order decides for that pod
        ),
      );
    });
    await Promise.all(extra);
    return loads;
  }

  /**
   * Accrues what ran since the last decision (ready and terminating pods, their requests, the
   * requests served) into the spend counters and the budget, which may now be spent or lift.
   */
  #meter(nowMs: number): void {
    const service = this.service;
    const pods = this.readyPods + (this.#pods?.terminatingCount ?? 0);
    const spend = this.#spend.accrue(
      nowMs,
      pods,
      this.series.panicRequestsPerSecond(nowMs),
      service.podRequests ?? NO_REQUESTS,
      service.prices,
    );
    const budget = service.budget;
    if (budget === undefined) this.budget = undefined;
    else if (this.budget === undefined) this.budget = new BudgetGuard(budget);
    else this.budget.update(budget);
    const before = this.budget?.exceeded ?? false;
    const exceeded = this.budget?.observe(nowMs, spend, this.actualPods) ?? false;
    if (exceeded !== before && this.#context.acting()) {
      const view = this.budget!.view(nowMs);
      this.log.info(
        { used: view.used, limit: view.limit, unit: view.unit, action: view.action, cap: view.cappedAt },
        exceeded ? 'budget spent' : 'budget lifted',
      );
    }
    if (this.#context.acting()) this.#context.metrics.spent(this.labels, spend, service.prices !== undefined);
  }

  /** spec.budget spent with action Reject: to zero, and the activators refuse its requests. */
  #rejecting(): boolean {
    return this.budget?.exceeded === true && this.budget.budget.action === 'Reject';
  }

  /** How far ahead a warm window or a pre-warm starts its pods: 1.5 × the last cold start, bounded. */
  #leadMs(): number {
    return this.coldStartMs === undefined
      ? UNMEASURED_WARM_LEAD_MS
      : Math.min(MAX_WARM_LEAD_MS, Math.max(MIN_WARM_LEAD_MS, 1.5 * this.coldStartMs));
  }

  /**
   * spec.scaling.idlePolicy Predictive: learns the idle time that ended (if one did) and asks the
   * plan what the current idle period needs: a pod ('warm', a floor of 1 in #specAt) or none
   * ('between', 'release': the decider lets it go without the stable window).
   */
  #adviseIdle(nowMs: number): void {
    if (this.service.scaling.idlePolicy !== 'Predictive') {
      this.#idle = undefined;
      this.idlePlan = undefined;
      this.idleAdvice = undefined;
      return;
    }
    this.#idle ??= new IdleTracker();
    const idle = this.#idle;
    idle.observe(this.series.lastActiveMs, nowMs, IDLE_QUIET_MS);
    const lead = this.#leadMs();
    this.idlePlan = this.#planner.plan(idle.histogram, lead);
    const spans = warmSpans(this.idlePlan);
    this.idleAdvice =
      spans === undefined || idle.idleSinceMs === undefined
        ? undefined
        : adviseIdle(spans, nowMs - idle.idleSinceMs, lead);
  }

  /**
   * The spec to decide on at `nowMs`: minScale raised to the floor of a warm window in force, and
   * to 1 while the idle policy wants a pod.
   */
  #specAt(nowMs: number): ScalingSpec {
    const schedules = this.service.scaling.schedules;
    if (schedules.length === 0) this.warm = undefined;
    else this.warm = warmFloor(schedules, nowMs, this.#leadMs(), this.warm?.window);
    const floor = Math.max(this.warm?.minScale ?? 0, this.idleAdvice === 'warm' ? 1 : 0);
    // A spent budget caps every floor: Reject at zero, Cap at its cap.
    const cap = this.#rejecting() ? 0 : this.budget?.exceeded === true ? this.budget.cap : undefined;
    const specMax = this.spec.maxScale > 0 ? this.spec.maxScale : Number.POSITIVE_INFINITY;
    const max = Math.min(specMax, cap ?? Number.POSITIVE_INFINITY);
    const minScale = Math.min(Math.max(floor, this.spec.minScale), max);
    const maxScale = max === Number.POSITIVE_INFINITY ? 0 : max;
    if (minScale === this.spec.minScale && (cap === undefined || maxScale === this.spec.maxScale))
      return this.spec;
    const f = this.#flooredSpec;
    if (f?.minScale !== minScale || f.maxScale !== maxScale) {
      this.#flooredSpec = {
        ...this.spec,
        minScale,
        // maxScale 0 means no cap to the decider: a Reject cap of 0 is the release instead.
        maxScale: cap === 0 ? this.spec.maxScale : maxScale,
        initialScale: Math.min(this.spec.initialScale, Math.max(max, 0)),
        activationScale: Math.min(this.spec.activationScale, Math.max(max, 1)),
      };
    }
    return this.#flooredSpec!;
  }

  /** A cold start: from the decision for pods at zero ready to the first ready pod. */
  #measureColdStart(nowMs: number): void {
    if (this.readyPods > 0) {
      if (this.#wakeAtMs !== undefined) this.coldStartMs = nowMs - this.#wakeAtMs;
      this.#wakeAtMs = undefined;
    } else if ((this.desiredScale ?? 0) > 0) {
      this.#wakeAtMs ??= nowMs;
    } else {
      this.#wakeAtMs = undefined;
    }
  }

  /** For tests and debugging. */
  view(): ServiceView {
    return {
      ...this.gaugeValues(),
      mode: this.mode,
      phase: this.decider?.phase.kind ?? 'active',
      reason: this.reason,
      scaleTargetInitialized: this.decider?.scaleTargetInitialized ?? false,
    };
  }

  gaugeValues(): ServiceGaugeValues {
    return {
      labels: this.labels,
      desiredPods: this.desiredScale,
      actualPods: this.actualPods,
      readyPods: this.readyPods,
      stableConcurrency: this.stableConcurrency,
      panicConcurrency: this.panicConcurrency,
      stableRequestsPerSecond: this.stableRequestsPerSecond,
      panicRequestsPerSecond: this.panicRequestsPerSecond,
      metric: this.spec.metric,
      targetPerPod: resolveTargets(this.spec).targetValue,
      panicking: this.panicking,
      excessBurstCapacity: this.excessBurstCapacity,
      mode: this.mode,
      warmMinPods: this.warm?.minScale,
      nextWarmWindowMs: this.warm?.nextStartMs,
      predictedMinPods: this.idlePlan === undefined ? undefined : this.idleAdvice === 'warm' ? 1 : 0,
      budgetUsedRatio:
        this.budget === undefined
          ? undefined
          : this.budget.view(this.#lastDecisionMs).used / this.budget.budget.limit,
      budgetExceeded: this.budget === undefined ? undefined : this.budget.exceeded ? 1 : 0,
      learnedIdleTimes: this.#idle === undefined ? undefined : Math.round(this.#idle.histogram.samples),
    };
  }

  #scaled(desired: number, reason: ScaleReason, nowMs: number): void {
    const from = this.desiredScale ?? this.actualPods;
    if (desired !== from) {
      this.#context.metrics.scaleEvent(this.labels, desired > from ? 'up' : 'down');
      this.log.info(
        {
          from,
          to: desired,
          reason,
          metric: this.spec.metric,
          targetPerPod: resolveTargets(this.spec).targetValue,
          stable: this.stableValue,
          panic: this.panicValue,
          panicking: this.panicking,
          ready: this.readyPods,
        },
        `decided to scale from ${from} to ${desired} pods`,
      );
      this.lastScaleTimeMs = nowMs;
    }
    this.desiredScale = desired;
  }

  /**
   * The decider state of a service first seen now. Without history, more than one ready pod
   * starts in panic (no scale-down for a stable window: scaling/decider.ts). A restored 'active' phase
   * restarts its clock now, so a service is not called idle on the first seconds of new data: a
   * one-pod service keeps its pod for at least a stable window after a restart.
   */
  #initialState(nowMs: number): DeciderState {
    const restored = this.service.restored;
    const phase: ServingPhase | undefined =
      restored === undefined
        ? undefined
        : restored.phase.kind === 'active'
          ? { kind: 'active', sinceMs: Math.max(nowMs, restored.phase.sinceMs) }
          : restored.phase;
    return initialDeciderState({
      spec: this.spec,
      readyPods: this.readyPods,
      nowMs,
      ...(phase === undefined ? {} : { phase }),
      ...(restored === undefined ? {} : { scaleTargetInitialized: restored.scaleTargetInitialized }),
    });
  }

  #status(): AutoscalerStatus {
    const decider = this.decider!;
    return {
      mode: this.mode,
      desiredScale: this.desiredScale,
      readyPods: this.readyPods,
      actualScale: this.actualPods,
      observedStableValue: this.stableValue,
      observedPanicValue: this.panicValue,
      observedConcurrency: this.stableConcurrency,
      observedRequestsPerSecond: this.stableRequestsPerSecond,
      panicking: this.panicking,
      excessBurstCapacity: this.excessBurstCapacity,
      phase: decider.phase,
      scaleTargetInitialized: decider.scaleTargetInitialized,
      lastScaleTimeMs: this.lastScaleTimeMs,
      warmWindow: this.warm?.window,
      nextWarmWindowMs: this.warm?.nextStartMs,
      prediction: this.#prediction(),
      budget: this.budget?.view(this.#lastDecisionMs),
    };
  }

  #prediction(): AutoscalerStatus['prediction'] {
    const plan = this.idlePlan;
    const idle = this.#idle;
    if (plan === undefined || idle === undefined) return undefined;
    return {
      state: plan.kind === 'learned' ? 'learned' : plan.why,
      idleTimes: Math.round(idle.histogram.samples),
      windows: plan.kind === 'learned' ? plan.spans : [],
      advice: this.idleAdvice,
    };
  }
}

/** Replicas: write when they differ from the last written, and again every resync period. */
function scalePolicy(resyncMs: number): WritePolicy<number> {
  return {
    needsWrite: (next, written, writtenAtMs, nowMs) => next !== written || nowMs - writtenAtMs >= resyncMs,
  };
}

/**
 * Status: at once when a decision changed (what the controller and kubectl act on); the observed
 * averages alone at most every refresh period.
 */
function statusPolicy(refreshMs: number, budget: (nowMs: number) => boolean): WritePolicy<AutoscalerStatus> {
  return {
    needsWrite(next, written, writtenAtMs, nowMs) {
      if (written === undefined)
        return (next.desiredScale ?? 0) > 0 || next.mode === 'serve' || budget(nowMs);
      if (decisionChanged(next, written)) return true;
      return nowMs - writtenAtMs >= refreshMs && observationChanged(next, written) && budget(nowMs);
    },
  };
}

function decisionChanged(a: AutoscalerStatus, b: AutoscalerStatus): boolean {
  return (
    a.mode !== b.mode ||
    a.desiredScale !== b.desiredScale ||
    a.readyPods !== b.readyPods ||
    a.actualScale !== b.actualScale ||
    a.panicking !== b.panicking ||
    a.excessBurstCapacity >= 0 !== b.excessBurstCapacity >= 0 ||
    a.phase.kind !== b.phase.kind ||
    a.phase.sinceMs !== b.phase.sinceMs ||
    a.scaleTargetInitialized !== b.scaleTargetInitialized ||
    a.lastScaleTimeMs !== b.lastScaleTimeMs ||
    a.warmWindow?.startMs !== b.warmWindow?.startMs ||
    a.nextWarmWindowMs !== b.nextWarmWindowMs ||
    a.prediction?.state !== b.prediction?.state ||
    a.prediction?.advice !== b.prediction?.advice ||
    a.prediction?.windows !== b.prediction?.windows ||
    a.budget?.exceededSinceMs !== b.budget?.exceededSinceMs ||
    a.budget?.cappedAt !== b.budget?.cappedAt
  );
}

function observationChanged(a: AutoscalerStatus, b: AutoscalerStatus): boolean {
  return (
    a.observedStableValue !== b.observedStableValue ||
    a.observedPanicValue !== b.observedPanicValue ||
    a.observedConcurrency !== b.observedConcurrency ||
    a.observedRequestsPerSecond !== b.observedRequestsPerSecond ||
    a.excessBurstCapacity !== b.excessBurstCapacity ||
    Math.round(a.budget?.used ?? 0) !== Math.round(b.budget?.used ?? 0)
  );
}
