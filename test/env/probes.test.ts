// Probes and restarts with kubelet's semantics: readiness moves a pod in and out of the ready
// endpoints, liveness restarts the container, a crashing container backs off in growing steps,
// an image the node cannot pull ends in ImagePullBackOff.
import type { CoreV1Event, V1ContainerStatus, V1EndpointSlice, V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apply, httpGet, kubeClient, testNamespace, waitFor } from '../../dev/cluster/kube.ts';
import { pod, probeAppContainer } from '../../dev/cluster/manifests.ts';

const client = kubeClient();
let ns: { name: string; remove: () => Promise<void> };
beforeAll(async () => {
  ns = await testNamespace('probes');
});
afterAll(async () => {
  await ns.remove();
  client.close();
});

const getPod = (name: string) => client.get<V1Pod>(`/api/v1/namespaces/${ns.name}/pods/${name}`);
async function containerStatus(name: string): Promise<V1ContainerStatus | undefined> {
  return (await getPod(name)).status?.containerStatuses?.[0];
}

async function endpointReady(service: string): Promise<boolean | undefined> {
  const list = await client.get<{ items: V1EndpointSlice[] }>(
    `/apis/discovery.k8s.io/v1/namespaces/${ns.name}/endpointslices`,
    {
      labelSelector: `kubernetes.io/service-name=${service}`,
    },
  );
  const eps = list.items.flatMap((s) => s.endpoints ?? []);
  return eps.length === 1 ? (eps[0]!.conditions?.ready ?? false) : undefined;
}

describe('probes', () => {
  it('takes a pod out of the ready endpoints while its readiness probe fails and back when it passes', async () => {
    await apply(ns.name, pod('flip', { containers: [probeAppContainer()] }), {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'flip' },
      spec: { selector: { app: 'flip' }, ports: [{ port: 80, targetPort: 8080 }] },
    });
    await waitFor('endpoint ready', async () => (await endpointReady('flip')) === true);
    const ip = (await getPod('flip')).status?.podIP;
    await httpGet(`http://${ip}:8080/ready/fail`);
    await waitFor('endpoint not ready', async () => (await endpointReady('flip')) === false);
    expect((await getPod('flip')).status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('False');
    await httpGet(`http://${ip}:8080/ready/pass`);
    await waitFor('endpoint ready again', async () => (await endpointReady('flip')) === true);
  });

  it('restarts a container whose liveness probe fails, and the restart count grows', async () => {
    await apply(
      ns.name,
      pod('liveness', {
        containers: [
          probeAppContainer({
            livenessProbe: {
              httpGet: { path: '/healthz', port: 8080 },
              periodSeconds: 1,
              failureThreshold: 2,
            },
          }),
        ],
      }),
    );
    const first = await waitFor('liveness pod ready', async () => {
      const p = await getPod('liveness');
      return p.status?.containerStatuses?.[0]?.ready ? p : undefined;
    });
    expect(first.status?.containerStatuses?.[0]?.restartCount).toBe(0);
    await httpGet(`http://${first.status?.podIP}:8080/healthz/fail`);
    const restarted = await waitFor('restartCount 1 and running again', async () => {
      const s = await containerStatus('liveness');
      return s && s.restartCount === 1 && s.ready ? s : undefined;
    });
    expect(restarted.lastState?.terminated).toBeDefined();
    // The restarted process is a new one with a fresh (live) state: it answers healthy again.
    expect((await httpGet(`http://${first.status?.podIP}:8080/healthz`)).status).toBe(200);
  });

  it('restarts a crashing container with a growing back-off (CrashLoopBackOff)', async () => {
    await apply(
      ns.name,
      pod('crasher', {
        containers: [{ name: 'app', image: 'node:24', command: ['node', '-e', 'process.exit(3)'] }],
      }),
    );
    // Each run's start as the container status shows it (the current or the last terminated run).
    const starts = new Map<number, number>();
    await waitFor(
      'three restarts',
      async () => {
        const s = await containerStatus('crasher');
        const t = s?.state?.terminated ?? s?.state?.running;
        if (s && t?.startedAt) starts.set(s.restartCount, Date.parse(String(t.startedAt)));
        if (s?.lastState?.terminated) expect(s.lastState.terminated.exitCode).toBe(3);
        return starts.has(1) && starts.has(2) && starts.has(3);
      },
      90_000,
      200,
    );
    // kubelet waits 10 s after the first crash, then doubles the wait. Each gap also holds the
    // container's own start (seconds on a busy node), so the growth is what is compared: the
    // second gap is ~10 s longer than the first (start times have a 1 s resolution).
    const first = starts.get(2)! - starts.get(1)!;
    const second = starts.get(3)! - starts.get(2)!;
    expect(first).toBeGreaterThanOrEqual(9_000);
    expect(second - first).toBeGreaterThanOrEqual(8_000);
    const events = await client.get<{ items: CoreV1Event[] }>(`/api/v1/namespaces/${ns.name}/events`, {
      fieldSelector: 'involvedObject.name=crasher',
    });
    expect(
      events.items.some(
        (e) => e.reason === 'BackOff' && e.message?.includes('Back-off restarting failed container'),
      ),
    ).toBe(true);
    expect((await getPod('crasher')).status?.phase).toBe('Running');
  });

  it('reports ErrImagePull then ImagePullBackOff for an image the node cannot pull', async () => {
    await apply(
      ns.name,
      pod('noimage', { containers: [{ name: 'app', image: 'registry.invalid/nothing:1' }] }),
    );
    await waitFor(
      'ImagePullBackOff',
      async () => (await containerStatus('noimage'))?.state?.waiting?.reason === 'ImagePullBackOff',
    );
    // ErrImagePull came first: the node recorded the failed pull before it started backing off.
    const events = await client.get<{ items: CoreV1Event[] }>(`/api/v1/namespaces/${ns.name}/events`, {
      fieldSelector: 'involvedObject.name=noimage',
    });
    expect(
      events.items.some(
        (e) =>
          e.reason === 'Failed' && e.message?.includes('Failed to pull image "registry.invalid/nothing:1"'),
      ),
    ).toBe(true);
    const s = await containerStatus('noimage');
    expect(s?.ready).toBe(false);
    expect((await getPod('noimage')).status?.phase).toBe('Pending');
  });
});
