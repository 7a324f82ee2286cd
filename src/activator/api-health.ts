// Whether the Kubernetes API answers, as the activator needs to know it: a cold start needs the
// autoscaler to write the scale and kubelet to start a pod, both through the API. Polls the
// apiserver's /readyz, one poll at a time.
//
// A failed poll is only sure evidence of an outage when nothing answered at all:
// - unreachable (the connection was refused, reset or cut: no apiserver there): after
//   `failuresBefore` of these in a row the API is unavailable.
// - unready (an answer that is not ready, e.g. etcd gone or slow): a saturated node (a burst of
//   cold starts on two cores) can make /readyz fail its etcd check while the API still works;
//   calling that an outage answers 503 to requests that would have been served. So these make the
//   API unavailable only when no poll has been ready for `unreadyMs`.
// - timeout (no answer in time): the apiserver is there but slow, the commonest sign of a saturated
//   node and the weakest of an outage (a stopped apiserver refuses, a stopped etcd makes /readyz
//   answer 500). A poll that timed out makes the API unavailable only when no poll has been ready
//   for `silentMs`, three times as long.
// - unready with etcd still reachable: the apiserver's `etcd` check (a 2 s health call) failing
//   while its `etcd-readiness` check passes. That is what a saturated node looks like (the cold
//   storm of test/e2e/scale.test.ts on two cores got it for over 10 s, and 503s from it); with etcd
//   stopped both fail. So it gets the longer `silentMs` too.
// The first ready answer makes it available again.

import { isZeroscaleError } from '../errors.ts';
import { KubeApiError, type KubeClient } from '../kube/rest.ts';
import type { Logger } from '../telemetry/log.ts';
import type { ControlPlaneHealthSource, ServiceFailure, Unsubscribe } from './sources.ts';

export const API_UNAVAILABLE_REASON = 'KubernetesApiUnavailable';

export interface ApiHealthOptions {
  /** Time from the end of one poll to the start of the next. */
  readonly intervalMs: number;
  /** How long one poll waits for an answer. */
  readonly timeoutMs: number;
  /** Unreachable polls in a row before the API counts as unavailable (one may be a blip). */
  readonly failuresBefore: number;
  /** How long the API may answer not ready before it counts as unavailable. */
  readonly unreadyMs: number;
  /** How long polls may go unanswered (timeouts) before the API counts as unavailable. */
  readonly silentMs: number;
  readonly log: Logger;
  readonly now?: () => number;
}

export const API_HEALTH_DEFAULTS = {
  intervalMs: 2_000,
  timeoutMs: 5_000,
  failuresBefore: 2,
  unreadyMs: 10_000,
  silentMs: 30_000,
} as const;

/** What one poll of /readyz came to. */
export type ApiCheckOutcome = 'ready' | 'unready' | 'unreachable' | 'timeout';

export class ApiHealthProbe implements ControlPlaneHealthSource {
  readonly #client: KubeClient;
  readonly #o: ApiHealthOptions;
  readonly #now: () => number;
  readonly #listeners = new Set<(unavailable: ServiceFailure | undefined) => void>();
  readonly #checks = new Map<ApiCheckOutcome, number>([
    ['ready', 0],
    ['unready', 0],
    ['unreachable', 0],
    ['timeout', 0],
  ]);
  #unreachableInARow = 0;
  #lastReadyAt = 0;
  #unavailable: ServiceFailure | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running = false;

  constructor(client: KubeClient, options: ApiHealthOptions) {
    this.#client = client;
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#lastReadyAt = this.#now();
    this.#schedule();
  }

  stop(): void {
    this.#running = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  subscribe(onChange: (unavailable: ServiceFailure | undefined) => void): Unsubscribe {
    this.#listeners.add(onChange);
    if (this.#unavailable !== undefined) onChange(this.#unavailable);
    return () => this.#listeners.delete(onChange);
  }

  /** Polls so far by outcome (for the activator's metrics). */
  checks(): ReadonlyMap<ApiCheckOutcome, number> {
    return this.#checks;
  }

  #schedule(): void {
    if (!this.#running) return;
    this.#timer = setTimeout(() => void this.#poll().finally(() => this.#schedule()), this.#o.intervalMs);
    this.#timer.unref();
  }

  async #poll(): Promise<void> {
    let outcome: ApiCheckOutcome = 'ready';
    let error: unknown;
    const started = this.#now();
    try {
      await this.#client.request('GET', '/readyz', { timeoutMs: this.#o.timeoutMs });
    } catch (err) {
      error = err;
      outcome =
        err instanceof KubeApiError
          ? 'unready'
          : isZeroscaleError(err, 'KUBE_API_TIMEOUT')
            ? 'timeout'
            : 'unreachable';
    }
    if (!this.#running) return;
    this.#checks.set(outcome, (this.#checks.get(outcome) ?? 0) + 1);
    const now = this.#now();
    if (outcome === 'ready') {
      this.#unreachableInARow = 0;
      this.#lastReadyAt = now;
      this.#change(undefined, {});
      return;
    }
    this.#unreachableInARow = outcome === 'unreachable' ? this.#unreachableInARow + 1 : 0;
    const unreadyForMs = now - this.#lastReadyAt;
    const windowMs = outcome === 'timeout' || etcdReachable(error) ? this.#o.silentMs : this.#o.unreadyMs;
    if (this.#unreachableInARow >= this.#o.failuresBefore || unreadyForMs >= windowMs)
      this.#change(UNAVAILABLE, { err: String(error), outcome, pollMs: now - started, unreadyForMs });
  }

  #change(unavailable: ServiceFailure | undefined, detail: Record<string, unknown>): void {
    if (unavailable === this.#unavailable) return;
    this.#unavailable = unavailable;
    if (unavailable === undefined)
      this.#o.log.info('Kubernetes API available again: cold requests wait for pods again');
    else this.#o.log.warn(detail, 'Kubernetes API unavailable: cold requests are answered 503');
    for (const l of this.#listeners) l(unavailable);
  }
}

/**
 * A /readyz answer (its check list) whose `etcd` check failed while `etcd-readiness` passed. Not
 * any answer with etcd ready: an apiserver shutting down fails `shutdown` with etcd fine, and that
 * keeps the shorter window.
 */
function etcdReachable(error: unknown): boolean {
  return (
    error instanceof KubeApiError &&
    error.message.includes('[-]etcd failed') &&
    error.message.includes('[+]etcd-readiness ok')
  );
}

const UNAVAILABLE: ServiceFailure = {
  reason: API_UNAVAILABLE_REASON,
  message: 'the Kubernetes API is unavailable, so no pod can be started for it now',
};
