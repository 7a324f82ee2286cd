// The activators' share of one service's load, held per activator between ticks and folded into
// the service's series once per second, beside the scrape of the pods.
//
// Why hold instead of adding each report to the bucket it arrives in: reports arrive whenever
// each activator's own 1 s timer fires, not in step with the tick. Added on arrival, a decision
// made early in a second sees that second's bucket with the scrape but without the reports still
// to come (10 in flight, 6 through the activator: the bucket reads 4 until the report lands, and a
// 1 s panic window would see 4); and an activator whose timer drifts puts two reports in one
// bucket and none in the next. Held, each activator's newest report counts exactly once per
// second: its concurrency and rate are levels over its last interval, so holding them for the
// next tick is a sample-and-hold, not a double count.

import { DEFAULT_BUCKET_MS } from '../scaling/buckets.ts';
import type { ServiceSeries } from './collector.ts';

interface Held {
  concurrency: number;
  requestsPerSecond: number;
  /** After this the activator is taken to have nothing for the service (it reports only what it handles). */
  expiresAtMs: number;
}

/** A report is trusted for two of its intervals (at least 2 s): one missed report is tolerated. */
const TRUSTED_INTERVALS = 2;
const MIN_TRUST_MS = 2_000;

export class ActivatorLoads {
  /** Newest value per activator name; bounded by the number of activators (expired ones are dropped). */
  readonly #held = new Map<string, Held>();
  // What was already recorded in the current second's bucket, so a second fold adds only the rest.
  #foldedSecond = Number.NaN;
  #foldedConcurrency = 0;
  #foldedRequestsPerSecond = 0;

  /** The activator's newest report for the service replaces its previous one. */
  report(
    activator: string,
    concurrency: number,
    requestsPerSecond: number,
    intervalMs: number,
    nowMs: number,
  ): void {
    const expiresAtMs = nowMs + Math.max(MIN_TRUST_MS, TRUSTED_INTERVALS * intervalMs);
    const held = this.#held.get(activator);
    if (held === undefined) {
      this.#held.set(activator, { concurrency, requestsPerSecond, expiresAtMs });
    } else {
      held.concurrency = concurrency;
      held.requestsPerSecond = requestsPerSecond;
      held.expiresAtMs = expiresAtMs;
    }
  }

  /**
   * A poke: at least one request waits at `activator` (for a service with no ready pod). Held as
   * that activator's demand until its next report, which knows better (1 waiting → its queue).
   */
  poke(activator: string, nowMs: number): void {
    const held = this.#held.get(activator);
    const fresh = held !== undefined && held.expiresAtMs > nowMs;
    this.report(
      activator,
      Math.max(fresh ? held.concurrency : 0, 1),
      Math.max(fresh ? held.requestsPerSecond : 0, 1),
      0,
      nowMs,
    );
  }

  /** Whether any activator has a value for the service now. */
  hasAny(nowMs: number): boolean {
    for (const held of this.#held.values()) if (held.expiresAtMs > nowMs) return true;
    return false;
  }

  /**
   * Records the activators' total at `nowMs` into `series`, less what an earlier fold in the same
   * second already recorded (buckets only add up): a poke folds 1, the report that follows in the
   * same second with 14 queued folds 13 more, the tick after it 0. Records nothing when no
   * activator has a value ("no data" stays possible); expired values are dropped.
   */
  foldInto(series: ServiceSeries, nowMs: number): void {
    let concurrency = 0;
    let requestsPerSecond = 0;
    let any = false;
    for (const [activator, held] of this.#held) {
      if (held.expiresAtMs <= nowMs) {
        this.#held.delete(activator);
        continue;
      }
      any = true;
      concurrency += held.concurrency;
      requestsPerSecond += held.requestsPerSecond;
    }
    if (!any) return;
    const second = Math.floor(nowMs / DEFAULT_BUCKET_MS);
    if (second !== this.#foldedSecond) {
      this.#foldedSecond = second;
      this.#foldedConcurrency = 0;
      this.#foldedRequestsPerSecond = 0;
    }
    series.record(
      nowMs,
      Math.max(0, concurrency - this.#foldedConcurrency),
      Math.max(0, requestsPerSecond - this.#foldedRequestsPerSecond),
    );
    this.#foldedConcurrency = Math.max(this.#foldedConcurrency, concurrency);
    this.#foldedRequestsPerSecond = Math.max(this.#foldedRequestsPerSecond, requestsPerSecond);
  }

  /** A new series (changed windows) holds nothing of this second yet. */
  resetFold(): void {
    this.#foldedSecond = Number.NaN;
  }
}
