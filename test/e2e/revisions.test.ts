// Revisions and traffic on the local cluster, everything installed by the Helm chart, traffic only
// through the activator on 127.0.0.1:8080: a 90/10 split within its binomial bound, tag hosts, a
// crashing new template that takes no traffic, a gradual rollout in visible steps, a rollback by
// name, the CRD refusing bad splits, and old revisions collected after the retention. Every
// scenario under load counts its failed requests: there must be none.
import type { V1Deployment } from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { kubeClient, kubectl, kubectlOk, waitFor, waitServiceReady } from '../../dev/cluster/kube.ts';
import { serverlessService } from '../../dev/cluster/manifests.ts';
import { installGatewayApiCrds, patchClusterConfig } from '../../dev/cluster/zeroscale.ts';
import { request, runLoad } from '../../dev/load.ts';
import type { Revision } from '../../src/api/revision.ts';
import type { ServerlessService } from '../../src/api/serverless-service.ts';
import { buildHttpRoutes, type HttpRoute } from '../../src/controller/resources/http-route.ts';
import { zeroscaleNamespace } from './suite.ts';

const client = kubeClient();
const ns = zeroscaleNamespace('rev');

afterAll(() => client.close());

/** A service running the probe app; `version` changes its template (a new revision each time). */
function manifest(name: string, version: string, spec: Record<string, unknown> = {}, crash = false): object {
  const base = serverlessService(name, {
    timeoutSeconds: 120,
    scaling: { stableWindow: '6s' },
    container: {
      env: [{ name: 'VERSION', value: version }],
      ...(crash ? { command: ['node', '-e', 'process.exit(3)'] } : {}),
    },
  }) as { spec: Record<string, unknown> };
  return { ...base, spec: { ...base.spec, ...spec } };
}

const apply = (m: object) => kubectlOk(['apply', '-n', ns.name, '-f', '-'], JSON.stringify(m));
const ssvc = (name: string) =>
  client.get<ServerlessService>(
    `/apis/serving.zeroscale.dev/v1alpha1/namespaces/${ns.name}/serverlessservices/${name}`,
  );
const revision = (name: string) =>
  client.get<Revision>(`/apis/serving.zeroscale.dev/v1alpha1/namespaces/${ns.name}/revisions/${name}`);
const replicas = async (name: string) =>
  (await client.get<V1Deployment>(`/apis/apps/v1/namespaces/${ns.name}/deployments/${name}`)).spec
    ?.replicas ?? -1;
const host = (name: string) => `${name}.${ns.name}.example.com`;
const config = patchClusterConfig;

/** Waits until the service routes exactly `split` ("a-1=90,a-2=10"), as status says. */
function waitSplit(name: string, split: string, timeoutMs = 120_000): Promise<ServerlessService> {
  return waitFor(
    `${name} routes ${split}`,
    async () => {
      const s = await ssvc(name);
      return s.status?.trafficSummary?.split(' ')[0] === split ? s : undefined;
    },
    timeoutMs,
  );
}

/** The revision a probe-app answer came from: "hello from split-2-5d9c…-x7k2q" → "split-2". */
const revisionOfAnswer = (body: string) => /^hello from (.+)-[a-z0-9]+-[a-z0-9]+$/.exec(body)?.[1];

