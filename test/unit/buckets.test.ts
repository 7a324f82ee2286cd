import { describe, expect, it } from 'vitest';
import {
  MetricSeries,
  type MetricSeriesOptions,
  panicWindowMs,
  type RecordOutcome,
  roundAverage,
  smoothingCoefficient,
} from '../../src/autoscaler/scaling/buckets.ts';
import { isZeroscaleError } from '../../src/errors.ts';

// Time is t0 + ms; t0 sits on a whole second so that bucket boundaries are easy to read.
const t0 = Date.UTC(2026, 0, 1);
const s = (seconds: number) => seconds * 1_000;

const defaults: MetricSeriesOptions = { stableWindowMs: s(60), panicWindowMs: s(6) };

/** [offset ms from t0, value] */
type Write = readonly [number, number];

/** `value` once a second for seconds [from, to]. */
function everySecond(from: number, to: number, value: number): Write[] {
  const writes: Write[] = [];
  for (let sec = from; sec <= to; sec++) writes.push([s(sec), value]);
  return writes;
}

function seriesWith(options: MetricSeriesOptions, writes: readonly Write[]): MetricSeries {
  const series = new MetricSeries(options);
  for (const [at, value] of writes) series.record(t0 + at, value);
  return series;
}

interface AverageCase {
  readonly name: string;
  readonly options?: MetricSeriesOptions;
  readonly writes: readonly Write[];
  readonly now: number;
  readonly expected: { readonly stable: number; readonly panic: number; readonly hasData: boolean };
}

const linearCases: readonly AverageCase[] = [
  {
    name: 'no data: nothing written yet',
    writes: [],
    now: 0,
    expected: { stable: 0, panic: 0, hasData: false },
  },
  {
    name: 'one write is a window of one second: 10 / 1',
    writes: [[0, 10]],
    now: 0,
    expected: { stable: 10, panic: 10, hasData: true },
  },
  {
    name: 'reports in the same second add up to the service total: 3 + 4 + 2 = 9',
    writes: [
      [100, 3],
      [500, 4],
      [999, 2],
    ],
    now: 999,
    expected: { stable: 9, panic: 9, hasData: true },
  },
  {
    name: 'a full minute of 10 averages 10 in both windows',
    writes: everySecond(0, 59, 10),
    now: s(59),
    expected: { stable: 10, panic: 10, hasData: true },
  },
  {
    name: 'partial window: 6 s of 10 after start averages over 6 s (10), not over 60 s (1)',
    writes: everySecond(0, 5, 10),
    now: s(5),
    expected: { stable: 10, panic: 10, hasData: true },
  },
  {
    name: 'gaps between writes count as 0: 12, (none), 6 → 18 / 3 = 6',
    writes: [
      [0, 12],
      [s(2), 6],
    ],
    now: s(2),
    expected: { stable: 6, panic: 6, hasData: true },
  },
  {
    name: 'stale data: the window ends at the last write (500 / 50); the panic window saw none',
    writes: everySecond(0, 49, 10),
    now: s(59),
    expected: { stable: 10, panic: 0, hasData: true },
  },
  {
    name: 'a single write 59 s ago still counts, undiluted (Knative: averaged up to the last write)',
    writes: [[0, 10]],
    now: s(59) + 999,
    expected: { stable: 10, panic: 0, hasData: true },
  },
  {
    name: 'no write for a whole window: no data',
    writes: [[0, 10]],
    now: s(60),
    expected: { stable: 0, panic: 0, hasData: false },
  },
  {
    name: 'the ring wraps: 30 s of 10 then 30 s of 20 → 900 / 60 = 15; panic sees only 20',
    writes: [...everySecond(0, 59, 10), ...everySecond(60, 89, 20)],
    now: s(89),
    expected: { stable: 15, panic: 20, hasData: true },
  },
  {
    name: 'a write after a whole window of silence starts afresh: old 100 is gone, 10 / 1',
    writes: [
      [0, 100],
      [s(60), 10],
    ],
    now: s(60),
    expected: { stable: 10, panic: 10, hasData: true },
  },
  {
    name: '11 s pause: the panic run restarts (4 / 1), the stable run goes on (104 / 21)',
    writes: [...everySecond(0, 9, 10), [s(20), 4]],
    now: s(20),
    expected: { stable: 4.952381, panic: 4, hasData: true },
  },
  {
    name: 'a late report inside the window counts and starts the run earlier: 20 / 6',
    writes: [
      [s(10), 10],
      [s(5), 10],
    ],
    now: s(10),
    expected: { stable: 3.333333, panic: 3.333333, hasData: true },
  },
  {
    name: 'now before the last write (clock skew between reporters): the window ends at it',
    writes: [[s(5), 10]],
    now: s(3),
    expected: { stable: 10, panic: 10, hasData: true },
  },
  {
    name: 'floating-point noise is rounded away: 0.1 + 0.2 + 0.3 = 0.6, not 0.6000000000000001',
    writes: [
      [0, 0.1],
      [1, 0.2],
      [2, 0.3],
    ],
    now: 2,
    expected: { stable: 0.6, panic: 0.6, hasData: true },
  },
  {
    name: '2 s buckets: 10 + 20 share a bucket; stable (30 + 0 + 30) / 3; the 2-bucket panic run restarts',
    options: { stableWindowMs: s(10), panicWindowMs: s(4), bucketMs: s(2) },
    writes: [
      [0, 10],
      [s(1), 20],
      [s(4), 30],
    ],
    now: s(5),
    expected: { stable: 20, panic: 30, hasData: true },
  },
];

