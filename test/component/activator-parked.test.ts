// Requests held as bare connections (activator/parked.ts): the first request of a new connection
// to a cold service waits before Node's HTTP parser is attached. What a client sees must be the
// same as for any held request: served in arrival order once a pod is ready, on a connection that
// stays usable; answered 504/503 with a reason when it cannot be; forgotten at once when it
// leaves; and nothing left behind. The sniffer's verdicts are checked against Node's own parser.

import http, { type IncomingMessage } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sniffParkableHost } from '../../src/http/request-sniff.ts';
import {
  type ActivatorRig,
  type AppHandler,
  activatorTestKit,
  HELLO,
  LOOPBACK,
  metricValue,
  rawExchange,
  request,
  scrape,
  startActivatorRig,
  waitFor,
} from './proxy-harness.ts';

const HOST = 'hello.default.svc';
const { cleanups, rig, pod } = activatorTestKit();

async function parked(r: ActivatorRig): Promise<number> {
  return metricValue(await scrape(r.activator.metricsPort), 'zeroscale_activator_parked_requests') ?? -1;
}

/** A raw client connection that collects what it reads and can wait for N responses. */
class RawClient {
  readonly socket: net.Socket;
  text = '';
  closed = false;
  constructor(port: number) {
    this.socket = net.connect({ host: LOOPBACK, port });
    this.socket.setEncoding('latin1');
    this.socket.on('data', (c: string) => (this.text += c));
    this.socket.on('error', () => {});
    this.socket.on('close', () => (this.closed = true));
    cleanups.push(async () => void this.socket.destroy());
  }
  send(bytes: string): void {
    this.socket.write(bytes);
  }
  responses(): string[] {
    return this.text.split(/(?=HTTP\/1\.1 )/).filter((s) => s.length > 0);
  }
}

const get = (path: string, extra = ''): string => `GET ${path} HTTP/1.1\r\nHost: ${HOST}\r\n${extra}\r\n`;
const echo: AppHandler = (req, res) => res.end(`${req.method} ${req.url}`);

describe('activator: cold requests held as bare connections', () => {
  it('serves them in arrival order once a pod is ready, and the connections stay usable', async () => {
    const r = await rig([{ ...HELLO, containerConcurrency: 1 }]);
    const clients = [0, 1, 2, 3, 4].map(() => new RawClient(r.activator.port));
    for (const [i, c] of clients.entries()) {
      c.send(get(`/${i}`));
      await waitFor(`request ${i} parked`, async () => (await parked(r)) === i + 1);
    }
    expect(r.activator.service('default', 'hello')).toMatchObject({ queued: 5, active: 5 });
    expect(r.autoscaler.pokes).toHaveLength(1);
    const p = await pod('p1', echo);
    r.endpoints.set('default', 'hello', [p.endpoint]);
    for (const c of clients) await waitFor('answered', () => c.responses().length === 1);
    expect(p.app.seen.map((req) => req.url)).toEqual(['/0', '/1', '/2', '/3', '/4']);
    for (const [i, c] of clients.entries()) {
      expect(c.text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      expect(c.text).toContain(`GET /${i}`);
    }
    // The connection is Node's now: a second request on it is served the ordinary way.
    clients[0]!.send(get('/again'));
    await waitFor('second answer', () => clients[0]!.responses().length === 2);
    expect(clients[0]!.responses()[1]).toContain('GET /again');
    expect(await parked(r)).toBe(0);
    const metrics = await scrape(r.activator.metricsPort);
    // Their wait counts in the request duration and in the cold start they waited through.
    expect(metricValue(metrics, 'zeroscale_cold_starts_total', { service: 'hello' })).toBe(1);
    expect(
      metricValue(metrics, 'zeroscale_activator_request_duration_seconds_count', { service: 'hello' }),
    ).toBe(6);
  });

  it('answers a request pipelined behind a parked one after it, in order', async () => {
    const r = await rig();
    const c = new RawClient(r.activator.port);
    c.send(get('/first'));
    await waitFor('parked', async () => (await parked(r)) === 1);
    c.send(get('/second'));
    const p = await pod('p1', echo);
    r.endpoints.set('default', 'hello', [p.endpoint]);
    await waitFor('both answered', () => c.responses().length === 2);
    expect(c.responses()[0]).toContain('GET /first');
    expect(c.responses()[1]).toContain('GET /second');
  });

  it('holds a request with a body, or a second request on a connection, the ordinary way', async () => {
    const r = await rig();
    const post = request(r.activator.port, { host: HOST, method: 'POST', path: '/post', body: 'payload' });
    await waitFor('POST held', () => r.activator.queued === 1);
    expect(await parked(r)).toBe(0);
    const p = await pod('p1', (req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c));
      req.on('end', () => res.end(`${req.url} ${body}`));
    });
    r.endpoints.set('default', 'hello', [p.endpoint]);
    expect(await post).toMatchObject({ status: 200, body: '/post payload' });
  });

  it('forgets a parked client that resets its connection at once', async () => {
    const r = await rig();
    const c = new RawClient(r.activator.port);
    c.send(get('/gone'));
    await waitFor('parked', async () => (await parked(r)) === 1);
    c.socket.resetAndDestroy();
    await waitFor('forgotten', () => r.activator.service('default', 'hello')?.queued === 0);
    expect(r.activator.service('default', 'hello')?.active).toBe(0);
    expect(await parked(r)).toBe(0);
    const p = await pod('p1', echo);
    r.endpoints.set('default', 'hello', [p.endpoint]);
    expect((await request(r.activator.port, { host: HOST, path: '/next' })).status).toBe(200);
    expect(p.app.seen.map((req) => req.url)).toEqual(['/next']);
  });

  it('answers 503 with the reason when the service goes away, and 504 at the deadline', async () => {
    const quick = { ...HELLO, name: 'quick', url: 'http://quick.default.example.com', timeoutSeconds: 0.3 };
    const r = await rig([HELLO, quick]);
    const removed = new RawClient(r.activator.port);
    removed.send(get('/removed'));
    const late = new RawClient(r.activator.port);
    late.send('GET /late HTTP/1.1\r\nHost: quick.default.svc\r\n\r\n');
    await waitFor('both parked', async () => (await parked(r)) === 2);
    r.catalog.remove('default', 'hello');
    await waitFor('removed answered', () => removed.closed);
    expect(removed.text).toMatch(/^HTTP\/1\.1 503 /);
    expect(removed.text).toContain('x-zeroscale-error: SERVICE_REMOVED');
    expect(removed.text).toMatch(/retry-after: \d+/);
    await waitFor('late answered', () => late.closed);
    expect(late.text).toMatch(/^HTTP\/1\.1 504 /);
    expect(late.text).toContain('x-zeroscale-error: DEADLINE_EXCEEDED');
    const metrics = await scrape(r.activator.metricsPort);
    expect(
      metricValue(metrics, 'zeroscale_activator_rejected_requests_total', {
        service: 'quick',
        reason: 'deadline',
      }),
    ).toBe(1);
    expect(await parked(r)).toBe(0);
  });

  it('answers a connection that sends nothing 408 after the headers timeout', async () => {
    const r = await rig(undefined, { limits: { headersTimeoutMs: 200 } });
    const answer = await rawExchange(r.activator.port, '');
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer).toContain('x-zeroscale-error: HEADERS_TIMEOUT');
    const metrics = await scrape(r.activator.metricsPort);
    expect(
      metricValue(metrics, 'zeroscale_activator_rejected_requests_total', { reason: 'headers-timeout' }),
    ).toBe(1);
  });

  it('closes parked connections when it stops', async () => {
    const r = await startActivatorRig();
    const c = new RawClient(r.activator.port);
    c.send(get('/stop'));
    await waitFor('parked', async () => (await parked(r)) === 1);
    await r.close();
    await waitFor('closed', () => c.closed);
    expect(r.activator.queued).toBe(0);
  });
});

