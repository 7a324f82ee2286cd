// Local cluster numbers: warm `cluster-up` time and pod create-to-Ready latency, beside the
// baseline of the same app started directly on the host (what the node agent adds on top).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { down, up } from '../test/env/cluster.ts';
import { apply, kubeClient, testNamespace, waitFor } from '../test/env/kube.ts';
import { pod, probeAppContainer, probeAppFile } from '../test/env/manifests.ts';
import { nodeBinary, stateRoot } from '../test/env/paths.ts';
import { summarize, writeResult } from './stats.ts';

const pods = 20;

async function directStartMs(): Promise<number> {
  const started = performance.now();
  const child = spawn(nodeBinary, [probeAppFile], { env: { PORT: '18999' }, stdio: 'ignore' });
  try {
    await waitFor(
      'direct app listening',
      async () => (await fetch('http://127.0.0.1:18999/ready')).ok,
      10_000,
      5,
    );
    return performance.now() - started;
  } finally {
    child.kill('SIGKILL');
  }
}

async function podReadyMs(client: ReturnType<typeof kubeClient>, ns: string, name: string): Promise<number> {
  const started = performance.now();
  await apply(ns, pod(name, { containers: [probeAppContainer()] }));
  await waitFor(
    `${name} Ready`,
    async () => {
      const p = await client.get<V1Pod>(`/api/v1/namespaces/${ns}/pods/${name}`);
      return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    },
    60_000,
    10,
  );
  return performance.now() - started;
}

/** Seconds each cached binary set took to build when it was first built (written by build-binaries.sh). */
function coldBuildSeconds(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const tool of ['etcd', 'helm', 'kubectl']) {
    const dir = path.dirname(fs.realpathSync(path.join(stateRoot, 'bin', tool)));
    const file = path.join(dir, '.build-seconds');
    if (fs.existsSync(file)) out[path.basename(dir)] = Number(fs.readFileSync(file, 'utf8'));
  }
  return out;
}

export async function benchCluster(): Promise<void> {
  await down({ quiet: true });
  const upStart = performance.now();
  await up();
  const warmUpMs = performance.now() - upStart;

  const client = kubeClient();
  const ns = await testNamespace('bench');
  const podMs: number[] = [];
  const directMs: number[] = [];
  try {
    for (let i = 0; i < pods; i++) {
      directMs.push(await directStartMs());
      podMs.push(await podReadyMs(client, ns.name, `p${i}`));
    }
  } finally {
    await ns.remove();
    client.close();
  }
  const build = coldBuildSeconds();
  const pod = summarize(podMs);
  const direct = summarize(directMs);
  const f = (ms: number) => `${Math.round(ms)} ms`;
  writeResult(
    'cluster',
    {
      date: new Date().toISOString(),
      warmClusterUpMs: warmUpMs,
      podCreateToReadyMs: pod,
      directAppStartMs: direct,
      build,
    },
    [
      `| local cluster (${new Date().toISOString().slice(0, 10)}, 2 cores) | p50 | p95 | max |`,
      '|---|---|---|---|',
      `| pod create → Ready (kubectl apply to Ready=True, ${pods} pods, one at a time) | ${f(pod.p50)} | ${f(pod.p95)} | ${f(pod.max)} |`,
      `| baseline: same app started directly on the host → answering | ${f(direct.p50)} | ${f(direct.p95)} | ${f(direct.max)} |`,
      `| warm \`make cluster-up\` (binaries cached, cluster down before) | ${f(warmUpMs)} | | |`,
      '',
      `Cold build of the upstream binaries (first \`make\` on a machine, seconds): ${
        Object.entries(build)
          .map(([k, v]) => `${k} ${v} s`)
          .join(', ') || 'not recorded (built before timing was added)'
      }.`,
    ].join('\n'),
  );
}
