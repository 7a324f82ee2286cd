// What the autoscaler writes: the replicas (the Deployment's scale subresource) and what it
// decided, for the ServerlessService status (from which the controller programs the public
// endpoints). Kubernetes-backed in production, in memory in tests (memory.ts).

import type { WarmWindow } from '../api/warm-schedule.ts';
import type { BudgetView } from './cost.ts';
import type { EndpointsMode } from './scaling/decider.ts';
import type { ServingPhase } from './scaling/scale-to-zero.ts';

/** A service, as the ScaleTarget is told about it. */
export interface ServiceRef {
  readonly namespace: string;
  readonly name: string;
}

export interface AutoscalerStatus {
  /** Where the public endpoints must point: the activators ('proxy') or the pods ('serve'). */
  readonly mode: EndpointsMode;
  /** The replicas last decided; undefined before the first decision (no data yet). */
  readonly desiredScale: number | undefined;
  readonly readyPods: number;
  /** All pods, ready or not (ServicePods.actualCount). */
  readonly actualScale: number;
  /** Stable and panic averages of the metric the service scales on (service totals). */
  readonly observedStableValue: number;
  readonly observedPanicValue: number;
  /** Stable averages of both metrics, whichever the service scales on (status.autoscaler). */
  readonly observedConcurrency: number;
  readonly observedRequestsPerSecond: number;
  readonly panicking: boolean;
  /** < 0: the activator must stay in the path (mode proxy); -1 also with unlimited burst capacity. */
  readonly excessBurstCapacity: number;
  /** To be stored so that a restarted autoscaler gets it back as RestoredState.phase. */
  readonly phase: ServingPhase;
  /** To be stored; comes back as RestoredState.scaleTargetInitialized. */
  readonly scaleTargetInitialized: boolean;
  /** When the replicas last changed by a decision of this autoscaler (status.autoscaler.lastScaleTime). */
  readonly lastScaleTimeMs: number | undefined;
  /** The warm window in force (or starting its pods ahead of opening), and the next opening. */
  readonly warmWindow?: WarmWindow | undefined;
  readonly nextWarmWindowMs?: number | undefined;
  /** spec.scaling.idlePolicy Predictive: what was learned, the windows after an idle start, the advice now. */
  readonly prediction?: IdlePrediction | undefined;
  /** spec.budget: what was used in the window, and whether it is spent. */
  readonly budget?: BudgetView | undefined;
}

export interface IdlePrediction {
  readonly state: 'learning' | 'learned' | 'out-of-range';
  /** Idle times in the histogram (a weight, after old ones faded). */
  readonly idleTimes: number;
  /** From the start of an idle period: when a pod should be ready, and until when. */
  readonly windows: readonly { readonly startMs: number; readonly endMs: number }[];
  /** undefined while requests are in flight. */
  readonly advice: 'warm' | 'between' | 'release' | undefined;
}

/**
 * Calls for one service never overlap: a call is made only after the previous one for that
 * service settled, with the newest value (older ones are skipped). A rejected call is retried at
 * a later tick with the newest value. Calls for different services may run concurrently.
 */
export interface ScaleTarget {
  /**
   * Sets spec.replicas through the scale subresource. Called when the desired count changes and
   * again every scaleResyncMs, so it should be a no-op when the Deployment already has `replicas`.
   */
  setScale(service: ServiceRef, replicas: number): Promise<void>;
  /**
   * Called just before a setScale that leaves fewer replicas than there are pods, with the
   * requests in flight (1 s averages) of the pods last scraped, by pod name: marks them so that
   * Kubernetes removes the idle ones first (deletion-cost.ts). Best effort; never rejects.
   */
  rankPodsForRemoval?(service: ServiceRef, loads: ReadonlyMap<string, number>): Promise<void>;
  /** Writes the decision to status (status.autoscaler, status.mode, the phase condition). */
  publish(service: ServiceRef, status: AutoscalerStatus): Promise<void>;
}
