import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { WorkQueue } from '../../src/kube/workqueue.ts';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('WorkQueue', () => {
  it('collapses duplicate keys that wait in the queue', async () => {
    const seen: string[] = [];
    const gate = deferred();
    const q = new WorkQueue({ name: 't', workers: 1, maxLength: 10 }, async (k) => {
      seen.push(k);
      if (k === 'block') await gate.promise;
      return undefined;
    });
    q.start();
    q.add('block');
    q.add('a');
    q.add('a');
    q.add('a');
    gate.resolve();
    await q.idle();
    expect(seen).toEqual(['block', 'a']);
  });

  it('never runs one key on two workers, and re-runs a key that changed while it ran', async () => {
    let concurrent = 0;
    let maxConcurrent = 0;
    let runs = 0;
    const gate = deferred();
    const q = new WorkQueue({ name: 't', workers: 4, maxLength: 10 }, async () => {
      runs++;
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      if (runs === 1) await gate.promise;
      concurrent--;
      return undefined;
    });
    q.start();
    q.add('k');
    await new Promise((r) => setImmediate(r));
    q.add('k'); // arrives while the first run is in progress
    q.add('k');
    gate.resolve();
    await q.idle();
    expect(maxConcurrent).toBe(1);
    expect(runs).toBe(2);
  });

  it('retries a failing key with back-off and counts errors', async () => {
    const registry = new Registry();
    let attempts = 0;
    const done = deferred();
    const q = new WorkQueue(
      { name: 'retry', workers: 1, maxLength: 10, baseBackoffMs: 1, registry },
      async () => {
        attempts++;
        if (attempts < 3) throw new Error('conflict');
        done.resolve();
        return undefined;
      },
    );
    q.start();
    q.add('k');
    await done.promise;
    const errors = await registry.getSingleMetric('zeroscale_reconcile_errors_total')?.get();
    expect(errors?.values[0]?.value).toBe(2);
    q.stop();
  });

  it('drops adds beyond its bound and counts them', async () => {
    const registry = new Registry();
    const gate = deferred();
    const q = new WorkQueue({ name: 'bounded', workers: 1, maxLength: 2, registry }, async () => {
      await gate.promise;
      return undefined;
    });
    q.start();
    for (const k of ['running', 'a', 'b', 'c', 'd']) q.add(k);
    expect(q.length).toBe(2);
    const dropped = await registry.getSingleMetric('zeroscale_workqueue_dropped_total')?.get();
    expect(dropped?.values[0]?.value).toBe(2);
    gate.resolve();
    await q.idle();
  });

  it('requeues after the delay the processor asks for', async () => {
    let runs = 0;
    const twice = deferred();
    const q = new WorkQueue({ name: 't', workers: 1, maxLength: 10 }, async () => {
      runs++;
      if (runs === 2) twice.resolve();
      return runs === 1 ? { requeueAfterMs: 5 } : undefined;
    });
    q.start();
    q.add('k');
    await twice.promise;
    expect(runs).toBe(2);
    q.stop();
  });
});
