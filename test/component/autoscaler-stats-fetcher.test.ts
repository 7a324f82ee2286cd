// The scraper's HTTP client against tiny servers on 127.0.0.1: keep-alive, timeout, bad answers,
// the bound on requests in flight and on requests waiting.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { PodStats } from '../../src/autoscaler/metrics/protocol.ts';
import { HttpStatsFetcher } from '../../src/autoscaler/metrics/stats-fetcher.ts';
import { isZeroscaleError } from '../../src/errors.ts';

const stats: PodStats = {
  pod: 'hello-1',
  intervalMs: 1_000,
  averageConcurrency: 2.5,
  averageProxiedConcurrency: 1,
  requestsPerSecond: 10,
  proxiedRequestsPerSecond: 4,
};

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function serve(handler: http.RequestListener): Promise<string> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function fetcher(options: ConstructorParameters<typeof HttpStatsFetcher>[0] = {}): HttpStatsFetcher {
  const f = new HttpStatsFetcher(options);
  cleanups.push(() => f.close());
  return f;
}

async function failure(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (isZeroscaleError(err)) return err.code;
    throw err;
  }
  throw new Error('expected a failure');
}

describe('HttpStatsFetcher', () => {
  it('fetches and validates the stats, reusing one connection', async () => {
    const sockets = new Set<unknown>();
    const address = await serve((req, res) => {
      sockets.add(req.socket);
      expect(req.url).toBe('/stats');
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(stats));
    });
    const f = fetcher();
    for (let i = 0; i < 3; i++) expect(await f.fetchStats(address)).toEqual(stats);
    expect(sockets.size).toBe(1);
  });

  it.each([
    { name: 'a 503', status: 503, body: 'draining', code: 'SCRAPE_BAD_STATUS' },
    { name: 'a body that is not JSON', status: 200, body: '<html>', code: 'SCRAPE_INVALID_BODY' },
    {
      name: 'stats with a negative value',
      status: 200,
      body: JSON.stringify({ ...stats, averageConcurrency: -1 }),
      code: 'SCRAPE_INVALID_BODY',
    },
    {
      name: 'a body over the limit',
      status: 200,
      body: JSON.stringify({ ...stats, pod: 'p'.repeat(40_000) }),
      code: 'SCRAPE_INVALID_BODY',
    },
  ])('fails on $name with $code', async ({ status, body, code }) => {
    const address = await serve((_req, res) => res.writeHead(status).end(body));
    expect(await failure(fetcher().fetchStats(address))).toBe(code);
  });

  it('fails with SCRAPE_TIMEOUT when the pod does not answer in time', async () => {
    const address = await serve(() => {
      // Never answers.
    });
    expect(await failure(fetcher({ timeoutMs: 100 }).fetchStats(address))).toBe('SCRAPE_TIMEOUT');
  });

  it('fails with SCRAPE_FAILED when nothing listens', async () => {
    const address = await serve((_req, res) => res.end());
    await cleanups.pop()!();
    expect(await failure(fetcher().fetchStats(address))).toBe('SCRAPE_FAILED');
  });

  it('keeps at most maxConcurrent requests in flight and refuses beyond maxQueued', async () => {
    let inFlight = 0;
    let most = 0;
    const held: http.ServerResponse[] = [];
    const address = await serve((_req, res) => {
      inFlight++;
      most = Math.max(most, inFlight);
      held.push(res);
    });
    const f = fetcher({ maxConcurrent: 2, maxQueued: 3 });
    const all = Array.from({ length: 5 }, () => f.fetchStats(address));
    const refused = failure(f.fetchStats(address));
    expect(await refused).toBe('SCRAPE_QUEUE_FULL');
    // Answer requests as they arrive, one at a time: never more than two at the server.
    let answered = 0;
    while (answered < 5) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      const res = held.shift();
      if (res === undefined) continue;
      inFlight--;
      res.writeHead(200).end(JSON.stringify(stats));
      answered++;
    }
    expect(await Promise.all(all)).toHaveLength(5);
    expect(most).toBe(2);
    expect(f.queued).toBe(0);
  });
});
