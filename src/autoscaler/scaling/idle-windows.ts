// Predictive keep-alive and pre-warm (`spec.scaling.idlePolicy: Predictive`): learn a service's
// idle times (from the end of one burst of requests to the start of the next) in a histogram, and
// from it decide when, after the service goes idle, a pod should be up: kept on after the last
// request, or started again just before the next one is due. Pure; the clock is the caller's.
//
// The anchor is the hybrid histogram policy of "Serverless in the Wild" (Shahrad et al., ATC
// 2020): pre-warm at the 5th percentile of the idle times less 10 %, keep until the 99th plus
// 10 %, with a fixed keep-alive while the histogram is not representative. Ours differs where
// that policy loses (bench/prewarm.ts measures both on one trace):
// - it covers 99 % of the idle times, not the 6 % it leaves to chance at the head and tail;
// - among the window sets that do, it takes the one with the least expected idle pod time, and it
//   may be several windows: a bursty service (short gaps inside a burst, long ones between) keeps
//   its pod through the burst, lets it go, and starts it again before the next burst, where one
//   window from the 5th to the 99th percentile keeps it up the whole time;
// - a pre-warm starts a lead (the service's measured cold start) before the window, so the pod is
//   ready when it opens, not starting;
// - bins are 10 % wide from 1 s (1-minute bins in the paper), so a 20 s timer gets a 2 s window.

/** Bin 0 is [0, 1 s); bin k ≥ 1 is [1 s × RATIO^(k−1), 1 s × RATIO^k). */
const FIRST_EDGE_MS = 1_000;
const RATIO = 1.1;
/** Idle times beyond this are out of range: counted, never in a window (the paper's 4 h). */
export const IDLE_RANGE_MS = 4 * 3_600_000;
const BINS = 1 + Math.ceil(Math.log(IDLE_RANGE_MS / FIRST_EDGE_MS) / Math.log(RATIO));

/** Fewer idle times than this in range: not representative, the fixed policy decides. */
export const MIN_IDLE_SAMPLES = 5;
/** Above this share of idle times out of range, the histogram says little: fixed policy. */
const MAX_OUT_OF_RANGE_SHARE = 0.5;
/** Share of the idle times in range that the windows cover. */
export const COVERAGE = 0.999;
/**
 * The last window is kept this many times longer than the longest idle time it covers: real tails
 * are heavier than a histogram shows (a quieter night, a skipped timer), and the extra time is
 * spent only in the idle periods that would otherwise end in a cold start. Chosen on the trace of
 * bench/prewarm.ts (1 → 2 took cold starts from 1.15 to 0.89 × the hybrid policy's, idle 0.77 → 0.84 ×).
 */
const TAIL_MARGIN = 2;
/** At most this many windows after one idle start (a keep-alive and two pre-warms). */
const MAX_WINDOWS = 3;
/** Counts are halved when their sum passes this: memory is fixed, and old habits fade. */
const DECAY_AT = 1_000;

/** Lower edge of bin `k` in ms. */
export function binStartMs(k: number): number {
  return k === 0 ? 0 : FIRST_EDGE_MS * RATIO ** (k - 1);
}

export function binEndMs(k: number): number {
  return FIRST_EDGE_MS * RATIO ** k;
}

export function binOf(ms: number): number {
  if (ms < FIRST_EDGE_MS) return 0;
  return Math.min(BINS - 1, 1 + Math.floor(Math.log(ms / FIRST_EDGE_MS) / Math.log(RATIO)));
}

/** Idle times of one service: ~100 counters, whatever the traffic. */
export class IdleHistogram {
  readonly counts = new Float64Array(BINS);
  inRange = 0;
  outOfRange = 0;
  /** Changes with every sample, so a plan knows when it is stale. */
  version = 0;

  add(idleMs: number): void {
    if (!(idleMs >= 0)) return;
    if (idleMs >= IDLE_RANGE_MS) this.outOfRange++;
    else {
      this.counts[binOf(idleMs)]! += 1;
      this.inRange++;
    }
    this.version++;
    if (this.inRange + this.outOfRange > DECAY_AT) {
      for (let k = 0; k < BINS; k++) this.counts[k]! /= 2;
      this.inRange /= 2;
      this.outOfRange /= 2;
    }
  }

  /** Samples seen, out of range included (after decay, a weight). */
  get samples(): number {
    return this.inRange + this.outOfRange;
  }
}

/** One span after an idle start during which a pod should be ready: [startMs, endMs) from it. */
export interface WarmSpan {
  readonly startMs: number;
  readonly endMs: number;
}

