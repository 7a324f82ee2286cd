// Pod deletion as kubelet does it: preStop hook, SIGTERM, the grace period, SIGKILL, then the pod
// object goes; scaling to zero leaves no sandbox, container or network namespace on the node.
import fs from 'node:fs';
import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apply, kubeClient, kubectlOk, testNamespace, waitFor } from '../../dev/cluster/kube.ts';
import { deployment, pod, probeAppContainer } from '../../dev/cluster/manifests.ts';
import { crictl } from '../../dev/cluster/node.ts';

const client = kubeClient();
let ns: { name: string; remove: () => Promise<void> };
beforeAll(async () => {
  ns = await testNamespace('life');
});
afterAll(async () => {
  await ns.remove();
  client.close();
});

const getPod = (name: string) => client.get<V1Pod>(`/api/v1/namespaces/${ns.name}/pods/${name}`);
const isReady = (p: V1Pod) =>
  p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

/**
 * The node's ready sandboxes of one pod, as the CRI lists them. A stopped sandbox has no
 * process and no network left; kubelet's garbage collection removes its record within a minute.
 */
async function sandboxesOf(namespace: string, name: string): Promise<string[]> {
  const { stdout } = await crictl([
    'pods',
    '--state',
    'ready',
    '--namespace',
    namespace,
    '--name',
    `^${name}$`,
    '-q',
  ]);
  return stdout.split(/\s+/).filter(Boolean);
}

/** The network namespace path of a sandbox, from the CRI's own record of it. */
async function netnsOf(sandboxId: string): Promise<string> {
  const info = JSON.parse((await crictl(['inspectp', sandboxId])).stdout) as {
    info: { runtimeSpec: { linux: { namespaces: { type: string; path?: string }[] } } };
  };
  const netns = info.info.runtimeSpec.linux.namespaces.find((n) => n.type === 'network')?.path;
  if (!netns) throw new Error(`sandbox ${sandboxId} has no network namespace path`);
  return netns;
}

async function gone(name: string): Promise<boolean> {
  try {
    await getPod(name);
    return false;
  } catch {
    return true;
  }
}

describe('pod deletion', () => {
  it('runs preStop, sends SIGTERM, waits out the grace period, then SIGKILLs and removes the pod', async () => {
    const grace = 3;
    await apply(
      ns.name,
      pod('stubborn', {
        terminationGracePeriodSeconds: grace,
        containers: [
          probeAppContainer({
            env: [...(probeAppContainer().env ?? []), { name: 'IGNORE_SIGTERM', value: '1' }],
            lifecycle: { preStop: { httpGet: { path: '/prestop', port: 8080 } } },
          }),
        ],
      }),
    );
    await waitFor('stubborn Ready', async () => isReady(await getPod('stubborn')));
    const [sandbox] = await sandboxesOf(ns.name, 'stubborn');
    expect(sandbox).toBeDefined();
    const netns = await netnsOf(sandbox!);
    expect(fs.existsSync(netns)).toBe(true);
    // Follow the container's log while it is deleted: kubelet's log API, as `kubectl logs -f`.
    const logs = kubectlOk(['logs', '-f', 'stubborn', '-n', ns.name]);
    const started = Date.now();
    await kubectlOk(['delete', 'pod', 'stubborn', '-n', ns.name, '--wait=false']);
    await waitFor('pod object gone', () => gone('stubborn'), 30_000, 100);
    const elapsed = (Date.now() - started) / 1000;
    // It ignored SIGTERM, so only the SIGKILL after the grace period ended it.
    expect(elapsed).toBeGreaterThanOrEqual(grace - 0.5);
    const log = await logs;
    const prestopAt = log.indexOf('prestop hook called');
    const sigtermAt = log.indexOf('SIGTERM received');
    expect(prestopAt).toBeGreaterThanOrEqual(0);
    expect(sigtermAt).toBeGreaterThan(prestopAt);
    await waitFor(
      'sandbox and its network namespace gone',
      async () => (await sandboxesOf(ns.name, 'stubborn')).length === 0 && !fs.existsSync(netns),
    );
  });

  it('leaves no running sandbox, container or network namespace behind when a Deployment scales to zero', async () => {
    await apply(ns.name, deployment('shrink', 2, { containers: [probeAppContainer()] }));
    const pods = await waitFor('2 ready pods', async () => {
      const list = await client.get<{ items: V1Pod[] }>(`/api/v1/namespaces/${ns.name}/pods`, {
        labelSelector: 'app=shrink',
      });
      return list.items.filter(isReady).length === 2 ? list.items : undefined;
    });
    const sandboxes = (await Promise.all(pods.map((p) => sandboxesOf(ns.name, p.metadata!.name!)))).flat();
    expect(sandboxes).toHaveLength(2);
    const netns = await Promise.all(sandboxes.map(netnsOf));
    for (const n of netns) expect(fs.existsSync(n)).toBe(true);
    await kubectlOk(['scale', 'deployment', 'shrink', '-n', ns.name, '--replicas=0']);
    await waitFor('no pods left', async () => {
      const list = await client.get<{ items: V1Pod[] }>(`/api/v1/namespaces/${ns.name}/pods`, {
        labelSelector: 'app=shrink',
      });
      return list.items.length === 0;
    });
    await waitFor('no running sandbox, container or netns of the Deployment left', async () => {
      const left = (await Promise.all(pods.map((p) => sandboxesOf(ns.name, p.metadata!.name!)))).flat();
      const containers = (
        await crictl(['ps', '-a', '--label', `io.kubernetes.pod.namespace=${ns.name}`, '-q'])
      ).stdout.trim();
      return left.length === 0 && containers === '' && netns.every((n) => !fs.existsSync(n));
    });
  });
});
