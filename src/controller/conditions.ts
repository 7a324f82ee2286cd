// Condition bookkeeping: a condition keeps its lastTransitionTime while its status holds, so the
// time a service became (un)ready survives any number of reconciles and restarts.

import type { Condition, ConditionStatus } from '../api/status.ts';

export interface ConditionInput {
  readonly type: string;
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
  if (!failed) return { type: 'Ready', status: 'True', reason: 'Ready' };
  return {
    type: 'Ready',
    status: failed.status,
    reason: failed.reason,
    ...(failed.message ? { message: failed.message } : {}),
  };
}
