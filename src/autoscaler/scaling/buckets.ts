// Per-second time series of one scaling metric (concurrency or RPS) for one service, with the
// stable-window and panic-window averages the KPA decides on. Pure: time is passed in as `nowMs`.
//
// Memory is bounded: one ring of ceil(stableWindow / bucket) numbers (60 for the default 60 s),
// shared by both windows, since the panic window is never longer than the stable window.

import { ZeroscaleError } from '../../errors.ts';

/** How the buckets of a window are combined into one value. Knative's default is `linear`. */
export type Aggregation = 'linear' | 'weighted-exponential';

export interface MetricSeriesOptions {
  /** The stable window; the ring holds this many buckets. Knative: 60 s, in [6 s, 1 h]. */
  readonly stableWindowMs: number;
  /** The panic window, at most the stable window. See `panicWindowMs`. */
  readonly panicWindowMs: number;
  /** Width of one bucket. Knative: 1 s, the scrape and report interval. */
  readonly bucketMs?: number;
  readonly aggregation?: Aggregation;
}

export interface WindowAverages {
  readonly stable: number;
  readonly panic: number;
}

/**
 * - `recorded`: added to its bucket.
 * - `too-old`: older than the stable window behind the newest write, so in no window; dropped.
 * - `invalid-value`: negative, NaN or infinite; dropped (one NaN would poison every average).
 */
export type RecordOutcome = 'recorded' | 'too-old' | 'invalid-value';

export const DEFAULT_BUCKET_MS = 1_000;

/** Averages are rounded to this many decimal digits (Knative: 6), see `roundAverage`. */
const AVERAGE_DIGITS = 6;

/**
 * The panic window: stableWindow × panicWindowPercentage / 100, rounded to whole seconds, at
 * least 1 s. 60 s × 10 % = 6 s; 6 s × 10 % = 0.6 s → 1 s; 45 s × 15 % = 6.75 s → 7 s.
 */
export function panicWindowMs(stableWindowMs: number, panicWindowPercentage: number): number {
  const seconds = Math.round((stableWindowMs * panicWindowPercentage) / 100 / 1_000);
  return Math.max(1, seconds) * 1_000;
}

/**
 * Weight of the newest bucket in the weighted-exponential average over n buckets:
 * alpha = max(1 − (1 − 0.9999)^(1/n), 0.2), so that the n weights add up to at least 0.9999 while
 * no bucket weighs less than the 0.2 floor would give. n = 6 → 0.7846; n = 30 → 0.2644;
 * n = 60 → 0.1423 by the formula, raised to the floor 0.2.
 */
export function smoothingCoefficient(buckets: number): number {
  return Math.max(1 - (1 - 0.9999) ** (1 / buckets), 0.2);
}

/** The part of the ring one window looks at, with the start of its current run of writes. */
interface WindowTrack {
  readonly buckets: number;
  readonly alpha: number;
  /**
   * Bucket index of the first write of the current run: set by the first write and reset by a
   * write after a whole window without any. Averages never reach back before it, so a service
   * that started 6 s ago is averaged over 6 s, not diluted over 60.
   */
  firstWrite: number;
}

export class MetricSeries {
  readonly #bucketMs: number;
  readonly #aggregation: Aggregation;
  /** Ring buffer: bucket index b lives in slot b mod length. */
  readonly #values: Float64Array;
  readonly #stable: WindowTrack;
  readonly #panic: WindowTrack;
  /** Bucket index of the newest write; undefined before the first. */
  #lastWrite: number | undefined;

  constructor(options: MetricSeriesOptions) {
    const bucketMs = options.bucketMs ?? DEFAULT_BUCKET_MS;
    if (!Number.isInteger(bucketMs) || bucketMs <= 0) {
      throw new ZeroscaleError('INVALID_WINDOW', `bucketMs must be a positive integer, got ${bucketMs}`);
    }
    if (!(options.stableWindowMs >= bucketMs) || !Number.isFinite(options.stableWindowMs)) {
      throw new ZeroscaleError(
        'INVALID_WINDOW',
        `stableWindowMs must be at least one bucket (${bucketMs} ms), got ${options.stableWindowMs}`,
      );
    }
    if (!(options.panicWindowMs > 0) || options.panicWindowMs > options.stableWindowMs) {
      throw new ZeroscaleError(
        'INVALID_WINDOW',
        `panicWindowMs must be in (0, stableWindowMs = ${options.stableWindowMs}], got ${options.panicWindowMs}`,
      );
    }
    this.#bucketMs = bucketMs;
    this.#aggregation = options.aggregation ?? 'linear';
    // 60 s / 1 s = 60 buckets; a window that is not a whole number of buckets rounds up.
    const stableBuckets = Math.ceil(options.stableWindowMs / bucketMs);
    const panicBuckets = Math.min(stableBuckets, Math.ceil(options.panicWindowMs / bucketMs));
    this.#values = new Float64Array(stableBuckets);
    this.#stable = { buckets: stableBuckets, alpha: smoothingCoefficient(stableBuckets), firstWrite: 0 };
    this.#panic = { buckets: panicBuckets, alpha: smoothingCoefficient(panicBuckets), firstWrite: 0 };
    this.#lastWrite = undefined;
  }

  /** Number of buckets held: the whole memory of the series. */
  get capacity(): number {
    return this.#values.length;
  }