const weighted = (stableWindowMs: number, panicWindow: number): MetricSeriesOptions => ({
  stableWindowMs,
  panicWindowMs: panicWindow,
  aggregation: 'weighted-exponential',
});

// Panic window 4 buckets → α = 1 − 0.0001^(1/4) = 0.9; stable 60 buckets → α = 0.2 (the floor).
const weightedCases: readonly AverageCase[] = [
  {
    name: 'newest weighs most: 10, 10, 5, 5 → 5×0.9 + 5×0.09 + 10×0.009 + 10×0.0009 = 5.049',
    options: weighted(s(60), s(4)),
    writes: [
      [0, 10],
      [s(1), 10],
      [s(2), 5],
      [s(3), 5],
    ],
    now: s(3),
    // stable: 5×0.2 + 5×0.16 + 10×0.128 + 10×0.1024 = 4.104 (weights of unwritten seconds are lost)
    expected: { stable: 4.104, panic: 5.049, hasData: true },
  },
  {
    name: 'reversed, 5, 5, 10, 10 → 9.9495 (linear would still give 7.5)',
    options: weighted(s(60), s(4)),
    writes: [
      [0, 5],
      [s(1), 5],
      [s(2), 10],
      [s(3), 10],
    ],
    now: s(3),
    expected: { stable: 4.752, panic: 9.9495, hasData: true },
  },
  {
    name: 'a silent second decays every weight by (1 − α): 5×0.09 + 5×0.009 + 10×0.0009 = 0.504',
    options: weighted(s(60), s(4)),
    writes: [
      [0, 10],
      [s(1), 10],
      [s(2), 5],
      [s(3), 5],
    ],
    now: s(4),
    // stable: 5×0.16 + 5×0.128 + 10×0.1024 + 10×0.08192 = 3.2832
    expected: { stable: 3.2832, panic: 0.504, hasData: true },
  },
];

describe('MetricSeries averages', () => {
  it.each([...linearCases, ...weightedCases])('$name', ({ options, writes, now, expected }) => {
    const series = seriesWith(options ?? defaults, writes);
    expect({
      stable: series.stableAverage(t0 + now),
      panic: series.panicAverage(t0 + now),
      hasData: series.hasData(t0 + now),
    }).toEqual(expected);
    expect(series.averages(t0 + now)).toEqual(
      expected.hasData ? { stable: expected.stable, panic: expected.panic } : undefined,
    );
  });
});

