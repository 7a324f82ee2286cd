import { describe, expect, it } from 'vitest';
import { ManualClock, sleep, systemClock } from '../../src/clock.ts';
import { isZeroscaleError, ZeroscaleError } from '../../src/errors.ts';

describe('ManualClock', () => {
  it('moves only when told to', () => {
    const clock = new ManualClock(1_000);
    expect(clock.now()).toBe(1_000);
    clock.advance(250);
    expect(clock.now()).toBe(1_250);
    clock.set(5);
    expect(clock.now()).toBe(5);
    expect(clock.monotonicNow()).toBe(5);
  });

  it('fires due timers in time order, each with the clock at its time, and not the others', () => {
    const clock = new ManualClock(1_000);
    const fired: string[] = [];
    const at = (name: string) => () => fired.push(`${name}@${clock.now()}`);
    clock.setTimeout(at('c'), 30);
    clock.setTimeout(at('a'), 10);
    clock.setTimeout(at('b'), 10);
    const late = clock.setTimeout(at('late'), 100);
    clock.advance(9);
    expect(fired).toEqual([]);
    clock.advance(21);
    expect(fired).toEqual(['a@1010', 'b@1010', 'c@1030']);
    expect(clock.now()).toBe(1_030);
    clock.clearTimeout(late);
    clock.advance(1_000);
    expect(fired).toHaveLength(3);
    expect(clock.pendingTimers).toBe(0);
  });

  it('repeats an interval until cleared, and fires a timer set by a timer within the same advance', () => {
    const clock = new ManualClock(0);
    const fired: number[] = [];
    const every = clock.setInterval(() => fired.push(clock.now()), 100);
    clock.setTimeout(() => clock.setTimeout(() => fired.push(-clock.now()), 50), 120);
    clock.advance(350);
    expect(fired).toEqual([100, -170, 200, 300]);
    clock.clearInterval(every);
    clock.advance(1_000);
    expect(fired).toHaveLength(4);
  });

  it('tick lets code that awaits a timer set the next one', async () => {
    const clock = new ManualClock(0);
    const woke: number[] = [];
    void (async () => {
      for (let i = 0; i < 3; i++) {
        await sleep(clock, 1_000);
        woke.push(clock.now());
      }
    })();
    await clock.tick(5_000);
    expect(woke).toEqual([1_000, 2_000, 3_000]);
  });
});

describe('systemClock', () => {
  it('schedules real timers', async () => {
    const started = systemClock.monotonicNow();
    await sleep(systemClock, 5);
    expect(systemClock.monotonicNow() - started).toBeGreaterThanOrEqual(4);
    let fired = false;
    const timer = systemClock.setTimeout(() => {
      fired = true;
    }, 1);
    systemClock.clearTimeout(timer);
    await sleep(systemClock, 5);
    expect(fired).toBe(false);
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
