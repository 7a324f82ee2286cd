// Cold-start overhead on the local cluster's real node: for N services at zero, the time from a
// request's arrival at the activator (127.0.0.1:8080) to its response, beside the baseline of the
// same image created as a bare Pod (kubectl apply → answering at its pod IP), interleaved. Phases
// are timed by watching the Deployment and the Pod from the benchmark: scale decision, pod
// created, scheduled, started (has an IP), ready (kubelet's Ready condition), and the response.
// Then each component's and each queue-proxy's memory, from the CRI's cgroup stats.
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { kubeClient, kubectlOk, testNamespace, waitServiceReady } from '../dev/cluster/kube.ts';
import { serverlessService } from '../dev/cluster/manifests.ts';
import { crictl } from '../dev/cluster/node.ts';
import { installZeroscale } from '../dev/cluster/zeroscale.ts';
import { request } from '../dev/load.ts';
import type { WatchEvent } from '../src/kube/rest.ts';
import { barePodStart } from './cluster.ts';
import { summarize, writeResult } from './stats.ts';

const coldStarts = 20;
const phases = ['decision', 'podCreated', 'scheduled', 'started', 'podReady', 'response'] as const;
type Phase = (typeof phases)[number];

interface ContainerMemory {
  readonly pod: string;
  readonly container: string;
  readonly workingSetBytes: number;
  readonly usageBytes: number;
}

/** Memory of every running container, as the CRI reads it from the container's cgroup. */
async function containerMemory(): Promise<ContainerMemory[]> {
  const { stdout } = await crictl(['stats', '-o', 'json']);
  const stats = JSON.parse(stdout) as {
    stats: {
      attributes: { labels: Record<string, string> };
      memory?: { workingSetBytes?: { value: string }; usageBytes?: { value: string } };
    }[];
  };
  return stats.stats.map((s) => ({
    pod: s.attributes.labels['io.kubernetes.pod.name'] ?? '',
    container: s.attributes.labels['io.kubernetes.container.name'] ?? '',
    workingSetBytes: Number(s.memory?.workingSetBytes?.value ?? 0),
    usageBytes: Number(s.memory?.usageBytes?.value ?? 0),
  }));
}

function manifest(name: string): string {
  return JSON.stringify(
    serverlessService(name, { scaling: { minScale: 0, initialScale: 0, stableWindow: '6s' } }),
  );
}

