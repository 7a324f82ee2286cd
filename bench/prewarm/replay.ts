// Replays a trace against one keep-alive/pre-warm policy on a simulated clock, one pod per
// service, with a modelled cold start: a request that finds no ready pod waits for one (the
// rest of a pre-warm's start when one is under way, a whole cold start otherwise). Counts cold
// starts and idle pod time: a pod up (starting or ready) with no request running or waiting.

import type { IdlePolicy } from './policies.ts';
import type { Shape, TracedService } from './trace.ts';

export interface ReplayTotals {
  requests: number;
  coldStarts: number;
  /** Pod time with no request running or waiting, ms. */
  idleMs: number;
  /** Time requests spent waiting for a pod, ms. */
  waitMs: number;
}

export const emptyTotals = (): ReplayTotals => ({ requests: 0, coldStarts: 0, idleMs: 0, waitMs: 0 });

export function replayService(
  service: TracedService,
  policy: IdlePolicy,
  coldStartMs: number,
  into: ReplayTotals,
): void {
  const { arrivalsMs, durationsMs } = service;
  /** End of the last request: the idle period starts there; undefined before the first. */
  let busyUntil: number | undefined;
  for (let i = 0; i < arrivalsMs.length; i++) {
    const at = arrivalsMs[i]!;
    into.requests++;
    let wait = 0;
    if (busyUntil === undefined) {
      wait = coldStartMs;
      into.coldStarts++;
    } else if (at >= busyUntil) {
      const idleStart = busyUntil;
      let ready: number | undefined;
      for (const span of policy.spans()) {
        const load = idleStart + span.loadMs;
        const end = idleStart + span.endMs;
        if (load >= at) break; // later spans never started
        into.idleMs += Math.min(at, end) - load;
        if (at < end) ready = span.warm ? load : load + coldStartMs;
      }
      if (ready === undefined) wait = coldStartMs;
      else if (ready > at) wait = ready - at;
      if (wait > 0) into.coldStarts++;
      policy.observe(at - idleStart);
    }
    // A request arriving while another runs shares the pod (the model is one pod per service).
    into.waitMs += wait;
    busyUntil = Math.max(busyUntil ?? 0, at + wait + durationsMs[i]!);
  }
}

export interface ShapeTotals {
  readonly byShape: Map<Shape, ReplayTotals>;
  readonly all: ReplayTotals;
}

export function replay(
  trace: readonly TracedService[],
  makePolicy: () => IdlePolicy,
  coldStartMs: number,
): ShapeTotals {
  const byShape = new Map<Shape, ReplayTotals>();
  const all = emptyTotals();
  for (const service of trace) {
    const totals = byShape.get(service.shape) ?? emptyTotals();
    byShape.set(service.shape, totals);
    const one = emptyTotals();
    replayService(service, makePolicy(), coldStartMs, one);
    for (const key of ['requests', 'coldStarts', 'idleMs', 'waitMs'] as const) {
      totals[key] += one[key];
      all[key] += one[key];
    }
  }
  return { byShape, all };
}
