// Component deaths on the local cluster, everything installed by the Helm chart with its replica
// counts, steady load only through 127.0.0.1:8080: kubelet restarted on the real node, an
// activator deleted gracefully and one SIGKILLed, and the autoscaler leader SIGKILLed. Each
// prints its measured success rate.
import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startComponent, stopComponent } from '../../dev/cluster/cluster.ts';
import { kubeClient, kubectlOk, servingRevision, waitFor, waitServiceReady } from '../../dev/cluster/kube.ts';
import { serverlessService } from '../../dev/cluster/manifests.ts';
import { containerPid } from '../../dev/cluster/node.ts';
import { nodeName } from '../../dev/cluster/paths.ts';
import { componentMetrics, metricSum, systemNamespace } from '../../dev/cluster/zeroscale.ts';
import { type LoadResult, runLoad } from '../../dev/load.ts';
import { podOfIdentity } from '../../src/kube/leader.ts';
import { zeroscaleNamespace } from './suite.ts';

const client = kubeClient();
const ns = zeroscaleNamespace('faults');
const created = ns.created;

afterEach(async () => {
  await activatorsReady();
});
afterAll(() => client.close());

async function deploy(name: string, scaling: Record<string, unknown>): Promise<string> {
  const manifest = serverlessService(name, {
    timeoutSeconds: 60,
    scaling: { stableWindow: '6s', ...scaling },
  });
  await kubectlOk(['apply', '-n', ns.name, '-f', '-'], JSON.stringify(manifest));
  created.push(name);
  const svc = await waitServiceReady(ns.name, name);
  return new URL(svc.status!.url!).host;
}

const pods = async (selector: string, namespace = ns.name) =>
  (await client.get<{ items: V1Pod[] }>(`/api/v1/namespaces/${namespace}/pods`, { labelSelector: selector }))
    .items;

/** Both activators (the chart's count) running and ready again, for the next test. */
async function activatorsReady(): Promise<void> {
  await waitFor('two ready activators', async () => {
    const ready = (await pods('app.kubernetes.io/component=activator', systemNamespace)).filter(
      (p) =>
        !p.metadata?.deletionTimestamp &&
        p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    );
    return ready.length === 2;
  });
}

/** Steady load for `ms`, with `fault` run once `atMs` into it; resolves when the load ends. */
async function loadWithFault(
  host: string,
  ms: number,
  atMs: number,
  fault: () => Promise<void>,
): Promise<LoadResult> {
  const load = runLoad({ host, path: '/', concurrency: 4, durationMs: ms, timeoutMs: 60_000 });
  await new Promise((r) => setTimeout(r, atMs));
  await fault();
  return load;
}

function report(what: string, r: LoadResult): number {
  const ok = r.byStatus['200'] ?? 0;
  const rate = r.total === 0 ? 0 : ok / r.total;
  console.log(
    `${what}: ${ok} of ${r.total} requests succeeded (${(rate * 100).toFixed(3)} %); failures: ${JSON.stringify(r.failures.slice(0, 5))}`,
  );
  return rate;
}

async function leaseHolder(lease: string): Promise<string | undefined> {
  const l = await client.get<{ spec: { holderIdentity?: string } }>(
    `/apis/coordination.k8s.io/v1/namespaces/${systemNamespace}/leases/${lease}`,
  );
  return l.spec.holderIdentity || undefined;
}

async function sigkill(pod: V1Pod): Promise<void> {
  const pid = await containerPid(pod.status?.containerStatuses?.[0]?.containerID ?? '');
  expect(pid).toBeGreaterThan(0);
  process.kill(pid, 'SIGKILL');
}

