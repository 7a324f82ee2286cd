// The KPA decision: from a service's scaling settings, the observed stable and panic averages, the
// ready pod count and the previous decider state, the desired pod count, the excess burst
// capacity, the endpoints mode and the next state. Pure: no I/O, no timers; `nowMs` is passed in.

import { ZeroscaleError } from '../../errors.ts';
import type { WindowAverages } from './buckets.ts';
import { currentMax, emptyMaxWindow, type MaxWindow, recordMax } from './max-window.ts';
import { gateScaleToZero, type ScaleToZeroReason, type ServingPhase } from './scale-to-zero.ts';

export type ScalingMetric = 'concurrency' | 'rps';

/** The scaling settings of one service, resolved (spec over cluster defaults), durations in ms. */
export interface ScalingSpec {
  readonly metric: ScalingMetric;
  /** Per-pod target: concurrent requests, or requests per second. */
  readonly target: number;
  /** Share of the target aimed at, in [1, 100]. */
  readonly targetUtilizationPercentage: number;
  /** Hard per-pod limit of requests in flight; 0 = none. Caps a concurrency target. */
  readonly containerConcurrency: number;
  readonly minScale: number;
  /** 0 = no upper bound. */
  readonly maxScale: number;
  readonly initialScale: number;
  /** Pods to wake when demand appears; values <= 1 have no effect. */
  readonly activationScale: number;
  readonly stableWindowMs: number;
  /** Used by the metric series for the panic window (see `panicWindowMs` in buckets.ts). */
  readonly panicWindowPercentage: number;
  readonly panicThresholdPercentage: number;
  readonly scaleDownDelayMs: number;
  readonly scaleToZeroGracePeriodMs: number;
  readonly scaleToZeroPodRetentionMs: number;
  readonly enableScaleToZero: boolean;
  /** Spare requests the service should absorb without the activator; -1 = unlimited (always proxy). */
  readonly targetBurstCapacity: number;
  /** Growth factor per decision, > 1. */
  readonly maxScaleUpRate: number;
  /** Shrink divisor per decision, > 1. */
  readonly maxScaleDownRate: number;
}

/** Knative's defaults (config-autoscaler), as the API reference in README.md lists them. */
export const DEFAULT_SCALING_SPEC: ScalingSpec = {
  metric: 'concurrency',
  target: 100,
  targetUtilizationPercentage: 70,
  containerConcurrency: 0,
  minScale: 0,
  maxScale: 0,
  initialScale: 1,
  activationScale: 1,
  stableWindowMs: 60_000,
  panicWindowPercentage: 10,
  panicThresholdPercentage: 200,
  scaleDownDelayMs: 0,
  scaleToZeroGracePeriodMs: 30_000,
  scaleToZeroPodRetentionMs: 0,
  enableScaleToZero: true,
  targetBurstCapacity: 211,
  maxScaleUpRate: 1000,
  maxScaleDownRate: 2,
};

export type PanicState =
  | { readonly kind: 'calm' }
  | {
      readonly kind: 'panicking';
      readonly sinceMs: number;
      /** Last decision over the threshold; panic ends a stable window after it. */
      readonly lastOverThresholdMs: number;
      /** Highest count decided during this panic: the floor while it lasts. */
      readonly maxDesired: number;
    };

export interface DeciderState {
  readonly panic: PanicState;
  /** Desired counts of the last scaleDownDelay, for holding their maximum. */
  readonly delayWindow: MaxWindow;
  readonly phase: ServingPhase;
  /** Whether the ready count has once reached initialScale; until then initialScale is a floor. */
  readonly scaleTargetInitialized: boolean;
}

