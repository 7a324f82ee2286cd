// The sidecar's cost, side by side in one run: zeroscale's queue-proxy (the bundle the image
// ships, with the V8 flags the controller gives it) beside Knative Serving's own (knative.dev/
// serving cmd/queue at KNATIVE_SERVING_VERSION, built by scripts/build-binaries.sh knative-queue),
// the app reached directly and nginx. Each runs in a network namespace of its own with its own
// app (Knative's binds :8012, :8022 and :9090 on every address), and every request stays on that
// namespace's loopback. Measured: req/s, p50/p99 and CPU per request on a no-op app, p99 on a
// 10 ms app with containerConcurrency 10, spawn → first proxied request (the app already up;
// beside a bare node:http server's spawn → first answer, measured the same way), and resident
// memory idle (after the first request and a few scrapes) and after the load.
//
// Also the child role `node bench/sidecar.ts first <spec>`: spawns a process, polls until a
// request through it answers 200, scrapes, reads its memory, prints JSON and kills it.
//
// Needs root (unshare, nsenter), wrk and nginx; bounded to about three minutes.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { warmCompileCache } from '../scripts/warm-compile-cache.ts';
import { QUEUE_PROXY_NODE_FLAGS } from '../src/api/queue-proxy.ts';
import {
  ChildProcesses,
  cpuMs,
  hasCommand,
  mean,
  median,
  medianResult,
  memoryMb,
  nginxConfig,
  nginxWorkerPid,
  type WrkResult,
  wrk,
} from './measure.ts';
import { writeResult } from './stats.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, '..');
const self = fileURLToPath(import.meta.url);
const cli = path.join(root, 'dist', 'cli.cjs');
const proxyBench = path.join(here, 'proxy.ts');
const knativeBinary = path.join(root, '.zeroscale', 'bin', 'knative-queue');

const LOOPBACK = '127.0.0.1';
const APP_PORT = 8080;
const PROXY_PORT = 8012;
const RUN_SECONDS = 4;
const ROUNDS = 2;
const CONNECTIONS = 50;
const STARTS = 7;
/** Idle after the first request, before memory is read; and the long idle, sampled each second. */
const IDLE_S = 5;
const LONG_IDLE_S = 60;
const PROMETHEUS_EVERY_S = 15;

/** Set by run(): the compile cache the image's build warms, warmed the same way. */
let compileCacheDir: string | undefined;
const SLOW_MS = 10;
const SLOW_CC = 10;

// ---- what is started ---------------------------------------------------------------------------

interface ProcessSpec {
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** Where a request through it goes (127.0.0.1 in its namespace). */
  readonly port: number;
  /**
   * What a real pod's scrapers read while it idles, each every `everyS` seconds over a kept-alive
   * connection: zeroscale's autoscaler reads /stats every second (and keeps its connection), Knative's
   * reads the queue-proxy's /metrics every second; Prometheus reads /metrics now and then.
   */
  readonly scrapes: readonly { port: number; path: string; everyS: number }[];
}

type ProxyName = 'zeroscale' | 'knative';
type TargetName = ProxyName | 'zeroscale-default-flags' | 'direct' | 'nginx';

/** As the controller starts it (its V8 flags; every address) unless `defaultFlags`. */
function zeroscaleSpec(cc: number, defaultFlags = false): ProcessSpec {
  return {
    command: process.execPath,
    args: [...(defaultFlags ? [] : QUEUE_PROXY_NODE_FLAGS), cli, 'queue-proxy'],
    env: {
      SERVING_SERVICE: 'bench',
      SERVING_NAMESPACE: 'bench',
      SERVING_POD: 'bench-pod',
      USER_PORT: String(APP_PORT),
      CONTAINER_CONCURRENCY: String(cc),
      QUEUE_SERVING_PORT: String(PROXY_PORT),
      QUEUE_METRICS_PORT: '9091',
      QUEUE_DRAIN_SECONDS: '0',
      ZEROSCALE_LOG_LEVEL: 'warn',
      // As in the image: Node's compile cache, warmed when the image is built (see Dockerfile).
      ...(compileCacheDir === undefined ? {} : { NODE_COMPILE_CACHE: compileCacheDir }),
    },
    port: PROXY_PORT,
    scrapes: [
      { port: 9091, path: '/stats', everyS: 1 },
      { port: 9091, path: '/metrics', everyS: PROMETHEUS_EVERY_S },
    ],
  };
}

