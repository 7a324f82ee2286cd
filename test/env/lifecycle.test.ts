// Pod deletion as kubelet does it: preStop hook, SIGTERM, the grace period, SIGKILL, then the pod
// object goes; scaling to zero leaves no process and no network namespace behind. A pod the node
// cannot honour gets a clear reason, and the node agent keeps running.
import fs from 'node:fs';
import path from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apply, kubeClient, kubectlOk, testNamespace, waitFor } from './kube.ts';
import { deployment, pod, probeAppContainer } from './manifests.ts';
import { run } from './node-agent/exec.ts';
import { sandboxNames } from './node-agent/network.ts';
import { paths } from './paths.ts';

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

function pidOf(p: V1Pod): number {
  return Number(p.status?.containerStatuses?.[0]?.containerID?.replace('zeroscale://', ''));
}
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
async function netnsList(): Promise<string[]> {
  return (await run('ip', ['netns', 'list'])).stdout
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter(Boolean);
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
    const p = await waitFor('stubborn Ready', async () => {
      const x = await getPod('stubborn');
      return isReady(x) ? x : undefined;
    });
    const pid = pidOf(p);
    expect(alive(pid)).toBe(true);
    const started = Date.now();
    await kubectlOk(['delete', 'pod', 'stubborn', '-n', ns.name, '--wait=false']);
    await waitFor(
      'pod object gone',
      async () => {
        try {
          await getPod('stubborn');
          return false;
        } catch {
          return true;
        }
      },
      30_000,
      100,
    );
    const elapsed = (Date.now() - started) / 1000;
    expect(elapsed).toBeGreaterThanOrEqual(grace - 0.5); // it ignored SIGTERM, so only SIGKILL after the grace ended it
    expect(alive(pid)).toBe(false);
    const log = fs.readFileSync(
      path.join(paths.logs, 'pods', `${ns.name}_stubborn_${p.metadata?.uid}`, 'app', '0.log'),
      'utf8',
    );
    const prestopAt = log.indexOf('prestop hook called');
    const sigtermAt = log.indexOf('SIGTERM received');
    expect(prestopAt).toBeGreaterThanOrEqual(0);
    expect(sigtermAt).toBeGreaterThan(prestopAt);
    expect(await netnsList()).not.toContain(sandboxNames(p.metadata!.uid!).netns);
  });

  it('leaves no process and no namespace behind when a Deployment scales to zero', async () => {
    await apply(ns.name, deployment('shrink', 2, { containers: [probeAppContainer()] }));
    const pods = await waitFor('2 ready pods', async () => {
      const list = await client.get<{ items: V1Pod[] }>(`/api/v1/namespaces/${ns.name}/pods`, {
        labelSelector: 'app=shrink',
      });
      return list.items.filter(isReady).length === 2 ? list.items : undefined;
    });
    const pids = pods.map(pidOf);
    const netns = pods.map((x) => sandboxNames(x.metadata!.uid!).netns);
    for (const n of netns) expect(await netnsList()).toContain(n);
    await kubectlOk(['scale', 'deployment', 'shrink', '-n', ns.name, '--replicas=0']);
    await waitFor('no pods left', async () => {
      const list = await client.get<{ items: V1Pod[] }>(`/api/v1/namespaces/${ns.name}/pods`, {
        labelSelector: 'app=shrink',
      });
      return list.items.length === 0;
    });
    for (const pid of pids) expect(alive(pid)).toBe(false);
    const left = await netnsList();
    for (const n of netns) expect(left).not.toContain(n);
  });
});

describe('pods the local node cannot honour', () => {
  it.each([
    ['hostnet', { hostNetwork: true, containers: [probeAppContainer()] }, /hostNetwork/],
    [
      'hostpath',
      {
        containers: [probeAppContainer({ volumeMounts: [{ name: 'data', mountPath: '/data' }] })],
        volumes: [{ name: 'data', hostPath: { path: '/tmp' } }],
      },
      /volume "data" has type hostPath/,
    ],
  ])('%s gets a status with a clear reason and the agent keeps running', async (name, spec, message) => {
    await apply(ns.name, pod(name, spec));
    const waiting = await waitFor(`${name} waiting with a reason`, async () => {
      const w = (await getPod(name)).status?.containerStatuses?.[0]?.state?.waiting;
      return w?.reason === 'UnsupportedByLocalNode' ? w : undefined;
    });
    expect(waiting.message).toMatch(message);
    // The agent still serves other pods.
    await apply(ns.name, pod(`${name}-after`, { containers: [probeAppContainer()] }));
    await waitFor(`${name}-after Ready`, async () => isReady(await getPod(`${name}-after`)));
  });
});
