// Collection: one service's concurrency and RPS series, fed every second by the scrape of its pods
// and by the activators' reports, and the rules that turn those reports into service totals.
//
// The double-count rule (Knative's, collector.go): a request that goes client → activator → pod
// is seen twice. The activator counts it in its own averageConcurrency; the pod's queue-proxy
// counts it in averageConcurrency and, because it carried the activator's header, again in
// averageProxiedConcurrency. So a pod contributes only what reached it directly,
// averageConcurrency − averageProxiedConcurrency, and an activator contributes everything it
// handled plus what it holds queued; the same for request rates. Worked example: the activator
// forwards 10 requests, 5 to each of pods A and B, and 4 more go straight to A:
//   A: 9 − 5 = 4, B: 5 − 5 = 0, activator: 10 → 14 in flight, each request counted once.
//
// Requests queued in an activator (no pod had capacity, or there is no pod) are demand that no pod
// has seen yet: the activator's `queued` is added to its concurrency. The activator must therefore
// not count them in its averageConcurrency too (protocol.ts: averageConcurrency is what it has in
// flight to pods, queued what waits). For RPS they count once they arrived, in requestsPerSecond.
//
// Once per second (per tick) the scrape's extrapolated total and each activator's newest report
// (held between ticks, activator-loads.ts) are added to that second's bucket (buckets.ts), so a
// bucket holds the service total: scrape 4 + activator A 6 + activator B 4 = 14.

import { MetricSeries, panicWindowMs, type WindowAverages } from '../scaling/buckets.ts';
import type { ScalingMetric } from '../scaling/decider.ts';
import type { PodStats, ServiceLoad } from './protocol.ts';

/** One observation, in both metrics. */
export interface Load {
  readonly concurrency: number;
  readonly requestsPerSecond: number;
}

/**
 * What one pod reached directly (not through an activator): all minus proxied, never below 0
 * (the two averages are sampled at slightly different instants and may cross by a hair).
 */
export function podDirectConcurrency(stats: PodStats): number {
  return Math.max(0, stats.averageConcurrency - stats.averageProxiedConcurrency);
}

export function podDirectRequestsPerSecond(stats: PodStats): number {
  return Math.max(0, stats.requestsPerSecond - stats.proxiedRequestsPerSecond);
}

/** An activator's demand for one service: what it had in flight plus what it holds queued. */
export function activatorConcurrency(load: ServiceLoad): number {
  return load.averageConcurrency + load.queued;
}

/** The sum over a scrape's answers, before extrapolation. */
export interface ScrapeSum {
  /** Pods that answered. */
  readonly answered: number;
  readonly concurrency: number;
  readonly requestsPerSecond: number;
}

/** Sums the direct load of the pods that answered; `undefined` entries are failed scrapes. */
export function sumScrape(results: readonly (PodStats | undefined)[]): ScrapeSum {
  let answered = 0;
  let concurrency = 0;
  let requestsPerSecond = 0;
  for (const stats of results) {
    if (stats === undefined) continue;
    answered++;
    concurrency += podDirectConcurrency(stats);
    requestsPerSecond += podDirectRequestsPerSecond(stats);
  }
  return { answered, concurrency, requestsPerSecond };
}

/**
 * The service total from a sample: sum / answered × readyPods (Knative extrapolates the same way,
 * assuming the unsampled pods carry the sample's mean). 16 of 100 pods answered with 48 in flight
 * → 48 / 16 × 100 = 300. Undefined when no pod answered: that is "no data", not "no load".
 */
export function extrapolate(sum: ScrapeSum, readyPods: number): Load | undefined {
  if (sum.answered === 0) return undefined;
  const factor = readyPods / sum.answered;
  return { concurrency: sum.concurrency * factor, requestsPerSecond: sum.requestsPerSecond * factor };
}

export interface SeriesWindows {
  readonly stableWindowMs: number;
  readonly panicWindowPercentage: number;
}

/**
 * Both series of one service. Memory: 2 × ceil(stable window / 1 s) numbers (960 bytes at 60 s);
 * nothing grows with traffic or with the number of pods.
 */
export class ServiceSeries {
  readonly windows: SeriesWindows;
  readonly #concurrency: MetricSeries;
  readonly #rps: MetricSeries;
  /** The newest bucket time with any request in flight or counted; what an idle period ends at. */
  lastActiveMs: number | undefined;

  constructor(windows: SeriesWindows) {
    this.windows = windows;
    const options = {
      stableWindowMs: windows.stableWindowMs,
      panicWindowMs: panicWindowMs(windows.stableWindowMs, windows.panicWindowPercentage),
    };
    this.#concurrency = new MetricSeries(options);
    this.#rps = new MetricSeries(options);
  }

  /** Whether a spec with these windows can keep this history (else a new series is needed). */
  fits(windows: SeriesWindows): boolean {
    return (
      windows.stableWindowMs === this.windows.stableWindowMs &&
      windows.panicWindowPercentage === this.windows.panicWindowPercentage
    );
  }

  /** Adds one observation to the bucket of `atMs` in both series (numbers, so no object per report). */
  record(atMs: number, concurrency: number, requestsPerSecond: number): void {
    this.#concurrency.record(atMs, concurrency);
    this.#rps.record(atMs, requestsPerSecond);
    if ((concurrency > 0 || requestsPerSecond > 0) && !(atMs <= (this.lastActiveMs ?? -1))) {
      this.lastActiveMs = atMs;
    }
  }

  /** Averages of the metric the service scales on; undefined = no data in the stable window. */
  averages(metric: ScalingMetric, nowMs: number): WindowAverages | undefined {
    return (metric === 'rps' ? this.#rps : this.#concurrency).averages(nowMs);
  }

  /** Averages of both metrics, whichever the service scales on, for status and metrics (0 without data). */
  stableConcurrency(nowMs: number): number {
    return this.#concurrency.stableAverage(nowMs);
  }

  panicConcurrency(nowMs: number): number {
    return this.#concurrency.panicAverage(nowMs);
  }

  stableRequestsPerSecond(nowMs: number): number {
    return this.#rps.stableAverage(nowMs);
  }

  panicRequestsPerSecond(nowMs: number): number {
    return this.#rps.panicAverage(nowMs);
  }
}
