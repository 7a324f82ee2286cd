// The condition types of a ServerlessService's status, who writes each, and the bookkeeping: a
// condition keeps its lastTransitionTime while its status holds, so the time a service became
// (un)ready survives any number of reconciles and restarts (Knative: pkg/apis/*/…_lifecycle.go).

import type { Condition, ConditionStatus } from './status.ts';

/** The condition types: Ready summarises the controller's parts; Active is the autoscaler's. */
export const CONDITION = {
  /** Written by the controller: the summary of DeploymentReady and EndpointsReady. */
  ready: 'Ready',
  deploymentReady: 'DeploymentReady',
  endpointsReady: 'EndpointsReady',
  /** Written by the controller on a service: every spec.traffic target resolves to a revision. */
  trafficRouted: 'TrafficRouted',
  /** Written by the controller, not part of Ready; the autoscaler reads its lastTransitionTime. */
  activatorInPath: 'ActivatorInPath',
  /** Written by the autoscaler: True while the service has demand (or minScale > 0). */
  active: 'Active',
  /** Written by the autoscaler for a service with spec.budget: True while it is spent. */
  budgetExceeded: 'BudgetExceeded',
} as const;
export type ConditionType = (typeof CONDITION)[keyof typeof CONDITION];

/** Reasons of the Active condition; the autoscaler reads them back after a restart. */
export type ActiveReason = 'Active' | 'Inactive' | 'ScaledToZero';
/**
 * Reasons of BudgetExceeded: True with Capped (held at its cap) or Rejecting (the activators answer
 * 429); False with WithinBudget. The activators read Rejecting.
 */
export type BudgetReason = 'Capped' | 'Rejecting' | 'WithinBudget';

/** Reason of Ready when the spec cannot be acted on (what the CRD schema could not catch). */
export const INVALID_SPEC_REASON = 'InvalidSpec';

/** The condition of `type` in `conditions`, if any. */
export function findCondition(
  conditions: readonly Condition[] | undefined,
  type: ConditionType,
): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

export interface ConditionInput {
  readonly type: ConditionType;
  readonly status: ConditionStatus;
  readonly reason: string;
  readonly message?: string;
}

export function setConditions(
  previous: readonly Condition[] | undefined,
  next: readonly ConditionInput[],
  generation: number,
  now: Date,
): Condition[] {
  return next.map((c) => {
    const old = previous?.find((p) => p.type === c.type);
    const lastTransitionTime =
      old && old.status === c.status ? old.lastTransitionTime : now.toISOString().replace(/\.\d{3}Z$/, 'Z');
    return {
      type: c.type,
      status: c.status,
      reason: c.reason,
      ...(c.message ? { message: c.message } : {}),
      lastTransitionTime,
      observedGeneration: generation,
    };
  });
}

/** Ready summarises the others: the first that is not True decides it (False before Unknown). */
export function readyCondition(parts: readonly ConditionInput[]): ConditionInput {
  const failed = parts.find((p) => p.status === 'False') ?? parts.find((p) => p.status === 'Unknown');
  if (!failed) return { type: CONDITION.ready, status: 'True', reason: 'Ready' };
  return {
    type: CONDITION.ready,
    status: failed.status,
    reason: failed.reason,
    ...(failed.message ? { message: failed.message } : {}),
  };
}
