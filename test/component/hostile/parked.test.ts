// Hostile clients of requests held as bare connections (activator/parked.ts): a cold service's
// first requests wait before Node's parser is attached, so the activator's own code owns those
// sockets. Clients that leave in every way, pipeline floods, junk after the head and silent
// connections each get their answer or are forgotten at once, and nothing is left behind.

import { beforeAll, describe, expect, it } from 'vitest';
import {
  COLD,
  errorCode,
  type HostileRig,
  metricValue,
  RawClient,
  raw,
  scrape,
  statuses,
  useHostileRig,
  waitFor,
} from './rig.ts';

const suite = useHostileRig();
let rig: HostileRig;
beforeAll(() => {
  rig = suite.rig();
});

const head = (path = '/'): string => `GET ${path} HTTP/1.1\r\nHost: ${COLD}\r\n\r\n`;
const cold = (): { queued: number; active: number } | undefined =>
  rig.activator.activator.service('default', 'cold');

async function parked(): Promise<number> {
  const text = await scrape(rig.activator.activator.metricsPort);
  return metricValue(text, 'zeroscale_activator_parked_requests') ?? -1;
}

async function parkClients(n: number): Promise<RawClient[]> {
  const clients: RawClient[] = [];
  for (let i = 0; i < n; i++) {
    const c = await RawClient.open(rig.activator.activator.port);
    c.write(head(`/${i}`));
    clients.push(c);
  }
  await waitFor(`${n} parked`, async () => (await parked()) === n);
  return clients;
}

describe('parked requests under hostile clients', () => {
  it('forgets clients that reset, close or half-close while parked, at once', async () => {
    const clients = await parkClients(60);
    for (const [i, c] of clients.entries()) {
      if (i % 3 === 0) c.reset();
      else if (i % 3 === 1) c.destroy();
      else c.socket.end();
    }
    // Their deadline is 30 s: each leaving is seen as it happens.
    await waitFor('all forgotten', () => cold()?.queued === 0, 3_000);
    expect(await parked()).toBe(0);
    for (const c of clients) c.destroy();
    await rig.settled();
  });

  it('answers a flood pipelined behind a parked request 503 pipeline-flood and closes', async () => {
    const c = await RawClient.open(rig.activator.activator.port);
    c.write(head());
    await waitFor('parked', async () => (await parked()) === 1);
    c.write(Buffer.from(head().repeat(1_000)));
    const { data, closed } = await c.untilClosed();
    expect(closed).toBe(true);
    expect(statuses(data)).toEqual([503]);
    expect(errorCode(data)).toBe('PIPELINE_FLOOD');
    c.destroy();
    await rig.settled();
  });

  it('keeps junk sent after a parked head for Node, which refuses it when the service wakes', async () => {
    const c = await RawClient.open(rig.activator.activator.port);
    c.write(head());
    await waitFor('parked', async () => (await parked()) === 1);
    c.write('\u0000\u0001junk that is not HTTP\r\n\r\n');
    // Still parked (the junk is read and kept, not parsed): the client is not left hanging on
    // anything but the cold service, and its leaving is still seen.
    await waitFor('junk read', async () => (await parked()) === 1);
    c.reset();
    await waitFor('forgotten', () => cold()?.queued === 0, 3_000);
    await rig.settled();
  });

  it('answers silent connections 408 at the headers timeout, while serving others', async () => {
    const silent = await Promise.all(
      Array.from({ length: 100 }, () => RawClient.open(rig.activator.activator.port)),
    );
    const answers = await Promise.all(silent.map((c) => c.untilClosed()));
    for (const a of answers) expect(statuses(a.data)).toEqual([408]);
    for (const c of silent) c.destroy();
    await rig.settled();
  });

  it('refuses smuggling-shaped heads for a cold service the ordinary way (400, never parked)', async () => {
    for (const bytes of [
      `GET / HTTP/1.1\r\nHost: ${COLD}\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\n`,
      `GET / HTTP/1.1\r\nHost: ${COLD}\r\nHost: other\r\n\r\n`,
      `GET / HTTP/1.1\r\nHost: ${COLD}\r\nX-A: b\r\n c\r\n\r\n`,
    ]) {
      const { data } = await raw(rig.activator.activator.port, bytes);
      expect(statuses(data), JSON.stringify(bytes)).toEqual([400]);
    }
    expect(await parked()).toBe(0);
    await rig.settled();
  });
});
