// The keep-alive/pre-warm policies the replay compares. Each says, at the start of an idle period,
// when a pod is up after it: spans [loadMs, endMs) from the idle start, with the moment the pod is
// ready inside. Ours is the autoscaler's own code (src/autoscaler/scaling/idle-windows.ts).

import {
  adviseIdle,
  IDLE_RANGE_MS,
  IdleHistogram,
  IdlePlanner,
  loadAtMs,
  type WarmSpan,
  warmSpans,
} from '../../src/autoscaler/scaling/idle-windows.ts';

export interface PodSpan {
  /** When the pod is asked for, from the idle start (0: it was never let go). */
  readonly loadMs: number;
  /** When it is ready: loadMs for a kept pod, loadMs + the cold start for a started one. */
  readonly warm: boolean;
  readonly endMs: number;
}

export interface IdlePolicy {
  readonly name: string;
  /** Spans for the idle period starting now (what the policy knows before it ends). */
  spans(): readonly PodSpan[];
  /** The idle period ended after `idleMs`. */
  observe(idleMs: number): void;
}

const MINUTE = 60_000;

/** A pod kept for a fixed time after the last request: Knative (60 s stable window), Lambda (10 min). */
export function fixedKeepAlive(name: string, keepMs: number): () => IdlePolicy {
  const spans: readonly PodSpan[] = [{ loadMs: 0, warm: true, endMs: keepMs }];
  return () => ({ name, spans: () => spans, observe: () => undefined });
}

/**
 * The hybrid histogram policy as the paper gives it: 1-minute bins over 4 hours; representative
 * when the bin counts' coefficient of variation is at least 2 (and at least 10 idle times seen);
 * then pre-warm at the 5th percentile less 10 % and keep until the 99th plus 10 %, a pre-warm of
 * 0 meaning a keep-alive after the request. Not representative: keep-alive for the whole range.
 * Mostly out of range: the paper forecasts the next idle time with ARIMA; here the mean of the
 * last five out-of-range idle times, with a ±15 % window (a simplification, said in the README).
 */
export function hybridHistogram(): IdlePolicy {
  const BINS = IDLE_RANGE_MS / MINUTE;
  const counts = new Float64Array(BINS);
  let inRange = 0;
  const outOfRange: number[] = [];
  let outOfRangeCount = 0;
  let spans: readonly PodSpan[] = [{ loadMs: 0, warm: true, endMs: IDLE_RANGE_MS }];
  const plan = (): readonly PodSpan[] => {
    const total = inRange + outOfRangeCount;
    if (total >= 10 && outOfRangeCount > 0.5 * total) {
      const recent = outOfRange.slice(-5);
      const predicted = recent.reduce((a, b) => a + b, 0) / recent.length;
      return [{ loadMs: 0.85 * predicted, warm: false, endMs: 1.15 * predicted }];
    }
    if (inRange < 10 || coefficientOfVariation(counts) < 2) {
      return [{ loadMs: 0, warm: true, endMs: IDLE_RANGE_MS }];
    }
    const head = quantileBin(counts, inRange, 0.05) * MINUTE; // lower edge of the bin
    const tail = (quantileBin(counts, inRange, 0.99) + 1) * MINUTE; // upper edge
    const prewarm = 0.9 * head;
    const keepAlive = 1.1 * tail - prewarm;
    return prewarm === 0
      ? [{ loadMs: 0, warm: true, endMs: keepAlive }]
      : [{ loadMs: prewarm, warm: false, endMs: prewarm + keepAlive }];
  };
  return {
    name: 'hybrid histogram (Shahrad et al. 2020)',
    spans: () => spans,
    observe(idleMs) {
      if (idleMs >= IDLE_RANGE_MS) {
        outOfRange.push(idleMs);
        if (outOfRange.length > 5) outOfRange.shift();
        outOfRangeCount++;
      } else {
        counts[Math.floor(idleMs / MINUTE)]! += 1;
        inRange++;
      }
      spans = plan();
    },
  };
}

function coefficientOfVariation(counts: Float64Array): number {
  let sum = 0;
  for (const c of counts) sum += c;
  const mean = sum / counts.length;
  let sq = 0;
  for (const c of counts) sq += (c - mean) ** 2;
  return mean === 0 ? 0 : Math.sqrt(sq / counts.length) / mean;
}

function quantileBin(counts: Float64Array, total: number, q: number): number {
  let acc = 0;
  for (let k = 0; k < counts.length; k++) {
    acc += counts[k]!;
    if (acc >= q * total) return k;
  }
  return counts.length - 1;
}

/**
 * Ours, as the autoscaler runs it: the histogram, planner and spans of idle-windows.ts with the
 * lead the live path uses (1.5 × the measured cold start); without spans (mostly out of range),
 * Knative's fixed keep-alive, which is what the KPA does then.
 */
export function predictive(coldStartMs: number, kpaKeepMs: number): () => IdlePolicy {
  return () => {
    const histogram = new IdleHistogram();
    const planner = new IdlePlanner();
    const leadMs = 1.5 * coldStartMs;
    const kpa: readonly PodSpan[] = [{ loadMs: 0, warm: true, endMs: kpaKeepMs }];
    let spans = kpa;
    let version = -1;
    return {
      name: 'zeroscale predictive',
      spans() {
        if (histogram.version === version) return spans;
        version = histogram.version;
        const warm = warmSpans(planner.plan(histogram, leadMs));
        spans =
          warm === undefined
            ? kpa
            : warm.map((s) => ({ loadMs: loadAtMs(s, leadMs), warm: s.startMs === 0, endMs: s.endMs }));
        if (warm !== undefined) checkAdvice(warm, spans, leadMs);
        return spans;
      },
      observe: (idleMs) => histogram.add(idleMs),
    };
  };
}

/** The spans replayed are exactly where the live path's adviseIdle says 'warm' (checked on each change). */
function checkAdvice(warm: readonly WarmSpan[], spans: readonly PodSpan[], leadMs: number): void {
  for (const s of spans) {
    if (adviseIdle(warm, s.loadMs, leadMs) !== 'warm' || adviseIdle(warm, s.endMs, leadMs) === 'warm') {
      throw new Error('the replay and the live advice disagree');
    }
  }
}