/** `n` requests, `concurrency` at a time, counted by the revision that answered. */
async function countByRevision(hostName: string, n: number, concurrency: number) {
  const counts = new Map<string, number>();
  const failures: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      const r = await request(hostName, '/');
      if (r.status !== 200) failures.push(`${r.status}: ${r.body.slice(0, 200)}`);
      const rev = revisionOfAnswer(r.body) ?? r.body;
      counts.set(rev, (counts.get(rev) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { counts, failures };
}

describe('revisions and traffic', () => {
  it('splits 90/10 within the binomial bound, the tag reaching only its revision, each revision scaling on its own', async () => {
    await apply(manifest('split', '1'));
    await waitServiceReady(ns.name, 'split');
    await apply(manifest('split', '2'));
    // The new revision takes the traffic; the first one, unreachable, goes to zero at once.
    await waitSplit('split', 'split-2=100');
    await waitFor('split-1 at zero', async () => (await replicas('split-1')) === 0 || undefined, 60_000);

    await apply(
      manifest('split', '2', {
        traffic: [
          { revisionName: 'split-1', percent: 90 },
          { latestRevision: true, percent: 10, tag: 'canary' },
        ],
      }),
    );
    const s = await waitSplit('split', 'split-1=90,split-2=10');
    expect(s.status?.traffic).toEqual([
      { revisionName: 'split-1', percent: 90 },
      {
        revisionName: 'split-2',
        percent: 10,
        latestRevision: true,
        tag: 'canary',
        url: `http://canary-split.${ns.name}.example.com`,
      },
    ]);
    // split-1 was at zero: its share cold-starts it, and no request fails.
    const n = 2_000;
    const { counts, failures } = await countByRevision(host('split'), n, 8);
    console.log(`90/10 split over ${n} requests: ${JSON.stringify(Object.fromEntries(counts))}`);
    expect(failures).toEqual([]);
    // 99.9 % two-sided binomial bound: 10 % of 2,000 = 200 ± 3.29 × √(2000 × 0.1 × 0.9) ≈ 200 ± 44.
    const canary = counts.get('split-2') ?? 0;
    expect(Math.abs(canary - 200)).toBeLessThanOrEqual(44);
    expect((counts.get('split-1') ?? 0) + canary).toBe(n);
    // Each revision has its own autoscaler state.
    for (const r of ['split-1', 'split-2']) {
      const rev = await revision(r);
      expect(rev.status?.autoscaler?.desiredScale, r).toBeGreaterThanOrEqual(1);
    }
    // The tag host reaches only its revision.
    const tagged = await countByRevision(`canary-split.${ns.name}.example.com`, 50, 4);
    expect(Object.fromEntries(tagged.counts)).toEqual({ 'split-2': 50 });
  }, 300_000);

  it('reaches a tagged revision at 0 % of the split through its tag only', async () => {
    await apply(
      manifest('split', '2', {
        traffic: [
          { revisionName: 'split-1', percent: 100 },
          { revisionName: 'split-2', tag: 'next' },
        ],
      }),
    );
    await waitSplit('split', 'split-1=100');
    // Status leads the activators by their watch and catalog delay: wait until they route the new
    // split, then hold them to it.
    await waitFor(
      'the activators to route split-1=100',
      async () => (await countByRevision(host('split'), 20, 4)).counts.get('split-1') === 20 || undefined,
      10_000,
      100,
    );
    const main = await countByRevision(host('split'), 60, 4);
    expect(Object.fromEntries(main.counts)).toEqual({ 'split-1': 60 });
    const tagged = await countByRevision(`next-split.${ns.name}.example.com`, 30, 3);
    expect(Object.fromEntries(tagged.counts)).toEqual({ 'split-2': 30 });
    expect(tagged.failures).toEqual([]);
    // Tag-only is reachable: it keeps its pods.
    expect((await revision('split-2')).metadata.labels?.['serving.zeroscale.dev/routing-state']).toBe(
      'active',
    );
    await kubectlOk(['delete', 'ssvc', 'split', '-n', ns.name, '--wait=false']);
  }, 120_000);

  it('keeps traffic on the last ready revision when a new template crashes, saying why, with no failed request', async () => {
    await apply(manifest('steady', '1'));
    await waitServiceReady(ns.name, 'steady');
    const load = runLoad({ host: host('steady'), path: '/sleep?ms=20', concurrency: 4, durationMs: 25_000 });
    await apply(manifest('steady', '2', {}, true));
    const s = await waitFor(
      'status naming the crash of steady-2',
      async () => {
        const x = await ssvc('steady');
        const ready = x.status?.conditions?.find((c) => c.type === 'Ready');
        return ready?.reason === 'CrashLoopBackOff' ? x : undefined;
      },
      90_000,
    );
    const ready = s.status?.conditions?.find((c) => c.type === 'Ready');
    expect(ready?.status).toBe('False');
    expect(ready?.message).toMatch(/^revision steady-2: .*container app/);
    expect(s.status?.latestCreatedRevisionName).toBe('steady-2');
    expect(s.status?.latestReadyRevisionName).toBe('steady-1');
    expect(s.status?.traffic).toEqual([{ revisionName: 'steady-1', percent: 100, latestRevision: true }]);
    const result = await load;
    console.log(`crashing new template: ${result.total} requests, ${result.failures.length} failed`);
    expect(result.failures).toEqual([]);
  }, 180_000);

  it('rolls a fixed template out in steps visible in status, with no failed request, then the old revision goes to zero', async () => {
    await apply(manifest('steady', '3', { rollout: { duration: '24s', steps: 4 } }));
    const load = runLoad({ host: host('steady'), path: '/sleep?ms=20', concurrency: 4, durationMs: 60_000 });
    const seen = new Set<string>();
    await waitFor(
      'the rollout to finish',
      async () => {
        const x = await ssvc('steady');
        const summary = x.status?.trafficSummary?.split(' ')[0];
        if (summary !== undefined) seen.add(summary);
        return summary === 'steady-3=100' && x.status?.rollout === undefined ? x : undefined;
      },
      120_000,
      250,
    );
    console.log(`rollout steps seen in status: ${[...seen].join(' → ')}`);
    for (const step of ['steady-1=75,steady-3=25', 'steady-1=50,steady-3=50', 'steady-1=25,steady-3=75'])
      expect(seen, step).toContain(step);
    await waitFor('steady-1 at zero', async () => (await replicas('steady-1')) === 0 || undefined, 60_000);
    const result = await load;
    console.log(`gradual rollout: ${result.total} requests, ${result.failures.length} failed`);
    expect(result.failures).toEqual([]);
  }, 240_000);

  it('rolls back by pinning 100 % to the first revision by name: it cold-starts and serves with no failed request', async () => {
    expect(await replicas('steady-1')).toBe(0);
    const load = runLoad({ host: host('steady'), path: '/sleep?ms=20', concurrency: 4, durationMs: 20_000 });
    await apply(
      manifest('steady', '3', {
        rollout: { duration: '24s', steps: 4 },
        traffic: [{ revisionName: 'steady-1', percent: 100 }],
      }),
    );
    await waitSplit('steady', 'steady-1=100');
    const result = await load;
    const after = await countByRevision(host('steady'), 20, 2);
    expect(Object.fromEntries(after.counts)).toEqual({ 'steady-1': 20 });
    console.log(`rollback: ${result.total} requests, ${result.failures.length} failed`);
    expect(result.failures).toEqual([]);
  }, 180_000);

  it('collects unrouted revisions after the retention, keeping what traffic uses and the latest', async () => {
    await config({ 'revision-retain-count': '0', 'revision-retain-for': '0s' });
    try {
      // steady-1 is routed, steady-3 is the latest; steady-2 (the crashing one) is neither.
      await waitFor(
        'steady-2 deleted',
        async () => (await kubectl(['get', 'revision', 'steady-2', '-n', ns.name])).code !== 0 || undefined,
        60_000,
      );
      const names = (await kubectlOk(['get', 'revisions', '-n', ns.name, '-o', 'name']))
        .split('\n')
        .filter(Boolean);
      expect(names.filter((n) => n.includes('steady-')).sort()).toEqual([
        'revision.serving.zeroscale.dev/steady-1',
        'revision.serving.zeroscale.dev/steady-3',
      ]);
      // Its Deployment went with it (garbage collection through the ownerReference).
      await waitFor(
        'steady-2 Deployment gone',
        async () => (await kubectl(['get', 'deployment', 'steady-2', '-n', ns.name])).code !== 0 || undefined,
        60_000,
      );
    } finally {
      await config({ 'revision-retain-count': null, 'revision-retain-for': null });
    }
  }, 120_000);

  it('refuses every bad traffic manifest at kubectl apply, naming the field', async () => {
    const bad: [string, unknown[], RegExp][] = [
      [
        'percents summing to 90',
        [
          { revisionName: 'x-1', percent: 50 },
          { latestRevision: true, percent: 40 },
        ],
        /spec\.traffic: Invalid value.*spec\.traffic\[\]\.percent must sum to 100/,
      ],
      [
        'a negative percent',
        [{ latestRevision: true, percent: -5 }],
        /spec\.traffic\[0\]\.percent: Invalid value: -5/,
      ],
      [
        'duplicate tags',
        [
          { revisionName: 'x-1', percent: 50, tag: 'a' },
          { latestRevision: true, percent: 50, tag: 'a' },
        ],
        /spec\.traffic: Invalid value.*spec\.traffic\[\]\.tag must be unique/,
      ],
      [
        'a tag that is no DNS label',
        [{ latestRevision: true, percent: 100, tag: 'Not_A_Label' }],
        /spec\.traffic\[0\]\.tag: Invalid value: "Not_A_Label"/,
      ],
      [
        'revisionName with latestRevision',
        [{ revisionName: 'x-1', latestRevision: true, percent: 100 }],
        /spec\.traffic\[0\]\.latestRevision: Forbidden/,
      ],
    ];
    for (const [what, traffic, message] of bad) {
      const r = await kubectl(
        ['apply', '-n', ns.name, '-f', '-'],
        JSON.stringify(manifest('refused', '1', { traffic })),
      );
      expect(r.code, what).not.toBe(0);
      expect(r.stderr, what).toMatch(message);
    }
    expect((await kubectl(['get', 'ssvc', 'refused', '-n', ns.name])).code).not.toBe(0);
  });
});

describe('Gateway API', () => {
  const httpRoute = async (name: string) => {
    const r = await kubectl(['get', 'httproute', name, '-n', ns.name, '-o', 'json']);
    return r.code === 0 ? (JSON.parse(r.stdout) as HttpRoute) : undefined;
  };

  it('writes an HTTPRoute with a weighted backendRef per revision and one per tag, valid against the CRDs, and removes them when the config names no gateway', async () => {
    await installGatewayApiCrds();
    await config({ gateway: 'gateways/public' });
    try {
      await apply(manifest('gw', '1', { scaling: { minScale: 0, initialScale: 0, stableWindow: '6s' } }));
      await waitServiceReady(ns.name, 'gw');
      await apply(
        manifest('gw', '2', {
          scaling: { minScale: 0, initialScale: 0, stableWindow: '6s' },
          traffic: [
            { revisionName: 'gw-1', percent: 80 },
            { latestRevision: true, percent: 20, tag: 'beta' },
          ],
        }),
      );
      const main = await waitFor(
        'HTTPRoute gw at 80/20',
        async () => {
          const r = await httpRoute('gw');
          const weights = r?.spec.rules[0]?.backendRefs.map((b) => `${b.name}=${b.weight}`).join(',');
          return weights === 'gw-1=80,gw-2=20' ? r : undefined;
        },
        90_000,
      );
      expect(main.spec.parentRefs).toEqual([
        { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'gateways', name: 'public' },
      ]);
      expect(main.spec.hostnames).toEqual([`gw.${ns.name}.example.com`]);
      expect(main.spec.rules[0]!.backendRefs[1]).toMatchObject({
        kind: 'Service',
        port: 80,
        filters: [
          {
            type: 'RequestHeaderModifier',
            requestHeaderModifier: { set: [{ name: 'x-zeroscale-revision', value: 'gw-2' }] },
          },
        ],
      });
      const beta = await waitFor('HTTPRoute gw-beta', () => httpRoute('gw-beta'));
      expect(beta.spec.hostnames).toEqual([`beta-gw.${ns.name}.example.com`]);
      expect(beta.spec.rules[0]!.backendRefs.map((b) => b.name)).toEqual(['gw-2']);
      // Each backend is a Service of the revision, its endpoints the activators while it is at zero.
      for (const rev of ['gw-1', 'gw-2']) {
        const slice = await waitFor(`${rev}-public`, async () => {
          const r = await kubectl(['get', 'endpointslice', `${rev}-public`, '-n', ns.name, '-o', 'json']);
          return r.code === 0
            ? (JSON.parse(r.stdout) as {
                endpoints?: unknown[];
                metadata: { labels: Record<string, string> };
              })
            : undefined;
        });
        expect(slice.metadata.labels['kubernetes.io/service-name']).toBe(rev);
        expect(slice.metadata.labels['serving.zeroscale.dev/mode']).toBe('proxy');
        expect(slice.endpoints?.length ?? 0).toBeGreaterThanOrEqual(1);
        expect((await kubectl(['get', 'service', rev, '-n', ns.name])).code).toBe(0);
      }
      // What the controller builds also passes a server-side dry run on its own.
      const svc = await ssvc('gw');
      const built = buildHttpRoutes(
        svc,
        svc.status?.traffic ?? [],
        { namespace: 'gateways', name: 'public' },
        'example.com',
      );
      const dryRun = await kubectl(
        ['apply', '--server-side', '--dry-run=server', '--field-manager=dry-run', '-n', ns.name, '-f', '-'],
        JSON.stringify({ apiVersion: 'v1', kind: 'List', items: built }),
      );
      expect(dryRun.stderr).toBe('');
      expect(dryRun.code).toBe(0);
      // A tag taken out of the split takes its HTTPRoute with it.
      await apply(
        manifest('gw', '2', {
          scaling: { minScale: 0, initialScale: 0, stableWindow: '6s' },
          traffic: [
            { revisionName: 'gw-1', percent: 80 },
            { latestRevision: true, percent: 20 },
          ],
        }),
      );
      await waitFor(
        'HTTPRoute gw-beta deleted',
        async () => (await httpRoute('gw-beta')) === undefined || undefined,
        60_000,
      );
      // Without a Gateway in the config, what it needed goes: the HTTPRoutes and the revisions'
      // own public Services and EndpointSlices. The service's own public Service stays.
      await config({ gateway: null });
      await waitFor(
        'HTTPRoute gw deleted',
        async () => (await httpRoute('gw')) === undefined || undefined,
        60_000,
      );
      const gone = (kind: string, name: string) =>
        waitFor(
          `${kind} ${name} deleted`,
          async () => (await kubectl(['get', kind, name, '-n', ns.name])).code !== 0 || undefined,
          60_000,
        );
      for (const rev of ['gw-1', 'gw-2']) {
        await gone('service', rev);
        await gone('endpointslice', `${rev}-public`);
      }
      expect((await kubectl(['get', 'service', 'gw', '-n', ns.name])).code).toBe(0);
    } finally {
      await config({ gateway: null });
    }
  }, 240_000);
});
