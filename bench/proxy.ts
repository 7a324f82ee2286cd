// Data-plane overhead: requests/s and p50/p99 latency of the same app reached directly, through
// the queue-proxy, through the activator (with and without a queue-proxy behind it), through
// nginx, and through the bare forwarding core beside http-proxy; latency at half the
// activator's peak; and the activator's memory while it holds 10,000 requests for a cold service.
// One load generator (wrk), one machine, everything on 127.0.0.1. Bounded to about 2.5 minutes.
//
// Also the child roles of the benchmark: `node bench/proxy.ts app|core|http-proxy|hold|flood …`.

import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { QUEUE_PROXY_NODE_FLAGS } from '../src/api/queue-proxy.ts';
import {
  ChildProcesses,
  cpuMs,
  freePort,
  hasCommand,
  median,
  medianResult,
  nginxConfig,
  nginxWorkerPid,
  rssMb,
  type WrkResult,
  waitUntil,
  wrk as wrkAt,
} from './measure.ts';
import { writeResult } from './stats.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
// The bundles the image ships (bench/run.ts builds them first), the queue-proxy with its V8 flags.
const cli = path.join(here, '..', 'dist', 'cli.cjs');
const self = fileURLToPath(import.meta.url);
const LOOPBACK = '127.0.0.1';

const RUN_SECONDS = 4;
const ROUNDS = 2;
const CONNECTIONS = 50;
const SLOW_MS = 1; // the "1 ms app" of the queue-proxy goal
const HELD = 10_000;

/** wrk on 127.0.0.1 with this benchmark's defaults. */
function wrk(
  port: number,
  options: { connections?: number; seconds?: number; script?: string } = {},
): WrkResult {
  return wrkAt(port, { connections: CONNECTIONS, seconds: RUN_SECONDS, ...options });
}

// ---- child roles ----------------------------------------------------------------------------

/** The app: 5 bytes, after `delayMs`; answers the activator's probe as a queue-proxy would. */
function runApp(port: number, delayMs: number): void {
  const body = Buffer.from('hello');
  const headers = ['content-type', 'text/plain', 'content-length', '5'];
  http
    .createServer((req, res) => {
      if (req.headers['x-zeroscale-probe'] === 'queue') {
        res.end('queue');
        return;
      }
      if (delayMs === 0) {
        res.writeHead(200, headers);
        res.end(body);
        return;
      }
      setTimeout(() => {
        res.writeHead(200, headers);
        res.end(body);
      }, delayMs);
    })
    .listen(port, LOOPBACK);
}

/** The headers both bench cores send upstream: the rewriting the real proxies do. */
async function headerRewriter(): Promise<(req: http.IncomingMessage) => string[]> {
  const { buildUpstreamRequestHeaders } = await import('../src/http/headers.ts');
  const { randomUUID } = await import('node:crypto');
  const policy = { trustForwarded: true, stripInternal: true, newRequestId: randomUUID };
  return (req) =>
    buildUpstreamRequestHeaders(
      req.rawHeaders,
      { remoteAddress: req.socket.remoteAddress, protocol: 'http' },
      policy,
    ).headers;
}

/** The forwarding core alone (src/http/proxy.ts), for the comparison with http-proxy. */
export async function runCore(port: number, upstreamPort: number): Promise<http.Server> {
  const { Forwarder } = await import('../src/http/proxy.ts');
  const { Upstream } = await import('../src/http/upstream.ts');
  const { failureAnswer, writeErrorAnswer } = await import('../src/http/failures.ts');
  const rewrite = await headerRewriter();
  const upstream = new Upstream({ host: LOOPBACK, port: upstreamPort, maxFreeSockets: 1000 });
  const forwarder = new Forwarder<http.ServerResponse>({
    forwardEnded(res, failure) {
      if (failure !== undefined && !failure.responseStarted) writeErrorAnswer(res, failureAnswer(failure));
    },
  });
  return http
    .createServer((req, res) => {
      forwarder.forward(req, res, rewrite(req), upstream, res, 0);
    })
    .listen(port, LOOPBACK);
}

