import { describe, expect, it } from 'vitest';
import { CoalescingWriter } from '../../src/autoscaler/coalescing-writer.ts';

/** A write whose settlement the test controls. */
function controlledWrites() {
  const calls: { value: number; resolve: () => void; reject: (err: Error) => void }[] = [];
  const write = (value: number) =>
    new Promise<void>((resolve, reject) => {
      calls.push({ value, resolve, reject });
    });
  return { calls, write };
}

const whenChanged = { needsWrite: (next: number, written: number | undefined) => next !== written };
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('CoalescingWriter', () => {
  it('writes a new value, and nothing when it is unchanged', async () => {
    const { calls, write } = controlledWrites();
    const writer = new CoalescingWriter({ write, policy: whenChanged, onError: () => {} });
    writer.offer(3, 0);
    expect(calls.map((c) => c.value)).toEqual([3]);
    calls[0]!.resolve();
    await flush();
    writer.offer(3, 1_000);
    expect(calls).toHaveLength(1);
    expect(writer.written).toBe(3);
  });

  it('never overlaps writes and writes only the newest value offered meanwhile', async () => {
    const { calls, write } = controlledWrites();
    const writer = new CoalescingWriter({ write, policy: whenChanged, onError: () => {} });
    writer.offer(1, 0);
    writer.offer(2, 100);
    writer.offer(5, 200);
    expect(calls.map((c) => c.value)).toEqual([1]);
    calls[0]!.resolve();
    await flush();
    expect(calls.map((c) => c.value)).toEqual([1, 5]);
    calls[1]!.resolve();
    await flush();
    expect(writer.written).toBe(5);
  });

  it('skips the pending value when it equals what was just written', async () => {
    const { calls, write } = controlledWrites();
    const writer = new CoalescingWriter({ write, policy: whenChanged, onError: () => {} });
    writer.offer(4, 0);
    writer.offer(4, 100);
    calls[0]!.resolve();
    await flush();
    expect(calls).toHaveLength(1);
  });

  it('backs off after failures: 1 s, 2 s, 4 s … then writes again', async () => {
    const { calls, write } = controlledWrites();
    const failures: number[] = [];
    const writer = new CoalescingWriter({ write, policy: whenChanged, onError: (_, n) => failures.push(n) });
    writer.offer(7, 0);
    calls[0]!.reject(new Error('apiserver down'));
    await flush();
    writer.offer(7, 999);
    expect(calls).toHaveLength(1);
    writer.offer(7, 1_000);
    expect(calls).toHaveLength(2);
    calls[1]!.reject(new Error('apiserver down'));
    await flush();
    writer.offer(7, 2_999);
    expect(calls).toHaveLength(2);
    writer.offer(7, 3_000);
    expect(calls).toHaveLength(3);
    calls[2]!.resolve();
    await flush();
    expect(failures).toEqual([1, 2]);
    expect(writer.written).toBe(7);
    writer.offer(8, 3_001);
    expect(calls).toHaveLength(4);
  });

  it('treats a write that throws like one that rejects', async () => {
    let calls = 0;
    const failures: number[] = [];
    const writer = new CoalescingWriter<number>({
      write: () => {
        calls++;
        throw new Error('not async');
      },
      policy: whenChanged,
      onError: (_, n) => failures.push(n),
    });
    writer.offer(1, 0);
    await flush();
    expect(writer.inFlight).toBe(false);
    expect(failures).toEqual([1]);
    writer.offer(1, 1_000);
    expect(calls).toBe(2);
  });
});
