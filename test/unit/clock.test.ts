import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.ts';
import { isZeroscaleError, ZeroscaleError } from '../../src/errors.ts';

describe('ManualClock', () => {
  it('moves only when told to', () => {
    const clock = new ManualClock(1_000);
    expect(clock.now()).toBe(1_000);
    clock.advance(250);
    expect(clock.now()).toBe(1_250);
    clock.set(5);
    expect(clock.now()).toBe(5);
  });
});

describe('ZeroscaleError', () => {
  it('carries a stable code, an HTTP status and the cause', () => {
    const cause = new Error('socket hang up');
    const err = new ZeroscaleError('POD_UNREACHABLE', 'pod 10.244.0.5 did not answer', {
      httpStatus: 502,
      cause,
    });
    expect(isZeroscaleError(err, 'POD_UNREACHABLE')).toBe(true);
    expect(isZeroscaleError(err, 'OTHER')).toBe(false);
    expect(err.httpStatus).toBe(502);
    expect(err.cause).toBe(cause);
  });
});
