// The controller, installed by the Helm chart, against the real apiserver: examples reach Ready,
// drift is undone, deletion leaves nothing, pod problems show in status with the pod's reason,
// cluster config changes apply without a restart, and a killed leader is replaced.
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { kubeClient, kubectl, kubectlOk, waitFor } from '../../dev/cluster/kube.ts';
import { containerPid } from '../../dev/cluster/node.ts';
import { repoRoot } from '../../dev/cluster/paths.ts';
import { patchClusterConfig, systemNamespace } from '../../dev/cluster/zeroscale.ts';
import { waitAllReady } from '../../dev/scale.ts';
import type { ServerlessService } from '../../src/api/serverless-service.ts';
import { podOfIdentity } from '../../src/kube/leader.ts';
import { zeroscaleNamespace } from '../e2e/suite.ts';

const client = kubeClient();
const ns = zeroscaleNamespace('ctrl');

afterAll(() => client.close());

const ssvcPath = (name: string) =>
  `/apis/serving.zeroscale.dev/v1alpha1/namespaces/${ns.name}/serverlessservices/${name}`;
const getSsvc = (name: string) => client.get<ServerlessService>(ssvcPath(name));
const readyCondition = (s: ServerlessService) => s.status?.conditions?.find((c) => c.type === 'Ready');

function manifest(
  name: string,
  container: Record<string, unknown>,
  spec: Record<string, unknown> = {},
): string {
  return JSON.stringify({
    apiVersion: 'serving.zeroscale.dev/v1alpha1',
    kind: 'ServerlessService',
    metadata: { name },
    spec: {
      template: {
        spec: {
          containers: [{ name: 'app', image: 'node:24', ports: [{ containerPort: 8080 }], ...container }],
        },
      },
      ...spec,
    },
  });
}

const helloApp = {
  command: [
    'node',
    '-e',
    "require('http').createServer((q,s)=>s.end('hi')).listen(process.env.PORT);process.on('SIGTERM',()=>process.exit(0))",
  ],
};

async function waitReady(name: string, timeoutMs = 90_000): Promise<ServerlessService> {
  return waitFor(
    `${name} Ready=True`,
    async () => {
      const s = await getSsvc(name);
      const ready = readyCondition(s);
      return ready?.status === 'True' && ready.observedGeneration === s.metadata.generation ? s : undefined;
    },
    timeoutMs,
  );
}

async function listOwned(kind: string, name: string): Promise<string[]> {
  const out = await kubectlOk([
    'get',
    kind,
    '-n',
    ns.name,
    '-l',
    `serving.zeroscale.dev/service=${name}`,
    '-o',
    'name',
  ]);
  return out.split('\n').filter(Boolean);
}

describe('kubectl apply -f examples/', () => {
  it('brings every example to Ready with its URL in status', async () => {
    await kubectlOk(['apply', '-n', ns.name, '-f', `${repoRoot}/examples/`]);
    for (const name of ['hello', 'sleepy', 'always-on', 'canary']) {
      const s = await waitReady(name);
      expect(s.status?.url).toBe(`http://${name}.${ns.name}.example.com`);
      expect(s.status?.observedGeneration).toBe(s.metadata.generation);
    }
    // The canary example's tag has its own URL in status.
    expect((await getSsvc('canary')).status?.traffic).toEqual([
      {
        revisionName: 'canary-1',
        percent: 100,
        latestRevision: true,
        tag: 'latest',
        url: `http://latest-canary.${ns.name}.example.com`,
      },
    ]);
    // Ready needs one pod; always-on's minScale of 2 shows once its second pod is up too.
    const table = await waitFor('always-on at 2/2 in the printer columns', async () => {
      const t = await kubectlOk(['get', 'ssvc', '-n', ns.name]);
      return /always-on\s+http:\/\/always-on\.\S+\s+always-on-1\s+always-on-1=100\s+True\s+2\/2/.test(t)
        ? t
        : undefined;
    });
    expect(table).toMatch(/NAME\s+URL\s+LATEST\s+TRAFFIC\s+READY\s+REPLICAS\s+MODE\s+AGE/);
    const revisions = await kubectlOk(['get', 'revisions', '-n', ns.name]);
    expect(revisions).toMatch(/NAME\s+SERVICE\s+ROUTING\s+READY\s+REASON\s+REPLICAS\s+AGE/);
    expect(revisions).toMatch(/always-on-1\s+always-on\s+active\s+True\s+\S+\s+2\/2/);
  });
});

