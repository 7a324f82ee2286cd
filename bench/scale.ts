// Scale on the local cluster (issue 15): 1,000 ServerlessServices applied at once with kubectl
// (at zero, so no pods) until all are Ready, with the controller's reconcile latency and queue,
// and the controller's and autoscaler's memory before and after; then the cold-start storm, 50
// services at zero woken by one burst of 100 requests at the same moment.
import { apiserverWrites, kubectl, kubectlOk, testNamespace, waitFor } from '../dev/cluster/kube.ts';
import { componentMetrics, installZeroscale, metricSum } from '../dev/cluster/zeroscale.ts';
import {
  applyPlainApps,
  applyServices,
  fireColdStorm,
  waitAllReady,
  waitDeploymentsObserved,
} from '../dev/scale.ts';
import { writeResult } from './stats.ts';

const SERVICES = 1_000;
const STORM_SERVICES = 50;

interface ComponentSample {
  /** Resident memory of each replica, MB. */
  readonly rssMb: number[];
  /** CPU seconds of all replicas together. */
  readonly cpuSeconds: number;
}

async function sample(component: 'controller' | 'autoscaler'): Promise<ComponentSample> {
  const pods = await componentMetrics(component);
  return {
    rssMb: pods.map((p) => Math.round(metricSum(p.text, 'process_resident_memory_bytes') / 1e5) / 10),
    cpuSeconds: pods.reduce((s, p) => s + metricSum(p.text, 'process_cpu_seconds_total'), 0),
  };
}

/** Reconcile count and the duration histogram's buckets, summed over the controller replicas. */
async function reconciles(): Promise<{ count: number; sum: number; buckets: Map<number, number> }> {
  const buckets = new Map<number, number>();
  let count = 0;
  let sum = 0;
  for (const { text } of await componentMetrics('controller')) {
    count += metricSum(text, 'zeroscale_reconcile_duration_seconds_count');
    sum += metricSum(text, 'zeroscale_reconcile_duration_seconds_sum');
    for (const line of text.split('\n')) {
      const m = /^zeroscale_reconcile_duration_seconds_bucket\{.*le="([^"]+)".*\} (\S+)$/.exec(line);
      if (m === null || m[1] === '+Inf') continue;
      const le = Number(m[1]);
      buckets.set(le, (buckets.get(le) ?? 0) + Number(m[2]));
    }
  }
  return { count, sum, buckets };
}

/** The smallest bucket bound under which `q` of the reconciles between two readings fell. */
function quantileBound(
  before: Awaited<ReturnType<typeof reconciles>>,
  after: Awaited<ReturnType<typeof reconciles>>,
  q: number,
): number {
  const n = after.count - before.count;
  for (const le of [...after.buckets.keys()].sort((a, b) => a - b)) {
    if ((after.buckets.get(le) ?? 0) - (before.buckets.get(le) ?? 0) >= q * n) return le;
  }
  return Number.POSITIVE_INFINITY;
}

/** Deletes the namespace and waits until it is gone: its garbage would load the next step. */
async function removeAndWait(namespace: string): Promise<void> {
  await kubectlOk(['delete', 'namespace', namespace, '--wait=false']);
  await waitFor(
    `namespace ${namespace} gone`,
    async () => (await kubectl(['get', 'namespace', namespace])).code !== 0,
    900_000,
    2_000,
  );
}