export type IdlePlan =
  /**
   * Not representative. 'learning': fewer than MIN_IDLE_SAMPLES idle times; the pod is kept for
   * the whole range after each request meanwhile (the hybrid policy's fallback too: paid once, it
   * saves the cold starts of a timer's first periods). 'out-of-range': most idle times are longer
   * than the range; the KPA's own keep-alive decides, as without the policy.
   */
  | { readonly kind: 'fixed'; readonly why: 'learning' | 'out-of-range' }
  | {
      readonly kind: 'learned';
      /** Sorted, disjoint. A first span starting at 0 is a keep-alive; the others are pre-warms. */
      readonly spans: readonly WarmSpan[];
      /** Expected pod time per idle period, ms (pre-warm leads included). */
      readonly expectedIdleMs: number;
    };

/**
 * The windows for a histogram, given the lead a pre-warm needs (the cold start). Keep-alive from
 * 0 when a pre-warm could not be in time anyway (its start is within the lead).
 */
export function planIdle(hist: IdleHistogram, leadMs: number): IdlePlan {
  if (hist.inRange < MIN_IDLE_SAMPLES) return { kind: 'fixed', why: 'learning' };
  if (hist.outOfRange > MAX_OUT_OF_RANGE_SHARE * hist.samples) return { kind: 'fixed', why: 'out-of-range' };
  const mass = new Mass(hist);
  const allowed = (1 - COVERAGE) * hist.inRange;

  // The cheapest single window [i, j] leaving at most `allowed` uncovered at the two ends.
  let best: { i: number; j: number; cost: number } | undefined;
  let below = 0;
  for (let i = 0; i < BINS; i++) {
    if (below > allowed) break;
    // Smallest j with mass above j within what the head left.
    let above = hist.inRange - below;
    let j = i - 1;
    while (j < BINS - 1 && above > allowed - below + 1e-9) {
      j++;
      above -= hist.counts[j]!;
    }
    if (j >= i) {
      const cost = mass.spanCost(i, j, leadMs);
      if (best === undefined || cost < best.cost) best = { i, j, cost };
    }
    below += hist.counts[i]!;
  }
  if (best === undefined) return { kind: 'fixed', why: 'learning' };

  // Cut the longest empty stretches out of it while that lowers the cost.
  let spans: { i: number; j: number }[] = [{ i: best.i, j: best.j }];
  let cost = best.cost;
  while (spans.length < MAX_WINDOWS) {
    let improved: { spans: { i: number; j: number }[]; cost: number } | undefined;
    for (let s = 0; s < spans.length; s++) {
      const { i, j } = spans[s]!;
      for (let g = i + 1; g < j; g++) {
        if (hist.counts[g] !== 0) continue;
        let h = g;
        while (h + 1 < j && hist.counts[h + 1] === 0) h++;
        const left = { i, j: g - 1 };
        const right = { i: h + 1, j };
        // The pod must be down between the two, or the cut saves nothing.
        if (binStartMs(right.i) - leadMs > binEndMs(left.j)) {
          const candidate = [...spans.slice(0, s), left, right, ...spans.slice(s + 1)];
          const c = mass.setCost(candidate, leadMs);
          if (c < (improved?.cost ?? cost)) improved = { spans: candidate, cost: c };
        }
        g = h;
      }
    }
    if (improved === undefined) break;
    spans = improved.spans;
    cost = improved.cost;
  }
  return {
    kind: 'learned',
    spans: spans.map(({ i, j }, n) => {
      const span = toSpan(i, j, leadMs);
      return n === spans.length - 1 ? { startMs: span.startMs, endMs: span.endMs * TAIL_MARGIN } : span;
    }),
    expectedIdleMs: cost / hist.samples,
  };
}

function toSpan(i: number, j: number, leadMs: number): WarmSpan {
  const startMs = binStartMs(i);
  return { startMs: startMs <= leadMs ? 0 : startMs, endMs: binEndMs(j) };
}

/** Prefix sums of the histogram, for the expected pod time of a window in O(1). */
class Mass {
  readonly #count: Float64Array;
  /** Σ count × representative time, bins < k. */
  readonly #time: Float64Array;
  readonly #total: number;
  /** Idle times past the range: every window's pod time is spent on them whole. */
  readonly #outOfRange: number;

  constructor(hist: IdleHistogram) {
    this.#count = new Float64Array(BINS + 1);
    this.#time = new Float64Array(BINS + 1);
    for (let k = 0; k < BINS; k++) {
      const c = hist.counts[k]!;
      this.#count[k + 1] = this.#count[k]! + c;
      this.#time[k + 1] = this.#time[k]! + c * representativeMs(k);
    }
    this.#total = this.#count[BINS]!;
    this.#outOfRange = hist.outOfRange;
  }

