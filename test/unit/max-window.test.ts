import { describe, expect, it } from 'vitest';
import {
  currentMax,
  emptyMaxWindow,
  type MaxWindow,
  maxWindowSlots,
  recordMax,
} from '../../src/autoscaler/scaling/max-window.ts';

const t0 = Date.UTC(2026, 0, 1);

/** Records [offset ms, value] pairs in order into a window of `windowMs`; returns the final window. */
function replay(windowMs: number, records: readonly (readonly [number, number])[]): MaxWindow {
  let window = emptyMaxWindow;
  for (const [at, value] of records) window = recordMax(window, t0 + at, value, windowMs);
  return window;
}

describe('recordMax / currentMax', () => {
  const cases: readonly {
    name: string;
    windowMs: number;
    records: readonly (readonly [number, number])[];
    max: number | undefined;
    entries: number;
  }[] = [
    { name: 'nothing recorded', windowMs: 6_000, records: [], max: undefined, entries: 0 },
    {
      name: 'holds the maximum within the window: 5, 3, 4 → 5',
      windowMs: 6_000,
      records: [
        [0, 5],
        [2_000, 3],
        [4_000, 4],
      ],
      max: 5,
      entries: 2, // the 3 can never be the maximum again once the 4 is in
    },
    {
      name: 'the maximum expires after the window: 5 at 0 s is gone at 6 s → 4',
      windowMs: 6_000,
      records: [
        [0, 5],
        [2_000, 3],
        [4_000, 4],
        [6_000, 1],
      ],
      max: 4,
      entries: 2,
    },
    {
      name: 'two values in one 2 s slot keep the larger: 7 then 2 → 7',
      windowMs: 6_000,
      records: [
        [0, 7],
        [1_000, 2],
      ],
      max: 7,
      entries: 1,
    },
    {
      name: 'a rising value replaces all smaller ones: 1, 2, 3 → one entry',
      windowMs: 6_000,
      records: [
        [0, 1],
        [2_000, 2],
        [4_000, 3],
      ],
      max: 3,
      entries: 1,
    },
    {
      name: 'time running backwards counts as the newest slot',
      windowMs: 6_000,
      records: [
        [4_000, 3],
        [0, 9],
      ],
      max: 9,
      entries: 1,
    },
    {
      name: 'a window shorter than a slot holds within the slot only',
      windowMs: 1_000,
      records: [
        [0, 8],
        [2_000, 1],
      ],
      max: 1,
      entries: 1,
    },
  ];
  it.each(cases)('$name', ({ windowMs, records, max, entries }) => {
    const window = replay(windowMs, records);
    expect(currentMax(window)).toBe(max);
    expect(window).toHaveLength(entries);
  });

  it('stays within ceil(window / 2 s) entries on a falling sequence', () => {
    // A strictly falling sequence is the worst case: every value may still become the maximum.
    const records = Array.from({ length: 100 }, (_, i) => [i * 2_000, 1_000 - i] as const);
    const window = replay(30_000, records);
    expect(window).toHaveLength(maxWindowSlots(30_000));
    expect(currentMax(window)).toBe(1_000 - 99 + 14);
  });

  it('leaves the window it was given unchanged', () => {
    const before = replay(6_000, [[0, 5]]);
    recordMax(before, t0 + 2_000, 9, 6_000);
    expect(before).toEqual([{ slot: Math.floor(t0 / 2_000), value: 5 }]);
  });
});

describe('maxWindowSlots', () => {
  it.each([
    { windowMs: 30_000, expected: 15 },
    { windowMs: 1_000, expected: 1 },
    { windowMs: 3_000, expected: 2 },
    { windowMs: 3_600_000, expected: 1_800 },
  ])('$windowMs ms → $expected slots', ({ windowMs, expected }) => {
    expect(maxWindowSlots(windowMs)).toBe(expected);
  });
});
