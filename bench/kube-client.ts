// Our own Kubernetes REST client (src/kube/rest.ts) against @kubernetes/client-node's generated
// client, for what the components do with the apiserver: GET one object, LIST many (an informer's
// relist), WATCH (an informer's start: the burst of ADDED events a watch from resourceVersion 0
// sends), server-side-apply PATCH of a ServerlessService's status, and what each costs to load
// (import time, RSS, heap). Each measurement runs in a fresh process of its own, so its memory
// and import cost are that client's alone.
//
//   node bench/kube-client.ts                 everything, against $KUBECONFIG (else the local
//                                             cluster's .zeroscale/kubeconfig); a namespace
//                                             zs-bench-kube-client-* is made and removed
//   node bench/kube-client.ts --import-only   the import cost only: no cluster needed
//
// Writes bench/results/kube-client.{json,md}.

import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { summarize, writeResult } from './stats.ts';

const self = fileURLToPath(import.meta.url);
const repoRoot = path.resolve(path.dirname(self), '..');

type ClientName = 'ours' | 'client-node';

/** What a component loads: ours is rest.ts plus KubeConfig from client-node (src/kube/config.ts). */
const IMPORT_TARGETS = {
  /** The child process alone: the floor the others are measured against. */
  nothing: undefined,
  'src/kube/rest.ts (node:https; client-node types only)': '../src/kube/rest.ts',
  'src/kube/config.ts (rest.ts + client-node KubeConfig, as the components load it)': '../src/kube/config.ts',
  '@kubernetes/client-node (the generated client)': '@kubernetes/client-node',
} as const;
type ImportTarget = keyof typeof IMPORT_TARGETS;

interface Memory {
  readonly rssMb: number;
  readonly heapMb: number;
}

interface ImportSample extends Memory {
  readonly importMs: number;
}

interface OpsParams {
  readonly kubeconfig: string;
  readonly namespace: string;
  readonly objects: number;
  readonly gets: number;
  readonly lists: number;
  readonly patches: number;
  /** The ServerlessService whose status is patched; undefined when the CRD is not installed. */
  readonly serverlessService: string | undefined;
}

interface Latencies {
  readonly n: number;
  readonly p50: number;
  readonly p95: number;
  readonly max: number;
  readonly perSecond: number;
}

interface OpsResult extends Memory {
  readonly get: Latencies;
  readonly getConcurrent: Latencies;
  readonly list: Latencies;
  readonly watchEvents: number;
  readonly watchMs: number;
  readonly patchStatus: Latencies | undefined;
}

/** The operations, one client's way each. */
interface Driver {
  get(namespace: string, name: string): Promise<unknown>;
  list(namespace: string): Promise<{ items?: readonly unknown[] }>;
  /** Watches from resourceVersion 0 until `count` events arrived; resolves with the time that took. */
  watchBurst(namespace: string, count: number): Promise<number>;
  patchStatus(namespace: string, name: string, body: object): Promise<unknown>;
  close(): void;
}

const GROUP = 'serving.zeroscale.dev';
const VERSION = 'v1alpha1';
const PLURAL = 'serverlessservices';
const FIELD_MANAGER = 'zeroscale-bench';
const LABEL = 'bench.zeroscale.dev/kube-client';

// ---- the two clients -------------------------------------------------------------------------

async function oursDriver(kubeconfig: string): Promise<Driver> {
  const { createKubeClient } = await import('../src/kube/config.ts');
  const client = createKubeClient(kubeconfig);
  const configMaps = (ns: string) => `/api/v1/namespaces/${ns}/configmaps`;
  return {
    get: (ns, name) => client.get(`${configMaps(ns)}/${name}`),
    list: (ns) => client.get(configMaps(ns), { labelSelector: LABEL }),
    async watchBurst(ns, count) {
      const abort = new AbortController();
      const started = performance.now();
      let seen = 0;
      const done = new Promise<number>((resolve, reject) => {
        client
          .watch(
            configMaps(ns),
            { resourceVersion: '0', labelSelector: LABEL },
            (ev) => {
              if (ev.type === 'ADDED' && ++seen === count) {
                resolve(performance.now() - started);
                abort.abort();
              }
            },
            abort.signal,
          )
          .then(() => reject(new Error(`watch ended after ${seen} of ${count} events`)), reject);
      });
      return done;
    },
    patchStatus: (ns, name, body) =>
      client.apply(
        `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${PLURAL}/${name}/status`,
        body,
        FIELD_MANAGER,
      ),
    close: () => client.close(),
  };
}