export interface DecideScaleInput {
  readonly spec: ScalingSpec;
  /** Service totals of the scaling metric (pods + activator); undefined = no data in the window. */
  readonly averages: WindowAverages | undefined;
  readonly readyPods: number;
  /** When the public endpoints were seen reaching the activators; undefined while they do not. */
  readonly activatorInPathSinceMs?: number | undefined;
  /**
   * Let the pods go now, to the floors (minScale and the like), with no stable window, delay or
   * rate limit. 'idle': the idle policy expects no request soon (spec.scaling.idlePolicy
   * Predictive), not while panicking. 'budget': spec.budget is spent with action Reject, panic or not.
   */
  readonly release?: 'idle' | 'budget' | undefined;
  /**
   * False for a revision no traffic can reach (Knative's Reachability): zero at once, before any
   * rule, floor, delay or gate, since no request can arrive that pods would be needed for.
   */
  readonly reachable?: boolean | undefined;
  readonly state: DeciderState;
}

export type EndpointsMode = 'serve' | 'proxy';

export type ScaleReason =
  | 'stable'
  | 'panic'
  | 'max-scale-up-rate'
  | 'max-scale-down-rate'
  | 'activation-scale'
  | 'panic-no-scale-down'
  | 'scale-down-delay'
  | 'initial-scale'
  | 'min-scale'
  | 'max-scale'
  | 'predicted-idle'
  | 'budget-exceeded'
  | 'unreachable'
  | ScaleToZeroReason;

interface DecisionCommon {
  readonly panicking: boolean;
  /** Spare capacity beyond the target burst capacity; -1 with TBC -1; < 0 means proxy. */
  readonly excessBurstCapacity: number;
  readonly mode: EndpointsMode;
  readonly state: DeciderState;
  /** When time alone will change the decision, how long from now. */
  readonly recheckAfterMs: number | undefined;
}

export type ScaleDecision =
  | (DecisionCommon & {
      readonly kind: 'scale';
      /** Replicas to write to the scale subresource. */
      readonly desiredScale: number;
      /** The last rule that set `desiredScale`. */
      readonly reason: ScaleReason;
    })
  /** No data in the stable window: leave the replicas as they are. */
  | (DecisionCommon & { readonly kind: 'no-decision'; readonly reason: 'no-data' });

export interface MetricTargets {
  /** Per-pod value the KPA aims for: total × utilisation. */
  readonly targetValue: number;
  /** Per-pod capacity, for the burst capacity. */
  readonly totalValue: number;
}

/**
 * totalValue = the target, capped by containerConcurrency for the concurrency metric (target 100,
 * CC 10 → 10). targetValue = max(0.01, total × utilisation / 100): 100 × 70 / 100 = 70;
 * RPS 200 × 70 / 100 = 140. Multiplying before dividing keeps it exact (10 × 0.7 would be 7.000…1).
 */
export function resolveTargets(spec: ScalingSpec): MetricTargets {
  const capped = spec.metric === 'concurrency' && spec.containerConcurrency > 0;
  const totalValue = capped ? Math.min(spec.target, spec.containerConcurrency) : spec.target;
  const targetValue = Math.max(0.01, (totalValue * spec.targetUtilizationPercentage) / 100);
  return { targetValue, totalValue };
}

/**
 * Excess burst capacity, the spare requests beyond the burst the service must absorb:
 * TBC 0 → 0; TBC -1 → -1; else floor(readyPods × totalValue − TBC − panic average). Defaults, 3
 * ready pods, panic concurrency 50: floor(3 × 100 − 211 − 50) = 39 (serve); 2 pods idle:
 * 200 − 211 − 0 = −11 (proxy). Uses the raw ready count, which may be 0.
 */
export function excessBurstCapacity(
  targetBurstCapacity: number,
  readyPods: number,
  totalValue: number,
  panicAverage: number,
): number {
  if (targetBurstCapacity === 0) return 0;
  if (targetBurstCapacity < 0) return -1;
  return Math.floor(readyPods * totalValue - targetBurstCapacity - panicAverage);
}

/**
 * Public endpoints at the pods ('serve') only when the service is active, has a ready pod to send
 * to and spare capacity covers the burst capacity (EBC >= 0); otherwise through the activators
 * ('proxy'), which buffer and spread the load. Always proxy while going to zero or at zero.
 */
export function chooseMode(
  excessBurstCapacity: number,
  context: { readonly phase: ServingPhase['kind']; readonly readyPods: number },
): EndpointsMode {
  const serve = context.phase === 'active' && context.readyPods > 0 && excessBurstCapacity >= 0;
  return serve ? 'serve' : 'proxy';
}