/** Knative's queue-proxy as its revision's pod runs it, less what needs a cluster. */
function knativeSpec(cc: number): ProcessSpec {
  return {
    command: knativeBinary,
    args: [],
    env: knativeEnv(cc),
    port: PROXY_PORT,
    scrapes: [{ port: 9090, path: '/metrics', everyS: 1 }],
  };
}

function knativeEnv(cc: number): Record<string, string> {
  return {
    SERVING_NAMESPACE: 'bench',
    SERVING_SERVICE: 'bench',
    SERVING_CONFIGURATION: 'bench',
    SERVING_REVISION: 'bench-00001',
    SERVING_POD: 'bench-pod',
    SERVING_POD_IP: LOOPBACK,
    QUEUE_SERVING_PORT: String(PROXY_PORT),
    QUEUE_SERVING_TLS_PORT: '8112',
    USER_PORT: String(APP_PORT),
    CONTAINER_CONCURRENCY: String(cc),
    REVISION_TIMEOUT_SECONDS: '300',
    REVISION_RESPONSE_START_TIMEOUT_SECONDS: '0',
    REVISION_IDLE_TIMEOUT_SECONDS: '0',
    SERVING_READINESS_PROBE: JSON.stringify({
      tcpSocket: { port: APP_PORT, host: LOOPBACK },
      successThreshold: 1,
    }),
    ENABLE_PROFILING: 'false',
    SERVING_ENABLE_PROBE_REQUEST_LOG: 'false',
    SERVING_ENABLE_REQUEST_LOG: 'false',
    METRICS_DOMAIN: 'knative.dev/internal/serving',
    SYSTEM_NAMESPACE: 'knative-serving',
    SERVING_LOGGING_CONFIG: '',
    SERVING_LOGGING_LEVEL: 'warn',
    SERVING_REQUEST_LOG_TEMPLATE: '',
    SERVING_REQUEST_METRICS_BACKEND: 'prometheus',
    TRACING_CONFIG_BACKEND: 'none',
    TRACING_CONFIG_ZIPKIN_ENDPOINT: '',
    TRACING_CONFIG_DEBUG: 'false',
    TRACING_CONFIG_SAMPLE_RATE: '0',
    ENABLE_HTTP2_AUTO_DETECTION: 'false',
    ENABLE_HTTP_FULL_DUPLEX: 'false',
    ROOT_CA: '',
    ENABLE_MULTI_CONTAINER_PROBES: 'false',
    OBSERVABILITY_CONFIG: '{}',
  };
}

const bareServer = `require('node:http').createServer((q, s) => s.end('ok')).listen(${PROXY_PORT});`;

/** A bare node:http server answering 200: the floor a Node process starts from. */
function bareNodeSpec(script?: string): ProcessSpec {
  return {
    command: process.execPath,
    args: script === undefined ? ['-e', bareServer] : [script],
    env: {},
    port: PROXY_PORT,
    scrapes: [],
  };
}

/**
 * What the queue-proxy leaves out, measured: a bare server that first loads one module, bundled
 * as our bundles are (so node_modules resolution is not what is measured). The numbers behind
 * text-registry.ts, json-log.ts, request-id.ts and the lazy node:https of readiness.ts.
 */
const LEFT_OUT_MODULES = ['pino', 'prom-client', 'node:crypto', 'node:https'] as const;
const LEFT_OUT_INSTEAD: Record<(typeof LEFT_OUT_MODULES)[number], string> = {
  pino: "JSON lines in pino's format (telemetry/json-log.ts, tested line for line against pino)",
  'prom-client':
    "writes its Collected metrics itself (telemetry/text-registry.ts, tested against prom-client's text and promtool)",
  'node:crypto': 'request ids from Math.random (http/request-id.ts), constant-time token check in JS',
  'node:https': 'loaded only for an HTTPS readiness probe',
};

