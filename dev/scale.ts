// Many services on the local cluster, for test/e2e/scale.test.ts and bench/scale.ts: apply N
// ServerlessServices at zero at once with kubectl, wait until all are Ready, and wake many at the
// same moment with one burst of requests through the activator on 127.0.0.1:8080.
import http from 'node:http';
import type { V1Deployment } from '@kubernetes/client-node';
import { ENDPOINTSLICE_SERVICE_NAME_LABEL } from '../src/api/labels.ts';
import type { ServerlessService } from '../src/api/serverless-service.ts';
import { Informer } from '../src/kube/informer.ts';
import { kubeClient, kubectlOk } from './cluster/kube.ts';
import { deployment, probeAppContainer, serverlessService } from './cluster/manifests.ts';
import { request } from './load.ts';

const serviceNames = (prefix: string, count: number): string[] =>
  Array.from({ length: count }, (_, i) => `${prefix}-${i}`);

/**
 * `kubectl apply` of `count` services at zero (no pod until a request), as one List per kubectl
 * process, four processes at once: how a user applies a directory of manifests.
 */
export async function applyServices(namespace: string, prefix: string, count: number): Promise<void> {
  await applyInParts(
    namespace,
    serviceNames(prefix, count).map((name) =>
      serverlessService(name, { timeoutSeconds: 300, scaling: { minScale: 0, initialScale: 0 } }),
    ),
  );
}

/**
 * The baseline of bench/scale.ts: for each of `count` apps, the Kubernetes objects zeroscale makes
 * for a service at zero, written by hand and applied the same way: a Deployment at 0 replicas, a
 * headless Service selecting its pods, a Service with a ClusterIP and an EndpointSlice of its own.
 * What the cluster spends on these is spent with or without zeroscale.
 */
export async function applyPlainApps(namespace: string, prefix: string, count: number): Promise<void> {
  await applyInParts(
    namespace,
    serviceNames(prefix, count).flatMap((name) => [
      deployment(name, 0, { containers: [probeAppContainer()] }),
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: `${name}-private` },
        spec: { clusterIP: 'None', selector: { app: name }, ports: [{ name: 'http', port: 8012 }] },
      },
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name },
        spec: { ports: [{ name: 'http', port: 80 }] },
      },
      {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { name: `${name}-public`, labels: { [ENDPOINTSLICE_SERVICE_NAME_LABEL]: name } },
        addressType: 'IPv4',
        ports: [{ name: 'http', port: 8080 }],
        endpoints: [],
      },
    ]),
  );
}

/** One List per kubectl process, four processes at once. */
async function applyInParts(namespace: string, items: readonly object[]): Promise<void> {
  const parts = 4;
  const size = Math.ceil(items.length / parts);
  await Promise.all(
    Array.from({ length: parts }, (_, p) => items.slice(p * size, (p + 1) * size))
      .filter((chunk) => chunk.length > 0)
      .map((chunk) =>
        kubectlOk(
          ['apply', '--server-side', '-n', namespace, '-f', '-'],
          JSON.stringify({ apiVersion: 'v1', kind: 'List', items: chunk }),
        ),
      ),
  );
}

export interface AllReady {
  readonly ready: number;
  /** From the call until the last one was Ready (as the watch saw it). */
  readonly allReadyMs: number;
  /** Host of each service's URL, by name. */
  readonly hosts: ReadonlyMap<string, string>;
}

/**
 * Waits until `count` services in the namespace (those named `<prefix>-…`, when given) are Ready
 * for their current generation.
 */
export async function waitAllReady(
  namespace: string,
  count: number,
  timeoutMs: number,
  prefix?: string,
): Promise<AllReady> {
  const { done: hosts, ms } = await watchUntil<ServerlessService, string>(
    `/apis/serving.zeroscale.dev/v1alpha1/namespaces/${namespace}/serverlessservices`,
    `services Ready in ${namespace}`,
    count,
    timeoutMs,
    (s) => {
      if (prefix !== undefined && !s.metadata.name.startsWith(`${prefix}-`)) return undefined;
      const c = s.status?.conditions?.find((x) => x.type === 'Ready');
      return c?.status === 'True' && s.status?.observedGeneration === s.metadata.generation && s.status?.url
        ? new URL(s.status.url).host
        : undefined;
    },
  );
  return { ready: hosts.size, allReadyMs: ms, hosts };
}

/** Waits until the Deployment controller has seen all `count` Deployments in the namespace. */
export async function waitDeploymentsObserved(
  namespace: string,
  count: number,
  timeoutMs: number,
): Promise<number> {
  const { ms } = await watchUntil<V1Deployment, true>(
    `/apis/apps/v1/namespaces/${namespace}/deployments`,
    `Deployments observed in ${namespace}`,
    count,
    timeoutMs,
    (d) => (d.status?.observedGeneration === d.metadata?.generation ? true : undefined),
  );
  return ms;
}

/**
 * Watches `path` until `count` objects give a value (`doneValue` not undefined): the values by name,
 * and the time it took. It watches (one list, then a stream of changes) rather than listing 1,000
 * objects twice a second, which would cost the apiserver more CPU than the writes it measures.
 */
async function watchUntil<T extends { metadata?: { name?: string } }, V>(
  path: string,
  what: string,
  count: number,
  timeoutMs: number,
  doneValue: (obj: T) => V | undefined,
): Promise<{ done: Map<string, V>; ms: number }> {
  const client = kubeClient();
  const started = Date.now();
  const informer = new Informer<T>(client, { path });
  const done = new Map<string, V>();
  try {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `timed out after ${timeoutMs} ms waiting for ${count} ${what} (${done.size} of ${informer.list().length} listed)`,
            ),
          ),
        timeoutMs,
      );
      informer.on((event, obj) => {
        const name = obj.metadata?.name ?? '';
        const value = event === 'delete' ? undefined : doneValue(obj);
        if (value === undefined) done.delete(name);
        else done.set(name, value);
        if (done.size >= count) {
          clearTimeout(timer);
          resolve({ done, ms: Date.now() - started });
        }
      });
      informer.start();
    });
  } finally {
    informer.stop();
    client.close();
  }
}

export interface StormResult {
  readonly results: readonly { readonly status: number; readonly ms: number }[];
  readonly failures: readonly string[];
  readonly lastMs: number;
  readonly p50Ms: number;
}

/**
 * `perService` requests to each of `count` services at zero, all sent at the same moment (each
 * on its own connection), answered within the services' 300 s timeout.
 */
export async function fireColdStorm(
  namespace: string,
  prefix: string,
  count: number,
  perService: number,
): Promise<StormResult> {
  const { hosts } = await waitAllReady(namespace, count, 60_000);
  const agent = new http.Agent({ keepAlive: false, maxSockets: count * perService });
  const started = performance.now();
  const failures: string[] = [];
  const results = await Promise.all(
    serviceNames(prefix, count).flatMap((name) =>
      Array.from({ length: perService }, async () => {
        try {
          const res = await request(hosts.get(name)!, '/', agent, 310_000);
          if (res.status !== 200) failures.push(`${name}: ${res.status} ${res.body.slice(0, 200)}`);
          return { status: res.status, ms: performance.now() - started };
        } catch (err) {
          failures.push(`${name}: ${(err as Error).message}`);
          return { status: 0, ms: performance.now() - started };
        }
      }),
    ),
  );
  agent.destroy();
  const times = results.map((r) => r.ms).sort((a, b) => a - b);
  return {
    results,
    failures,
    lastMs: Math.round(times.at(-1) ?? 0),
    p50Ms: Math.round(times[Math.floor(times.length / 2)] ?? 0),
  };
}
