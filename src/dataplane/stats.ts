// Request statistics for the autoscaler: time-weighted average concurrency and request counts per
// reporting interval, as Knative's queue-proxy and activator report them each second.

import type { Clock } from '../clock.ts';
import { ZeroscaleError } from '../errors.ts';

/** One interval's numbers. "Proxied" requests came through the activator, which reports them itself. */
export interface StatsReport {
  /** Length of the interval in ms: from the previous report (or creation) to this one. */
  readonly intervalMs: number;
  /** Concurrency averaged over time: 1 request for half the interval gives 0.5. */
  readonly averageConcurrency: number;
  readonly averageProxiedConcurrency: number;
  /** Requests that arrived in the interval. */
  readonly requestCount: number;
  readonly proxiedRequestCount: number;
  /** requestCount per second of the interval; 0 for an empty interval. */
  readonly requestsPerSecond: number;
  readonly proxiedRequestsPerSecond: number;
}

export class RequestStats {
  readonly #clock: Clock;
  // Current state, kept across reports.
  #concurrency = 0;
  #proxiedConcurrency = 0;
  #lastChangeMs: number;
  // Accumulated since the last report: concurrency × ms, so averages are sums of integers until
  // the final division (exact, no drift over long intervals).
  #concurrencyMs = 0;
  #proxiedConcurrencyMs = 0;
  #intervalMs = 0;
  #requestCount = 0;
  #proxiedRequestCount = 0;

  constructor(clock: Clock) {
    this.#clock = clock;
    this.#lastChangeMs = clock.now();
  }

  /** Requests in flight now. */
  get concurrency(): number {
    return this.#concurrency;
  }
  get proxiedConcurrency(): number {
    return this.#proxiedConcurrency;
  }

  requestStarted(proxied: boolean): void {
    this.#advance(this.#clock.now());
    this.#concurrency++;
    this.#requestCount++;
    if (proxied) {
      this.#proxiedConcurrency++;
      this.#proxiedRequestCount++;
    }
  }

  /** `proxied` must match what `requestStarted` was told for the same request. */
  requestFinished(proxied: boolean): void {
    if (this.#concurrency <= 0 || (proxied && this.#proxiedConcurrency <= 0)) {
      throw new ZeroscaleError(
        'STATS_UNDERFLOW',
        'requestFinished() called with no matching request in flight',
      );
    }
    this.#advance(this.#clock.now());
    this.#concurrency--;
    if (proxied) this.#proxiedConcurrency--;
  }

  /** Closes the current interval, returns its numbers and starts the next one. */
  report(): StatsReport {
    this.#advance(this.#clock.now());
    const ms = this.#intervalMs;
    const seconds = ms / 1000;
    const report: StatsReport = {
      intervalMs: ms,
      // An interval of zero length has no time to weigh by; the current concurrency is the limit
      // of the average as the interval shrinks, so report that rather than 0.
      averageConcurrency: ms > 0 ? this.#concurrencyMs / ms : this.#concurrency,
      averageProxiedConcurrency: ms > 0 ? this.#proxiedConcurrencyMs / ms : this.#proxiedConcurrency,
      requestCount: this.#requestCount,
      proxiedRequestCount: this.#proxiedRequestCount,
      requestsPerSecond: ms > 0 ? this.#requestCount / seconds : 0,
      proxiedRequestsPerSecond: ms > 0 ? this.#proxiedRequestCount / seconds : 0,
    };
    this.#concurrencyMs = 0;
    this.#proxiedConcurrencyMs = 0;
    this.#intervalMs = 0;
    this.#requestCount = 0;
    this.#proxiedRequestCount = 0;
    return report;
  }

  // Credits the time since the last change at the concurrency that held during it. A clock that
  // steps backwards credits nothing and keeps the later mark, so no interval is counted twice.
  #advance(nowMs: number): void {
    const elapsed = nowMs - this.#lastChangeMs;
    if (elapsed <= 0) return;
    this.#intervalMs += elapsed;
    this.#concurrencyMs += this.#concurrency * elapsed;
    this.#proxiedConcurrencyMs += this.#proxiedConcurrency * elapsed;
    this.#lastChangeMs = nowMs;
  }
}
