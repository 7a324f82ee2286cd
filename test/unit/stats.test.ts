import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.ts';
import { RequestStats, type StatsReport } from '../../src/dataplane/stats.ts';

const t0 = 1_700_000_000_000;

type Event =
  | { readonly at: number; readonly start: 'direct' | 'proxied' }
  | { readonly at: number; readonly finish: 'direct' | 'proxied' }
  | { readonly at: number; readonly report: true };

interface Case {
  readonly name: string;
  readonly events: readonly Event[];
  /** One entry per `report` event, only the fields that matter for the case. */
  readonly reports: readonly Partial<StatsReport>[];
}

const start = (at: number, kind: 'direct' | 'proxied' = 'direct'): Event => ({ at, start: kind });
const finish = (at: number, kind: 'direct' | 'proxied' = 'direct'): Event => ({ at, finish: kind });
const report = (at: number): Event => ({ at, report: true });

const cases: readonly Case[] = [
  {
    name: 'an idle second',
    events: [report(t0 + 1000)],
    reports: [{ intervalMs: 1000, averageConcurrency: 0, requestCount: 0, requestsPerSecond: 0 }],
  },
  {
    name: 'one request for the whole second',
    events: [start(t0), report(t0 + 1000)],
    reports: [{ averageConcurrency: 1, requestCount: 1, requestsPerSecond: 1 }],
  },
  {
    name: 'one request for half the second averages 0.5',
    events: [start(t0 + 250), finish(t0 + 750), report(t0 + 1000)],
    reports: [{ averageConcurrency: 0.5, requestCount: 1 }],
  },
  {
    name: 'overlapping requests: 1000 ms + 500 ms over 1000 ms is 1.5',
    events: [start(t0), start(t0 + 500), report(t0 + 1000)],
    reports: [{ averageConcurrency: 1.5, requestCount: 2 }],
  },
  {
    name: 'proxied requests are counted in the totals and on their own',
    events: [start(t0, 'proxied'), start(t0 + 500), finish(t0 + 750, 'proxied'), report(t0 + 1000)],
    reports: [
      {
        averageConcurrency: 1.25,
        averageProxiedConcurrency: 0.75,
        requestCount: 2,
        proxiedRequestCount: 1,
        requestsPerSecond: 2,
        proxiedRequestsPerSecond: 1,
      },
    ],
  },
  {
    name: 'a long request counts in every interval it spans, but arrives in only one',
    events: [start(t0 + 500), report(t0 + 1000), report(t0 + 2000), finish(t0 + 2500), report(t0 + 3000)],
    reports: [
      { averageConcurrency: 0.5, requestCount: 1 },
      { averageConcurrency: 1, requestCount: 0 },
      { averageConcurrency: 0.5, requestCount: 0 },
    ],
  },
  {
    name: 'requests that start and end in the same ms add to the count, not to concurrency',
    events: [
      ...Array.from({ length: 10 }, (_, i) => [start(t0 + 100 * i), finish(t0 + 100 * i)]).flat(),
      report(t0 + 1000),
    ],
    reports: [{ averageConcurrency: 0, requestCount: 10, requestsPerSecond: 10 }],
  },
  {
    name: 'rate is per second of the actual interval',
    events: [
      start(t0),
      finish(t0),
      start(t0 + 10),
      finish(t0 + 10),
      start(t0 + 20),
      start(t0 + 30),
      report(t0 + 2000),
    ],
    reports: [{ intervalMs: 2000, requestCount: 4, requestsPerSecond: 2 }],
  },
  {
    name: 'a zero-length interval reports the current concurrency and no rate',
    events: [start(t0), start(t0), report(t0 + 1000), report(t0 + 1000)],
    reports: [
      { intervalMs: 1000, averageConcurrency: 2 },
      { intervalMs: 0, averageConcurrency: 2, requestCount: 0, requestsPerSecond: 0 },
    ],
  },
  {
    name: 'a clock that steps back credits nothing for the lost time',
    // 0 in flight until +500; the request then runs while the clock reads +300..+500, which is
    // not counted; from +500 to +1000 nothing is in flight.
    events: [start(t0 + 500), finish(t0 + 300), report(t0 + 1000)],
    reports: [{ intervalMs: 1000, averageConcurrency: 0, requestCount: 1 }],
  },
];

describe('RequestStats', () => {
  it.each(cases)('$name', ({ events, reports }) => {
    const clock = new ManualClock(t0);
    const stats = new RequestStats(clock);
    const got: StatsReport[] = [];
    for (const event of events) {
      clock.set(event.at);
      if ('start' in event) stats.requestStarted(event.start === 'proxied');
      else if ('finish' in event) stats.requestFinished(event.finish === 'proxied');
      else got.push(stats.report());
    }
    expect(got).toHaveLength(reports.length);
    reports.forEach((expected, i) => {
      expect(got[i]).toMatchObject(expected);
    });
  });

  it('tracks the requests in flight now', () => {
    const stats = new RequestStats(new ManualClock(t0));
    stats.requestStarted(true);
    stats.requestStarted(false);
    stats.requestFinished(false);
    expect(stats.concurrency).toBe(1);
    expect(stats.proxiedConcurrency).toBe(1);
  });

  it.each([
    { name: 'nothing in flight', starts: [], finish: false },
    { name: 'no proxied request in flight', starts: [false], finish: true },
  ])('refuses a finish without a start: $name', ({ starts, finish: proxied }) => {
    const stats = new RequestStats(new ManualClock(t0));
    for (const p of starts) stats.requestStarted(p);
    expect(() => stats.requestFinished(proxied)).toThrow(
      expect.objectContaining({ code: 'STATS_UNDERFLOW' }),
    );
  });
});
