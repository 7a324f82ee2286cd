import { describe, expect, it } from 'vitest';
import { formatDurationMs, isDuration, parseDurationMs } from '../../src/api/duration.ts';

describe('parseDurationMs', () => {
  const cases: [string, number | undefined][] = [
    ['60s', 60_000],
    ['6s', 6_000],
    ['1m30s', 90_000],
    ['1h', 3_600_000],
    ['1h0m0s', 3_600_000],
    ['500ms', 500],
    ['1.5s', 1_500],
    ['250us', 0.25],
    ['1000000ns', 1],
    ['0', 0],
    ['0s', 0],
    ['', undefined],
    ['60', undefined],
    ['-1s', undefined],
    ['+1s', undefined],
    ['1 s', undefined],
    ['1d', undefined],
    ['.5s', undefined],
    ['s', undefined],
    [`${'1'.repeat(40)}s`, undefined],
  ];
  it.each(cases)('%j → %s', (text, expected) => {
    expect(parseDurationMs(text)).toBe(expected);
    expect(isDuration(text)).toBe(expected !== undefined);
  });
});

describe('formatDurationMs', () => {
  const cases: [number, string][] = [
    [0, '0s'],
    [1_500, '1.5s'],
    [60_000, '1m'],
    [90_000, '1m30s'],
    [3_600_000, '1h'],
    [3_723_000, '1h2m3s'],
  ];
  it.each(cases)('%d → %s, and back', (ms, text) => {
    expect(formatDurationMs(ms)).toBe(text);
    expect(parseDurationMs(text)).toBe(ms);
  });
});
