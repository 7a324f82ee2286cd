// Activator probes that wait for the user container to become ready: one answer the moment it
// is, instead of a probe every few tens of ms while the pod starts. Bounded; the probes over the
// bound, and any a client leaves, cost nothing more.

import { MAX_PROBE_WAIT_MS, PROBE_WAIT_PARAM } from '../api/queue-proxy.ts';
import { type ClientResponse, clientGone } from '../http/client-message.ts';

/** Probes held at once; past it a probe is answered at once (an activator re-probes). */
export const MAX_HELD_PROBES = 64;

const WAIT_QUERY = `?${PROBE_WAIT_PARAM}=`;

/** How long a probe asks to be held (0 when it does not ask), at most MAX_PROBE_WAIT_MS. */
export function probeWaitMs(url: string | undefined): number {
  const at = url?.indexOf(WAIT_QUERY) ?? -1;
  if (at < 0) return 0;
  const ms = Number.parseInt(url!.slice(at + WAIT_QUERY.length), 10);
  return Number.isFinite(ms) && ms > 0 ? Math.min(ms, MAX_PROBE_WAIT_MS) : 0;
}

export class HeldProbes {
  readonly #wakers = new Set<() => void>();

  get size(): number {
    return this.#wakers.size;
  }

  /**
   * Holds `res` until `wakeAll` or `waitMs`, then calls `answer` with it; false (nothing held)
   * when the bound is reached. A client that goes away is forgotten at once.
   */
  hold(res: ClientResponse, waitMs: number, answer: (res: ClientResponse) => void): boolean {
    if (this.#wakers.size >= MAX_HELD_PROBES) return false;
    const forget = (): void => {
      clearTimeout(timer);
      this.#wakers.delete(wake);
    };
    const wake = (): void => {
      forget();
      res.off('close', forget);
      if (!clientGone(res)) answer(res);
    };
    const timer = setTimeout(wake, waitMs);
    this.#wakers.add(wake);
    res.once('close', forget);
    return true;
  }

  /** Answers every held probe now (readiness changed, or the queue-proxy is stopping). */
  wakeAll(): void {
    for (const wake of [...this.#wakers]) wake();
  }
}