async function clientNodeDriver(kubeconfig: string): Promise<Driver> {
  const k8s = await import('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const apply = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.ServerSideApply);
  return {
    get: (namespace, name) => core.readNamespacedConfigMap({ namespace, name }),
    list: (namespace) => core.listNamespacedConfigMap({ namespace, labelSelector: LABEL }),
    async watchBurst(namespace, count) {
      const started = performance.now();
      let seen = 0;
      let controller: AbortController | undefined;
      return new Promise<number>((resolve, reject) => {
        new k8s.Watch(kc)
          .watch(
            `/api/v1/namespaces/${namespace}/configmaps`,
            { resourceVersion: '0', labelSelector: LABEL },
            (phase: string) => {
              if (phase === 'ADDED' && ++seen === count) {
                resolve(performance.now() - started);
                controller?.abort();
              }
            },
            (err: unknown) => {
              if (seen < count) reject(err ?? new Error(`watch ended after ${seen} of ${count} events`));
            },
          )
          .then((c) => {
            controller = c;
            if (seen >= count) c.abort();
          }, reject);
      });
    },
    patchStatus: (namespace, name, body) =>
      custom.patchNamespacedCustomObjectStatus(
        {
          group: GROUP,
          version: VERSION,
          namespace,
          plural: PLURAL,
          name,
          body,
          fieldManager: FIELD_MANAGER,
          force: true,
        },
        apply,
      ),
    close: () => {},
  };
}

// ---- measurements (run in a child process each) ----------------------------------------------

function memory(): Memory {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return { rssMb: m.rss / 2 ** 20, heapMb: m.heapUsed / 2 ** 20 };
}

async function measureImport(target: ImportTarget): Promise<ImportSample> {
  const specifier = IMPORT_TARGETS[target];
  const started = performance.now();
  if (specifier !== undefined) await import(specifier);
  return { importMs: performance.now() - started, ...memory() };
}

async function timed(
  n: number,
  concurrency: number,
  op: (i: number) => Promise<unknown>,
): Promise<Latencies> {
  const ms: number[] = [];
  let next = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      const t = performance.now();
      await op(i);
      ms.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const s = summarize(ms);
  return { ...s, perSecond: (n / (performance.now() - started)) * 1000 };
}

async function measureOps(client: ClientName, p: OpsParams): Promise<OpsResult> {
  const d = client === 'ours' ? await oursDriver(p.kubeconfig) : await clientNodeDriver(p.kubeconfig);
  const name = (i: number) => `cm-${i % p.objects}`;
  // A warm connection for both: the first request pays TLS set-up, which is not what is compared.
  await d.get(p.namespace, name(0));
  const get = await timed(p.gets, 1, (i) => d.get(p.namespace, name(i)));
  const getConcurrent = await timed(p.gets, 16, (i) => d.get(p.namespace, name(i)));
  const list = await timed(p.lists, 1, async () => {
    const items = (await d.list(p.namespace)).items?.length ?? 0;
    if (items !== p.objects) throw new Error(`list gave ${items} of ${p.objects} objects`);
  });
  const watchMs = await d.watchBurst(p.namespace, p.objects);
  const ssvc = p.serverlessService;
  const patchStatus =
    ssvc === undefined
      ? undefined
      : await timed(p.patches, 1, (i) =>
          d.patchStatus(p.namespace, ssvc, {
            apiVersion: `${GROUP}/${VERSION}`,
            kind: 'ServerlessService',
            metadata: { name: ssvc, namespace: p.namespace },
            status: {
              conditions: [
                {
                  type: 'BenchProbe',
                  status: 'True',
                  reason: 'Bench',
                  message: `write ${i}`,
                  lastTransitionTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
                },
              ],
            },
          }),
        );
  d.close();
  return { get, getConcurrent, list, watchEvents: p.objects, watchMs, patchStatus, ...memory() };
}

/** Runs this file as a child with `args`; resolves with the JSON line it printed. */
function child<T>(args: readonly string[]): Promise<T> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--expose-gc', self, '--child', ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: process.env,
    });
    let out = '';
    proc.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    proc.on('error', reject);
    proc.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`bench child ${args[0]} exited ${code}`));
      resolve(JSON.parse(out.trim().split('\n').pop()!) as T);
    });
  });
}

// ---- the driver -----------------------------------------------------------------------------

const IMPORT_RUNS = 5;

async function importCosts(): Promise<Record<ImportTarget, ImportSample>> {
  const out = {} as Record<ImportTarget, ImportSample>;
  for (const target of Object.keys(IMPORT_TARGETS) as ImportTarget[]) {
    const runs: ImportSample[] = [];
    for (let i = 0; i < IMPORT_RUNS; i++) runs.push(await child<ImportSample>(['import', target]));
    const median = (k: keyof ImportSample) => summarize(runs.map((r) => r[k])).p50;
    out[target] = { importMs: median('importMs'), rssMb: median('rssMb'), heapMb: median('heapMb') };
  }
  return out;
}

