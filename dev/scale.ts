// Many services on the local cluster, for test/e2e/scale.test.ts and bench/scale.ts: apply N
// ServerlessServices at zero at once with kubectl, wait until all are Ready, and wake many at the
// same moment with one burst of requests through the activator on 127.0.0.1:8080.
import http from 'node:http';
import type { ServerlessService } from '../src/api/serverless-service.ts';
import { kubeClient, kubectlOk, waitFor } from './cluster/kube.ts';
import { serverlessService } from './cluster/manifests.ts';
import { request } from './load.ts';

const serviceNames = (prefix: string, count: number): string[] =>
  Array.from({ length: count }, (_, i) => `${prefix}-${i}`);

/**
 * `kubectl apply` of `count` services at zero (no pod until a request), as one List per kubectl
 * process, four processes at once: how a user applies a directory of manifests.
 */
export async function applyServices(namespace: string, prefix: string, count: number): Promise<void> {
  const items = serviceNames(prefix, count).map((name) =>
    serverlessService(name, { timeoutSeconds: 300, scaling: { minScale: 0, initialScale: 0 } }),
  );
  const parts = 4;
  const size = Math.ceil(items.length / parts);
  await Promise.all(
    Array.from({ length: parts }, (_, p) => items.slice(p * size, (p + 1) * size))
      .filter((chunk) => chunk.length > 0)
      .map((chunk) =>
        kubectlOk(
          ['apply', '-n', namespace, '-f', '-'],
          JSON.stringify({ apiVersion: 'v1', kind: 'List', items: chunk }),
        ),
      ),
  );
}

export interface AllReady {
  readonly ready: number;
  /** From the call until the last one was Ready (listed every 500 ms). */
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
  const client = kubeClient();
  const started = Date.now();
  try {
    let ready = 0;
    let listed = 0;
    const hosts = await waitFor(
      `${count} services Ready in ${namespace}`,
      async () => {
        const list = await client.get<{ items: ServerlessService[] }>(
          `/apis/serving.zeroscale.dev/v1alpha1/namespaces/${namespace}/serverlessservices`,
        );
        const out = new Map<string, string>();
        for (const s of list.items) {
          if (prefix !== undefined && !s.metadata.name.startsWith(`${prefix}-`)) continue;
          const c = s.status?.conditions?.find((x) => x.type === 'Ready');
          if (c?.status === 'True' && s.status?.observedGeneration === s.metadata.generation && s.status?.url)
            out.set(s.metadata.name, new URL(s.status.url).host);
        }
        ready = out.size;
        listed = list.items.length;
        return out.size >= count ? out : undefined;
      },
      timeoutMs,
      500,
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message} (${ready} Ready of ${listed} listed)`);
    });
    return { ready, allReadyMs: Date.now() - started, hosts };
  } finally {
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
