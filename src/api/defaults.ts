// Defaulting: a validated spec plus the cluster defaults (from the controller's ConfigMap) give
// the fully resolved spec that the builders and the autoscaler work from.

import { parseDurationMs } from './duration.ts';
import { InvalidSpecError } from './parse.ts';
import type {
  BudgetAction,
  IdlePolicyName,
  PodTemplate,
  ScalingMetric,
  ServerlessServiceSpec,
} from './serverless-service.ts';
import { type WarmSchedule, warmScheduleProblem } from './warm-schedule.ts';

/** Cluster-wide defaults for fields a ServerlessService leaves out. */
export interface ServingDefaults {
  readonly containerConcurrency: number;
  readonly timeoutSeconds: number;
  readonly scaling: {
    readonly minScale: number;
    /** 0 = no cap. */
    readonly maxScale: number;
    readonly initialScale: number;
    readonly activationScale: number;
    readonly metric: ScalingMetric;
    /** Target for metric "concurrency" when containerConcurrency is 0 (Knative: 100). */
    readonly concurrencyTarget: number;
    /** Target for metric "rps" (Knative: 200). */
    readonly rpsTarget: number;
    readonly targetUtilizationPercentage: number;
    readonly stableWindow: string;
    readonly panicWindowPercentage: number;
    readonly panicThresholdPercentage: number;
    readonly scaleDownDelay: string;
    readonly scaleToZeroPodRetention: string;
    readonly targetBurstCapacity: number;
  };
  /** Prices of the pods' requests, for cost metrics and spec.budget.cost; none when not set. */
  readonly prices?: Prices | undefined;
}

export interface Prices {
  /** Per vCPU requested, per second. */
  readonly vcpuSecond: number;
  /** Per GiB of memory requested, per second. */
  readonly gibSecond: number;
}

/** The built-in defaults, which are Knative's (README.md, API reference); the cluster ConfigMap may override each. */
export const BUILTIN_SERVING_DEFAULTS: ServingDefaults = {
  containerConcurrency: 0,
  timeoutSeconds: 300,
  scaling: {
    minScale: 0,
    maxScale: 0,
    initialScale: 1,
    activationScale: 1,
    metric: 'concurrency',
    concurrencyTarget: 100,
    rpsTarget: 200,
    targetUtilizationPercentage: 70,
    stableWindow: '60s',
    panicWindowPercentage: 10,
    panicThresholdPercentage: 200,
    scaleDownDelay: '0s',
    scaleToZeroPodRetention: '0s',
    // Knative's default since 2022: a prime, so that capacity arithmetic does not flip-flop at 200.
    targetBurstCapacity: 211,
  },
};

export interface ResolvedScaling {
  readonly minScale: number;
  /** 0 = no cap. */
  readonly maxScale: number;
  /** Already raised to minScale and capped at maxScale. */
  readonly initialScale: number;
  readonly activationScale: number;
  readonly metric: ScalingMetric;
  /** Per-pod capacity for the metric (Knative's TotalValue); the autoscaler aims at target × utilization. */
  readonly target: number;
  readonly targetUtilizationPercentage: number;
  readonly stableWindowMs: number;
  readonly panicWindowPercentage: number;
  readonly panicThresholdPercentage: number;
  readonly scaleDownDelayMs: number;
  readonly scaleToZeroPodRetentionMs: number;
  /** -1 = unlimited (activator always in the path). */
  readonly targetBurstCapacity: number;
  /** Warm windows; empty when none. */
  readonly schedules: readonly WarmSchedule[];
  readonly idlePolicy: IdlePolicyName;
}

export interface ResolvedBudget {
  readonly windowMs: number;
  /** The cap, in `unit`s per window. */
  readonly limit: number;
  readonly unit: 'replica-seconds' | 'cost';
  readonly action: BudgetAction;
  /** Cap: most pods while spent; undefined = the pods it had when the budget ran out. */
  readonly maxScale: number | undefined;
}

export interface ResolvedServerlessServiceSpec {
  readonly template: PodTemplate;
  readonly containerConcurrency: number;
  readonly timeoutSeconds: number;
  readonly scaling: ResolvedScaling;
  readonly budget: ResolvedBudget | undefined;
}

function durationMs(field: string, text: string): number {
  const ms = parseDurationMs(text);
  if (ms === undefined) throw new InvalidSpecError([{ path: field, message: `not a duration: "${text}"` }]);
  return ms;
}

