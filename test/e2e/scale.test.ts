// Scale on the local cluster, everything installed by the Helm chart: 1,000 ServerlessServices
// applied at once with kubectl all become Ready (at zero, so no pods), and 50 services at zero
// woken by one burst at the same moment answer every request with 200. The times are printed
// here; `make bench` (bench/scale.ts) records them with the components' memory.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubectlOk, testNamespace } from '../../dev/cluster/kube.ts';
import { componentMetrics, installZeroscale, metricSum } from '../../dev/cluster/zeroscale.ts';
import { applyServices, fireColdStorm, waitAllReady } from '../../dev/scale.ts';
import { SERVICE_LABEL } from '../../src/api/labels.ts';

let ns: Awaited<ReturnType<typeof testNamespace>>;

beforeAll(async () => {
  await installZeroscale();
}, 300_000);
afterAll(async () => {
  await ns?.remove();
});

describe('many services', () => {
  it('makes 1,000 services applied at once all Ready', async () => {
    ns = await testNamespace('scale');
    const started = Date.now();
    await applyServices(ns.name, 'svc', 1_000);
    const applied = Date.now() - started;
    const ready = await waitAllReady(ns.name, 1_000, 240_000);
    console.log(
      `1,000 services: kubectl apply took ${applied} ms, all Ready after ${ready.allReadyMs + applied} ms`,
    );
    expect(ready.ready).toBe(1_000);
    // Deleting the namespace takes the services with it, and the controller does not fight it:
    // until each service is deleted, writes of its children are refused (the namespace is
    // terminating), and retrying them with back-off flooded the log and the apiserver.
    const retries = async () =>
      (await componentMetrics('controller')).reduce(
        (n, p) => n + metricSum(p.text, 'zeroscale_workqueue_retries_total'),
        0,
      );
    const before = await retries();
    await ns.remove(300);
    const retried = (await retries()) - before;
    console.log(`namespace of 1,000 services deleted; reconciles retried meanwhile: ${retried}`);
    expect(retried).toBeLessThan(10);
  }, 600_000);

  it('serves a burst to 50 services at zero at the same moment, every request with 200', async () => {
    ns = await testNamespace('storm');
    await applyServices(ns.name, 'storm', 50);
    await waitAllReady(ns.name, 50, 120_000);
    const storm = await fireColdStorm(ns.name, 'storm', 50, 2);
    console.log(
      `cold storm: ${storm.results.length} requests to 50 services, last answered after ${storm.lastMs} ms (p50 ${storm.p50Ms} ms)`,
    );
    expect(storm.failures).toEqual([]);
    expect(storm.results.filter((r) => r.status === 200).length).toBe(100);
    // Every service woke: it has pods, or the autoscaler's status says it scaled it (a service
    // woken early in a long storm may be back at zero by the end: its replicas alone say nothing).
    const list = async <T>(kind: string) =>
      (JSON.parse(await kubectlOk(['get', kind, '-n', ns.name, '-o', 'json'])) as { items: T[] }).items;
    const serviceOf = (o: { metadata: { labels?: Record<string, string> } }) =>
      o.metadata.labels?.[SERVICE_LABEL];
    const withPods = new Set(
      (
        await list<{ metadata: { labels?: Record<string, string> }; spec: { replicas: number } }>(
          'deployments',
        )
      )
        .filter((d) => d.spec.replicas >= 1)
        .map(serviceOf),
    );
    // The autoscaler's status is on each service's revision.
    const revisions = await list<{
      metadata: { labels?: Record<string, string> };
      status?: { autoscaler?: { lastScaleTime?: string } };
    }>('revisions');
    const woke = new Set(
      revisions
        .filter((r) => withPods.has(serviceOf(r)) || r.status?.autoscaler?.lastScaleTime)
        .map(serviceOf),
    );
    expect(woke.size).toBe(50);
  }, 400_000);
});
