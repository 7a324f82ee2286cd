// The controller's own writes that its informer caches may not show yet. A reconcile reads the
// cache; right after it applied an object, the next reconcile of the same service (a burst of
// events for it) still sees the old object, or none, and would apply it again: at 1,000 new
// services that tripled the writes. kube-controller-manager's ReplicaSet controller keeps
// "expectations" for the same reason. An entry lives only until the cache shows the write (or the
// object's deletion), so the table holds the writes in flight through the watch, and is bounded.

import { Gauge, type Registry } from 'prom-client';

interface Written {
  /** The desired object as written (JSON). */
  readonly desired: string;
  /** resourceVersion the cache showed before the write; undefined when there was no object. */
  readonly before: string | undefined;
  /** resourceVersion the write produced. */
  readonly after: string | undefined;
  /** What the write answered, for a caller whose cache has no object yet. */
  readonly result: unknown;
}

type Versioned = { readonly metadata?: { readonly resourceVersion?: string } } | undefined;

export const OWN_WRITES_MAX = 50_000;

export class OwnWrites {
  readonly #entries = new Map<string, Written>();
  readonly #max: number;
  readonly #gauge: Gauge | undefined;

  constructor(options: { readonly max?: number; readonly registry?: Registry } = {}) {
    this.#max = options.max ?? OWN_WRITES_MAX;
    if (options.registry) {
      this.#gauge = new Gauge({
        name: 'zeroscale_controller_unobserved_writes',
        help: `Writes of the controller its caches do not show yet (bounded at ${this.#max}; beyond it the oldest are forgotten, which only costs a repeated write).`,
        registers: [options.registry],
      });
    }
  }

  /**
   * True when `live` is what the cache showed before our last write of exactly `desired`, or what
   * that write produced: the cache is behind our own write, so writing again would change nothing.
   */
  covers(key: string, desired: string, live: Versioned): boolean {
    const w = this.#entries.get(key);
    if (w === undefined || w.desired !== desired) return false;
    const rv = live?.metadata?.resourceVersion;
    return rv === w.before || (rv !== undefined && rv === w.after);
  }

  record(key: string, desired: string, before: Versioned, after: Versioned): void {
    this.#entries.delete(key);
    if (this.#entries.size >= this.#max) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    this.#entries.set(key, {
      desired,
      before: before?.metadata?.resourceVersion,
      after: after?.metadata?.resourceVersion,
      result: after,
    });
    this.#gauge?.set(this.#entries.size);
  }

  /** What the last recorded write for `key` answered. */
  result(key: string): unknown {
    return this.#entries.get(key)?.result;
  }

  /** The cache changed for `key`: once it shows our write, or the object is gone, stop covering. */
  observed(key: string, live: Versioned): void {
    const w = this.#entries.get(key);
    if (w === undefined) return;
    const rv = live?.metadata?.resourceVersion;
    if (rv === undefined || rv !== w.before) {
      this.#entries.delete(key);
      this.#gauge?.set(this.#entries.size);
    }
  }

  get size(): number {
    return this.#entries.size;
  }
}