/**
 * undici's Pool through its dispatch API (streaming both ways, backpressure by the controller),
 * with the same header rewriting as the core: the candidate to replace src/http/upstream.ts.
 */
export async function runUndici(port: number, upstreamPort: number): Promise<http.Server> {
  const { Pool } = await import('undici');
  const { HOP_BY_HOP_HEADERS } = await import('../src/http/headers.ts');
  const rewrite = await headerRewriter();
  const pool = new Pool(`http://${LOOPBACK}:${upstreamPort}`, {
    connections: 1000,
    pipelining: 1,
    keepAliveTimeout: 30_000,
  });
  return http
    .createServer((req, res) => {
      const headers = rewrite(req);
      const hasBody =
        req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
      let controller: { abort(err: Error): void; pause(): void; resume(): void } | undefined;
      res.once('close', () => {
        if (!res.writableFinished) controller?.abort(new Error('client closed the connection'));
      });
      pool.dispatch({ method: req.method as 'GET', path: req.url!, headers, body: hasBody ? req : null }, {
        onRequestStart(c: typeof controller) {
          controller = c;
        },
        onResponseStart(_c: unknown, status: number, upstreamHeaders: Record<string, string | string[]>) {
          for (const name of Object.keys(upstreamHeaders)) {
            if (HOP_BY_HOP_HEADERS.has(name)) delete upstreamHeaders[name];
          }
          res.writeHead(status, upstreamHeaders);
        },
        onResponseData(c: NonNullable<typeof controller>, chunk: Buffer) {
          if (!res.write(chunk)) {
            c.pause();
            res.once('drain', () => c.resume());
          }
        },
        onResponseEnd() {
          res.end();
        },
        onResponseError(_c: unknown, _err: Error) {
          if (res.headersSent) res.destroy();
          else {
            res.statusCode = 502;
            res.end();
          }
        },
      } as never);
    })
    .listen(port, LOOPBACK);
}

/** http-proxy 1.18 with a keep-alive agent, as it is usually deployed. */
async function runHttpProxy(port: number, upstreamPort: number): Promise<void> {
  const { default: httpProxy } = await import('http-proxy');
  const agent = new http.Agent({ keepAlive: true, maxFreeSockets: 1000 });
  const proxy = httpProxy.createProxyServer({
    target: `http://${LOOPBACK}:${upstreamPort}`,
    agent,
    xfwd: true,
  });
  proxy.on('error', (_err, _req, res) => {
    if (res instanceof http.ServerResponse && !res.headersSent) {
      res.statusCode = 502;
      res.end();
    }
  });
  http.createServer((req, res) => proxy.web(req, res)).listen(port, LOOPBACK);
}

/** A bare node:http server that holds every request: the floor of what holding costs in Node. */
function runHold(port: number): void {
  const held: http.ServerResponse[] = [];
  http.createServer((_req, res) => held.push(res)).listen(port, LOOPBACK);
}