/**
 * The state of a decider created now: a restarted autoscaler has lost its metric history, so
 * with more than one ready pod it starts panicking (holding the current count as the floor)
 * instead of scaling down on thin data. `phase` is read back from status after a restart; a new
 * service starts active when it gets pods on creation (initialScale > 0), else at zero.
 */
export function initialDeciderState(options: {
  readonly spec: ScalingSpec;
  readonly readyPods: number;
  readonly nowMs: number;
  readonly phase?: ServingPhase;
  readonly scaleTargetInitialized?: boolean;
}): DeciderState {
  const { spec, readyPods, nowMs } = options;
  const panic: PanicState =
    readyPods > 1
      ? { kind: 'panicking', sinceMs: nowMs, lastOverThresholdMs: nowMs, maxDesired: readyPods }
      : { kind: 'calm' };
  const startsActive = spec.initialScale > 0 || readyPods > 0;
  return {
    panic,
    delayWindow: emptyMaxWindow,
    phase: options.phase ?? { kind: startsActive ? 'active' : 'zero', sinceMs: nowMs },
    scaleTargetInitialized: options.scaleTargetInitialized ?? readyPods >= spec.initialScale,
  };
}

/** Checks what the decision divides by or relies on; the API schema should refuse these first. */
export function assertScalingSpec(spec: ScalingSpec): void {
  const problems: string[] = [];
  const count = (name: keyof ScalingSpec, value: number) => {
    if (!Number.isInteger(value) || value < 0) problems.push(`${name} must be a whole number >= 0`);
  };
  if (!(spec.target > 0)) problems.push('target must be > 0');
  const utilization = spec.targetUtilizationPercentage;
  if (!(utilization >= 1 && utilization <= 100))
    problems.push('targetUtilizationPercentage must be in [1, 100]');
  count('containerConcurrency', spec.containerConcurrency);
  count('minScale', spec.minScale);
  count('maxScale', spec.maxScale);
  count('initialScale', spec.initialScale);
  count('activationScale', spec.activationScale);
  if (spec.maxScale > 0 && spec.minScale > spec.maxScale) problems.push('minScale must be <= maxScale');
  if (!(spec.stableWindowMs >= 1_000)) problems.push('stableWindowMs must be >= 1000');
  if (!(spec.panicThresholdPercentage > 0)) problems.push('panicThresholdPercentage must be > 0');
  if (!(spec.maxScaleUpRate > 1)) problems.push('maxScaleUpRate must be > 1');
  if (!(spec.maxScaleDownRate > 1)) problems.push('maxScaleDownRate must be > 1');
  if (!(spec.targetBurstCapacity >= 0 || spec.targetBurstCapacity === -1)) {
    problems.push('targetBurstCapacity must be >= 0 or -1');
  }
  for (const name of ['scaleDownDelayMs', 'scaleToZeroGracePeriodMs', 'scaleToZeroPodRetentionMs'] as const) {
    if (!(spec[name] >= 0)) problems.push(`${name} must be >= 0`);
  }
  if (problems.length > 0) {
    throw new ZeroscaleError('INVALID_SCALING_SPEC', `invalid scaling settings: ${problems.join('; ')}`);
  }
}

/** A count and the rule that produced it, threaded through the steps of the decision. */
interface Step {
  readonly value: number;
  readonly reason: ScaleReason;
}

/**
 * One KPA decision (Knative `Scale(now)`, then the PA scaler's bounds and scale-to-zero gate).
 * Worked example with the defaults (target 100 × 70 % = 70), 4 ready pods, stable 350, panic 420:
 *   maxUp = ceil(1000 × 4) = 4000, maxDown = floor(4 / 2) = 2;
 *   stable: ceil(350 / 70) = 5, panic: ceil(420 / 70) = 6; 6 / 4 = 1.5 < 2 → not panicking;
 *   desired 5 (reason 'stable'); EBC = floor(4 × 100 − 211 − 420) = −231 → proxy.
 */