async function moduleScripts(): Promise<Record<string, string>> {
  const { build } = await import('esbuild');
  // Inside the repository: prom-client's optional @opentelemetry/api resolves from node_modules.
  const dir = path.join(root, '.zeroscale', 'bench-modules');
  fs.mkdirSync(dir, { recursive: true });
  const out: Record<string, string> = {};
  for (const m of LEFT_OUT_MODULES) {
    const file = path.join(dir, `${m.replace(/[^a-z-]/g, '_')}.cjs`);
    await build({
      stdin: { contents: `require(${JSON.stringify(m)});\n${bareServer}`, resolveDir: root, loader: 'js' },
      bundle: true,
      platform: 'node',
      format: 'cjs',
      external: ['@opentelemetry/api'],
      outfile: file,
      logLevel: 'warning',
    });
    out[m] = file;
  }
  return out;
}

// ---- child role: spawn → first proxied request ------------------------------------------------

interface StartResult {
  readonly ms: number;
  readonly idle: { rss: number; anon: number };
  /** Anonymous RSS each second of the idle, MB. */
  readonly anonSeries: readonly number[];
}

function getStatus(port: number, pathName: string, agent: http.Agent | false = false): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host: LOOPBACK, port, path: pathName, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(0));
    });
    req.on('error', () => resolve(0));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Run inside the namespace: spawn, poll every ms until 200 (10 s at most), idle `idleS` seconds
 * with the spec's scrapes, reading memory each second.
 */
async function runFirst(specJson: string, idleS: string): Promise<void> {
  const spec = JSON.parse(specJson) as ProcessSpec;
  const t0 = performance.now();
  const child = spawn(spec.command, spec.args, {
    env: { PATH: process.env.PATH ?? '', ...spec.env },
    stdio: 'ignore',
  });
  try {
    const deadline = t0 + 10_000;
    while ((await getStatus(spec.port, '/')) !== 200) {
      if (performance.now() > deadline || child.exitCode !== null)
        throw new Error(`no answer from ${spec.command}`);
      await sleep(1);
    }
    const ms = performance.now() - t0;
    // A pod at rest is still scraped: the autoscaler every second, Prometheus now and then.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const anonSeries: number[] = [];
    for (let i = 0; i < Number(idleS); i++) {
      for (const s of spec.scrapes) if (i % s.everyS === 0) await getStatus(s.port, s.path, agent);
      await sleep(1_000);
      anonSeries.push(memoryMb(child.pid!).anon);
    }
    agent.destroy();
    const result: StartResult = { ms, idle: memoryMb(child.pid!), anonSeries };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    // Gone before the next start binds the same ports.
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    if (child.exitCode === null && child.signalCode === null) await exited;
  }
}

/** Run inside the namespace: polls until the port answers 200; exits 1 after 20 s. */
async function runWait(port: string): Promise<void> {
  const deadline = performance.now() + 20_000;
  while ((await getStatus(Number(port), '/')) !== 200) {
    if (performance.now() > deadline) process.exit(1);
    await sleep(50);
  }
}

// ---- namespaces and long-running processes ------------------------------------------------------

// Stopped with SIGTERM first: an nginx master killed outright leaves its workers running.
const children = new ChildProcesses();

