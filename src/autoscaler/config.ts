// The autoscaler's own settings (tick, scrape limits, the cluster-wide KPA knobs that are not part
// of a ServerlessService), and the mapping from a service's resolved spec to the decider's spec.

import type { ResolvedScaling } from '../api/defaults.ts';
import { ZeroscaleError } from '../errors.ts';
import { assertScalingSpec, type ScalingSpec } from './scaling/decider.ts';

/** Cluster-wide KPA settings that no ServerlessService overrides (Knative's config-autoscaler). */
export interface ClusterScalingConfig {
  readonly enableScaleToZero: boolean;
  /** Least time the activator is in the path before the last pod goes. Knative: 30 s. */
  readonly scaleToZeroGracePeriodMs: number;
  readonly maxScaleUpRate: number;
  readonly maxScaleDownRate: number;
}

export const DEFAULT_CLUSTER_SCALING: ClusterScalingConfig = {
  enableScaleToZero: true,
  scaleToZeroGracePeriodMs: 30_000,
  maxScaleUpRate: 1000,
  maxScaleDownRate: 2,
};

export interface AutoscalerConfig {
  /** One decision per service per tick. Knative: 2 s; ours 1 s, the bucket width. */
  readonly tickMs: number;
  /**
   * Status is published at once when a decision changes (scale, mode, panic, phase, sign of the
   * burst capacity); the observed averages alone are refreshed at most this often, so that 1,000
   * idle-but-noisy services do not write 1,000 statuses a second.
   */
  readonly statusRefreshMs: number;
  /** The replicas are written again this often even when unchanged (level-based: repairs drift). */
  readonly scaleResyncMs: number;
  readonly cluster: ClusterScalingConfig;
}

export const DEFAULT_AUTOSCALER_CONFIG: AutoscalerConfig = {
  tickMs: 1_000,
  statusRefreshMs: 10_000,
  scaleResyncMs: 30_000,
  cluster: DEFAULT_CLUSTER_SCALING,
};

/** Fills an options object over the defaults and checks it once, here. */
export function resolveAutoscalerConfig(
  given: Partial<Omit<AutoscalerConfig, 'cluster'>> & {
    readonly cluster?: Partial<ClusterScalingConfig>;
  } = {},
): AutoscalerConfig {
  const config: AutoscalerConfig = {
    ...DEFAULT_AUTOSCALER_CONFIG,
    ...given,
    cluster: { ...DEFAULT_CLUSTER_SCALING, ...given.cluster },
  };
  const problems: string[] = [];
  for (const key of ['tickMs', 'statusRefreshMs', 'scaleResyncMs'] as const) {
    if (!(config[key] > 0) || !Number.isFinite(config[key])) problems.push(`${key} must be > 0`);
  }
  if (!(config.cluster.scaleToZeroGracePeriodMs >= 0)) problems.push('scaleToZeroGracePeriodMs must be >= 0');
  if (!(config.cluster.maxScaleUpRate > 1)) problems.push('maxScaleUpRate must be > 1');
  if (!(config.cluster.maxScaleDownRate > 1)) problems.push('maxScaleDownRate must be > 1');
  if (problems.length > 0) {
    throw new ZeroscaleError(
      'INVALID_AUTOSCALER_CONFIG',
      `invalid autoscaler options: ${problems.join('; ')}`,
    );
  }
  return config;
}

/**
 * The decider's spec for one service: its resolved scaling (spec over the ConfigMap defaults, see
 * resolveServerlessServiceSpec) plus containerConcurrency plus the cluster-wide knobs. Throws
 * INVALID_SCALING_SPEC for values the decider cannot work with (the API schema refuses them first).
 */
export function toScalingSpec(
  scaling: ResolvedScaling,
  containerConcurrency: number,
  cluster: ClusterScalingConfig,
): ScalingSpec {
  const spec: ScalingSpec = {
    metric: scaling.metric,
    target: scaling.target,
    targetUtilizationPercentage: scaling.targetUtilizationPercentage,
    containerConcurrency,
    minScale: scaling.minScale,
    maxScale: scaling.maxScale,
    initialScale: scaling.initialScale,
    activationScale: scaling.activationScale,
    stableWindowMs: scaling.stableWindowMs,
    panicWindowPercentage: scaling.panicWindowPercentage,
    panicThresholdPercentage: scaling.panicThresholdPercentage,
    scaleDownDelayMs: scaling.scaleDownDelayMs,
    scaleToZeroGracePeriodMs: cluster.scaleToZeroGracePeriodMs,
    scaleToZeroPodRetentionMs: scaling.scaleToZeroPodRetentionMs,
    enableScaleToZero: cluster.enableScaleToZero,
    targetBurstCapacity: scaling.targetBurstCapacity,
    maxScaleUpRate: cluster.maxScaleUpRate,
    maxScaleDownRate: cluster.maxScaleDownRate,
  };
  assertScalingSpec(spec);
  return spec;
}

// Every field of ResolvedScaling, checked complete by the compiler (a new field must be added here).
const SCALING_FIELDS: Record<keyof ResolvedScaling, true> = {
  minScale: true,
  maxScale: true,
  initialScale: true,
  activationScale: true,
  metric: true,
  target: true,
  targetUtilizationPercentage: true,
  stableWindowMs: true,
  panicWindowPercentage: true,
  panicThresholdPercentage: true,
  scaleDownDelayMs: true,
  scaleToZeroPodRetentionMs: true,
  targetBurstCapacity: true,
  schedules: true,
  idlePolicy: true,
};
const SCALING_KEYS = (Object.keys(SCALING_FIELDS) as (keyof ResolvedScaling)[]).filter(
  (k) => k !== 'schedules',
);

const sameSchedules = (a: ResolvedScaling['schedules'], b: ResolvedScaling['schedules']): boolean =>
  a.length === b.length &&
  a.every(
    (s, i) =>
      s.cron === b[i]!.cron &&
      s.timeZone === b[i]!.timeZone &&
      s.durationMs === b[i]!.durationMs &&
      s.minScale === b[i]!.minScale,
  );

/**
 * Whether two resolved specs decide alike, field by field, so that a source that rebuilds the
 * object every tick costs a comparison, not a new spec and a validation.
 */
export function sameScaling(a: ResolvedScaling, b: ResolvedScaling): boolean {
  if (a === b) return true;
  for (const key of SCALING_KEYS) {
    if (a[key] !== b[key]) return false;
  }
  return sameSchedules(a.schedules, b.schedules);
}