export function decideScale(input: DecideScaleInput, nowMs: number): ScaleDecision {
  const { spec, state, readyPods } = input;
  const { targetValue, totalValue } = resolveTargets(spec);
  const initialized = state.scaleTargetInitialized || readyPods >= spec.initialScale;

  if (input.reachable === false) {
    const zero: ServingPhase = state.phase.kind === 'zero' ? state.phase : { kind: 'zero', sinceMs: nowMs };
    return {
      kind: 'scale',
      desiredScale: 0,
      reason: 'unreachable',
      panicking: false,
      excessBurstCapacity: excessBurstCapacity(spec.targetBurstCapacity, readyPods, totalValue, 0),
      mode: 'proxy',
      state: { ...state, panic: { kind: 'calm' }, phase: zero, scaleTargetInitialized: initialized },
      recheckAfterMs: undefined,
    };
  }

  if (input.averages === undefined) {
    // No data: keep every piece of state; the burst capacity is judged on the pods alone.
    const ebc = excessBurstCapacity(spec.targetBurstCapacity, readyPods, totalValue, 0);
    return {
      kind: 'no-decision',
      reason: 'no-data',
      panicking: state.panic.kind === 'panicking',
      excessBurstCapacity: ebc,
      mode: chooseMode(ebc, { phase: state.phase.kind, readyPods }),
      state: { ...state, scaleTargetInitialized: initialized },
      recheckAfterMs: undefined,
    };
  }
  const { stable, panic: panicAverage } = input.averages;

  // With no ready pod, rates and the panic ratio are taken against 1: a service at zero may grow.
  const ready = Math.max(1, readyPods);
  // Rates bound one decision. maxUp = ceil(rate × ready): 1000 × 3 → 3000; 1.5 × 3 = 4.5 → 5, and
  // the ceiling lets a slow rate still add a pod (1.1 × 2 = 2.2 → 3). maxDown = floor(ready /
  // rate): 7 / 2 = 3.5 → 3 (never below 3 pods from 7 this tick); 1 / 2 → 0 (one pod may go).
  const maxUp = Math.ceil(spec.maxScaleUpRate * ready);
  const maxDown = Math.floor(ready / spec.maxScaleDownRate);

  // Pods for the observed load: ceil(observed / targetValue). Concurrency 150 at target 70 →
  // ceil(2.14) = 3; RPS 300 at target 200 × 70 % = 140 → ceil(2.14) = 3.
  const stablePods = Math.ceil(stable / targetValue);
  const panicPods = Math.ceil(panicAverage / targetValue);
  const stableStep = limitRates(stablePods, maxDown, maxUp, 'stable', spec.activationScale);
  const panicStep = limitRates(panicPods, maxDown, maxUp, 'panic', spec.activationScale);

  // Panic when the panic window alone wants threshold × ready: 2 ready, threshold 200 %, panic
  // concurrency 290 → ceil(290 / 70) = 5, 5 / 2 = 2.5 >= 2 → panic. The ratio uses the rounded
  // pod count, as Knative does. Panic ends once no decision has been over for a stable window.
  const over = panicPods / ready >= spec.panicThresholdPercentage / 100;
  const panic = nextPanic(state.panic, over, nowMs, spec.stableWindowMs);

  let step: Step = stableStep;
  let nextPanicState: PanicState = panic;
  if (panic.kind === 'panicking') {
    // Provision for the larger of the two windows, and never go below the highest count of this
    // panic: 4 → 9 during a burst stays 9 even when the burst ends, until panic is over.
    step = panicStep.value >= stableStep.value ? panicStep : stableStep;
    const maxDesired = Math.max(panic.maxDesired, step.value);
    if (maxDesired > step.value) step = { value: maxDesired, reason: 'panic-no-scale-down' };
    nextPanicState = { ...panic, maxDesired };
  }

  // Scale-down delay: the maximum decided over the last delay (2 s slots). Delay 30 s, decisions
  // 8, 8, 3 → 8 until 30 s after the last 8, then 3.
  let delayWindow = state.delayWindow;
  if (spec.scaleDownDelayMs > 0) {
    delayWindow = recordMax(delayWindow, nowMs, step.value, spec.scaleDownDelayMs);
    const held = currentMax(delayWindow) ?? step.value;
    if (held > step.value) step = { value: held, reason: 'scale-down-delay' };
  }

  const release = input.release === 'budget' || (input.release === 'idle' && nextPanicState.kind === 'calm');
  if (release) step = { value: 0, reason: input.release === 'budget' ? 'budget-exceeded' : 'predicted-idle' };

  step = applyBounds(step, spec, initialized);

  const gate = gateScaleToZero(
    {
      wanted: step.value,
      phase: state.phase,
      enableScaleToZero: spec.enableScaleToZero,
      // Released: the stable window of zero demand is what the prediction replaces.
      stableWindowMs: release ? 0 : spec.stableWindowMs,
      scaleToZeroGracePeriodMs: spec.scaleToZeroGracePeriodMs,
      scaleToZeroPodRetentionMs: spec.scaleToZeroPodRetentionMs,
      activatorInPathSinceMs: input.activatorInPathSinceMs,
    },
    nowMs,
  );

  const ebc = excessBurstCapacity(spec.targetBurstCapacity, readyPods, totalValue, panicAverage);
  return {
    kind: 'scale',
    desiredScale: gate.desiredScale,
    reason: gate.reason ?? step.reason,
    panicking: nextPanicState.kind === 'panicking',
    excessBurstCapacity: ebc,
    mode: chooseMode(ebc, { phase: gate.phase.kind, readyPods }),
    state: {
      panic: nextPanicState,
      delayWindow,
      phase: gate.phase,
      scaleTargetInitialized: initialized,
    },
    recheckAfterMs: gate.recheckAfterMs,
  };
}