describe('MetricSeries.record', () => {
  const cases: readonly {
    name: string;
    writes: readonly Write[];
    write: Write;
    expected: RecordOutcome;
    stableAfter: number;
  }[] = [
    { name: 'first write', writes: [], write: [0, 5], expected: 'recorded', stableAfter: 5 },
    {
      name: 'a late write 50 s behind the newest is still in the stable window',
      writes: [[s(70), 10]],
      write: [s(20), 10],
      expected: 'recorded',
      // the run now starts at 20 s: (10 + 10) / 51
      stableAfter: 0.392157,
    },
    {
      name: 'a write a whole window behind the newest is too old and dropped',
      writes: [[s(70), 10]],
      write: [s(10), 10],
      expected: 'too-old',
      stableAfter: 10,
    },
    {
      name: 'NaN is refused',
      writes: [[0, 4]],
      write: [0, Number.NaN],
      expected: 'invalid-value',
      stableAfter: 4,
    },
    {
      name: 'a negative value is refused',
      writes: [[0, 4]],
      write: [0, -1],
      expected: 'invalid-value',
      stableAfter: 4,
    },
    {
      name: 'infinity is refused',
      writes: [[0, 4]],
      write: [0, Number.POSITIVE_INFINITY],
      expected: 'invalid-value',
      stableAfter: 4,
    },
  ];
  it.each(cases)('$name', ({ writes, write, expected, stableAfter }) => {
    const series = seriesWith(defaults, writes);
    expect(series.record(t0 + write[0], write[1])).toBe(expected);
    const now = Math.max(write[0], ...writes.map(([at]) => at));
    expect(series.stableAverage(t0 + now)).toBe(stableAfter);
  });

  it('keeps memory bounded to the stable window, however long it runs', () => {
    const series = seriesWith(defaults, everySecond(0, 3_600, 7));
    expect(series.capacity).toBe(60);
    expect(series.stableAverage(t0 + s(3_600))).toBe(7);
    expect(new MetricSeries({ stableWindowMs: s(61), panicWindowMs: s(6), bucketMs: s(2) }).capacity).toBe(
      31,
    );
  });
});

describe('MetricSeries options', () => {
  const invalid: readonly { name: string; options: MetricSeriesOptions }[] = [
    {
      name: 'panic window longer than the stable window',
      options: { stableWindowMs: s(6), panicWindowMs: s(7) },
    },
    { name: 'zero panic window', options: { stableWindowMs: s(6), panicWindowMs: 0 } },
    { name: 'stable window shorter than a bucket', options: { stableWindowMs: 500, panicWindowMs: 500 } },
    { name: 'zero bucket', options: { stableWindowMs: s(6), panicWindowMs: s(1), bucketMs: 0 } },
  ];
  it.each(invalid)('refuses $name with INVALID_WINDOW', ({ options }) => {
    let caught: unknown;
    try {
      new MetricSeries(options);
    } catch (err) {
      caught = err;
    }
    expect(isZeroscaleError(caught, 'INVALID_WINDOW')).toBe(true);
  });
});

describe('panicWindowMs', () => {
  it.each([
    { stable: s(60), percentage: 10, expected: s(6) },
    { stable: s(6), percentage: 10, expected: s(1) }, // 0.6 s rounds to 1 s
    { stable: s(10), percentage: 1, expected: s(1) }, // 0.1 s rounds to 0, raised to 1 s
    { stable: s(45), percentage: 15, expected: s(7) }, // 6.75 s
    { stable: s(60), percentage: 100, expected: s(60) },
    { stable: s(3_600), percentage: 10, expected: s(360) },
  ])('$stable ms × $percentage % → $expected ms', ({ stable, percentage, expected }) => {
    expect(panicWindowMs(stable, percentage)).toBe(expected);
  });
});

describe('smoothingCoefficient', () => {
  it.each([
    { buckets: 4, expected: 0.9 },
    { buckets: 6, expected: 0.7846 },
    { buckets: 30, expected: 0.2644 },
    { buckets: 60, expected: 0.2 }, // 0.1423 by the formula, raised to the floor
  ])('$buckets buckets → α = $expected', ({ buckets, expected }) => {
    expect(smoothingCoefficient(buckets)).toBeCloseTo(expected, 4);
  });
});

describe('roundAverage', () => {
  it.each([
    { value: 0.1 + 0.2, expected: 0.3 },
    { value: 4.35, expected: 4.35 },
    { value: 2 / 3, expected: 0.666667 },
    { value: 0, expected: 0 },
  ])('$value → $expected', ({ value, expected }) => {
    expect(roundAverage(value)).toBe(expected);
  });
});