describe('the sniffer agrees with Node', () => {
  it('whatever it holds as bare bytes, Node parses as one bodiless request for the same Host', async () => {
    const seen: IncomingMessage[] = [];
    const bodyBytes: number[] = [];
    const server = http.createServer((req, res) => {
      seen.push(req);
      let bytes = 0;
      req.on('data', (c: Buffer) => (bytes += c.length));
      req.on('end', () => {
        bodyBytes.push(bytes);
        res.end();
      });
    });
    server.on('clientError', (_err, socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
    cleanups.push(() => new Promise((resolve) => server.close(() => resolve())));
    const port = (server.address() as AddressInfo).port;
    const name = fc.constantFrom('Host', 'host', 'HOST', 'Accept', 'Content-Length', 'X-A', 'Cookie');
    const value = fc.constantFrom('a.b', ' a.b ', '0', '', '1', 'x y', 'a.b:80', '\t0\t');
    const line = fc
      .tuple(name, fc.constantFrom(':', ': ', ' :'), value)
      .map(([n, c, v]) => `${n}${c}${v}\r\n`);
    const head = fc
      .tuple(
        fc.constantFrom('GET', 'HEAD', 'DELETE', 'POST'),
        fc.constantFrom('/', '/p?q=1'),
        fc.array(line, { maxLength: 5 }),
        value,
        fc.nat(5),
      )
      // One Host line at a random place, so that enough heads are parkable to compare.
      .map(([m, t, lines, host, at]) => {
        lines.splice(at % (lines.length + 1), 0, `Host: ${host}\r\n`);
        return `${m} ${t} HTTP/1.1\r\n${lines.join('')}\r\n`;
      });
    let held = 0;
    await fc.assert(
      fc.asyncProperty(head, async (text) => {
        const host = sniffParkableHost(Buffer.from(text, 'latin1'));
        if (host === undefined) return;
        held++;
        seen.length = 0;
        bodyBytes.length = 0;
        const answer = await rawExchange(port, text, { endAfterWrite: true });
        expect(answer).toMatch(/^HTTP\/1\.1 200 /);
        expect(seen).toHaveLength(1);
        expect(seen[0]!.headers.host).toBe(host);
        expect(bodyBytes).toEqual([0]);
      }),
      { numRuns: 300 },
    );
    process.stdout.write(`sniffer agreement: ${held} of 300 heads parkable\n`);
    expect(held).toBeGreaterThan(30);
  });
});