  /**
   * Adds `value` to the bucket of `atMs`. Several reports in one second add up, so that a bucket
   * holds the service total: pods 3 + 4 and the activator 2 in the same second make 9.
   */
  record(atMs: number, value: number): RecordOutcome {
    if (!Number.isFinite(value) || value < 0 || !Number.isFinite(atMs)) return 'invalid-value';
    const bucket = Math.floor(atMs / this.#bucketMs);
    const last = this.#lastWrite;
    if (last === undefined) {
      this.#stable.firstWrite = bucket;
      this.#panic.firstWrite = bucket;
      this.#lastWrite = bucket;
    } else if (bucket > last) {
      this.#advanceTo(last, bucket);
    } else if (last - bucket >= this.#values.length) {
      return 'too-old';
    } else {
      // A late report inside the stable window: it still counts, and may start the run earlier.
      for (const track of [this.#stable, this.#panic]) {
        if (last - bucket < track.buckets && bucket < track.firstWrite) track.firstWrite = bucket;
      }
    }
    this.#values[this.#slot(bucket)]! += value;
    return 'recorded';
  }

  /**
   * Whether anything was written within the stable window. Knative makes no decision without
   * data ("no data" is not "zero load"): a service whose pods are not scraped yet keeps its scale.
   */
  hasData(nowMs: number): boolean {
    const last = this.#lastWrite;
    return last !== undefined && this.#bucketOf(nowMs) - last < this.#stable.buckets;
  }

  stableAverage(nowMs: number): number {
    return this.#average(this.#stable, nowMs);
  }

  panicAverage(nowMs: number): number {
    return this.#average(this.#panic, nowMs);
  }

  /** Both averages, or undefined when there is no data in the stable window. */
  averages(nowMs: number): WindowAverages | undefined {
    if (!this.hasData(nowMs)) return undefined;
    return { stable: this.stableAverage(nowMs), panic: this.panicAverage(nowMs) };
  }

  /** Moves the newest write from `last` to `bucket` > `last`: the buckets in between held no data. */
  #advanceTo(last: number, bucket: number): void {
    const gap = bucket - last;
    // Clear the slots of the skipped seconds and of `bucket` itself: they still hold values from
    // one ring length ago. At most one pass over the ring, however long the gap.
    const clear = Math.min(gap, this.#values.length);
    for (let i = 1; i <= clear; i++) this.#values[this.#slot(last + i)] = 0;
    // A whole window without writes ends the run: the next average starts afresh from here.
    // Stable 60 s, panic 6 s, a 10 s pause: the panic run restarts, the stable run goes on.
    for (const track of [this.#stable, this.#panic]) {
      if (gap >= track.buckets) track.firstWrite = bucket;
    }
    this.#lastWrite = bucket;
  }

  /**
   * The window's buckets run from start = max(firstWrite, max(now, lastWrite) − n + 1) to
   * lastWrite; an empty range (no write for a whole window) gives 0.
   *
   * Linear: their sum divided by their count. Gaps between writes count as 0, but seconds after
   * the last write and before the first do not count at all (Knative's partial windows):
   * - window 60 s, writes of 10 in each of the last 6 s only: 60 / 6 = 10, not 60 / 60 = 1;
   * - window 60 s, 10 in every second until 10 s ago: (50 × 10) / 50 = 10 (the 10 s are cut off);
   * - window 6 s, first write 12 two seconds ago, nothing a second ago, 6 now: (12 + 0 + 6) / 3 = 6.
   *
   * Weighted exponential: Σ_i bucket[last − i] × α × (1 − α)^(i + z), z = seconds since the last
   * write, so silence decays the value. Buckets 10, 10, 5, 5 (newest last) with α = 0.6:
   * 5 × 0.6 + 5 × 0.24 + 10 × 0.096 + 10 × 0.0384 = 5.544, where linear gives 7.5.
   */
  #average(track: WindowTrack, nowMs: number): number {
    const last = this.#lastWrite;
    if (last === undefined) return 0;
    const now = this.#bucketOf(nowMs);
    const start = Math.max(track.firstWrite, Math.max(now, last) - track.buckets + 1);
    if (start > last) return 0;
    if (this.#aggregation === 'linear') {
      let sum = 0;
      for (let b = start; b <= last; b++) sum += this.#values[this.#slot(b)]!;
      return roundAverage(sum / (last - start + 1));
    }
    const alpha = track.alpha;
    const silent = Math.max(0, now - last);
    let weight = alpha * (1 - alpha) ** silent;
    let sum = 0;
    for (let b = last; b >= start; b--) {
      sum += this.#values[this.#slot(b)]! * weight;
      weight *= 1 - alpha;
    }
    return roundAverage(sum);
  }

  #bucketOf(ms: number): number {
    return Math.floor(ms / this.#bucketMs);
  }

  #slot(bucket: number): number {
    const n = this.#values.length;
    return ((bucket % n) + n) % n;
  }
}

/**
 * Rounds to 6 digits so that floating-point noise cannot add a pod: three reports of 0.1 + 0.2 +
 * 0.3 sum to 0.6000000000000001, and with target 0.6 ceil(avg / target) would give 2 instead of
 * 1. Knative truncates (floor) instead; rounding to nearest also avoids turning 4.35 into
 * 4.349999, which is why it is used here.
 */
export function roundAverage(value: number): number {
  const scale = 10 ** AVERAGE_DIGITS;
  return Math.round(value * scale) / scale;
}
