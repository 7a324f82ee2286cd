// Test helpers for the local cluster: real kubectl, an API client, conditions waited on with
// deadlines, and one namespace per test file that is deleted afterwards.

import { execFile } from 'node:child_process';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeClient } from '../../src/kube/rest.ts';
import { binary, paths } from './paths.ts';

export interface KubectlResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the real kubectl against the local cluster; never throws, the caller checks `code`. */
export function kubectl(args: readonly string[], input?: string): Promise<KubectlResult> {
  return new Promise((resolve) => {
    const child = execFile(
      binary('kubectl'),
      [`--kubeconfig=${paths.kubeconfig}`, ...args],
      { timeout: 60_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** kubectl that must succeed. */
export async function kubectlOk(args: readonly string[], input?: string): Promise<string> {
  const r = await kubectl(args, input);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

export function apply(namespace: string, ...objects: readonly object[]): Promise<string> {
  const list = { apiVersion: 'v1', kind: 'List', items: objects };
  return kubectlOk(['apply', '-n', namespace, '-f', '-'], JSON.stringify(list));
}

export function kubeClient(): KubeClient {
  const kc = new KubeConfig();
  kc.loadFromFile(paths.kubeconfig);
  return new KubeClient(kc);
}

/**
 * Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`
 * with the last value seen, so a failure says what the state was.
 */
export async function waitFor<T>(
  description: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs = 60_000,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${description}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`,
  );
}

let counter = 0;
/** Creates a fresh namespace; `remove` deletes it and waits until it is gone. */
export async function testNamespace(
  prefix: string,
): Promise<{ name: string; remove: (timeoutSeconds?: number) => Promise<void> }> {
  const name = `${prefix}-${process.pid % 10_000}-${counter++}`;
  await kubectlOk(['create', 'namespace', name]);
  const client = kubeClient();
  await waitFor(`ServiceAccount default in ${name}`, async () => {
    await client.get(`/api/v1/namespaces/${name}/serviceaccounts/default`);
    return true;
  });
  client.close();
  return {
    name,
    remove: async (timeoutSeconds = 120) => {
      await kubectl(['delete', 'namespace', name, '--wait=true', `--timeout=${timeoutSeconds}s`]);
    },
  };
}

/** Requests that change something (any verb but GET, LIST and WATCH) the apiserver served since it started. */
export async function apiserverWrites(): Promise<number> {
  let total = 0;
  for (const line of (await kubectlOk(['get', '--raw', '/metrics'])).split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const verb = /verb="([A-Z]+)"/.exec(line)?.[1];
    if (verb === undefined || verb === 'GET' || verb === 'LIST' || verb === 'WATCH') continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/** HTTP GET from the host to a pod address (10.244.0.0/16) or loopback; never anywhere else. */
export async function httpGet(url: string, timeoutMs = 3_000): Promise<{ status: number; body: string }> {
  const host = new URL(url).hostname;
  if (!host.startsWith('10.244.') && !host.startsWith('127.'))
    throw new Error(`refusing to send test traffic to ${host}`);
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  return { status: res.status, body: await res.text() };
}

interface ServiceStatusView {
  readonly metadata: { readonly generation?: number };
  readonly status?: {
    readonly url?: string;
    readonly conditions?: readonly { type: string; status: string; observedGeneration?: number }[];
    readonly latestReadyRevisionName?: string;
    readonly latestCreatedRevisionName?: string;
  };
}

/** Waits until a ServerlessService is Ready=True for its current generation; returns it. */
export function waitServiceReady(
  namespace: string,
  name: string,
  timeoutMs = 120_000,
): Promise<ServiceStatusView> {
  return waitFor(
    `${namespace}/${name} Ready`,
    async () => {
      const s = JSON.parse(
        await kubectlOk(['get', 'ssvc', name, '-n', namespace, '-o', 'json']),
      ) as ServiceStatusView;
      const ready = s.status?.conditions?.find((c) => c.type === 'Ready');
      return ready?.status === 'True' && ready.observedGeneration === s.metadata.generation && s.status?.url
        ? s
        : undefined;
    },
    timeoutMs,
  );
}

/**
 * The revision a service's traffic goes to without a split: its latest ready one (the latest
 * created while none is ready), once the controller has published it.
 */
export async function servingRevision(namespace: string, name: string, timeoutMs = 60_000): Promise<string> {
  return waitFor(
    `${namespace}/${name} has a revision`,
    async () => {
      const s = JSON.parse(
        await kubectlOk(['get', 'ssvc', name, '-n', namespace, '-o', 'json']),
      ) as ServiceStatusView;
      return s.status?.latestReadyRevisionName ?? s.status?.latestCreatedRevisionName;
    },
    timeoutMs,
  );
}
