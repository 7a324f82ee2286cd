// A deterministic trace of request arrivals for many services, with the invocation shapes
// "Serverless in the Wild" reports for Azure Functions: timers (periodic, a little jitter), diurnal
// (Poisson whose rate follows the day), bursty (bursts of closely spaced requests, long silences
// between) and rare (a few a day at random). Seeded: the same seed gives the same trace.

export type Shape = 'periodic' | 'diurnal' | 'bursty' | 'rare';

export interface TracedService {
  readonly name: string;
  readonly shape: Shape;
  /** Arrival times, ms from the trace's start, ascending. */
  readonly arrivalsMs: Float64Array;
  /** How long each request runs, ms. */
  readonly durationsMs: Float64Array;
}

export interface TraceOptions {
  readonly seed: number;
  readonly days: number;
  /** Services of each shape. */
  readonly counts: Readonly<Record<Shape, number>>;
}

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** mulberry32: small, fast, good enough for a workload model. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const exponential = (rand: () => number, meanMs: number): number => -meanMs * Math.log(1 - rand());
const pick = <T>(rand: () => number, items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;

export function generateTrace(options: TraceOptions): TracedService[] {
  const rand = random(options.seed);
  const endMs = options.days * DAY;
  const services: TracedService[] = [];
  for (const shape of ['periodic', 'diurnal', 'bursty', 'rare'] as const) {
    for (let n = 0; n < options.counts[shape]; n++) {
      const arrivals = ARRIVALS[shape](rand, endMs);
      const durations = new Float64Array(arrivals.length);
      // Most functions run for well under a second; a tail runs for seconds (the paper's Fig. 7).
      const typical = pick(rand, [50, 100, 300, 1_000, 3_000]);
      for (let i = 0; i < arrivals.length; i++) durations[i] = typical * (0.5 + rand());
      services.push({
        name: `${shape}-${n}`,
        shape,
        arrivalsMs: Float64Array.from(arrivals),
        durationsMs: durations,
      });
    }
  }
  return services;
}

const ARRIVALS: Record<Shape, (rand: () => number, endMs: number) => number[]> = {
  periodic(rand, endMs) {
    // Timers: every 30 s to every hour, each firing within ±1 % of its period.
    const period = pick(rand, [
      30 * SECOND,
      MINUTE,
      2 * MINUTE,
      5 * MINUTE,
      10 * MINUTE,
      15 * MINUTE,
      30 * MINUTE,
      HOUR,
    ]);
    const out: number[] = [];
    for (let t = rand() * period; t < endMs; t += period) out.push(t + (rand() - 0.5) * 0.02 * period);
    return out;
  },
  diurnal(rand, endMs) {
    // Poisson, mean gap 30 s to 20 min at the daily peak, ten times sparser at night (thinning).
    const peakGap = pick(rand, [30 * SECOND, 2 * MINUTE, 5 * MINUTE, 20 * MINUTE]);
    const phase = rand() * DAY;
    const out: number[] = [];
    for (let t = exponential(rand, peakGap); t < endMs; t += exponential(rand, peakGap)) {
      const level = 0.55 + 0.45 * Math.sin((2 * Math.PI * (t + phase)) / DAY);
      if (rand() < Math.max(0.1, level)) out.push(t);
    }
    return out;
  },
  bursty(rand, endMs) {
    // Bursts of 5–40 requests 1–10 s apart, every 10 min to 2 h on average.
    const between = pick(rand, [10 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR]);
    const gap = pick(rand, [SECOND, 3 * SECOND, 10 * SECOND]);
    const out: number[] = [];
    for (let t = exponential(rand, between); t < endMs; t += exponential(rand, between)) {
      const n = 5 + Math.floor(rand() * 36);
      let s = t;
      for (let i = 0; i < n && s < endMs; i++, s += exponential(rand, gap)) out.push(s);
      t = s;
    }
    return out;
  },
  rare(rand, endMs) {
    // A few a day: Poisson with a mean gap of 2 to 12 hours.
    const meanGap = pick(rand, [2 * HOUR, 4 * HOUR, 8 * HOUR, 12 * HOUR]);
    const out: number[] = [];
    for (let t = exponential(rand, meanGap); t < endMs; t += exponential(rand, meanGap)) out.push(t);
    return out;
  },
};
