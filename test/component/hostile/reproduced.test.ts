// The attacks of issue 11 that broke the data plane, each against the queue-proxy alone and
// through the activator: what the client gets, and that everything returns to its baseline.

import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestQueueProxy } from '../proxy-harness.ts';
import {
  COLD,
  DIRECT,
  errorCode,
  expectHealthy,
  GOOD,
  type HostileRig,
  hasResponses,
  hostileTargets,
  LOOPBACK,
  metricValue,
  RawClient,
  raw,
  request,
  resetAfterBody,
  scrape,
  statuses,
  type Target,
  TEST_TOKEN,
  useHostileRig,
  waitFor,
} from './rig.ts';

const suite = useHostileRig();
const crashes = suite.crashes;
let rig: HostileRig;

beforeAll(() => {
  rig = suite.rig();
});
beforeEach(() => rig.nodeApp.resetCounts());

const targets = hostileTargets(() => rig);

const healthy = (t: Target): Promise<void> => expectHealthy(rig, t, crashes);

const get = (path: string, host: string, extra = ''): string =>
  `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n${extra}\r\n`;

for (const t of targets) {
  describe(`${t.name} under hostile input (reproduced in issue 11)`, () => {
    it('survives a reset before the 101 of an upgrade, at any point', async () => {
      const { port, host } = t.good();
      const upgrade = get('/hold', host, 'Connection: Upgrade\r\nUpgrade: websocket\r\n');
      // Reset once the app has the request (the 101 is awaited), and at once.
      const waiting = await RawClient.open(port);
      waiting.write(upgrade);
      await waitFor('the upgrade request at the app', () => rig.nodeApp.held.length > 0);
      waiting.reset();
      const early = await RawClient.open(port);
      early.write(upgrade);
      early.reset();
      await waitFor('the app saw the held upgrade go', () => rig.nodeApp.inProgress === 0);
      rig.nodeApp.releaseAll();
      await healthy(t);
    });

    it('answers 502 to malformed upstream responses and releases every slot (containerConcurrency 2)', async () => {
      const { port, host } = t.raw();
      const malformed = [
        '/bad-reason',
        '/bad-header-value',
        '/bad-header-name',
        '/garbage',
        '/cl-and-te',
        '/two-cl',
        '/obs-fold',
        '/bare-lf',
        '/switching',
        '/huge-head',
      ];
      for (const path of malformed) {
        // Three times each: with two slots, one leaked slot per request would wedge the third.
        for (let i = 0; i < 3; i++) {
          const r = await raw(port, get(path, host), hasResponses(1));
          expect(statuses(r.data), path).toEqual([502]);
          expect(errorCode(r.data), path).toBe('UPSTREAM_PROTOCOL_ERROR');
          // The client is never told the pod's address.
          expect(r.data, path).not.toContain(LOOPBACK);
        }
      }
      // A bad chunk comes after the status line: the queue-proxy can only cut the connection.
      // Through the activator the pod's cut arrives before any byte: a retry, then a 502.
      const cut = await raw(port, get('/bad-chunk', host), hasResponses(1));
      const cutStatus = statuses(cut.data);
      expect(cutStatus.length === 0 ? cut.closed : cutStatus[0] === 502).toBe(true);
      expect(cut.data).not.toContain('0\r\n\r\n');
      await healthy(t);
    });

    it('never replays a POST or PATCH whose pod reset the connection after reading it', async () => {
      const { port, host } = t.good();
      for (const [method, body] of [
        ['POST', ''],
        ['PATCH', 'x=1'],
      ] as const) {
        rig.nodeApp.resetCounts();
        const r = await resetAfterBody(port, host, method, body);
        expect(statuses(r.data), method).toEqual([502]);
        expect(rig.nodeApp.seen.filter((s) => s.url === '/reset-after-body').length, method).toBe(1);
      }
      await healthy(t);
    });

    it('serves pipelined requests in order, one at a time', async () => {
      const { port, host } = t.good();
      let bytes = '';
      for (let i = 0; i < 100; i++) bytes += get(`/slow?i=${i}`, host);
      const r = await raw(port, bytes, hasResponses(100));
      expect(statuses(r.data)).toEqual(Array(100).fill(200));
      const order = [...r.data.matchAll(/slow \/slow\?i=(\d+)/g)].map((m) => Number(m[1]));
      expect(order).toEqual([...Array(100).keys()]);
      expect(rig.nodeApp.maxInProgress).toBe(1);
      await healthy(t);
    });

    it('bounds a flood of 2,000 pipelined requests: never more than one at the app, then 503 and close', async () => {
      const { port, host } = t.good();
      const bytes = get('/slow', host).repeat(2_000);
      const r = await raw(port, bytes);
      expect(r.closed).toBe(true);
      const seen = statuses(r.data);
      expect(seen.length).toBeGreaterThan(0);
      // In order: whatever was served came first, then the refusal that closed the connection
      // (503 for too many waiting, or 408 when the next head could not be read in time).
      const served = seen.indexOf(seen.find((st) => st !== 200) ?? 0);
      const refusals = served < 0 ? [] : seen.slice(served);
      expect(seen.slice(0, served < 0 ? seen.length : served).every((st) => st === 200)).toBe(true);
      expect(
        refusals.every((st) => st === 503 || st === 408),
        String(refusals),
      ).toBe(true);
      expect(rig.nodeApp.maxInProgress).toBe(1);
      await healthy(t);
    });

    it('closes the connection after an answer that came before the whole upload', async () => {
      const { port, host } = t.good();
      const c = await RawClient.open(port);
      c.write(`POST /early HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 500000\r\n\r\n${'a'.repeat(10_000)}`);
      const first = await c.read(hasResponses(1));
      expect(statuses(first.data)).toEqual([200]);
      expect(first.data).toContain('early');
      // Either closed, or (had it drained the body) able to answer the next request.
      c.write(get('/echo', host));
      const after = await c.read(hasResponses(2));
      expect(after.closed || statuses(after.data).length === 2).toBe(true);
      c.destroy();
      await healthy(t);
    });

    it('answers 408 to a body that drips, and frees the slot', async () => {
      const { port, host } = t.good();
      const c = await RawClient.open(port);
      c.write(`POST /echo HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 100\r\n\r\nx`);
      const r = await c.untilClosed();
      expect(statuses(r.data)).toEqual([408]);
      expect(errorCode(r.data)).toBe('CLIENT_BODY_TIMEOUT');
      await healthy(t);
    });

    it('does not trust a client-sent x-zeroscale-proxied', async () => {
      const { port, host } = t.good();
      for (const forged of ['1', TEST_TOKEN.slice(0, -1)]) {
        const answer = await request(port, {
          host,
          path: '/echo',
          headers: {
            'x-zeroscale-proxied': forged,
            'x-forwarded-for': '203.0.113.9',
            'x-forwarded-host': 'evil.example',
          },
        });
        const seen = JSON.parse(answer.body).headers;
        expect(seen['x-zeroscale-proxied']).toBeUndefined();
        if (t.name === 'queue-proxy') {
          // An edge request: the client's X-Forwarded-* are replaced, not appended to.
          expect(seen['x-forwarded-for']).toBe(LOOPBACK);
          expect(seen['x-forwarded-host']).toBe(host);
        }
      }
      if (t.name === 'queue-proxy') {
        // Its load is the pod's own (not "already counted by an activator").
        const held = request(port, { host, path: '/hold', headers: { 'x-zeroscale-proxied': '1' } });
        await waitFor('the forged request at the app', () => rig.nodeApp.held.length === 1);
        const stats = await waitFor('an interval with the request in flight', async () => {
          const s = JSON.parse((await request(rig.goodPod.metricsPort, { path: '/stats' })).body);
          return s.averageConcurrency >= 1 ? s : undefined;
        });
        expect(stats.averageProxiedConcurrency).toBe(0);
        rig.nodeApp.releaseAll();
        await held;
      }
      await healthy(t);
    });

    it('never lets a declined upgrade with a Content-Length swallow the next client request', async () => {
      const { port, host } = t.good();
      // An app without WebSockets answers at once and leaves the announced body unread.
      const declined = await raw(
        port,
        get('/early', host, 'Connection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 60\r\n'),
        hasResponses(1),
      );
      expect(statuses(declined.data)).toEqual([200]);
      const next = await request(port, { host, path: '/echo?victim', headers: { cookie: 'session=victim' } });
      expect(next.status).toBe(200);
      const echoed = JSON.parse(next.body);
      expect(echoed.url).toBe('/echo?victim');
      expect(echoed.headers.cookie).toBe('session=victim');
      await healthy(t);
    });

    it('refuses HTTP/1.0 without Host, and puts absolute-form targets in origin form', async () => {
      const { port, host } = t.good();
      const noHost = await raw(port, 'GET /echo HTTP/1.0\r\n\r\n');
      expect(statuses(noHost.data)).toEqual([400]);
      expect(errorCode(noHost.data)).toBe('MISSING_HOST');
      const absolute = await raw(
        port,
        `GET http://${host}/echo?x=1 HTTP/1.1\r\nHost: elsewhere.example\r\n\r\n`,
        hasResponses(1),
      );
      expect(statuses(absolute.data)).toEqual([200]);
      const body = JSON.parse(absolute.data.slice(absolute.data.indexOf('\r\n\r\n') + 4));
      expect(body.url).toBe('/echo?x=1');
      expect(body.headers.host).toBe(host);
      const bad = await raw(port, 'GET ftp://x/ HTTP/1.1\r\nHost: a\r\n\r\n');
      expect(statuses(bad.data)).toEqual([400]);
      await healthy(t);
    });

    it('answers 504 to an app that never starts its response', async () => {
      const { port, host } = t.raw();
      const r = await raw(port, get('/stall', host), hasResponses(1));
      expect(statuses(r.data)).toEqual([504]);
      expect(errorCode(r.data)).toBe('RESPONSE_START_TIMEOUT');
      await healthy(t);
    });
  });
}