async function setUp(
  kubeconfig: string,
  objects: number,
): Promise<{ params: OpsParams; remove: () => Promise<void> }> {
  const { createKubeClient } = await import('../src/kube/config.ts');
  const client = createKubeClient(kubeconfig);
  const namespace = `zs-bench-kube-client-${process.pid % 10_000}`;
  await client.post('/api/v1/namespaces', { metadata: { name: namespace } });
  const remove = async (): Promise<void> => {
    await client.delete(`/api/v1/namespaces/${namespace}`).catch(() => undefined);
    client.close();
  };
  try {
    // About 1 KiB of data each, as a small ConfigMap or EndpointSlice is.
    const data = { payload: 'x'.repeat(1024) };
    await timed(objects, 16, (i) =>
      client.post(`/api/v1/namespaces/${namespace}/configmaps`, {
        metadata: { name: `cm-${i}`, labels: { [LABEL]: 'true' } },
        data,
      }),
    );
    let serverlessService: string | undefined;
    const crd = await client
      .get(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${PLURAL}.${GROUP}`)
      .catch(() => undefined);
    if (crd !== undefined) {
      serverlessService = 'bench';
      // minScale and initialScale 0: a running controller makes a Deployment with no pods.
      await client.post(`/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`, {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'ServerlessService',
        metadata: { name: serverlessService },
        spec: {
          template: {
            spec: {
              containers: [
                { name: 'app', image: 'zeroscale.local/none:1', ports: [{ containerPort: 8080 }] },
              ],
            },
          },
          scaling: { minScale: 0, initialScale: 0 },
        },
      });
    }
    return {
      params: { kubeconfig, namespace, objects, gets: 500, lists: 10, patches: 200, serverlessService },
      remove,
    };
  } catch (err) {
    await remove();
    throw err;
  }
}

const f1 = (n: number) => n.toFixed(1);
const f0 = (n: number) => n.toFixed(0);
const lat = (l: Latencies | undefined) =>
  l === undefined ? 'n/a (CRD not installed)' : `${f1(l.p50)} / ${f1(l.p95)} ms, ${f0(l.perSecond)}/s`;

function report(
  imports: Record<ImportTarget, ImportSample>,
  ops: Record<ClientName, OpsResult> | undefined,
): string {
  const floor = imports.nothing;
  const lines = [
    `### Kubernetes client: import cost (median of ${IMPORT_RUNS} fresh processes)`,
    '',
    '| module | import | RSS over a bare process | heap over a bare process |',
    '|---|---|---|---|',
    ...(Object.entries(imports) as [ImportTarget, ImportSample][])
      .filter(([t]) => t !== 'nothing')
      .map(
        ([t, s]) =>
          `| ${t} | ${f0(s.importMs)} ms | +${f1(s.rssMb - floor.rssMb)} MB | +${f1(s.heapMb - floor.heapMb)} MB |`,
      ),
  ];
  if (ops !== undefined) {
    const o = ops.ours;
    const c = ops['client-node'];
    lines.push(
      '',
      `### Kubernetes client: operations (${o.watchEvents} ConfigMaps of 1 KiB; p50 / p95, throughput)`,
      '',
      '| operation | ours (src/kube/rest.ts) | @kubernetes/client-node |',
      '|---|---|---|',
      `| GET one ConfigMap, one at a time | ${lat(o.get)} | ${lat(c.get)} |`,
      `| GET, 16 in flight | ${lat(o.getConcurrent)} | ${lat(c.getConcurrent)} |`,
      `| LIST all (a relist) | ${lat(o.list)} | ${lat(c.list)} |`,
      `| WATCH from resourceVersion 0: ${o.watchEvents} ADDED events | ${f0(o.watchMs)} ms, ${f0((o.watchEvents / o.watchMs) * 1000)} events/s | ${f0(c.watchMs)} ms, ${f0((c.watchEvents / c.watchMs) * 1000)} events/s |`,
      `| PATCH ServerlessService status (server-side apply) | ${lat(o.patchStatus)} | ${lat(c.patchStatus)} |`,
      `| process RSS / heap after the run | ${f0(o.rssMb)} / ${f0(o.heapMb)} MB | ${f0(c.rssMb)} / ${f0(c.heapMb)} MB |`,
    );
  }
  return lines.join('\n');
}

export async function benchKubeClient(options: { importOnly?: boolean } = {}): Promise<void> {
  const imports = await importCosts();
  let ops: Record<ClientName, OpsResult> | undefined;
  if (!options.importOnly) {
    const kubeconfig = process.env.KUBECONFIG ?? path.join(repoRoot, '.zeroscale/kubeconfig');
    const { params, remove } = await setUp(kubeconfig, 2_000);
    try {
      const paramsJson = JSON.stringify(params);
      ops = {
        ours: await child<OpsResult>(['ops', 'ours', paramsJson]),
        'client-node': await child<OpsResult>(['ops', 'client-node', paramsJson]),
      };
    } finally {
      await remove();
    }
  }
  writeResult('kube-client', { imports, ops }, report(imports, ops));
}

async function runChild(args: readonly string[]): Promise<void> {
  const [what, a, b] = args;
  const result =
    what === 'import'
      ? await measureImport(a as ImportTarget)
      : await measureOps(a as ClientName, JSON.parse(b!) as OpsParams);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

if (import.meta.main) {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') await runChild(argv.slice(1));
  else await benchKubeClient({ importOnly: argv.includes('--import-only') });
}
