// The scale-to-zero sequence as explicit phases: a service goes to zero pods only after a stable
// window of zero demand, with the activator confirmed in its path, and after the grace period.
// Pure: the caller reads the phase's `sinceMs` back from a status condition after a restart.
//
//   active ──(want 0, active ≥ stable window)──▶ inactive ──(activator in path, grace over)──▶ zero
//     ▲                                             │                                          │
//     └──────────────────(want > 0)─────────────────┴──────────────────────────────────────────┘
//
// While `inactive` one pod is kept and the public endpoints must point at the activators
// (`chooseMode` gives 'proxy'); the caller switches them, checks that the activators answer, and
// passes the time it saw that as `activatorInPathSinceMs`. Only then can a request arriving at
// the last moment be held by an activator instead of being sent to a pod that is going away.

export type ServingPhase =
  /** Pods are wanted; `sinceMs` is when demand (or creation with initialScale > 0) began. */
  | { readonly kind: 'active'; readonly sinceMs: number }
  /** No demand for a stable window; one pod kept while the activators take over the endpoints. */
  | { readonly kind: 'inactive'; readonly sinceMs: number }
  /** Scaled to zero; the activators hold the endpoints and poke on the first request. */
  | { readonly kind: 'zero'; readonly sinceMs: number };

export type ScaleToZeroReason =
  | 'scale-to-zero-disabled'
  | 'active-for-less-than-stable-window'
  | 'waiting-for-activator'
  | 'scale-to-zero-pod-retention'
  | 'scale-to-zero-grace'
  | 'scaled-to-zero';

export interface ScaleToZeroInput {
  /** The desired count after rates, delay and min/max bounds; the gate acts only when it is 0. */
  readonly wanted: number;
  readonly phase: ServingPhase;
  readonly enableScaleToZero: boolean;
  readonly stableWindowMs: number;
  /** Minimum time the activator is in the path before the last pod goes. Knative: 30 s. */
  readonly scaleToZeroGracePeriodMs: number;
  /** Minimum time the last pod stays after the service went inactive. Knative: 0. */
  readonly scaleToZeroPodRetentionMs: number;
  /** When the caller confirmed that the public endpoints reach the activators; undefined = not yet. */
  readonly activatorInPathSinceMs: number | undefined;
}

export interface ScaleToZeroResult {
  readonly desiredScale: number;
  readonly phase: ServingPhase;
  /** Set when the gate, not the demand, decided the count. */
  readonly reason: ScaleToZeroReason | undefined;
  /** When time alone will change the outcome, how long from now; the caller may requeue then. */
  readonly recheckAfterMs: number | undefined;
}

/** The pod kept while the sequence runs: enough to serve a request that arrives meanwhile. */
const KEPT_PODS = 1;

export function gateScaleToZero(input: ScaleToZeroInput, nowMs: number): ScaleToZeroResult {
  const { phase } = input;
  if (input.wanted > 0) {
    // Demand is back (or never left): any inactive or zero phase becomes active from now.
    const next = phase.kind === 'active' ? phase : { kind: 'active' as const, sinceMs: nowMs };
    return { desiredScale: input.wanted, phase: next, reason: undefined, recheckAfterMs: undefined };
  }
  if (!input.enableScaleToZero) {
    return hold(phase, 'scale-to-zero-disabled', undefined);
  }
  switch (phase.kind) {
    case 'zero':
      return { desiredScale: 0, phase, reason: 'scaled-to-zero', recheckAfterMs: undefined };
    case 'active': {
      // A service woken (or created) moments ago keeps a pod for a whole stable window, so that
      // initialScale pods are not removed by the first zero reports. Active since t0, window
      // 60 s, want 0 at t0 + 20 s → keep 1 pod, look again in 40 s.
      const activeFor = nowMs - phase.sinceMs;
      if (activeFor < input.stableWindowMs) {
        return hold(phase, 'active-for-less-than-stable-window', input.stableWindowMs - activeFor);
      }
      return gateInactive(input, { kind: 'inactive', sinceMs: nowMs }, nowMs);
    }
    case 'inactive':
      return gateInactive(input, phase, nowMs);
  }
}

/**
 * Inactive, activator confirmed: idle = now − inactive.since, retention R, grace G, in path for
 * P = now − activatorInPathSince.
 * - idle ≥ max(G, R) → 0.
 * - R > 0 and idle < R → wait R − idle (R 120 s, idle 50 s → 70 s).
 * - else wait G − P (or less, until idle reaches G), and go to 0 at once when G − P ≤ 0: this
 *   "fast path" is the common case, since with the default TBC 211 a one-pod
 *   service has had the activator in its path all along (EBC < 0), so it reaches zero the moment
 *   it goes inactive; a service that was in serve mode waits the whole 30 s grace.
 */
function gateInactive(input: ScaleToZeroInput, phase: ServingPhase, nowMs: number): ScaleToZeroResult {
  if (input.activatorInPathSinceMs === undefined) {
    return hold(phase, 'waiting-for-activator', undefined);
  }
  const idleFor = nowMs - phase.sinceMs;
  const grace = input.scaleToZeroGracePeriodMs;
  const retention = input.scaleToZeroPodRetentionMs;
  if (idleFor >= Math.max(grace, retention)) return toZero(nowMs);
  if (retention > 0 && idleFor < retention) {
    return hold(phase, 'scale-to-zero-pod-retention', retention - idleFor);
  }
  const remaining = grace - (nowMs - input.activatorInPathSinceMs);
  if (remaining <= 0) return toZero(nowMs);
  // Whichever comes first: the grace since the activator took over, or idle reaching the grace.
  return hold(phase, 'scale-to-zero-grace', Math.min(remaining, Math.max(grace, retention) - idleFor));
}

function hold(
  phase: ServingPhase,
  reason: ScaleToZeroReason,
  recheckAfterMs: number | undefined,
): ScaleToZeroResult {
  return { desiredScale: KEPT_PODS, phase, reason, recheckAfterMs };
}

function toZero(nowMs: number): ScaleToZeroResult {
  return {
    desiredScale: 0,
    phase: { kind: 'zero', sinceMs: nowMs },
    reason: 'scaled-to-zero',
    recheckAfterMs: undefined,
  };
}