describe('drift', () => {
  it('restores a hand-edited image, recreates a deleted Deployment, and deleting the service leaves nothing', async () => {
    // A short timeout keeps the pods' grace period short: a pod deleted while its app is still
    // starting gets SIGTERM before the app's handler exists, and PID 1 ignores it until SIGKILL.
    await kubectlOk(['apply', '-n', ns.name, '-f', '-'], manifest('drift', helloApp, { timeoutSeconds: 5 }));
    await waitReady('drift');
    // The revision's Deployment carries the revision's name.
    const path = `/apis/apps/v1/namespaces/${ns.name}/deployments/drift-1`;
    const original = await client.get<V1Deployment>(path);

    await kubectlOk(['set', 'image', '-n', ns.name, 'deployment/drift-1', 'app=node:22']);
    await waitFor('image restored to node:24', async () => {
      const d = await client.get<V1Deployment>(path);
      return d.spec?.template.spec?.containers.find((c) => c.name === 'app')?.image === 'node:24';
    });

    await kubectlOk(['delete', 'deployment', 'drift-1', '-n', ns.name, '--wait=true']);
    const recreated = await waitFor('Deployment recreated', async () => {
      const d = await client.get<V1Deployment>(path);
      return d.metadata?.uid !== original.metadata?.uid ? d : undefined;
    });
    expect(recreated.spec?.template.spec?.containers.map((c) => c.name)).toEqual(['app', 'queue-proxy']);

    await kubectlOk(['delete', 'ssvc', 'drift', '-n', ns.name]);
    let left: string[] = [];
    await waitFor(
      'nothing owned by drift is left',
      async () => {
        left = [
          ...(await listOwned('revisions', 'drift')),
          ...(await listOwned('deployments', 'drift')),
          ...(await listOwned('services', 'drift')),
          ...(await listOwned('endpointslices', 'drift')),
          ...(await listOwned('pods', 'drift')),
        ];
        return left.length === 0;
      },
      120_000,
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; left: ${left.join(', ')}`);
    });
  });
});

describe('template changes', () => {
  it('stamp a new revision with its own Deployment; the old one keeps its template and goes to zero', async () => {
    const withEnv = { ...helloApp, env: [{ name: 'GREETING', value: 'hi' }] };
    await kubectlOk(['apply', '-n', ns.name, '-f', '-'], manifest('shrink', withEnv, { timeoutSeconds: 5 }));
    await waitReady('shrink');
    const deployment = (name: string) =>
      client.get<V1Deployment>(`/apis/apps/v1/namespaces/${ns.name}/deployments/${name}`);
    const app = (d: V1Deployment) => d.spec?.template.spec?.containers.find((c) => c.name === 'app');
    const names = (d: V1Deployment) => app(d)?.env?.map((e) => e.name);
    expect(names(await deployment('shrink-1'))).toEqual(['GREETING', 'PORT']);

    // The same service without the env var: a new revision, whose pods lack it.
    await kubectlOk(['apply', '-n', ns.name, '-f', '-'], manifest('shrink', helloApp, { timeoutSeconds: 5 }));
    const s = await waitFor('shrink-2 ready and routed', async () => {
      const x = await getSsvc('shrink');
      const ready = readyCondition(x);
      return x.status?.latestReadyRevisionName === 'shrink-2' &&
        ready?.status === 'True' &&
        ready.observedGeneration === x.metadata.generation
        ? x
        : undefined;
    });
    expect(s.status?.latestCreatedRevisionName).toBe('shrink-2');
    expect(s.status?.traffic).toEqual([{ revisionName: 'shrink-2', percent: 100, latestRevision: true }]);
    const updated = await deployment('shrink-2');
    expect(names(updated)).toEqual(['PORT']);
    expect(app(updated)?.command).toEqual(helloApp.command);
    // The old revision is unchanged, unreachable, and at zero at once.
    expect(names(await deployment('shrink-1'))).toEqual(['GREETING', 'PORT']);
    const old = await waitFor('shrink-1 unreachable and at zero', async () => {
      const r = await client.get<{ metadata: { labels?: Record<string, string> } }>(
        `/apis/serving.zeroscale.dev/v1alpha1/namespaces/${ns.name}/revisions/shrink-1`,
      );
      const d = await deployment('shrink-1');
      return r.metadata.labels?.['serving.zeroscale.dev/routing-state'] === 'reserve' &&
        d.spec?.replicas === 0
        ? r
        : undefined;
    });
    expect(old.metadata.labels?.['serving.zeroscale.dev/revision']).toBe('shrink-1');
    await kubectlOk(['delete', 'ssvc', 'shrink', '-n', ns.name, '--wait=false']);
  });
});

describe('pod problems in status', () => {
  it('shows ImagePullBackOff for an image that does not exist', async () => {
    await kubectlOk(
      ['apply', '-n', ns.name, '-f', '-'],
      manifest('noimage', { image: 'registry.invalid/nothing:1' }),
    );
    const s = await waitFor('Ready=False ImagePullBackOff', async () => {
      const x = await getSsvc('noimage');
      return readyCondition(x)?.reason === 'ImagePullBackOff' ? x : undefined;
    });
    expect(readyCondition(s)?.status).toBe('False');
    expect(readyCondition(s)?.message).toContain('registry.invalid/nothing:1');
  });

  it('shows a crashing container with its reason and exit code', async () => {
    await kubectlOk(
      ['apply', '-n', ns.name, '-f', '-'],
      manifest('crasher', { command: ['node', '-e', 'process.exit(4)'] }),
    );
    const s = await waitFor('Ready=False CrashLoopBackOff', async () => {
      const x = await getSsvc('crasher');
      return readyCondition(x)?.reason === 'CrashLoopBackOff' ? x : undefined;
    });
    expect(readyCondition(s)?.message).toMatch(/container app: .*last exit code 4/);
    const events = await kubectlOk([
      'get',
      'events',
      '-n',
      ns.name,
      '--field-selector',
      'involvedObject.name=crasher,involvedObject.kind=ServerlessService',
    ]);
    expect(events).toContain('CrashLoopBackOff');
  });
  it('shows OOMKilled for a container over its memory limit, as the kernel reported it', async () => {
    await kubectlOk(
      ['apply', '-n', ns.name, '-f', '-'],
      manifest('hungry', {
        command: ['node', '-e', 'const held = []; for (;;) held.push(Buffer.alloc(1 << 20, 1));'],
        resources: { limits: { memory: '64Mi' }, requests: { memory: '64Mi' } },
      }),
    );
    const s = await waitFor('Ready=False OOMKilled', async () => {
      const x = await getSsvc('hungry');
      return readyCondition(x)?.reason === 'OOMKilled' ? x : undefined;
    });
    expect(readyCondition(s)?.status).toBe('False');
    expect(readyCondition(s)?.message).toMatch(/container app: .*137.*OOMKilled/);
  });

  it('shows ErrImageNeverPull for an image that is not on the node with pull policy Never', async () => {
    await kubectlOk(
      ['apply', '-n', ns.name, '-f', '-'],
      manifest('neverpull', { image: 'zeroscale.local/not-built:1', imagePullPolicy: 'Never' }),
    );
    const s = await waitFor('Ready=False ErrImageNeverPull', async () => {
      const x = await getSsvc('neverpull');
      return readyCondition(x)?.reason === 'ErrImageNeverPull' ? x : undefined;
    });
    expect(readyCondition(s)?.message).toContain('zeroscale.local/not-built:1');
  });
});

describe('cluster configuration', () => {
  it('applies a changed domain suffix to status.url without a restart', async () => {
    await kubectlOk(['apply', '-n', ns.name, '-f', '-'], manifest('domain', helloApp));
    await waitReady('domain');
    const patch = (suffix: string) => patchClusterConfig({ 'domain-suffix': suffix });
    await patch('apps.test');
    try {
      await waitFor(
        'url under apps.test',
        async () => (await getSsvc('domain')).status?.url === `http://domain.${ns.name}.apps.test`,
      );
    } finally {
      await patch('example.com');
    }
    await waitFor(
      'url back under example.com',
      async () => (await getSsvc('domain')).status?.url === `http://domain.${ns.name}.example.com`,
    );
  });
});