// A namespace is held by a process of its own (`unshare --net`) and entered by path with
// nsenter. Not `ip netns add`: that turns /run/netns into a shared bind mount, after which the
// node's containerd can no longer remove the network namespaces of pods that existed then (their
// pods stay Terminating) — the local cluster shares this machine.
async function netns(): Promise<string> {
  const holder = spawn('unshare', ['--net', 'sh', '-c', 'ip link set lo up && echo up && exec sleep 3600'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(holder);
  // Its loopback is up before anything binds 127.0.0.1 in it.
  await new Promise<void>((resolve, reject) => {
    holder.stdout!.once('data', () => resolve());
    holder.once('exit', (code) => reject(new Error(`bench sidecar: unshare --net exited ${code}`)));
  });
  return `/proc/${holder.pid}/ns/net`;
}

/** `command args` inside the namespace (nsenter execs it: the pid is the process's own). */
function inNs(ns: string, command: string, args: readonly string[]): [string, string[]] {
  return ['nsenter', [`--net=${ns}`, '--', command, ...args]];
}

/** Starts a process inside `ns`. */
function startIn(
  ns: string,
  command: string,
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
) {
  const [cmd, argv] = inNs(ns, command, args);
  const child = spawn(cmd, argv, {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return children.add(child);
}

function startApp(ns: string, delayMs: number): ChildProcess {
  return startIn(ns, process.execPath, [proxyBench, 'app', String(APP_PORT), String(delayMs)]);
}

/** Waits, from inside the namespace, until the port answers 200 (20 s at most). */
function waitFor(ns: string, port: number, what: string): void {
  try {
    execFileSync(...inNs(ns, process.execPath, [self, 'wait', String(port)]), { timeout: 30_000 });
  } catch {
    throw new Error(`bench sidecar: ${what} did not answer in its namespace`);
  }
}

function firstRequest(ns: string, spec: ProcessSpec, idleS = IDLE_S): StartResult {
  const out = execFileSync(
    ...inNs(ns, process.execPath, [self, 'first', JSON.stringify(spec), String(idleS)]),
    {
      encoding: 'utf8',
      timeout: 30_000 + idleS * 1_000,
    },
  );
  return JSON.parse(out.trim()) as StartResult;
}

// ---- the benchmark ------------------------------------------------------------------------------

interface LoadRow extends WrkResult {
  readonly cpuUsPerRequest: number | undefined;
}

interface Column {
  readonly name: ProxyName | 'direct' | 'nginx';
  readonly noop: LoadRow;
  readonly slowP99Ms: number | undefined;
  readonly start?: StartResult;
  readonly loaded?: { rss: number; anon: number };
}

export async function benchSidecar(): Promise<void> {
  if (
    process.getuid?.() !== 0 ||
    hasCommand('unshare') === undefined ||
    hasCommand('nsenter') === undefined
  ) {
    process.stdout.write('bench sidecar: needs root, unshare and nsenter for network namespaces; skipped\n');
    return;
  }
  const nginx = hasCommand('nginx');
  if (hasCommand('wrk') === undefined || nginx === undefined || !fs.existsSync(knativeBinary)) {
    process.stdout.write(
      'bench sidecar: wrk, nginx or knative-queue missing; run scripts/ensure-bench-deps.sh\n',
    );
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zeroscale-bench-sidecar-'));
  try {
    await run(nginx, dir);
  } finally {
    await children.stopAll();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function run(nginxPath: string, dir: string): Promise<void> {
  // Node's compile cache, warmed as the image's build warms it (Dockerfile), and the queue-proxy
  // runs with it.
  compileCacheDir = path.join(dir, 'compile-cache');
  warmCompileCache(path.join(root, 'dist'), compileCacheDir);
  // Starts first, each in a fresh namespace with its app up, interleaved.
  const starts: Record<ProxyName | 'bare', StartResult[]> = { zeroscale: [], knative: [], bare: [] };
  const startNs = await netns();
  startApp(startNs, 0);
  waitFor(startNs, APP_PORT, 'app');
  const scripts = await moduleScripts();
  const moduleStarts: Record<string, StartResult[]> = Object.fromEntries(
    LEFT_OUT_MODULES.map((m) => [m, []]),
  );
  for (let i = 0; i < STARTS; i++) {
    starts.zeroscale.push(firstRequest(startNs, zeroscaleSpec(0)));
    starts.knative.push(firstRequest(startNs, knativeSpec(0)));
    starts.bare.push(firstRequest(startNs, bareNodeSpec()));
    for (const m of LEFT_OUT_MODULES) moduleStarts[m]!.push(firstRequest(startNs, bareNodeSpec(scripts[m])));
  }
  const modules = Object.entries(moduleStarts).map(([name, results]) => ({ name, ...medianStart(results) }));
  const longIdle: Record<ProxyName, StartResult> = {
    zeroscale: firstRequest(startNs, zeroscaleSpec(0), LONG_IDLE_S),
    knative: firstRequest(startNs, knativeSpec(0), LONG_IDLE_S),
  };

  // Then load: one namespace per target and handler, all up at once, rounds interleaved.
  const targets: { name: TargetName; handler: 'noop' | 'slow'; ns: string; pid: number | undefined }[] = [];
  for (const handler of ['noop', 'slow'] as const) {
    const delay = handler === 'noop' ? 0 : SLOW_MS;
    const cc = handler === 'noop' ? 0 : SLOW_CC;
    const names: TargetName[] = ['direct', 'zeroscale', 'knative', 'nginx'];
    // What the V8 flags cost or save, on the no-op app.
    if (handler === 'noop') names.push('zeroscale-default-flags');
    for (const name of names) {
      const ns = await netns();
      startApp(ns, delay);
      let pid: number | undefined;
      if (name === 'zeroscale' || name === 'knative' || name === 'zeroscale-default-flags') {
        const spec =
          name === 'knative' ? knativeSpec(cc) : zeroscaleSpec(cc, name === 'zeroscale-default-flags');
        pid = startIn(ns, spec.command, spec.args, spec.env).pid;
      } else if (name === 'nginx') {
        const conf = nginxConfig(path.join(dir, ns), [{ listen: PROXY_PORT, upstream: APP_PORT }]);
        const master = startIn(ns, nginxPath, ['-c', conf, '-e', path.join(dir, ns, 'error.log')]);
        pid = master.pid;
      }
      targets.push({ name, handler, ns, pid });
    }
  }
  for (const t of targets)
    waitFor(t.ns, t.name === 'direct' ? APP_PORT : PROXY_PORT, `${t.name} (${t.handler})`);

  const runs = new Map<(typeof targets)[number], LoadRow[]>();
  for (const t of targets) {
    // Warm-up, as the first seconds of a pod's traffic would.
    wrk(t.name === 'direct' ? APP_PORT : PROXY_PORT, { connections: CONNECTIONS, seconds: 1, netns: t.ns });
    runs.set(t, []);
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const t of targets) {
      const pid = t.pid === undefined ? undefined : t.name === 'nginx' ? nginxWorkerPid(t.pid) : t.pid;
      const before = pid === undefined ? 0 : cpuMs(pid);
      const result = wrk(t.name === 'direct' ? APP_PORT : PROXY_PORT, {
        connections: CONNECTIONS,
        seconds: RUN_SECONDS,
        netns: t.ns,
      });
      const cpu = pid === undefined ? undefined : ((cpuMs(pid) - before) * 1000) / result.requests;
      runs.get(t)!.push({ ...result, cpuUsPerRequest: cpu });
    }
  }
  const medianRow = (rows: readonly LoadRow[]): LoadRow => ({
    ...medianResult(rows),
    cpuUsPerRequest:
      rows[0]!.cpuUsPerRequest === undefined ? undefined : median(rows.map((r) => r.cpuUsPerRequest!)),
  });
  const columns: Column[] = (['zeroscale', 'knative', 'direct', 'nginx'] as const).map((name) => {
    const noop = targets.find((t) => t.name === name && t.handler === 'noop')!;
    const slow = targets.find((t) => t.name === name && t.handler === 'slow')!;
    const proxy = name === 'zeroscale' || name === 'knative';
    return {
      name,
      noop: medianRow(runs.get(noop)!),
      slowP99Ms: medianRow(runs.get(slow)!).p99Ms,
      ...(proxy ? { start: medianStart(starts[name]), loaded: memoryMb(noop.pid!) } : {}),
    };
  });
  const defaults = targets.find((t) => t.name === 'zeroscale-default-flags')!;
  const defaultFlags = { ...medianRow(runs.get(defaults)!), loaded: memoryMb(defaults.pid!) };
  report(
    columns,
    defaultFlags,
    medianStart(starts.bare),
    starts,
    modules,
    await componentStarts(dir),
    longIdle,
  );
}

// ---- the control plane: start → ready and memory, from the sources and from the bundles --------

interface ComponentStart {
  readonly component: string;
  readonly form: 'sources' | 'bundle';
  readonly ms: number;
  readonly rss: number;
  readonly anon: number;
}

const COMPONENT_STARTS = 3;

/**
 * Each component spawned on its own, polled at its admin port's /readyz until 200, memory read
 * 2 s later. The controller and the autoscaler talk to the local cluster (its kubeconfig) under a
 * namespace that does not exist, so they never win a lease and change nothing; the autoscaler is
 * ready once its informers synced, the controller once it serves, the activator (static config)
 * once it listens.
 */
async function componentStarts(dir: string): Promise<ComponentStart[]> {
  const kubeconfig = path.join(root, '.zeroscale', 'kubeconfig');
  const staticConfig = path.join(dir, 'static.json');
  fs.writeFileSync(
    staticConfig,
    JSON.stringify({ services: [{ namespace: 'bench', name: 'bench', pods: [] }] }),
  );
  const components: { name: string; args: string[]; env: (port: number) => Record<string, string> }[] = [
    {
      name: 'activator',
      args: ['activator', '--static-config', staticConfig],
      env: (port) => ({
        ACTIVATOR_PORT: '0',
        ACTIVATOR_METRICS_PORT: String(port),
        ACTIVATOR_LISTEN_HOST: LOOPBACK,
      }),
    },
  ];
  if (fs.existsSync(kubeconfig)) {
    for (const name of ['controller', 'autoscaler'])
      components.push({
        name,
        args: [name, '--namespace', 'zeroscale-bench-absent', '--metrics-port'],
        env: () => ({ KUBECONFIG: kubeconfig }),
      });
  }
  const out: ComponentStart[] = [];
  for (const c of components) {
    for (const form of ['sources', 'bundle'] as const) {
      const runs: ComponentStart[] = [];
      for (let i = 0; i < COMPONENT_STARTS && (i === 0 || runs.length > 0); i++) {
        const port = 19_500 + i;
        const script = form === 'sources' ? path.join(root, 'src', 'cli.ts') : cli;
        const args = c.args.at(-1) === '--metrics-port' ? [...c.args, String(port)] : c.args;
        const t0 = performance.now();
        const child = spawn(process.execPath, [script, ...args], {
          env: { PATH: process.env.PATH ?? '', ZEROSCALE_LOG_LEVEL: 'warn', ...c.env(port) },
          stdio: 'ignore',
        });
        try {
          const deadline = t0 + 30_000;
          let ready = true;
          while ((await getStatus(port, '/readyz')) !== 200) {
            if (performance.now() > deadline || child.exitCode !== null) {
              ready = false;
              break;
            }
            await sleep(5);
          }
          // Not a reason to lose the rest of the bench's results: the row is left out, and said so.
          if (!ready) {
            process.stderr.write(
              `bench sidecar: ${c.name} (${form}) never answered /readyz 200 in 30 s; its row is left out (are the CRDs applied?)\n`,
            );
            break;
          }
          const ms = performance.now() - t0;
          await sleep(2_000);
          runs.push({ component: c.name, form, ms, ...memoryMb(child.pid!) });
        } finally {
          const exited = new Promise((resolve) => child.once('exit', resolve));
          child.kill('SIGKILL');
          if (child.exitCode === null && child.signalCode === null) await exited;
        }
      }
      if (runs.length === 0) continue;
      out.push({
        component: c.name,
        form,
        ms: median(runs.map((r) => r.ms)),
        rss: median(runs.map((r) => r.rss)),
        anon: median(runs.map((r) => r.anon)),
      });
    }
  }
  return out;
}

function medianStart(results: readonly StartResult[]): StartResult {
  return {
    ms: median(results.map((r) => r.ms)),
    idle: { rss: median(results.map((r) => r.idle.rss)), anon: median(results.map((r) => r.idle.anon)) },
    anonSeries: [],
  };
}

function report(
  columns: readonly Column[],
  defaultFlags: LoadRow & { loaded: { rss: number; anon: number } },
  bare: StartResult,
  starts: Record<string, StartResult[]>,
  modules: readonly (StartResult & { name: string })[],
  components: readonly ComponentStart[],
  longIdle: Record<ProxyName, StartResult>,
): void {
  const [zs, kn, direct, nginx] = columns as [Column, Column, Column, Column];
  const n0 = (v: number) => Math.round(v).toLocaleString('en-US');
  const n1 = (v: number) => v.toFixed(1);
  const n2 = (v: number) => v.toFixed(2);
  const ratio = (a: number, b: number) => (a / b).toFixed(2);
  const zsStart = zs.start!;
  const knStart = kn.start!;
  const zsLoaded = zs.loaded!;
  const knLoaded = kn.loaded!;
  const rows: [string, string, string, string, string, string][] = [
    [
      'no-op app, req/s, containerConcurrency 0',
      n0(zs.noop.rps),
      n0(kn.noop.rps),
      ratio(zs.noop.rps, kn.noop.rps),
      n0(direct.noop.rps),
      n0(nginx.noop.rps),
    ],
    [
      'no-op app, p50 / p99 ms',
      `${n2(zs.noop.p50Ms)} / ${n2(zs.noop.p99Ms)}`,
      `${n2(kn.noop.p50Ms)} / ${n2(kn.noop.p99Ms)}`,
      ratio(zs.noop.p99Ms, kn.noop.p99Ms),
      `${n2(direct.noop.p50Ms)} / ${n2(direct.noop.p99Ms)}`,
      `${n2(nginx.noop.p50Ms)} / ${n2(nginx.noop.p99Ms)}`,
    ],
    [
      'CPU per request, µs',
      n0(zs.noop.cpuUsPerRequest!),
      n0(kn.noop.cpuUsPerRequest!),
      ratio(zs.noop.cpuUsPerRequest!, kn.noop.cpuUsPerRequest!),
      '—',
      n0(nginx.noop.cpuUsPerRequest!),
    ],
    [
      `${SLOW_MS} ms app, cc ${SLOW_CC}, p99 ms`,
      n1(zs.slowP99Ms!),
      n1(kn.slowP99Ms!),
      ratio(zs.slowP99Ms!, kn.slowP99Ms!),
      n1(direct.slowP99Ms!),
      n1(nginx.slowP99Ms!),
    ],
    [
      `spawn → first proxied request, ms (median of ${STARTS})`,
      n0(zsStart.ms),
      n0(knStart.ms),
      ratio(zsStart.ms, knStart.ms),
      `bare node:http ${n0(bare.ms)}`,
      '—',
    ],
    [
      'RSS idle / anonymous, MB',
      `${n1(zsStart.idle.rss)} / ${n1(zsStart.idle.anon)}`,
      `${n1(knStart.idle.rss)} / ${n1(knStart.idle.anon)}`,
      `${ratio(zsStart.idle.rss, knStart.idle.rss)} / ${ratio(zsStart.idle.anon, knStart.idle.anon)}`,
      `bare node:http ${n1(bare.idle.rss)} / ${n1(bare.idle.anon)}`,
      '—',
    ],
    [
      `anonymous RSS through a ${LONG_IDLE_S} s idle, mean / max, MB`,
      `${n1(mean(longIdle.zeroscale.anonSeries))} / ${n1(Math.max(...longIdle.zeroscale.anonSeries))}`,
      `${n1(mean(longIdle.knative.anonSeries))} / ${n1(Math.max(...longIdle.knative.anonSeries))}`,
      `${ratio(mean(longIdle.zeroscale.anonSeries), mean(longIdle.knative.anonSeries))} / ${ratio(Math.max(...longIdle.zeroscale.anonSeries), Math.max(...longIdle.knative.anonSeries))}`,
      '—',
      '—',
    ],
    [
      'RSS after the load / anonymous, MB',
      `${n1(zsLoaded.rss)} / ${n1(zsLoaded.anon)}`,
      `${n1(knLoaded.rss)} / ${n1(knLoaded.anon)}`,
      `${ratio(zsLoaded.rss, knLoaded.rss)} / ${ratio(zsLoaded.anon, knLoaded.anon)}`,
      '—',
      '—',
    ],
  ];
  const errors = columns.reduce((a, c) => a + c.noop.errors, 0);
  const goal = (met: boolean) => (met ? 'met' : '**not met**');
  const zsIdleMax = Math.max(zsStart.idle.anon, ...longIdle.zeroscale.anonSeries);
  const lines = [
    `Sidecar, ${os.cpus().length} cores, Node ${process.versions.node}, Knative Serving queue-proxy ${knativeVersion()}; each target in its own network namespace with its own app; wrk -t1 -c${CONNECTIONS}, ${RUN_SECONDS} s × ${ROUNDS} interleaved rounds (medians); ${errors} errors.`,
    '',
    '| | zeroscale | Knative | zeroscale ÷ Knative | app directly | nginx |',
    '|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
    '',
    `zeroscale's queue-proxy runs as the controller starts it: \`node ${QUEUE_PROXY_NODE_FLAGS.join(' ')} dist/cli.cjs queue-proxy\`. Idle = after the first request and ${IDLE_S} s of scrapes over a kept-alive connection, as a pod at rest gets them (${zeroscaleSpec(
      0,
    )
      .scrapes.map((s) => `${s.path} every ${s.everyS} s`)
      .join(
        ', ',
      )}; Knative's /metrics every second); the ${LONG_IDLE_S} s idle is one more start of each, its anonymous RSS read every second. zeroscale's queue-proxy settles its heap once quiet for 2 s and every 30 s after (queue/settle-heap.ts). Starts, ms: zeroscale ${starts.zeroscale!.map((s) => n0(s.ms)).join(', ')}; Knative ${starts.knative!.map((s) => n0(s.ms)).join(', ')}; bare node ${starts.bare!.map((s) => n0(s.ms)).join(', ')}.`,
    '',
    `The same queue-proxy with Node's default V8 flags, on the no-op app in the same rounds: ${n0(defaultFlags.rps)} req/s, p99 ${n2(defaultFlags.p99Ms)} ms, ${n0(defaultFlags.cpuUsPerRequest!)} µs CPU per request, ${n1(defaultFlags.loaded.rss)} / ${n1(defaultFlags.loaded.anon)} MB after the load.`,
    '',
    '| goal | measured | |',
    '|---|---|---|',
    `| spawn → first proxied ≤ 1.3× bare node:http (${n0(bare.ms)} ms here; the issue's 70 ms is 1.3× the 55 ms it measured) | ${n0(zsStart.ms)} ms (${ratio(zsStart.ms, bare.ms)}×) | ${goal(zsStart.ms <= 1.3 * bare.ms)} |`,
    `| anonymous RSS idle ≤ 12 MB, after ${IDLE_S} s and all through ${LONG_IDLE_S} s | ${n1(zsStart.idle.anon)} MB, at most ${n1(zsIdleMax)} MB | ${goal(zsIdleMax <= 12)} |`,
    `| anonymous RSS after the load ≤ 24 MB | ${n1(zsLoaded.anon)} MB | ${goal(zsLoaded.anon <= 24)} |`,
    `| ≥ 1.3× Knative's req/s on the no-op app | ${ratio(zs.noop.rps, kn.noop.rps)}× | ${goal(zs.noop.rps >= 1.3 * kn.noop.rps)} |`,
    '',
    `What the queue-proxy does not load, and why: a bare node:http server that first requires one module (bundled, as ours are), spawn → first answer and anonymous RSS idle, median of ${STARTS}, against the bare server's ${n0(bare.ms)} ms and ${n1(bare.idle.anon)} MB.`,
    '',
    '| module | spawn → first answer | anonymous RSS idle | what the queue-proxy does instead |',
    '|---|---|---|---|',
    ...modules.map(
      (m) =>
        `| ${m.name} | ${n0(m.ms)} ms (+${n0(m.ms - bare.ms)}) | ${n1(m.idle.anon)} MB (+${n1(m.idle.anon - bare.idle.anon)}) | ${LEFT_OUT_INSTEAD[m.name as (typeof LEFT_OUT_MODULES)[number]]} |`,
    ),
    '',
    `The other components, start → ready (/readyz 200) and memory 2 s later, median of ${COMPONENT_STARTS}: from the TypeScript sources (\`node src/cli.ts\`, as before) and from the bundles the image now runs (\`node dist/cli.cjs\`).`,
    '',
    '| component | sources: start → ready | sources: RSS / anonymous | bundle: start → ready | bundle: RSS / anonymous |',
    '|---|---|---|---|---|',
    ...[...new Set(components.map((c) => c.component))].map((name) => {
      const src = components.find((c) => c.component === name && c.form === 'sources')!;
      const bun = components.find((c) => c.component === name && c.form === 'bundle')!;
      return `| ${name} | ${n0(src.ms)} ms | ${n1(src.rss)} / ${n1(src.anon)} MB | ${n0(bun.ms)} ms | ${n1(bun.rss)} / ${n1(bun.anon)} MB |`;
    }),
  ];
  writeResult('sidecar', { columns, defaultFlags, bare, starts, components }, lines.join('\n'));
}

function knativeVersion(): string {
  const versions = fs.readFileSync(path.join(root, 'scripts', 'versions.sh'), 'utf8');
  return /KNATIVE_SERVING_VERSION=(\S+)/.exec(versions)?.[1] ?? 'unknown';
}

// ---- entry --------------------------------------------------------------------------------------

if (process.argv[1] === self) {
  const [roleName, arg] = process.argv.slice(2);
  if (roleName === 'first') await runFirst(arg!, process.argv[4] ?? String(IDLE_S));
  else if (roleName === 'wait') await runWait(arg!);
  else await benchSidecar();
}