/**
 * Fills every field the spec leaves out from the defaults. The spec must have been validated, so
 * explicit values are consistent; defaults are made consistent with them here: minScale and
 * initialScale are capped at maxScale, initialScale raised to minScale (a service with minScale 3
 * and the default initialScale 1 starts with 3 pods).
 *
 * Target, as Knative's ResolveMetricTarget: an explicit target, capped at containerConcurrency for
 * metric concurrency; else containerConcurrency when it is set; else the cluster default.
 */
export function resolveServerlessServiceSpec(
  spec: ServerlessServiceSpec,
  defaults: ServingDefaults,
): ResolvedServerlessServiceSpec {
  const given = spec.scaling ?? {};
  const fallback = defaults.scaling;
  const containerConcurrency = spec.containerConcurrency ?? defaults.containerConcurrency;
  const maxScale = given.maxScale ?? fallback.maxScale;
  const cap = (n: number) => (maxScale > 0 ? Math.min(n, maxScale) : n);
  const minScale = cap(given.minScale ?? fallback.minScale);
  const metric = given.metric ?? fallback.metric;
  return {
    template: spec.template,
    containerConcurrency,
    timeoutSeconds: spec.timeoutSeconds ?? defaults.timeoutSeconds,
    scaling: {
      minScale,
      maxScale,
      initialScale: cap(Math.max(given.initialScale ?? fallback.initialScale, minScale)),
      activationScale: cap(given.activationScale ?? fallback.activationScale),
      metric,
      target: resolveTarget(given.target, metric, containerConcurrency, fallback),
      targetUtilizationPercentage: given.targetUtilizationPercentage ?? fallback.targetUtilizationPercentage,
      stableWindowMs: durationMs('spec.scaling.stableWindow', given.stableWindow ?? fallback.stableWindow),
      panicWindowPercentage: given.panicWindowPercentage ?? fallback.panicWindowPercentage,
      panicThresholdPercentage: given.panicThresholdPercentage ?? fallback.panicThresholdPercentage,
      scaleDownDelayMs: durationMs(
        'spec.scaling.scaleDownDelay',
        given.scaleDownDelay ?? fallback.scaleDownDelay,
      ),
      scaleToZeroPodRetentionMs: durationMs(
        'spec.scaling.scaleToZeroPodRetention',
        given.scaleToZeroPodRetention ?? fallback.scaleToZeroPodRetention,
      ),
      targetBurstCapacity: given.targetBurstCapacity ?? fallback.targetBurstCapacity,
      schedules: resolveSchedules(given.schedules ?? [], cap),
      idlePolicy: given.idlePolicy ?? 'Fixed',
    },
    budget: resolveBudget(spec.budget, defaults.prices),
  };
}

function resolveBudget(
  given: ServerlessServiceSpec['budget'],
  prices: Prices | undefined,
): ResolvedBudget | undefined {
  if (given === undefined) return undefined;
  if (given.cost !== undefined && prices === undefined) {
    throw new InvalidSpecError([
      {
        path: 'spec.budget.cost',
        message:
          'a cost budget needs prices: set price-per-vcpu-second and price-per-gib-second in the zeroscale-config ConfigMap, or use replicaSeconds',
      },
    ]);
  }
  return {
    windowMs: durationMs('spec.budget.window', given.window),
    limit: given.cost ?? given.replicaSeconds ?? 0,
    unit: given.cost === undefined ? 'replica-seconds' : 'cost',
    action: given.action ?? 'Cap',
    maxScale: given.maxScale,
  };
}

/** Throws InvalidSpecError naming the schedule whose cron or time zone cannot be used. */
function resolveSchedules(
  given: NonNullable<NonNullable<ServerlessServiceSpec['scaling']>['schedules']>,
  cap: (n: number) => number,
): WarmSchedule[] {
  return given.map((s, i) => {
    const timeZone = s.timeZone ?? 'UTC';
    const problem = warmScheduleProblem(s.cron, timeZone);
    if (problem !== undefined)
      throw new InvalidSpecError([{ path: `spec.scaling.schedules[${i}]`, message: problem }]);
    return {
      cron: s.cron,
      timeZone,
      durationMs: durationMs(`spec.scaling.schedules[${i}].duration`, s.duration),
      minScale: cap(s.minScale),
    };
  });
}

function resolveTarget(
  target: number | undefined,
  metric: ScalingMetric,
  containerConcurrency: number,
  fallback: ServingDefaults['scaling'],
): number {
  if (metric === 'rps') return target ?? fallback.rpsTarget;
  if (containerConcurrency === 0) return target ?? fallback.concurrencyTarget;
  // A pod cannot hold more than containerConcurrency requests, so aiming higher would never scale.
  return Math.min(target ?? containerConcurrency, containerConcurrency);
}
