import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.ts';
import {
  HeapSettler,
  type SettlePolicy,
  type SettleState,
  settleCheck,
} from '../../src/queue/settle-heap.ts';

const policy: SettlePolicy = { checkMs: 1_000, quietMs: 2_000, againMs: 30_000 };
const fresh: SettleState = { seenActivity: 0, activeAt: 0, settledAt: undefined };

describe('settleCheck', () => {
  const cases: {
    name: string;
    state: SettleState;
    now: number;
    activity: number;
    inFlight: number;
    collect: boolean;
    activeAt: number;
  }[] = [
    {
      name: 'not yet quiet long enough',
      state: fresh,
      now: 1_999,
      activity: 0,
      inFlight: 0,
      collect: false,
      activeAt: 0,
    },
    {
      name: 'quiet for quietMs: the first collection',
      state: fresh,
      now: 2_000,
      activity: 0,
      inFlight: 0,
      collect: true,
      activeAt: 0,
    },
    {
      name: 'a request arrived since the last look',
      state: fresh,
      now: 5_000,
      activity: 1,
      inFlight: 0,
      collect: false,
      activeAt: 5_000,
    },
    {
      name: 'a request still in flight',
      state: fresh,
      now: 5_000,
      activity: 0,
      inFlight: 1,
      collect: false,
      activeAt: 5_000,
    },
    {
      name: 'already collected in this quiet period',
      state: { seenActivity: 0, activeAt: 0, settledAt: 2_000 },
      now: 20_000,
      activity: 0,
      inFlight: 0,
      collect: false,
      activeAt: 0,
    },
    {
      name: 'the quiet has lasted againMs since the last collection',
      state: { seenActivity: 0, activeAt: 0, settledAt: 2_000 },
      now: 32_000,
      activity: 0,
      inFlight: 0,
      collect: true,
      activeAt: 0,
    },
    {
      name: 'quiet again after traffic: collected again without waiting againMs',
      state: { seenActivity: 7, activeAt: 10_000, settledAt: 2_000 },
      now: 12_000,
      activity: 7,
      inFlight: 0,
      collect: true,
      activeAt: 10_000,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const { state, collect } = settleCheck(c.state, c.now, c.activity, c.inFlight, policy);
      expect(collect).toBe(c.collect);
      expect(state.activeAt).toBe(c.activeAt);
      if (collect) expect(state.settledAt).toBe(c.now);
    });
  }
});

describe('HeapSettler', () => {
  it('collects once the pod goes quiet, not while requests arrive, and again every againMs of quiet', () => {
    const clock = new ManualClock(0);
    let arrivals = 0;
    let inFlight = 0;
    let collections = 0;
    const settler = new HeapSettler({
      clock,
      collect: () => collections++,
      activity: () => arrivals,
      inFlight: () => inFlight,
      policy,
    });
    settler.start();
    // Busy for 10 s: a request every 500 ms.
    for (let t = 0; t < 10_000; t += 500) {
      arrivals++;
      clock.advance(500);
    }
    expect(collections).toBe(0);
    // One long request: in flight, no arrivals, still no collection.
    inFlight = 1;
    clock.advance(5_000);
    expect(collections).toBe(0);
    inFlight = 0;
    clock.advance(3_000);
    expect(collections).toBe(1); // at 17 s: 2 s after the last look that saw the request
    clock.advance(28_000);
    expect(collections).toBe(1);
    clock.advance(2_000);
    expect(collections).toBe(2);
    expect(settler.settles).toBe(2);
    settler.stop();
    clock.advance(120_000);
    expect(collections).toBe(2);
    expect(clock.pendingTimers).toBe(0);
  });
});
