// The activator's client of the autoscalers over real sockets on 127.0.0.1: reports and pokes go
// to the leader (its answer is the caller's) and, best effort, to every hot standby.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpAutoscalerClient } from '../../src/activator/http-autoscaler-client.ts';
import {
  type ActivatorReport,
  AUTOSCALER_POKE_PATH,
  AUTOSCALER_STATS_PATH,
} from '../../src/autoscaler/metrics/protocol.ts';

interface FakeAutoscaler {
  readonly url: string;
  readonly received: { path: string; body: unknown }[];
  close(): Promise<void>;
}

const servers: FakeAutoscaler[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

/** An autoscaler's stats server that records each POST and answers `status` after `delayMs`. */
async function fakeAutoscaler(status = 204, delayMs = 0): Promise<FakeAutoscaler> {
  const received: FakeAutoscaler['received'] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url ?? '', body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      setTimeout(() => res.writeHead(status).end(), delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const fake = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  servers.push(fake);
  return fake;
}

/** A port nothing listens on: a listener opened and closed again. */
async function deadUrl(): Promise<string> {
  const s = await fakeAutoscaler();
  await s.close();
  servers.splice(servers.indexOf(s), 1);
  return s.url;
}

const report: ActivatorReport = {
  activator: 'a-0',
  intervalMs: 1_000,
  services: [{ service: 'default/x', averageConcurrency: 2, requestsPerSecond: 3, queued: 1 }],
};

const waitUntil = async (what: string, done: () => boolean): Promise<void> => {
  const end = Date.now() + 5_000;
  while (!done()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('HttpAutoscalerClient', () => {
  it('sends each report and poke to the leader and to every standby', async () => {
    const leader = await fakeAutoscaler();
    const standbys = [await fakeAutoscaler(), await fakeAutoscaler()];
    const client = new HttpAutoscalerClient({
      baseUrl: () => leader.url,
      standbyUrls: () => [...standbys.map((s) => s.url), leader.url],
    });
    await client.report(report);
    await client.poke({ service: 'default/x', activator: 'a-0' });
    await waitUntil('both standbys to get both', () => standbys.every((s) => s.received.length === 2));
    for (const s of [leader, ...standbys]) {
      expect(s.received).toEqual([
        { path: AUTOSCALER_STATS_PATH, body: report },
        { path: AUTOSCALER_POKE_PATH, body: { service: 'default/x', activator: 'a-0' } },
      ]);
    }
    client.close();
  });

  it("answers with the leader's outcome: a dead or slow standby neither fails nor delays it", async () => {
    const leader = await fakeAutoscaler();
    const slow = await fakeAutoscaler(204, 3_000);
    const client = new HttpAutoscalerClient({
      baseUrl: () => leader.url,
      standbyUrls: () => [slow.url, 'http://127.0.0.1:1'],
      timeoutMs: 10_000,
    });
    const started = Date.now();
    await client.report(report);
    expect(Date.now() - started).toBeLessThan(2_000);
    client.close();
  });

  it('rejects naming the path when the leader cannot be reached or refuses', async () => {
    const standby = await fakeAutoscaler();
    const refusing = await fakeAutoscaler(503);
    const gone = new HttpAutoscalerClient({ baseUrl: await deadUrl(), standbyUrls: () => [standby.url] });
    await expect(gone.report(report)).rejects.toMatchObject({
      code: 'AUTOSCALER_UNREACHABLE',
      message: expect.stringContaining(AUTOSCALER_STATS_PATH),
    });
    // The standby still got it: it keeps its history while the leader is gone.
    await waitUntil('the standby to get the report', () => standby.received.length === 1);
    const refused = new HttpAutoscalerClient({ baseUrl: refusing.url });
    await expect(refused.poke({ service: 'default/x', activator: 'a-0' })).rejects.toMatchObject({
      code: 'AUTOSCALER_REFUSED',
      message: expect.stringContaining('503'),
    });
    const unknown = new HttpAutoscalerClient({ baseUrl: () => undefined });
    await expect(unknown.report(report)).rejects.toMatchObject({ code: 'AUTOSCALER_UNKNOWN' });
    for (const c of [gone, refused, unknown]) c.close();
  });
});