describe('leader election', () => {
  it('lets the standby take over when the leader is killed mid-reconcile, leaving nothing half-done', async () => {
    const leasePath = `/apis/coordination.k8s.io/v1/namespaces/${systemNamespace}/leases/zeroscale-controller`;
    const leader = (await client.get<{ spec: { holderIdentity?: string } }>(leasePath)).spec.holderIdentity;
    expect(leader).toBeTruthy();
    const pod = await client.get<V1Pod>(
      `/api/v1/namespaces/${systemNamespace}/pods/${podOfIdentity(leader!)}`,
    );
    const pid = await containerPid(pod.status?.containerStatuses?.[0]?.containerID ?? '');
    expect(pid).toBeGreaterThan(0);

    // 50 services at zero (Ready without pods), applied at once; the leader dies mid-reconcile.
    const names = Array.from({ length: 50 }, (_, i) => `burst-${i}`);
    const atZero = { scaling: { minScale: 0, initialScale: 0 } };
    await kubectlOk(
      ['apply', '-n', ns.name, '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: names.map((n) => JSON.parse(manifest(n, helloApp, atZero))),
      }),
    );
    process.kill(pid, 'SIGKILL');

    const newLeader = await waitFor(
      'another controller holds the lease',
      async () => {
        const holder = (await client.get<{ spec: { holderIdentity?: string } }>(leasePath)).spec
          .holderIdentity;
        return holder && holder !== leader ? holder : undefined;
      },
      60_000,
    );
    expect(newLeader).not.toBe(leader);
    const ready = await waitAllReady(ns.name, names.length, 120_000, 'burst');
    expect(ready.ready).toBe(50);
    // Everything each one owns, exactly once: no half-done reconcile was left behind.
    const owned = async (kind: string) =>
      (
        await client.get<{ items: { metadata: { labels?: Record<string, string> } }[] }>(kind, {
          labelSelector: 'serving.zeroscale.dev/service',
        })
      ).items.map((o) => o.metadata.labels?.['serving.zeroscale.dev/service']);
    const count = (all: (string | undefined)[], n: string) => all.filter((x) => x === n).length;
    const deployments = await owned(`/apis/apps/v1/namespaces/${ns.name}/deployments`);
    const services = await owned(`/api/v1/namespaces/${ns.name}/services`);
    const slices = await owned(`/apis/discovery.k8s.io/v1/namespaces/${ns.name}/endpointslices`);
    for (const n of names) {
      expect(count(deployments, n), n).toBe(1);
      expect(count(services, n), n).toBe(2);
      expect(count(slices, n), n).toBeGreaterThanOrEqual(1);
    }
    const r = await kubectl([
      'get',
      'ssvc',
      '-n',
      ns.name,
      '-o',
      'jsonpath={.items[*].status.observedGeneration}',
    ]);
    expect(r.stdout.split(' ').every((g) => g === '1')).toBe(true);
  });
});
