// Installs zeroscale into the local cluster the way users do: `helm upgrade --install` of the
// chart, so a missing RBAC rule or a wrong probe in the chart fails the tests that use it.

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { type BuiltImage, ensureProductImage } from './images.ts';
import { kubectlOk } from './kube.ts';
import { binary, paths, repoRoot } from './paths.ts';

export const systemNamespace = 'zeroscale-system';

/** Sets (or with null removes) keys of the zeroscale-config ConfigMap; the components follow it live. */
export function patchClusterConfig(data: Record<string, string | null>): Promise<string> {
  return kubectlOk([
    'patch',
    'configmap',
    'zeroscale-config',
    '-n',
    systemNamespace,
    '--type=merge',
    '-p',
    JSON.stringify({ data }),
  ]);
}
export const releaseName = 'zeroscale';
export const chartDir = path.join(repoRoot, 'deploy/helm/zeroscale');
export const localValues = path.join(repoRoot, 'dev/cluster/local-values.yaml');

export function helm(
  args: readonly string[],
  timeoutMs = 300_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      binary('helm'),
      [...args, `--kubeconfig=${paths.kubeconfig}`],
      { timeout: timeoutMs, maxBuffer: 16 << 20 },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

/**
 * Installs (or upgrades) the chart and waits until every component is available. The chart runs
 * the image built from the repository's Dockerfile (built first when src/ or the lockfile changed).
 */
export async function installZeroscale(extraArgs: readonly string[] = []): Promise<BuiltImage> {
  const image = await ensureProductImage();
  // As a careful platform team runs it: the system namespace enforces Pod Security `restricted`,
  // so every pod of the chart must pass it.
  await kubectlOk(
    ['apply', '-f', '-'],
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: systemNamespace, labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } },
    }),
  );
  // Helm installs the chart's CRDs on the first install only; an upgrade applies them as the README
  // tells users to, so a cluster that had an older zeroscale gets the new kinds and fields.
  await kubectlOk([
    'apply',
    '--server-side',
    '--force-conflicts',
    '--field-manager=zeroscale-crds',
    '-f',
    path.join(chartDir, 'crds'),
  ]);
  const tag = image.name.slice(image.name.lastIndexOf(':') + 1);
  const r = await helm([
    'upgrade',
    '--install',
    releaseName,
    chartDir,
    '--namespace',
    systemNamespace,
    '--create-namespace',
    '-f',
    localValues,
    '--wait',
    '--timeout',
    '3m',
    '--set',
    `image.tag=${tag}`,
    ...extraArgs,
  ]);
  if (r.code !== 0) throw new Error(`helm upgrade --install failed: ${r.stderr || r.stdout}`);
  return image;
}

type Component = 'activator' | 'autoscaler' | 'controller';

/** The names of the running pods of a zeroscale component. */
export async function runningComponentPods(component: Component): Promise<string[]> {
  const pods = JSON.parse(
    await kubectlOk([
      'get',
      'pods',
      '-n',
      systemNamespace,
      '-l',
      `app.kubernetes.io/component=${component}`,
      '--field-selector=status.phase=Running',
      '-o',
      'json',
    ]),
  ) as { items: { metadata: { name: string } }[] };
  return pods.items.map((p) => p.metadata.name);
}

/** The /metrics text of every running pod of a zeroscale component, read through the apiserver's pod proxy. */
export async function componentMetrics(component: Component): Promise<{ pod: string; text: string }[]> {
  const pods = await runningComponentPods(component);
  return Promise.all(
    pods.map(async (pod) => ({
      pod,
      text: await kubectlOk([
        'get',
        '--raw',
        `/api/v1/namespaces/${systemNamespace}/pods/${pod}:9090/proxy/metrics`,
      ]),
    })),
  );
}

/** Sum of the samples of `name` in a Prometheus text whose labels include all of `labels`. */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labelText = line.slice(name.length, line.lastIndexOf(' '));
    if (Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`)))
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/**
 * The Gateway API's standard CRDs (HTTPRoute, Gateway…) in the local cluster, from the copy
 * scripts/build-binaries.sh took out of the sigs.k8s.io/gateway-api module. Idempotent.
 */
export async function installGatewayApiCrds(): Promise<void> {
  await kubectlOk([
    'apply',
    '--server-side',
    '--force-conflicts',
    '--field-manager=zeroscale-tests',
    '-f',
    // The link's target: kubectl reads a directory given as a link as a file.
    fs.realpathSync(path.join(repoRoot, '.zeroscale', 'gateway-api-crds')),
  ]);
  await kubectlOk([
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    'crd/httproutes.gateway.networking.k8s.io',
  ]);
}