export async function benchScale(): Promise<void> {
  await installZeroscale();
  const idle = { controller: await sample('controller'), autoscaler: await sample('autoscaler') };
  const before = await reconciles();

  const ns = await testNamespace('bench-scale');
  let maxDepth = 0;
  let polling = true;
  const depthPoller = (async () => {
    while (polling) {
      for (const { text } of await componentMetrics('controller').catch(() => []))
        maxDepth = Math.max(maxDepth, metricSum(text, 'zeroscale_workqueue_depth'));
      await new Promise((r) => setTimeout(r, 5_000));
    }
  })();
  const writesBefore = await apiserverWrites();
  const started = Date.now();
  await applyServices(ns.name, 'svc', SERVICES);
  const appliedMs = Date.now() - started;
  const ready = await waitAllReady(ns.name, SERVICES, 600_000);
  const allReadyMs = appliedMs + ready.allReadyMs;
  const writes = (await apiserverWrites()) - writesBefore;
  polling = false;
  await depthPoller;
  const after = await reconciles();
  const loaded = { controller: await sample('controller'), autoscaler: await sample('autoscaler') };
  await removeAndWait(ns.name);

  // Baseline in the same run: what the cluster alone takes for the objects zeroscale makes.
  const plain = await testNamespace('bench-plain');
  const plainWritesBefore = await apiserverWrites();
  const plainStarted = Date.now();
  await applyPlainApps(plain.name, 'app', SERVICES);
  const plainAppliedMs = Date.now() - plainStarted;
  const plainObservedMs = plainAppliedMs + (await waitDeploymentsObserved(plain.name, SERVICES, 600_000));
  const plainWrites = (await apiserverWrites()) - plainWritesBefore;
  await removeAndWait(plain.name);

  const storm = await testNamespace('bench-storm');
  await applyServices(storm.name, 'storm', STORM_SERVICES);
  await waitAllReady(storm.name, STORM_SERVICES, 300_000);
  const burst = await fireColdStorm(storm.name, 'storm', STORM_SERVICES, 2);
  await removeAndWait(storm.name);

  const n = after.count - before.count;
  const data = {
    services: SERVICES,
    kubectlApplyMs: appliedMs,
    allReadyMs,
    apiserverWritesPerService: Math.round((writes / SERVICES) * 10) / 10,
    baseline: {
      kubectlApplyMs: plainAppliedMs,
      allObservedMs: plainObservedMs,
      apiserverWritesPerApp: Math.round((plainWrites / SERVICES) * 10) / 10,
    },
    reconciles: n,
    reconcileMeanMs: n > 0 ? Math.round(((after.sum - before.sum) / n) * 1000 * 10) / 10 : 0,
    reconcileP50Le: quantileBound(before, after, 0.5),
    reconcileP99Le: quantileBound(before, after, 0.99),
    maxQueueDepth: maxDepth,
    idle,
    loaded,
    storm: {
      services: STORM_SERVICES,
      requests: burst.results.length,
      ok: burst.results.filter((r) => r.status === 200).length,
      failures: burst.failures.length,
      p50Ms: burst.p50Ms,
      lastMs: burst.lastMs,
    },
  };
  const mb = (s: ComponentSample) => s.rssMb.join(' / ');
  const md = [
    `### Scale (\`bench/scale.ts\`, ${new Date().toISOString().slice(0, 16).replace('T', ' ')})`,
    '',
    '| | value |',
    '|---|---|',
    `| ${SERVICES} services: \`kubectl apply --server-side\` (4 processes) | ${(appliedMs / 1000).toFixed(1)} s |`,
    `| ${SERVICES} services: apply → all Ready (goal ≤ 60 s) | ${(allReadyMs / 1000).toFixed(1)} s |`,
    `| baseline: the same objects by hand (${SERVICES} × Deployment at 0, 2 Services, EndpointSlice): \`kubectl apply\`; all Deployments observed (kube-controller-manager writes at its default 20/s) | ${(plainAppliedMs / 1000).toFixed(1)} s; ${(plainObservedMs / 1000).toFixed(1)} s |`,
    `| apiserver writes per service: zeroscale / baseline | ${data.apiserverWritesPerService} / ${data.baseline.apiserverWritesPerApp} |`,
    `| reconciles; mean; p50 / p99 bucket | ${n}; ${data.reconcileMeanMs} ms; ≤ ${data.reconcileP50Le * 1000} / ≤ ${data.reconcileP99Le * 1000} ms |`,
    `| largest work-queue depth seen | ${maxDepth} |`,
    `| controller RSS per replica, idle → at ${SERVICES} | ${mb(idle.controller)} → ${mb(loaded.controller)} MB |`,
    `| autoscaler RSS per replica, idle → at ${SERVICES} | ${mb(idle.autoscaler)} → ${mb(loaded.autoscaler)} MB |`,
    `| CPU while applying: controller / autoscaler | ${(loaded.controller.cpuSeconds - idle.controller.cpuSeconds).toFixed(1)} / ${(loaded.autoscaler.cpuSeconds - idle.autoscaler.cpuSeconds).toFixed(1)} s |`,
    `| cold storm: ${STORM_SERVICES} services at zero, ${burst.results.length} requests at once: 200s | ${data.storm.ok} of ${burst.results.length} |`,
    `| cold storm: p50 / last response | ${(burst.p50Ms / 1000).toFixed(1)} / ${(burst.lastMs / 1000).toFixed(1)} s |`,
  ].join('\n');
  writeResult('scale', data, md);
}
