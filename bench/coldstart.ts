// Cold-start overhead on the local cluster: for N services at zero, the time from a request's
// arrival at the activator (127.0.0.1:8080) to its response, beside the app's own start-to-listening
// time measured directly on the host (the baseline). Phases are timed by watching the Deployment
// and the Pod from the benchmark: scale decision, pod created, scheduled, started (has an IP),
// ready (kubelet's Ready condition), and the response.
import { spawn } from 'node:child_process';
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import type { WatchEvent } from '../src/kube/rest.ts';
import { request } from '../test/e2e/load.ts';
import { kubeClient, kubectlOk, testNamespace, waitFor, waitServiceReady } from '../test/env/kube.ts';
import { probeAppFile, serverlessService } from '../test/env/manifests.ts';
import { nodeBinary } from '../test/env/paths.ts';
import { installZeroscale } from '../test/env/zeroscale.ts';
import { summarize, writeResult } from './stats.ts';

const coldStarts = 20;
const phases = ['decision', 'podCreated', 'scheduled', 'started', 'podReady', 'response'] as const;
type Phase = (typeof phases)[number];

async function appStartMs(): Promise<number> {
  const started = performance.now();
  const child = spawn(nodeBinary, [probeAppFile], { env: { PORT: '18998' }, stdio: 'ignore' });
  try {
    await waitFor('app listening', async () => (await fetch('http://127.0.0.1:18998/')).ok, 10_000, 2);
    return performance.now() - started;
  } finally {
    child.kill('SIGKILL');
  }
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
      baselines.push(await appStartMs());

      // Watch the Deployment and the Pod and note when each step is first seen.
      const seen: Partial<Record<Phase, number>> = {};
      const abort = new AbortController();
      const mark = (p: Phase) => {
        seen[p] ??= performance.now();
      };
      const depWatch = client
        .watch<V1Deployment>(
          `/apis/apps/v1/namespaces/${ns.name}/deployments`,
          { fieldSelector: `metadata.name=${name}` },
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
    },
    [
      `| cold start, local cluster (${coldStarts} services at zero, one request each) | p50 | p95 |`,
      '|---|---|---|',
      `| request → response through the activator | ${f(total.p50)} | ${f(total.p95)} |`,
      `| baseline: the app's own start → listening, directly on the host | ${f(base.p50)} | ${f(base.p95)} |`,
      `| **overhead** (request → response minus the app's start) | **${f(overhead.p50)}** | **${f(overhead.p95)}** |`,
      ...phaseRows,
    ].join('\n'),
  );
}
