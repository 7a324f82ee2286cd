// Local cluster numbers on the real node (kubelet + containerd + runc): warm `cluster-up`, pod
// create → answering and → Ready for the probe app's image created as a bare Pod (the baseline a
// cold start is compared with), the product image's build time from the Dockerfile (cold, and
// after a one-line change in src/), and the cold build time of the cached upstream binaries.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { down, up } from '../dev/cluster/cluster.ts';
import {
  buildDockerfile,
  importBuiltImage,
  PRODUCT_CONTEXT,
  removeBuiltImage,
} from '../dev/cluster/images.ts';
import { apply, kubeClient, testNamespace, waitFor } from '../dev/cluster/kube.ts';
import { pod, probeAppContainer } from '../dev/cluster/manifests.ts';
import { cacheRoot, repoRoot } from '../dev/cluster/paths.ts';
import { summarize, writeResult } from './stats.ts';

const pods = 20;

export interface PodStart {
  /** kubectl apply → the app answers HTTP at its pod IP (polled every 5 ms). */
  readonly answeringMs: number;
  /** kubectl apply → kubelet's Ready condition (readiness probe every 1 s, as users write it). */
  readonly readyMs: number;
}

/** One bare Pod of the probe app image: the time to serving, as a cold start's floor. */
export async function barePodStart(
  client: ReturnType<typeof kubeClient>,
  ns: string,
  name: string,
): Promise<PodStart> {
  const started = performance.now();
  await apply(ns, pod(name, { containers: [probeAppContainer()] }));
  const ip = await waitFor(
    `${name} has an IP`,
    async () => (await client.get<V1Pod>(`/api/v1/namespaces/${ns}/pods/${name}`)).status?.podIP,
    60_000,
    5,
  );
  await waitFor(
    `${name} answers`,
    async () => (await fetch(`http://${ip}:8080/ready`, { signal: AbortSignal.timeout(1_000) })).ok,
    60_000,
    5,
  );
  const answeringMs = performance.now() - started;
  await waitFor(
    `${name} Ready`,
    async () => {
      const p = await client.get<V1Pod>(`/api/v1/namespaces/${ns}/pods/${name}`);
      return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    },
    60_000,
    10,
  );
  return { answeringMs, readyMs: performance.now() - started };
}

/** Seconds each cached binary set took to build when it was first built (written by build-binaries.sh). */
function coldBuildSeconds(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const entry of fs.readdirSync(cacheRoot)) {
    const file = path.join(cacheRoot, entry, '.build-seconds');
    if (fs.existsSync(file)) out[entry] = Number(fs.readFileSync(file, 'utf8'));
  }
  return out;
}

/**
 * The product image built from a copy of the Dockerfile's context: cold (every step), then after a
 * one-line change in src/ (the edit-test loop: unchanged steps from the cache), each with the
 * import into containerd that follows it.
 */
async function imageBuildSeconds(): Promise<{ coldBuild: number; changedBuild: number; import: number }> {
  const context = fs.mkdtempSync(path.join(os.tmpdir(), 'zs-bench-image-'));
  const name = 'ghcr.io/zeroscale/zeroscale:bench';
  try {
    for (const f of PRODUCT_CONTEXT) {
      fs.mkdirSync(path.dirname(path.join(context, f)), { recursive: true });
      fs.cpSync(path.join(repoRoot, f), path.join(context, f), { recursive: true });
    }
    let t = performance.now();
    await buildDockerfile({ context, name, key: 'bench-cold', noCache: true });
    const coldBuild = (performance.now() - t) / 1000;
    fs.appendFileSync(path.join(context, 'src/cli.ts'), `\n// bench edit ${Date.now()}\n`);
    t = performance.now();
    await buildDockerfile({ context, name, key: 'bench-changed' });
    const changedBuild = (performance.now() - t) / 1000;
    const imported = await importBuiltImage(name, 'bench-changed');
    return { coldBuild, changedBuild, import: imported.buildSeconds };
  } finally {
    await removeBuiltImage(name);
    fs.rmSync(context, { recursive: true, force: true });
  }
}

export async function benchCluster(): Promise<void> {
  await down({ quiet: true });
  const upStart = performance.now();
  await up();
  const warmUpMs = performance.now() - upStart;

  const client = kubeClient();
  const ns = await testNamespace('bench');
  const starts: PodStart[] = [];
  try {
    for (let i = 0; i < pods; i++) starts.push(await barePodStart(client, ns.name, `p${i}`));
  } finally {
    await ns.remove();
    client.close();
  }
  const image = await imageBuildSeconds();
  const build = coldBuildSeconds();
  const answering = summarize(starts.map((s) => s.answeringMs));
  const ready = summarize(starts.map((s) => s.readyMs));
  const f = (ms: number) => `${Math.round(ms)} ms`;
  const sec = (s: number) => `${s.toFixed(1)} s`;
  writeResult(
    'cluster',
    {
      date: new Date().toISOString(),
      warmClusterUpMs: warmUpMs,
      barePodCreateToAnsweringMs: answering,
      barePodCreateToReadyMs: ready,
      productImageSeconds: image,
      build,
    },
    [
      `| local cluster, real node (${new Date().toISOString().slice(0, 10)}, 2 cores) | p50 | p95 | max |`,
      '|---|---|---|---|',
      `| bare Pod of the probe app image: kubectl apply → answering at its pod IP (${pods} pods, one at a time) | ${f(answering.p50)} | ${f(answering.p95)} | ${f(answering.max)} |`,
      `| the same: kubectl apply → kubelet's Ready (readiness probe every 1 s) | ${f(ready.p50)} | ${f(ready.p95)} | ${f(ready.max)} |`,
      `| warm \`make cluster-up\` (binaries and images cached, cluster down before) | ${f(warmUpMs)} | | |`,
      `| product image from the Dockerfile (buildah): cold, every step | ${sec(image.coldBuild)} | | |`,
      `| product image after a one-line change in src/ (cached steps reused) + import into containerd | ${sec(image.changedBuild)} + ${sec(image.import)} | | |`,
      '',
      `Cold build of the upstream binaries (first \`make\` on a machine, seconds): ${
        Object.entries(build)
          .map(([k, v]) => `${k} ${v} s`)
          .join(', ') || 'not recorded'
      }.`,
    ].join('\n'),
  );
}