/**
 * Keeps one window's count within [maxDown, maxUp], then lifts it to activationScale when there
 * is any demand: activation 3, demand 1 pod → 3 (a service woken from zero gets 3 pods and keeps
 * at least 3 while demand lasts; with no demand, 0 is left alone so it can still go to zero).
 */
function limitRates(
  pods: number,
  maxDown: number,
  maxUp: number,
  base: Step['reason'],
  activation: number,
): Step {
  let step: Step = { value: pods, reason: base };
  if (pods > maxUp) step = { value: maxUp, reason: 'max-scale-up-rate' };
  else if (pods < maxDown) step = { value: maxDown, reason: 'max-scale-down-rate' };
  if (activation > 1 && pods > 0 && step.value < activation) {
    step = { value: activation, reason: 'activation-scale' };
  }
  return step;
}

/**
 * Enter: calm and over → panicking since now. Extend: over → last over = now. Exit: not over and
 * last over + stable window < now → calm (strictly after: window 60 s, last over at t0, still
 * panicking at t0 + 60 s, calm at t0 + 62 s).
 */
function nextPanic(current: PanicState, over: boolean, nowMs: number, stableWindowMs: number): PanicState {
  if (current.kind === 'calm') {
    return over ? { kind: 'panicking', sinceMs: nowMs, lastOverThresholdMs: nowMs, maxDesired: 0 } : current;
  }
  if (over) return { ...current, lastOverThresholdMs: nowMs };
  if (current.lastOverThresholdMs + stableWindowMs < nowMs) return { kind: 'calm' };
  return current;
}

/**
 * minScale <= desired <= maxScale (maxScale 0 = unbounded). Until the ready count has once
 * reached initialScale, initialScale (when > 1) is a floor too: initialScale 5 and no load gives
 * 5, not 0, while the first pods start.
 */
function applyBounds(step: Step, spec: ScalingSpec, initialized: boolean): Step {
  const initialFloor = !initialized && spec.initialScale > 1 && spec.initialScale > spec.minScale;
  const min = initialFloor ? spec.initialScale : spec.minScale;
  let bounded = step;
  if (bounded.value < min) bounded = { value: min, reason: initialFloor ? 'initial-scale' : 'min-scale' };
  // The upper bound wins over every floor (activation, initial, min): maxScale is a hard cap.
  if (spec.maxScale > 0 && bounded.value > spec.maxScale)
    bounded = { value: spec.maxScale, reason: 'max-scale' };
  return bounded;
}