describe('the activator in front of a pod that resets after reading the request', () => {
  it('sends a POST or PATCH once (502), and only an idempotent GET again', async () => {
    const port = rig.activator.activator.port;
    const count = (): number => rig.nodeApp.seen.filter((s) => s.url === '/reset-after-body').length;
    for (const [method, body] of [
      ['POST', ''],
      ['PATCH', 'x=1'],
    ] as const) {
      rig.nodeApp.resetCounts();
      const r = await resetAfterBody(port, DIRECT, method, body);
      expect(statuses(r.data), method).toEqual([502]);
      expect(errorCode(r.data), method).toBe('UPSTREAM_RESET');
      expect(count(), method).toBe(1);
    }
    rig.nodeApp.resetCounts();
    const get = await raw(port, `GET /reset-after-body HTTP/1.1\r\nHost: ${DIRECT}\r\n\r\n`, hasResponses(1));
    expect(statuses(get.data)).toEqual([502]);
    // maxAttempts (3): a GET may be sent again, never more often than that.
    expect(count()).toBe(3);
    await rig.settled();
  });
});

describe('waiters whose client leaves with an unread body', () => {
  it('the activator drops a held request at once, not at its deadline', async () => {
    const c = await RawClient.open(rig.activator.activator.port);
    c.write(`POST /echo HTTP/1.1\r\nHost: ${COLD}\r\nContent-Length: 300000\r\n\r\n`);
    c.write(Buffer.alloc(200_000, 97));
    await waitFor('held', () => rig.activator.activator.service('default', 'cold')?.queued === 1);
    c.destroy();
    // The deadline is 30 s; the client's leaving is seen as soon as its FIN is read.
    await waitFor(
      'the held request gone',
      () => rig.activator.activator.service('default', 'cold')?.queued === 0,
      3_000,
    );
    await rig.settled();
  });

  it('the queue-proxy drops a queued request at once', async () => {
    const qp = await startTestQueueProxy(rig.nodeApp.port, {
      containerConcurrency: 1,
      queueDepth: 5,
      responseStartTimeoutMs: 0,
    });
    try {
      await qp.whenReady();
      const holder = request(qp.httpPort, { path: '/hold' });
      holder.catch(() => {});
      await waitFor('slot taken', () => rig.nodeApp.held.length === 1);
      const c = await RawClient.open(qp.httpPort);
      c.write(`POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 300000\r\n\r\n`);
      c.write(Buffer.alloc(200_000, 97));
      const queued = async (): Promise<number | undefined> =>
        metricValue(await scrape(qp.metricsPort), 'zeroscale_queue_queued_requests');
      await waitFor('queued', async () => (await queued()) === 1);
      c.destroy();
      await waitFor('the queued request gone', async () => (await queued()) === 0, 3_000);
      expect(metricValue(await scrape(qp.metricsPort), 'zeroscale_queue_held_body_bytes')).toBe(0);
      rig.nodeApp.releaseAll();
      expect((await holder).status).toBe(200);
    } finally {
      await qp.close();
    }
  });
});

describe('Expect: 100-continue', () => {
  it('gets 413 before any 100 when the declared body is over the limit', async () => {
    const r = await raw(
      rig.activator.activator.port,
      `POST /echo HTTP/1.1\r\nHost: ${GOOD}\r\nContent-Length: 2000000\r\nExpect: 100-continue\r\n\r\n`,
    );
    expect(r.data).not.toContain('100 Continue');
    expect(statuses(r.data)).toEqual([413]);
    expect(r.closed).toBe(true);
  });

  it('gets 100, then the answer, when the body fits', async () => {
    const c = await RawClient.open(rig.activator.activator.port);
    c.write(`POST /echo HTTP/1.1\r\nHost: ${GOOD}\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n`);
    await c.read((d) => d.includes('100 Continue'));
    c.write('hello');
    const r = await c.read(hasResponses(2));
    c.destroy();
    expect(statuses(r.data)).toEqual([100, 200]);
    expect(JSON.parse(r.data.slice(r.data.lastIndexOf('\r\n\r\n') + 4)).body).toBe('hello');
    await rig.settled();
  });
});
