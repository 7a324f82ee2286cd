// 10,000 requests held for a cold service: the queue takes them all, refuses one more with 503,
// reports them in its metrics, costs bounded memory, and serves every one once a pod is ready.
// The clients run in a child process (their sockets would double this process's descriptors).

import { fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { metricValue, request, scrape, startActivatorRig, startPod, waitFor } from './proxy-harness.ts';

const FLOOD = 10_000;
const HOST = 'hello.default.svc';
const client = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'flood-client.ts');
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

describe('activator holding 10,000 requests', () => {
  it('holds them with bounded memory, refuses the next, reports them, then serves them all', {
    timeout: 120_000,
  }, async () => {
    const rig = await startActivatorRig(undefined, { queueDepth: FLOOD, maxQueued: FLOOD });
    cleanups.push(() => rig.close());
    globalThis.gc?.();
    const before = process.memoryUsage();
    const child = fork(client, [String(rig.activator.port), HOST, String(FLOOD)], { stdio: 'inherit' });
    cleanups.push(async () => {
      child.kill();
    });
    const done = new Promise<Record<string, number>>((resolve, reject) => {
      child.on('message', (m: { done?: Record<string, number> }) => {
        if (m.done !== undefined) resolve(m.done);
      });
      child.on('exit', (code) => reject(new Error(`flood client exited with ${code}`)));
    });
    await waitFor('10,000 requests held', () => rig.activator.queued === FLOOD, 90_000);
    const held = process.memoryUsage();

    const refused = await request(rig.activator.port, { host: HOST });
    expect(refused.status).toBe(503);
    const metrics = await scrape(rig.activator.metricsPort);
    expect(metricValue(metrics, 'zeroscale_activator_queued_requests', { service: 'hello' })).toBe(FLOOD);
    expect(metricValue(metrics, 'zeroscale_activator_queued_requests_limit')).toBe(FLOOD);
    // Each is a new connection's only request, without a body: all held as bare connections.
    expect(metricValue(metrics, 'zeroscale_activator_parked_requests')).toBe(FLOOD);
    expect(metricValue(metrics, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(rig.autoscaler.pokes.length).toBe(1);

    // What holding costs this process: sockets, parsers, request objects, queue entries. The
    // bench measures the activator's own RSS; here a loose bound catches a leak-sized regression.
    const heapPerRequest = (held.heapUsed - before.heapUsed) / FLOOD;
    const rssGrowthMb = (held.rss - before.rss) / 1024 / 1024;
    process.stdout.write(
      `holding ${FLOOD}: heap ${Math.round(heapPerRequest)} B/request, rss +${rssGrowthMb.toFixed(1)} MB\n`,
    );
    expect(rssGrowthMb).toBeLessThan(200);

    const pod = await startPod('p1');
    cleanups.push(() => pod.close());
    rig.endpoints.set('default', 'hello', [pod.endpoint]);
    const statuses = await done;
    expect(statuses).toEqual({ '200': FLOOD });
    await waitFor('queue empty', () => rig.activator.queued === 0);
    expect(rig.activator.service('default', 'hello')).toMatchObject({ queued: 0, active: 0 });
  });
});