describe('component deaths under steady load', () => {
  it('keeps serving through a kubelet restart, the pods untouched', async () => {
    const host = await deploy('through-kubelet', { minScale: 2, initialScale: 2 });
    const before = await pods('serving.zeroscale.dev/service=through-kubelet');
    const r = await loadWithFault(host, 20_000, 4_000, async () => {
      await stopComponent('kubelet');
      await new Promise((r) => setTimeout(r, 3_000));
      await startComponent('kubelet');
    });
    report('kubelet restarted', r);
    expect(r.failures).toEqual([]);
    await waitFor('the node Ready again', async () => {
      const node = await client.get<{ status?: { conditions?: { type: string; status: string }[] } }>(
        `/api/v1/nodes/${nodeName}`,
      );
      return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    });
    const after = await pods('serving.zeroscale.dev/service=through-kubelet');
    const state = (ps: V1Pod[]) =>
      ps
        .map((p) => `${p.metadata?.uid}:${p.status?.containerStatuses?.map((c) => c.restartCount).join()}`)
        .sort();
    expect(state(after)).toEqual(state(before));
  });

  it('loses no request when an activator is deleted gracefully', async () => {
    const host = await deploy('graceful', { minScale: 1 });
    const [victim] = await pods('app.kubernetes.io/component=activator', systemNamespace);
    const r = await loadWithFault(host, 20_000, 4_000, async () => {
      await kubectlOk(['delete', 'pod', victim!.metadata!.name!, '-n', systemNamespace, '--wait=false']);
    });
    report('activator deleted', r);
    expect(r.failures).toEqual([]);
  });

  it('serves ≥ 99.9 % of requests when an activator is SIGKILLed (only its in-flight ones may fail)', async () => {
    const host = await deploy('killed', { minScale: 1 });
    const [victim] = await pods('app.kubernetes.io/component=activator', systemNamespace);
    const r = await loadWithFault(host, 20_000, 4_000, () => sigkill(victim!));
    const rate = report('activator SIGKILLed', r);
    // Four clients: at most the requests in flight on the dead activator fail.
    expect(r.failures.length).toBeLessThanOrEqual(4);
    expect(rate).toBeGreaterThanOrEqual(0.999);
  });

  it('neither scales down nor loses a request when the autoscaler leader is SIGKILLed', async () => {
    const host = await deploy('leaderless', { target: 2, targetUtilizationPercentage: 100, maxScale: 6 });
    const revision = await servingRevision(ns.name, 'leaderless');
    const deployment = () =>
      client.get<{ spec?: { replicas?: number } }>(
        `/apis/apps/v1/namespaces/${ns.name}/deployments/${revision}`,
      );
    const load = runLoad({ host, path: '/sleep?ms=200', concurrency: 4, durationMs: 40_000 });
    const steady = await waitFor(
      'two pods under load',
      async () => {
        const n = (await deployment()).spec?.replicas ?? 0;
        return n >= 2 ? n : undefined;
      },
      60_000,
    );
    const leader = await leaseHolder('zeroscale-autoscaler');
    expect(leader).toBeTruthy();
    // The standby is hot: the activators' reports reach it too, and it decides the same scale.
    const standby = await waitFor('reports reaching the standby autoscaler', async () => {
      const other = (await componentMetrics('autoscaler')).find((m) => m.pod !== podOfIdentity(leader!));
      return other !== undefined && metricSum(other.text, 'zeroscale_autoscaler_activator_reports_total') > 0
        ? other
        : undefined;
    });
    expect(metricSum(standby.text, 'zeroscale_autoscaler_desired_pods', { service: 'leaderless' })).toBe(0);
    await sigkill(
      await client.get<V1Pod>(`/api/v1/namespaces/${systemNamespace}/pods/${podOfIdentity(leader!)}`),
    );
    let min = Number.POSITIVE_INFINITY;
    const sampler = (async () => {
      const end = Date.now() + 25_000;
      while (Date.now() < end) {
        min = Math.min(min, (await deployment()).spec?.replicas ?? 0);
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    const [r] = await Promise.all([load, sampler]);
    report('autoscaler leader SIGKILLed', r);
    console.log(`autoscaler leader SIGKILLed: ${steady} pods before, fewest after: ${min}`);
    expect(r.failures).toEqual([]);
    expect(min).toBeGreaterThanOrEqual(steady);
    // A new process holds the lease (the other replica, or the killed one restarted).
    const next = await waitFor('a new autoscaler leader', async () => {
      const holder = await leaseHolder('zeroscale-autoscaler');
      return holder !== undefined && holder !== leader ? holder : undefined;
    });
    expect(next).not.toBe(leader);
    console.log(
      `autoscaler leader SIGKILLed: the lease went to ${podOfIdentity(next) === standby.pod ? 'the hot standby' : 'the restarted process'}`,
    );
    if (podOfIdentity(next) === standby.pod) {
      // It leads with the history it kept: at once the same scale, not a cold minute of panic.
      const led = (await componentMetrics('autoscaler')).find((m) => m.pod === standby.pod)!;
      expect(
        metricSum(led.text, 'zeroscale_autoscaler_desired_pods', { service: 'leaderless' }),
      ).toBeGreaterThanOrEqual(steady);
      expect(metricSum(led.text, 'zeroscale_autoscaler_activator_reports_total')).toBeGreaterThan(
        metricSum(standby.text, 'zeroscale_autoscaler_activator_reports_total'),
      );
    }
  });
});
