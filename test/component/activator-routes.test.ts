// The activator's routes (a ServerlessService split over its revisions) over real sockets on
// 127.0.0.1: weighted shares, tag hosts, a held request that keeps its revision, and a route
// with no revision yet. Pods are real queue-proxies in front of test apps.

import { describe, expect, it } from 'vitest';
import type { ActivatorService } from '../../src/activator/sources.ts';
import { activatorTestKit, request, waitFor } from './proxy-harness.ts';

const { rig, pod } = activatorTestKit();

const revision = (name: string, service = 'hello'): ActivatorService => ({
  namespace: 'default',
  name,
  containerConcurrency: 0,
  timeoutSeconds: 30,
  routeOnly: true,
  service,
});
const route = (
  traffic: ActivatorService['traffic'],
  tags: ActivatorService['tags'] = [],
): ActivatorService => ({
  namespace: 'default',
  name: 'hello',
  url: 'http://hello.default.example.com',
  containerConcurrency: 0,
  timeoutSeconds: 0,
  traffic,
  tags,
});

describe('activator routes', () => {
  it('splits a service 90/10 over two revisions, and each tag host reaches only its revision', async () => {
    const r = await rig([
      revision('hello-1'),
      revision('hello-2'),
      route(
        [
          { name: 'hello-1', percent: 90 },
          { name: 'hello-2', percent: 10 },
        ],
        [{ host: 'canary-hello.default.example.com', name: 'hello-2' }],
      ),
    ]);
    const p1 = await pod('p1', (_req, res) => res.end('one'));
    const p2 = await pod('p2', (_req, res) => res.end('two'));
    r.endpoints.set('default', 'hello-1', [p1.endpoint]);
    r.endpoints.set('default', 'hello-2', [p2.endpoint]);
    const counts = { one: 0, two: 0 };
    for (let i = 0; i < 200; i++) {
      const a = await request(r.activator.port, { host: 'hello.default.example.com' });
      expect(a.status).toBe(200);
      counts[a.body as 'one' | 'two']++;
    }
    expect(counts).toEqual({ one: 180, two: 20 });
    for (let i = 0; i < 5; i++) {
      const tagged = await request(r.activator.port, { host: 'canary-hello.default.example.com' });
      expect(tagged).toMatchObject({ status: 200, body: 'two' });
    }
    // A revision has no host of its own.
    expect((await request(r.activator.port, { host: 'hello-1.default.svc' })).status).toBe(404);
  });

  it('a tag reaches a revision that has 0 % of the split', async () => {
    const r = await rig([
      revision('hello-1'),
      revision('hello-2'),
      route(
        [{ name: 'hello-1', percent: 100 }],
        [{ host: 'next-hello.default.example.com', name: 'hello-2' }],
      ),
    ]);
    const p1 = await pod('p1', (_req, res) => res.end('one'));
    const p2 = await pod('p2', (_req, res) => res.end('two'));
    r.endpoints.set('default', 'hello-1', [p1.endpoint]);
    r.endpoints.set('default', 'hello-2', [p2.endpoint]);
    expect(await request(r.activator.port, { host: 'next-hello.default.example.com' })).toMatchObject({
      status: 200,
      body: 'two',
    });
    expect(await request(r.activator.port, { host: 'hello.default.svc' })).toMatchObject({
      status: 200,
      body: 'one',
    });
  });

  it('a request held for a revision at zero is served by it once a pod comes, while the split changes', async () => {
    const r = await rig([
      revision('hello-1'),
      revision('hello-2'),
      route([{ name: 'hello-2', percent: 100 }]),
    ]);
    const held = request(r.activator.port, { host: 'hello.default.example.com' });
    await waitFor('request held for hello-2', () => r.activator.service('default', 'hello-2')?.queued === 1);
    // The split moves to hello-1 while the request waits: it stays with the revision it was given.
    r.catalog.put(route([{ name: 'hello-1', percent: 100 }]));
    const p2 = await pod('p2', (_req, res) => res.end('two'));
    r.endpoints.set('default', 'hello-2', [p2.endpoint]);
    expect(await held).toMatchObject({ status: 200, body: 'two' });
  });

  it("follows a gateway's revision header to a revision of the service, and ignores it for another's", async () => {
    const r = await rig([
      revision('hello-1'),
      revision('hello-2'),
      revision('other-1', 'other'),
      route([
        { name: 'hello-1', percent: 99 },
        { name: 'hello-2', percent: 1 },
      ]),
    ]);
    const p1 = await pod('p1', (_req, res) => res.end('one'));
    const p2 = await pod('p2', (_req, res) => res.end('two'));
    const p3 = await pod('p3', (_req, res) => res.end('other'));
    r.endpoints.set('default', 'hello-1', [p1.endpoint]);
    r.endpoints.set('default', 'hello-2', [p2.endpoint]);
    r.endpoints.set('default', 'other-1', [p3.endpoint]);
    const host = 'hello.default.example.com';
    for (let i = 0; i < 10; i++) {
      const chosen = await request(r.activator.port, {
        host,
        headers: { 'x-zeroscale-revision': 'hello-2' },
      });
      expect(chosen).toMatchObject({ status: 200, body: 'two' });
    }
    // Another service's revision is not reachable through this service's host.
    const foreign = await request(r.activator.port, { host, headers: { 'x-zeroscale-revision': 'other-1' } });
    expect(foreign).toMatchObject({ status: 200, body: 'one' });
  });

  it('a service whose route has no revision yet answers 503 with Retry-After, naming why', async () => {
    const r = await rig([route([])]);
    const a = await request(r.activator.port, { host: 'hello.default.example.com' });
    expect(a.status).toBe(503);
    expect(a.headers['x-zeroscale-error']).toBe('NO_REVISION');
    expect(a.headers['retry-after']).toBe('1');
  });
});
