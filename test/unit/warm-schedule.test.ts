import { describe, expect, it } from 'vitest';
import { type WarmSchedule, warmFloor, warmScheduleProblem } from '../../src/api/warm-schedule.ts';

const at = (iso: string) => Date.parse(iso);
const min = 60_000;
const weekdayMornings: WarmSchedule = {
  cron: '30 8 * * 1-5',
  timeZone: 'Europe/Berlin',
  durationMs: 60 * min,
  minScale: 3,
};
const hourly: WarmSchedule = { cron: '0 * * * *', timeZone: 'UTC', durationMs: 10 * min, minScale: 1 };

describe('warmFloor', () => {
  // 2026-12-03 is a Thursday; Berlin is UTC+1 in December, so 08:30 there is 07:30Z.
  it.each([
    ['well before the window', '2026-12-03T07:00:00Z', 0, undefined, '2026-12-03T07:30:00.000Z'],
    [
      'within the lead before it opens',
      '2026-12-03T07:29:40Z',
      3,
      '2026-12-03T07:30:00.000Z',
      '2026-12-04T07:30:00.000Z',
    ],
    ['while it lasts', '2026-12-03T08:15:00Z', 3, '2026-12-03T07:30:00.000Z', '2026-12-04T07:30:00.000Z'],
    ['after it closed', '2026-12-03T08:30:00Z', 0, undefined, '2026-12-04T07:30:00.000Z'],
    ['on Saturday: the next is Monday', '2026-12-05T09:00:00Z', 0, undefined, '2026-12-07T07:30:00.000Z'],
  ])('%s', (_what, now, floor, start, next) => {
    const f = warmFloor([weekdayMornings], at(now), 30_000);
    expect(f.minScale).toBe(floor);
    expect(f.window === undefined ? undefined : new Date(f.window.startMs).toISOString()).toBe(start);
    expect(new Date(f.nextStartMs!).toISOString()).toBe(next);
  });

  it('follows the time zone across a daylight-saving change', () => {
    // Berlin moves to UTC+2 on 2027-03-28: 08:30 there is then 06:30Z.
    const f = warmFloor([weekdayMornings], at('2027-03-29T06:40:00Z'), 0);
    expect(f.window).toEqual({
      startMs: at('2027-03-29T06:30:00Z'),
      endMs: at('2027-03-29T07:30:00Z'),
      minScale: 3,
    });
  });

  it('takes the highest floor of the windows in force, and the soonest next opening', () => {
    const f = warmFloor([hourly, weekdayMornings], at('2026-12-03T08:05:00Z'), 0);
    expect(f.minScale).toBe(3);
    expect(f.window?.minScale).toBe(3);
    expect(new Date(f.nextStartMs!).toISOString()).toBe('2026-12-03T09:00:00.000Z');
  });

  it('keeps a window already in force when a shorter lead would not yet reach it, and names the one after as next', () => {
    const held = { startMs: at('2026-12-03T07:30:00Z'), endMs: at('2026-12-03T08:30:00Z'), minScale: 3 };
    const f = warmFloor([weekdayMornings], at('2026-12-03T07:29:00Z'), 5_000, held);
    expect(f).toEqual({ minScale: 3, window: held, nextStartMs: at('2026-12-04T07:30:00Z') });
    // Once it closed, it is let go.
    expect(warmFloor([weekdayMornings], at('2026-12-03T08:30:00Z'), 5_000, held).minScale).toBe(0);
  });

  it('has no floor and no next window without schedules', () => {
    expect(warmFloor([], at('2026-12-03T08:05:00Z'), 30_000)).toEqual({
      minScale: 0,
      window: undefined,
      nextStartMs: undefined,
    });
  });
});

describe('warmScheduleProblem', () => {
  it.each([
    ['30 8 * * 1-5', 'Europe/Berlin', undefined],
    ['*/15 * * * *', 'UTC', undefined],
    ['61 * * * *', 'UTC', 'cron "61 * * * *": Invalid value for minute: 61'],
    ['0 0 31 2 *', 'UTC', 'cron "0 0 31 2 *" never fires'],
    ['0 8 * * *', 'Mars/Olympus_Mons', 'unknown time zone "Mars/Olympus_Mons"'],
  ])('%s in %s: %s', (cron, zone, problem) => {
    expect(warmScheduleProblem(cron, zone)).toBe(problem);
  });
});