export async function benchColdStart(): Promise<void> {
  await installZeroscale();
  const client = kubeClient();
  const ns = await testNamespace('coldbench');
  const totals: number[] = [];
  const baselines: number[] = [];
  let memory: ContainerMemory[] = [];
  const byPhase: Record<Phase, number[]> = {
    decision: [],
    podCreated: [],
    scheduled: [],
    started: [],
    podReady: [],
    response: [],
  };
  try {
    for (let i = 0; i < coldStarts; i++) {
      const name = `cold${i}`;
      await kubectlOk(['apply', '-n', ns.name, '-f', '-'], manifest(name));
      const host = `${name}.${ns.name}.example.com`;
      await waitServiceReady(ns.name, name, 60_000);
      baselines.push((await barePodStart(client, ns.name, `bare${i}`)).answeringMs);
      await kubectlOk(['delete', 'pod', `bare${i}`, '-n', ns.name, '--wait=false']);

      // Watch the Deployment and the Pod and note when each step is first seen.
      const seen: Partial<Record<Phase, number>> = {};
      const abort = new AbortController();
      const mark = (p: Phase) => {
        seen[p] ??= performance.now();
      };
      const depWatch = client
        .watch<V1Deployment>(
          `/apis/apps/v1/namespaces/${ns.name}/deployments`,
          // The service's first revision runs as the Deployment `<name>-1`.
          { fieldSelector: `metadata.name=${name}-1` },
          (ev: WatchEvent<V1Deployment>) => {
            if (ev.type !== 'BOOKMARK' && (ev.object.spec?.replicas ?? 0) > 0) mark('decision');
          },
          abort.signal,
        )
        .catch(() => undefined);
      const podWatch = client
        .watch<V1Pod>(
          `/api/v1/namespaces/${ns.name}/pods`,
          { labelSelector: `serving.zeroscale.dev/service=${name}` },
          (ev: WatchEvent<V1Pod>) => {
            if (ev.type !== 'ADDED' && ev.type !== 'MODIFIED') return; // a bookmark carries no pod
            const p = ev.object;
            mark('podCreated');
            if (p.spec?.nodeName) mark('scheduled');
            if (p.status?.podIP) mark('started');
            if (p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
              mark('podReady');
          },
          abort.signal,
        )
        .catch(() => undefined);
      await new Promise((r) => setTimeout(r, 300)); // let both watches open before the request
      const t0 = performance.now();
      const res = await request(host, '/');
      const total = performance.now() - t0;
      mark('response');
      abort.abort();
      await Promise.all([depWatch, podWatch]);
      if (res.status !== 200) throw new Error(`cold start ${i} answered ${res.status}: ${res.body}`);
      totals.push(total);
      for (const p of phases) if (seen[p] !== undefined) byPhase[p].push(seen[p]! - t0);
      if (i === coldStarts - 1) memory = await containerMemory();
      await kubectlOk(['delete', 'ssvc', name, '-n', ns.name, '--wait=false']);
    }
  } finally {
    await ns.remove();
    client.close();
  }
  const total = summarize(totals);
  const base = summarize(baselines);
  const overhead = summarize(totals.map((t, i) => t - baselines[i]!));
  const f = (ms: number) => `${Math.round(ms)} ms`;
  const phaseRows = phases.map((p) => {
    const s = summarize(byPhase[p]);
    if (s.n === 0) return `| ${p} | not seen before the response | |`;
    return `| ${p} (since the request arrived) | ${f(s.p50)} | ${f(s.p95)} |`;
  });
  writeResult(
    'coldstart',
    {
      date: new Date().toISOString(),
      coldStarts,
      totalMs: total,
      appStartMs: base,
      overheadMs: overhead,
      phasesMs: byPhase,
      memory,
    },
    [
      `| cold start, local cluster (${coldStarts} services at zero, one request each) | p50 | p95 |`,
      '|---|---|---|',
      `| request → response through the activator | ${f(total.p50)} | ${f(total.p95)} |`,
      `| baseline: the same image as a bare Pod, kubectl apply → answering at its pod IP | ${f(base.p50)} | ${f(base.p95)} |`,
      `| **overhead** (request → response minus the bare Pod's start, pairwise) | **${f(overhead.p50)}** | **${f(overhead.p95)}** |`,
      ...phaseRows,
      '',
      '| container memory (CRI stats from the cgroup, idle after the cold starts) | working set | usage |',
      '|---|---|---|',
      ...memoryRows(memory),
    ].join('\n'),
  );
}

function memoryRows(memory: readonly ContainerMemory[]): string[] {
  const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  const rows: string[] = [];
  for (const component of ['controller', 'autoscaler', 'activator']) {
    for (const m of memory.filter((x) => x.container === component))
      rows.push(`| ${component} (${m.pod}) | ${mb(m.workingSetBytes)} | ${mb(m.usageBytes)} |`);
  }
  for (const m of memory.filter((x) => x.container === 'queue-proxy'))
    rows.push(`| queue-proxy (${m.pod}) | ${mb(m.workingSetBytes)} | ${mb(m.usageBytes)} |`);
  for (const m of memory.filter((x) => x.container === 'app' && x.pod.startsWith('cold')))
    rows.push(`| the probe app beside it (${m.pod}) | ${mb(m.workingSetBytes)} | ${mb(m.usageBytes)} |`);
  return rows;
}