  /**
   * Σ over idle times t of the pod time a window spends before t: the pod is up from `load` (the
   * window's start less the lead; 0 for a keep-alive) to min(t, end); nothing when t < load.
   */
  spanCost(i: number, j: number, leadMs: number): number {
    const { startMs, endMs } = toSpan(i, j, leadMs);
    const load = loadAtMs({ startMs, endMs }, leadMs);
    const from = binOf(load) + (load > 0 ? 1 : 0); // bins wholly after the load (approximation)
    const to = j + 1; // bins up to the window's end
    const countIn = this.#count[to]! - this.#count[Math.min(from, to)]!;
    const timeIn = this.#time[to]! - this.#time[Math.min(from, to)]!;
    const after = this.#total - this.#count[to]! + this.#outOfRange;
    return timeIn - load * countIn + (endMs - load) * after;
  }

  setCost(spans: readonly { i: number; j: number }[], leadMs: number): number {
    let cost = 0;
    for (const { i, j } of spans) cost += this.spanCost(i, j, leadMs);
    return cost;
  }
}

function representativeMs(k: number): number {
  return k === 0 ? FIRST_EDGE_MS / 2 : Math.sqrt(binStartMs(k) * binEndMs(k));
}

/** The spans a plan keeps a pod in; undefined when the KPA's own keep-alive decides. */
export function warmSpans(plan: IdlePlan): readonly WarmSpan[] | undefined {
  if (plan.kind === 'learned') return plan.spans;
  return plan.why === 'learning' ? LEARNING_SPANS : undefined;
}

const LEARNING_SPANS: readonly WarmSpan[] = [{ startMs: 0, endMs: IDLE_RANGE_MS }];

/** What the spans ask for `sinceIdleMs` after the service went idle. */
export type IdleAdvice =
  /** A pod should be up (or starting: the pre-warm lead is included). */
  | 'warm'
  /** Between two spans: let it go now, it will be started again before the next. */
  | 'between'
  /** After the last span: let it go now, without waiting out the stable window. */
  | 'release';

/** When a span's pod is asked for: its start less the lead, or at once for a keep-alive. */
export const loadAtMs = (span: WarmSpan, leadMs: number): number =>
  span.startMs === 0 ? 0 : span.startMs - leadMs;

export function adviseIdle(spans: readonly WarmSpan[], sinceIdleMs: number, leadMs: number): IdleAdvice {
  for (const span of spans) {
    if (sinceIdleMs >= loadAtMs(span, leadMs) && sinceIdleMs < span.endMs) return 'warm';
  }
  const last = spans[spans.length - 1];
  return last !== undefined && sinceIdleMs < last.endMs ? 'between' : 'release';
}

/**
 * Turns a service's activity into idle times. `observe(lastActiveMs)` each decision: the newest
 * moment any request was seen (in flight, counted, or held by an activator). An idle time is the
 * gap between the end of one burst and the next activity, at the resolution of the 1 s buckets.
 */
export class IdleTracker {
  readonly histogram = new IdleHistogram();
  #lastActiveMs: number | undefined;
  /** When the current idle period began; undefined while requests are in flight. */
  idleSinceMs: number | undefined;

  /**
   * `lastActiveMs`: the newest bucket with activity (or undefined before any); `quietMs`: how
   * long without activity makes an idle period (a bucket and a report interval).
   */
  observe(lastActiveMs: number | undefined, nowMs: number, quietMs: number): void {
    if (lastActiveMs === undefined) return;
    const previous = this.#lastActiveMs;
    this.#lastActiveMs = lastActiveMs;
    if (previous !== undefined && lastActiveMs > previous && this.idleSinceMs !== undefined) {
      // Activity after an idle period: one sample, from the period's start to this bucket.
      this.histogram.add(lastActiveMs - this.idleSinceMs);
      this.idleSinceMs = undefined;
    }
    if (this.idleSinceMs === undefined && nowMs - lastActiveMs >= quietMs) {
      this.idleSinceMs = lastActiveMs;
    }
  }
}

/**
 * The plan for a histogram, made again only when it is stale: 2 % more samples (at least one)
 * or a lead that moved by over 10 %. So a busy service costs a comparison per decision, and a
 * plan costs ~10⁴ steps a few hundred times over a service's first thousand idle periods.
 */
export class IdlePlanner {
  #plan: IdlePlan = { kind: 'fixed', why: 'learning' };
  #samples = -1;
  #version = -1;
  #leadMs = Number.NaN;

  plan(hist: IdleHistogram, leadMs: number): IdlePlan {
    if (hist.version === this.#version && leadMs === this.#leadMs) return this.#plan;
    const grown =
      hist.samples - this.#samples >= Math.max(1, 0.02 * this.#samples) || hist.samples < this.#samples;
    const moved = !(Math.abs(leadMs - this.#leadMs) <= 0.1 * this.#leadMs);
    if (grown || moved) {
      this.#plan = planIdle(hist, leadMs);
      this.#samples = hist.samples;
      this.#leadMs = leadMs;
    }
    this.#version = hist.version;
    return this.#plan;
  }
}