/** Opens `count` connections with one GET each; prints `sent` once all are written. */
function runFlood(port: number, host: string, count: number): void {
  const request = Buffer.from(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
  let opened = 0;
  let written = 0;
  const open = (): void => {
    if (opened >= count) return;
    opened++;
    const socket = net.connect({ host: LOOPBACK, port });
    socket.on('connect', () => {
      socket.write(request);
      if (++written === count) process.stdout.write('sent\n');
      open();
    });
    socket.on('error', () => {});
  };
  // Waves of 200: a listen backlog overflowed by SYNs costs seconds of retransmits.
  for (let i = 0; i < 200; i++) open();
}

/** undici's version when it can be loaded (a devDependency), else undefined. */
function undiciInstalled(): string | undefined {
  try {
    const pkg = path.join(here, '..', 'node_modules', 'undici', 'package.json');
    return (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { version: string }).version;
  } catch {
    return undefined;
  }
}

// ---- measurement helpers ----------------------------------------------------------------------

function get(port: number, pathName: string, host = 'localhost'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: LOOPBACK, port, path: pathName, agent: false, headers: { host } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      })
      .on('error', reject);
  });
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, LOOPBACK);
    socket.on('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

const children = new ChildProcesses();
function start(command: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  return children.start(command, args, env);
}
function role(name: string, ...args: (string | number)[]): ChildProcess {
  return start(process.execPath, [self, name, ...args.map(String)]);
}

// ---- the benchmark ------------------------------------------------------------------------------

interface Target {
  readonly name: string;
  readonly handler: 'fast' | `${number} ms`;
  readonly port: number;
  /** The proxy process whose CPU per request is reported. */
  readonly pid?: number | undefined;
}

interface Row extends WrkResult {
  readonly name: string;
  readonly handler: string;
  readonly cpuUsPerRequest: number | undefined;
}

export async function benchProxy(): Promise<void> {
  const wrkPath = hasCommand('wrk');
  const nginxPath = hasCommand('nginx');
  if (wrkPath === undefined || nginxPath === undefined) {
    process.stdout.write('bench proxy: wrk or nginx missing; run scripts/ensure-bench-deps.sh\n');
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zeroscale-bench-proxy-'));
  try {
    await run(nginxPath, dir);
  } finally {
    await children.stopAll();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function run(nginxPath: string, dir: string): Promise<void> {
  const ports = {
    fast: await freePort(),
    slow: await freePort(),
    qpFast: await freePort(),
    qpSlow: await freePort(),
    activator: await freePort(),
    nginxFast: await freePort(),
    nginxSlow: await freePort(),
    core: await freePort(),
    undici: await freePort(),
    httpProxy: await freePort(),
  };
  role('app', ports.fast, 0);
  role('app', ports.slow, SLOW_MS);
  const queueProxy = (name: string, httpPort: number, userPort: number): ChildProcess =>
    start(process.execPath, [...QUEUE_PROXY_NODE_FLAGS, cli, 'queue-proxy'], {
      SERVING_SERVICE: name,
      SERVING_NAMESPACE: 'bench',
      SERVING_POD: `${name}-pod`,
      USER_PORT: String(userPort),
      QUEUE_SERVING_PORT: String(httpPort),
      QUEUE_METRICS_PORT: '0',
      QUEUE_LISTEN_HOST: LOOPBACK,
      QUEUE_DRAIN_SECONDS: '0',
    });
  const qpFast = queueProxy('fast', ports.qpFast, ports.fast);
  const qpSlow = queueProxy('slow', ports.qpSlow, ports.slow);
  const services = [
    { name: 'fast', pod: ports.qpFast },
    { name: 'slow', pod: ports.qpSlow },
    // The app stands in for a queue-proxy (it answers the probe): the activator alone, as nginx.
    { name: 'fast-direct', pod: ports.fast },
    { name: 'cold', pod: undefined },
    // Two revisions of one service, both on the same queue-proxy: the split's cost alone.
    { name: 'split-1', pod: ports.qpFast, routeOnly: true },
    { name: 'split-2', pod: ports.qpFast, routeOnly: true },
  ];
  const staticConfig = path.join(dir, 'static.json');
  fs.writeFileSync(
    staticConfig,
    JSON.stringify({
      services: services.map((s) => ({
        namespace: 'bench',
        name: s.name,
        containerConcurrency: 0,
        timeoutSeconds: 300,
        pods: s.pod === undefined ? [] : [{ ip: LOOPBACK, port: s.pod, ready: true }],
        ...('routeOnly' in s ? { routeOnly: true } : {}),
      })),
      routes: [
        {
          namespace: 'bench',
          name: 'split',
          traffic: [
            { name: 'split-1', percent: 90 },
            { name: 'split-2', percent: 10 },
          ],
        },
      ],
    }),
  );
  const activatorMetrics = await freePort();
  const activator = start(process.execPath, [cli, 'activator', '--static-config', staticConfig], {
    ACTIVATOR_PORT: String(ports.activator),
    ACTIVATOR_METRICS_PORT: String(activatorMetrics),
    ACTIVATOR_LISTEN_HOST: LOOPBACK,
    ACTIVATOR_NAME: 'bench',
    ACTIVATOR_DRAIN_SECONDS: '0',
    ACTIVATOR_SHUTDOWN_GRACE_SECONDS: '1',
  });
  const nginx = start(nginxPath, [
    '-c',
    nginxConfig(dir, [
      { listen: ports.nginxFast, upstream: ports.fast },
      { listen: ports.nginxSlow, upstream: ports.slow },
    ]),
    '-e',
    path.join(dir, 'error.log'),
  ]);
  const core = role('core', ports.core, ports.fast);
  const undiciVersion = undiciInstalled();
  const undici = undiciVersion === undefined ? undefined : role('undici', ports.undici, ports.fast);
  let httpProxy: ChildProcess | undefined;
  try {
    await import('http-proxy');
    httpProxy = role('http-proxy', ports.httpProxy, ports.fast);
  } catch {
    process.stdout.write('bench proxy: http-proxy not installed; leaving it out\n');
  }

  for (const port of [
    ports.fast,
    ports.slow,
    ports.core,
    ports.nginxFast,
    ports.nginxSlow,
    ...(undici === undefined ? [] : [ports.undici]),
  ]) {
    await waitUntil(`port ${port}`, async () => (await get(port, '/')).status === 200);
  }
  await waitUntil(
    'queue-proxies ready',
    async () =>
      (await get(ports.qpFast, '/healthz/ready')).status === 200 &&
      (await get(ports.qpSlow, '/healthz/ready')).status === 200,
  );
  for (const name of ['fast', 'slow', 'fast-direct', 'split']) {
    await waitUntil(
      `activator serving ${name}`,
      async () => (await get(ports.activator, '/', `${name}.bench.svc`)).status === 200,
    );
  }
  if (httpProxy !== undefined)
    await waitUntil('http-proxy', async () => (await get(ports.httpProxy, '/')).status === 200);

  // wrk cannot set Host per target, so each activator target gets a tiny Lua script.
  const hostScript = (host: string): string => {
    const file = path.join(dir, `${host}.lua`);
    fs.writeFileSync(file, `wrk.headers["Host"] = "${host}"\n`);
    return file;
  };
  const nginxWorker = (): number | undefined =>
    nginx.pid === undefined ? undefined : nginxWorkerPid(nginx.pid);
  const targets: (Target & { script?: string })[] = [
    { name: 'app directly', handler: 'fast', port: ports.fast },
    { name: 'queue-proxy', handler: 'fast', port: ports.qpFast, pid: qpFast.pid },
    {
      name: 'activator + queue-proxy',
      handler: 'fast',
      port: ports.activator,
      pid: activator.pid,
      script: hostScript('fast.bench.svc'),
    },
    {
      name: 'activator + queue-proxy, split 90/10',
      handler: 'fast',
      port: ports.activator,
      pid: activator.pid,
      script: hostScript('split.bench.svc'),
    },
    {
      name: 'activator alone',
      handler: 'fast',
      port: ports.activator,
      pid: activator.pid,
      script: hostScript('fast-direct.bench.svc'),
    },
    { name: 'nginx', handler: 'fast', port: ports.nginxFast, pid: nginxWorker() },
    { name: 'forwarding core alone', handler: 'fast', port: ports.core, pid: core.pid },
    ...(undici === undefined
      ? []
      : [
          {
            name: `undici ${undiciVersion} Pool`,
            handler: 'fast' as const,
            port: ports.undici,
            pid: undici.pid,
          },
        ]),
    ...(httpProxy === undefined
      ? []
      : [{ name: 'http-proxy 1.18.1', handler: 'fast' as const, port: ports.httpProxy, pid: httpProxy.pid }]),
    { name: 'app directly', handler: `${SLOW_MS} ms`, port: ports.slow },
    { name: 'queue-proxy', handler: `${SLOW_MS} ms`, port: ports.qpSlow, pid: qpSlow.pid },
    {
      name: 'activator + queue-proxy',
      handler: `${SLOW_MS} ms`,
      port: ports.activator,
      pid: activator.pid,
      script: hostScript('slow.bench.svc'),
    },
    { name: 'nginx', handler: `${SLOW_MS} ms`, port: ports.nginxSlow, pid: nginxWorker() },
  ];

  // Memory first, while the activator is fresh: holding 10,000 requests for a service with no
  // pod, beside a bare node:http server holding as many (the floor of holding a request in Node).
  const holdPort = await freePort();
  const hold = role('hold', holdPort);
  await waitUntil('hold server', () => portOpen(holdPort));
  const memory = {
    activator: await heldMemory(activator.pid!, ports.activator, 'cold.bench.svc', async () => {
      const text = (await get(activatorMetrics, '/metrics')).body;
      return Number(/^zeroscale_activator_queued_requests_all (\d+)/m.exec(text)?.[1] ?? 0);
    }),
    bareNode: await heldMemory(hold.pid!, holdPort, 'x', constantHeld),
  };

  // Warm-up: JIT and connection pools, not measured.
  for (const t of targets)
    wrk(t.port, { seconds: 1, ...(t.script === undefined ? {} : { script: t.script }) });

  // Interleaved rounds, medians: the machine is noisy, so compare only inside one run.
  const samples = new Map<Target, { results: WrkResult[]; cpu: number[] }>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const t of targets) {
      const cpuBefore = t.pid === undefined ? 0 : cpuMs(t.pid);
      const result = wrk(t.port, t.script === undefined ? {} : { script: t.script });
      const cpu =
        t.pid === undefined ? Number.NaN : ((cpuMs(t.pid) - cpuBefore) * 1000) / Math.max(1, result.requests);
      const entry = samples.get(t) ?? { results: [], cpu: [] };
      entry.results.push(result);
      entry.cpu.push(cpu);
      samples.set(t, entry);
    }
  }
  const rows: Row[] = targets.map((t) => {
    const { results, cpu } = samples.get(t)!;
    return {
      name: t.name,
      handler: t.handler,
      rps: median(results.map((r) => r.rps)),
      p50Ms: median(results.map((r) => r.p50Ms)),
      p99Ms: median(results.map((r) => r.p99Ms)),
      requests: results.reduce((a, r) => a + r.requests, 0),
      errors: results.reduce((a, r) => a + r.errors, 0),
      cpuUsPerRequest: t.pid === undefined ? undefined : median(cpu),
    };
  });
  const find = (name: string, handler: string): Row =>
    rows.find((r) => r.name === name && r.handler === handler)!;

  // Latency at half the activator's peak: requests paced by wrk's delay(), 0–20 ms at random
  // (10 ms on average) per connection. A fixed delay would line all connections up into bursts
  // as large as the connection count, and p99 would measure the draining of each burst.
  const peak = find('activator + queue-proxy', 'fast').rps;
  const pacedConnections = Math.max(1, Math.round(((peak / 2) * (10 + 1)) / 1000));
  const pace = (host: string | undefined): string => {
    const file = path.join(dir, `paced-${host ?? 'direct'}.lua`);
    fs.writeFileSync(
      file,
      `${host === undefined ? '' : `wrk.headers["Host"] = "${host}"\n`}math.randomseed(os.time())\nfunction delay() return math.random(0, 20) end\n`,
    );
    return file;
  };
  const pacedRuns: Record<'direct' | 'queueProxy' | 'activator', WrkResult[]> = {
    direct: [],
    queueProxy: [],
    activator: [],
  };
  for (let round = 0; round < ROUNDS; round++) {
    const options = { connections: pacedConnections, seconds: 5 };
    pacedRuns.direct.push(wrk(ports.fast, { ...options, script: pace(undefined) }));
    pacedRuns.queueProxy.push(wrk(ports.qpFast, { ...options, script: pace(undefined) }));
    pacedRuns.activator.push(wrk(ports.activator, { ...options, script: pace('fast.bench.svc') }));
  }
  const paced = {
    direct: medianResult(pacedRuns.direct),
    queueProxy: medianResult(pacedRuns.queueProxy),
    activator: medianResult(pacedRuns.activator),
  };

  report(rows, paced, pacedConnections, memory, find);
}

/** For the bare server, which cannot say how many it holds: the flood's own count. */
async function constantHeld(): Promise<number> {
  return HELD;
}

interface HeldMemory {
  readonly idleMb: number;
  readonly holdingMb: number;
  readonly held: number;
}

async function heldMemory(
  pid: number,
  port: number,
  host: string,
  queued: () => Promise<number>,
): Promise<HeldMemory> {
  const idleMb = rssMb(pid);
  const flood = spawn(process.execPath, [self, 'flood', String(port), host, String(HELD)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(flood);
  await new Promise<void>((resolve) =>
    flood.stdout!.on('data', (d: Buffer) => d.toString().includes('sent') && resolve()),
  );
  let held = 0;
  await waitUntil(
    `${HELD} requests held`,
    async () => {
      held = await queued();
      return held >= HELD;
    },
    60_000,
  );
  // Let the GC settle the way it would in a real process: no forced collection.
  await new Promise((r) => setTimeout(r, 1_000));
  const holdingMb = rssMb(pid);
  flood.kill('SIGKILL');
  // The clients are gone: wait until the holder let go of all of them.
  await waitUntil(
    'held requests released',
    async () => (await queued()) === 0 || queued === constantHeld,
    30_000,
  );
  return { idleMb, holdingMb, held };
}

function report(
  rows: readonly Row[],
  paced: Record<'direct' | 'queueProxy' | 'activator', WrkResult>,
  pacedConnections: number,
  memory: Record<'activator' | 'bareNode', HeldMemory>,
  find: (name: string, handler: string) => Row,
): void {
  const f0 = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');
  const f2 = (n: number): string => (Number.isFinite(n) ? n.toFixed(2) : '—');
  const pct = (n: number): string => (Number.isFinite(n) ? `${Math.round(n * 100)} %` : '—');
  const lines: string[] = [
    `Data plane, ${os.cpus().length} cores, Node ${process.versions.node}, wrk -t1 -c${CONNECTIONS}, ${RUN_SECONDS} s × ${ROUNDS} interleaved rounds (medians); everything on 127.0.0.1, unpinned.`,
    '',
    '| target | handler | req/s | p50 ms | p99 ms | vs direct | vs nginx | proxy CPU µs/req | errors |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const direct = find('app directly', r.handler).rps;
    const nginx = find('nginx', r.handler).rps;
    lines.push(
      `| ${r.name} | ${r.handler} | ${f0(r.rps)} | ${f2(r.p50Ms)} | ${f2(r.p99Ms)} | ${pct(r.rps / direct)} | ${pct(r.rps / nginx)} | ${r.cpuUsPerRequest === undefined ? '—' : f0(r.cpuUsPerRequest)} | ${r.errors} |`,
    );
  }
  const qpFast = find('queue-proxy', 'fast').rps / find('app directly', 'fast').rps;
  const qpSlow = find('queue-proxy', `${SLOW_MS} ms`).rps / find('app directly', `${SLOW_MS} ms`).rps;
  const actVsNginx = find('activator alone', 'fast').rps / find('nginx', 'fast').rps;
  const actQpVsNginx = find('activator + queue-proxy', 'fast').rps / find('nginx', 'fast').rps;
  const added = paced.activator.p99Ms - paced.queueProxy.p99Ms;
  const coreRow = find('forwarding core alone', 'fast');
  const httpProxyRow = rows.find((r) => r.name.startsWith('http-proxy'));
  const undiciRow = rows.find((r) => r.name.startsWith('undici'));
  const held = memory.activator.holdingMb - memory.activator.idleMb;
  const bare = memory.bareNode.holdingMb - memory.bareNode.idleMb;
  const goal = (ok: boolean): string => (ok ? 'met' : '**not met**');
  lines.push(
    '',
    `Paced at half the activator's peak (${pacedConnections} connections, each waiting 0–20 ms at random, 10 ms on average, between requests): ` +
      `app ${f0(paced.direct.rps)} req/s p99 ${f2(paced.direct.p99Ms)} ms; queue-proxy ${f0(paced.queueProxy.rps)} req/s p99 ${f2(paced.queueProxy.p99Ms)} ms; ` +
      `activator + queue-proxy ${f0(paced.activator.rps)} req/s p99 ${f2(paced.activator.p99Ms)} ms.`,
    '',
    `Holding ${HELD.toLocaleString('en-US')} requests for a cold service: activator RSS ${f0(memory.activator.idleMb)} → ${f0(memory.activator.holdingMb)} MB (+${f0(held)} MB, ${memory.activator.held} held); ` +
      `a bare node:http server holding as many: +${f0(bare)} MB.`,
    '',
    '| goal | measured | |',
    '|---|---|---|',
    `| queue-proxy ≥ 80 % of direct throughput | ${pct(qpFast)} (fast handler), ${pct(qpSlow)} (${SLOW_MS} ms handler) | ${goal(qpFast >= 0.8)} / ${goal(qpSlow >= 0.8)} |`,
    `| activator adds ≤ 2 ms p99 at half its peak | +${f2(added)} ms over the queue-proxy alone (+${f2(paced.activator.p99Ms - paced.direct.p99Ms)} ms over the app) | ${goal(added <= 2)} |`,
    `| activator ≥ 70 % of nginx throughput | ${pct(actVsNginx)} alone, ${pct(actQpVsNginx)} with the queue-proxy behind it | ${goal(actVsNginx >= 0.7)} |`,
    `| 10,000 queued ≤ 100 MB activator memory | +${f0(held)} MB (node:http floor +${f0(bare)} MB) | ${goal(held <= 100)} |`,
    '',
    httpProxyRow === undefined
      ? 'http-proxy was not installed, so the comparison was skipped.'
      : `Forwarding core vs http-proxy 1.18.1 on the same app: ${f0(coreRow.rps)} vs ${f0(httpProxyRow.rps)} req/s (${f2(coreRow.rps / httpProxyRow.rps)}×), ` +
          `p99 ${f2(coreRow.p99Ms)} vs ${f2(httpProxyRow.p99Ms)} ms.`,
    '',
    undiciRow === undefined
      ? 'undici was not installed, so the comparison was skipped.'
      : `Forwarding core vs ${undiciRow.name} (dispatch API, same header rewriting) on the same app: ${f0(coreRow.rps)} vs ${f0(undiciRow.rps)} req/s (${f2(coreRow.rps / undiciRow.rps)}×), ` +
          `p99 ${f2(coreRow.p99Ms)} vs ${f2(undiciRow.p99Ms)} ms, CPU ${coreRow.cpuUsPerRequest === undefined ? '—' : f0(coreRow.cpuUsPerRequest)} vs ${undiciRow.cpuUsPerRequest === undefined ? '—' : f0(undiciRow.cpuUsPerRequest)} µs/req.`,
  );
  writeResult(
    'proxy',
    { rows, paced: { connections: pacedConnections, ...paced }, memory },
    lines.join('\n'),
  );
}

// ---- entry for the child roles ----------------------------------------------------------------

if (import.meta.main) {
  const [name, ...args] = process.argv.slice(2);
  const n = (i: number): number => Number(args[i]);
  switch (name) {
    case 'app':
      runApp(n(0), n(1));
      break;
    case 'core':
      await runCore(n(0), n(1));
      break;
    case 'http-proxy':
      await runHttpProxy(n(0), n(1));
      break;
    case 'undici':
      await runUndici(n(0), n(1));
      break;
    case 'hold':
      runHold(n(0));
      break;
    case 'flood':
      runFlood(n(0), args[1]!, n(2));
      break;
    default:
      await benchProxy();
  }
}
