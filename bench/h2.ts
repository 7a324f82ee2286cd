// HTTP/2 through the data plane (issue 14): req/s, p50/p99 and proxy CPU per request of h2c
// requests to a node:http2 app and of gRPC unary calls to a @grpc/grpc-js server, each reached
// directly, through nginx (grpc_pass) and through zeroscale's queue-proxy and activator +
// queue-proxy speaking h2c to the app. One load generator (h2load, HTTP/2 with prior knowledge),
// everything on 127.0.0.1, rounds interleaved, medians. Bounded to about 1.5 minutes.
//
// Run alone: `node bench/h2.ts` (bundles dist/ first; `--quick`: one 1 s round, nothing written).
// Also the child roles `node bench/h2.ts h2c-app|grpc-app <port>`.

import type { ChildProcess } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http2 from 'node:http2';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as Grpc from '@grpc/grpc-js';
import { QUEUE_PROXY_NODE_FLAGS } from '../src/api/queue-proxy.ts';
import {
  ChildProcesses,
  cpuMs,
  freePort,
  type H2loadOptions,
  h2load,
  hasCommand,
  type LoadResult,
  median,
  medianResult,
  nginxConfig,
  nginxWorkerPid,
  waitUntil,
} from './measure.ts';
import { writeResult } from './stats.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, '..');
const cli = path.join(root, 'dist', 'cli.cjs');
const self = fileURLToPath(import.meta.url);
const LOOPBACK = '127.0.0.1';

const RUN_SECONDS = 3;
const ROUNDS = 3;
// 10 connections × 10 streams each: 100 requests in flight.
const CONNECTIONS = 10;
const STREAMS = 10;
/** How long a target may take to answer its first check; the zeroscale ones in parallel. */
const READY_MS = 20_000;

// ---- the gRPC service, without a protobuf compiler ---------------------------------------------

const GRPC_PATH = '/bench.Greeter/SayHello';
const GRPC_HEADERS = ['content-type: application/grpc', 'te: trailers'];

interface HelloRequest {
  readonly name: string;
}
interface HelloReply {
  readonly message: string;
}

const toJson = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
const SAY_HELLO: Grpc.MethodDefinition<HelloRequest, HelloReply> = {
  path: GRPC_PATH,
  requestStream: false,
  responseStream: false,
  requestSerialize: toJson,
  requestDeserialize: (bytes) => JSON.parse(bytes.toString()) as HelloRequest,
  responseSerialize: toJson,
  responseDeserialize: (bytes) => JSON.parse(bytes.toString()) as HelloReply,
};
const HELLO_REQUEST: HelloRequest = { name: 'bench' };
const HELLO_REPLY = 'hello bench';

/** A gRPC message as it travels: not compressed (0), its length as uint32 big-endian, the bytes. */
function grpcFrame(message: Buffer): Buffer {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  return frame;
}

/** @grpc/grpc-js (a dependency of the OpenTelemetry SDK) and its version, when it can be loaded. */
async function loadGrpc(): Promise<{ grpc: typeof Grpc; version: string } | undefined> {
  try {
    const grpc = await import('@grpc/grpc-js');
    const pkg = createRequire(import.meta.url).resolve('@grpc/grpc-js/package.json');
    return { grpc, version: (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { version: string }).version };
  } catch {
    return undefined;
  }
}

// ---- child roles ----------------------------------------------------------------------------

/** 'hello' to every request; answers the activator's probe as a queue-proxy would. */
function runH2cApp(port: number): void {
  const body = Buffer.from('hello');
  const headers = { ':status': 200, 'content-type': 'text/plain', 'content-length': body.length };
  const probeHeaders = { ':status': 200, 'content-length': 5 };
  const server = http2.createServer();
  server.on('stream', (stream, requestHeaders) => {
    stream.on('error', ignore);
    if (requestHeaders['x-zeroscale-probe'] === 'queue') {
      stream.respond(probeHeaders);
      stream.end('queue');
      return;
    }
    stream.respond(headers);
    stream.end(body);
  });
  server.listen(port, LOOPBACK);
}

function ignore(): void {}

async function runGrpcApp(port: number): Promise<void> {
  const { grpc } = (await loadGrpc())!;
  const server = new grpc.Server();
  server.addService(
    { SayHello: SAY_HELLO },
    {
      SayHello(
        call: Grpc.ServerUnaryCall<HelloRequest, HelloReply>,
        callback: Grpc.sendUnaryData<HelloReply>,
      ) {
        callback(null, { message: `hello ${call.request.name}` });
      },
    },
  );
  server.bindAsync(`${LOOPBACK}:${port}`, grpc.ServerCredentials.createInsecure(), (err) => {
    if (err !== null) throw err;
  });
}

// ---- checks: does a path answer what h2load will ask, with success? ----------------------------

interface H2Answer {
  readonly status: number;
  readonly body: string;
  /** From the trailers, or the headers of a trailers-only answer. */
  readonly grpcStatus: string | undefined;
  readonly grpcMessage: string | undefined;
}

/** One HTTP/2 request with prior knowledge on a connection of its own; rejects after 3 s. */
function h2cRequest(
  port: number,
  request: { authority: string | undefined; method: string; path: string; headers: readonly string[] },
  body?: Buffer,
): Promise<H2Answer> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://${LOOPBACK}:${port}`);
    const fail = (err: Error): void => {
      session.destroy();
      reject(err);
    };
    session.on('error', fail);
    const headers: http2.OutgoingHttpHeaders = { ':method': request.method, ':path': request.path };
    if (request.authority !== undefined) headers[':authority'] = request.authority;
    for (const line of request.headers) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
    }
    const stream = session.request(headers);
    stream.setTimeout(3_000, () => fail(new Error('no answer in 3 s')));
    stream.on('error', fail);
    let status = 0;
    let grpc: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on('response', (h) => {
      status = Number(h[':status']);
      grpc = h;
    });
    stream.on('trailers', (h) => (grpc = { ...grpc, ...h }));
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      session.close();
      resolve({
        status,
        body: Buffer.concat(chunks).toString('utf8'),
        grpcStatus: grpc['grpc-status'] as string | undefined,
        grpcMessage: grpc['grpc-message'] as string | undefined,
      });
    });
    stream.end(body);
  });
}

/** One unary call with a grpc-js client; resolves to what went wrong, undefined on success. */
function grpcCall(
  grpc: typeof Grpc,
  port: number,
  authority: string | undefined,
): Promise<string | undefined> {
  const client = new grpc.Client(
    `${LOOPBACK}:${port}`,
    grpc.credentials.createInsecure(),
    authority === undefined ? {} : { 'grpc.default_authority': authority },
  );
  return new Promise<string | undefined>((resolve) => {
    client.makeUnaryRequest<HelloRequest, HelloReply>(
      GRPC_PATH,
      SAY_HELLO.requestSerialize,
      SAY_HELLO.responseDeserialize,
      HELLO_REQUEST,
      new grpc.Metadata(),
      { deadline: Date.now() + 3_000 },
      (err, reply) => {
        if (err !== null)
          resolve(`grpc-js client: status ${err.code} (${grpc.status[err.code]}) ${err.details}`);
        else if (reply?.message !== HELLO_REPLY) resolve(`grpc-js client: reply ${JSON.stringify(reply)}`);
        else resolve(undefined);
      },
    );
  }).finally(() => client.close());
}

/**
 * The request h2load will send, once, with its answer checked: 'hello' for h2c; for gRPC a 200
 * with grpc-status 0 (h2load counts HTTP statuses only, and a failed call is a 200 too), then the
 * same call from a real grpc-js client. Resolves to what went wrong, undefined on success.
 */
async function check(t: Target, grpc: typeof Grpc | undefined, frame: Buffer): Promise<string | undefined> {
  if (t.protocol === 'h2c') {
    const a = await h2cRequest(t.port, { authority: t.authority, method: 'GET', path: '/', headers: [] });
    return a.status === 200 && a.body === 'hello' ? undefined : `answered ${a.status} ${clip(a.body)}`;
  }
  const request = { authority: t.authority, method: 'POST', path: GRPC_PATH, headers: GRPC_HEADERS };
  const a = await h2cRequest(t.port, request, frame);
  if (a.status !== 200 || a.grpcStatus !== '0')
    return `answered ${a.status}, grpc-status ${a.grpcStatus ?? 'absent'} ${clip(a.grpcMessage ?? a.body)}`;
  return grpcCall(grpc!, t.port, t.authority);
}

const clip = (text: string): string => JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);

/** Checks until one succeeds (undefined) or READY_MS passed (the last failure, and any exit). */
async function ready(t: Target, grpc: typeof Grpc | undefined, frame: Buffer): Promise<string | undefined> {
  let last: string | undefined = 'not checked';
  try {
    await waitUntil(
      `${t.protocol} ${t.via}`,
      async () => {
        try {
          last = await check(t, grpc, frame);
        } catch (err) {
          const { code, message } = err as NodeJS.ErrnoException;
          last = `h2c client: ${code === undefined ? '' : `${code} `}${message}`;
        }
        return last === undefined;
      },
      READY_MS,
    );
    return undefined;
  } catch {
    const exits = t.processes
      .filter(({ child }) => child.exitCode !== null || child.signalCode !== null)
      .map(({ name, child }) => `; the ${name} exited (${child.exitCode ?? child.signalCode})`);
    return `no success in ${READY_MS / 1000} s: ${last}${exits.join('')}`;
  }
}

// ---- the benchmark ------------------------------------------------------------------------------

type Protocol = 'h2c' | 'gRPC unary';
type Via = 'app directly' | 'nginx' | 'queue-proxy' | 'activator + queue-proxy';

interface Target {
  readonly protocol: Protocol;
  readonly via: Via;
  readonly port: number;
  /** The :authority of its requests (the activator routes by it); 127.0.0.1:<port> otherwise. */
  readonly authority: string | undefined;
  /** What stands between h2load and the app: checked for exits, and whose CPU is reported. */
  readonly processes: readonly { readonly name: string; readonly child: ChildProcess }[];
  readonly cpuPids: readonly number[];
}

interface Row extends LoadResult {
  readonly protocol: Protocol;
  readonly via: Via;
  /** Of the proxy processes (activator and queue-proxy summed), per request. */
  readonly cpuUsPerRequest: number | undefined;
  /** Why the path was not measured, or stopped being: it did not answer with success. */
  readonly failure: string | undefined;
}

export interface H2BenchOptions {
  readonly seconds: number;
  readonly rounds: number;
  /** Write bench/results/h2.{json,md}; otherwise only print. */
  readonly write: boolean;
}

export async function benchH2(
  options: H2BenchOptions = { seconds: RUN_SECONDS, rounds: ROUNDS, write: true },
): Promise<void> {
  const nginxPath = hasCommand('nginx');
  if (hasCommand('h2load') === undefined || nginxPath === undefined) {
    process.stdout.write('bench h2: h2load or nginx missing; run scripts/ensure-bench-deps.sh\n');
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zeroscale-bench-h2-'));
  const children = new ChildProcesses();
  try {
    await run(nginxPath, dir, children, options);
  } finally {
    await children.stopAll();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function run(
  nginxPath: string,
  dir: string,
  children: ChildProcesses,
  options: H2BenchOptions,
): Promise<void> {
  const grpcJs = await loadGrpc();
  if (grpcJs === undefined)
    process.stdout.write('bench h2: @grpc/grpc-js not installed; gRPC rows left out\n');
  const protocols: Protocol[] = grpcJs === undefined ? ['h2c'] : ['h2c', 'gRPC unary'];
  const targets = await startPaths(nginxPath, dir, children, protocols);
  const frame = grpcFrame(toJson(HELLO_REQUEST));
  const bodyFile = path.join(dir, 'hello.grpc');
  fs.writeFileSync(bodyFile, frame);
  const failures = await checkPaths(targets, grpcJs?.grpc, frame);
  const rows = measurePaths(targets, failures, {
    ...options,
    bodyFile,
    logFile: path.join(dir, 'requests.log'),
  });
  report(rows, options, grpcJs?.version);
}

const APPS: Record<Protocol, { readonly role: string; readonly service: string }> = {
  h2c: { role: 'h2c-app', service: 'h2c' },
  'gRPC unary': { role: 'grpc-app', service: 'grpc' },
};

/** Per protocol: its app, nginx in front of it, a queue-proxy in front of it; one activator for all. */
async function startPaths(
  nginxPath: string,
  dir: string,
  children: ChildProcesses,
  protocols: readonly Protocol[],
): Promise<Target[]> {
  const port = async () => ({ app: await freePort(), nginx: await freePort(), queueProxy: await freePort() });
  const ports = { h2c: await port(), 'gRPC unary': await port(), activator: await freePort() };

  for (const p of protocols) children.start(process.execPath, [self, APPS[p].role, String(ports[p].app)]);
  const nginxRoutes = protocols.map((p) => ({
    listen: ports[p].nginx,
    upstream: ports[p].app,
    protocol: 'h2c' as const,
  }));
  const nginx = children.start(nginxPath, [
    '-c',
    nginxConfig(dir, nginxRoutes),
    '-e',
    path.join(dir, 'error.log'),
  ]);
  // zeroscale as the controller runs it, speaking h2c to the app (USER_PROTOCOL, `protocol`).
  const queueProxies = new Map<Protocol, ChildProcess>();
  for (const p of protocols) {
    const name = APPS[p].service;
    const qp = children.start(process.execPath, [...QUEUE_PROXY_NODE_FLAGS, cli, 'queue-proxy'], {
      SERVING_SERVICE: name,
      SERVING_NAMESPACE: 'bench',
      SERVING_POD: `${name}-pod`,
      USER_PORT: String(ports[p].app),
      USER_PROTOCOL: 'h2c',
      QUEUE_SERVING_PORT: String(ports[p].queueProxy),
      QUEUE_METRICS_PORT: '0',
      QUEUE_LISTEN_HOST: LOOPBACK,
      QUEUE_DRAIN_SECONDS: '0',
    });
    queueProxies.set(p, qp);
  }
  const staticConfig = path.join(dir, 'static.json');
  fs.writeFileSync(
    staticConfig,
    JSON.stringify({
      services: protocols.map((p) => ({
        namespace: 'bench',
        name: APPS[p].service,
        protocol: 'h2c',
        containerConcurrency: 0,
        timeoutSeconds: 300,
        pods: [{ ip: LOOPBACK, port: ports[p].queueProxy, ready: true }],
      })),
    }),
  );
  const activator = children.start(process.execPath, [cli, 'activator', '--static-config', staticConfig], {
    ACTIVATOR_PORT: String(ports.activator),
    ACTIVATOR_METRICS_PORT: String(await freePort()),
    ACTIVATOR_LISTEN_HOST: LOOPBACK,
    ACTIVATOR_NAME: 'bench',
    ACTIVATOR_DRAIN_SECONDS: '0',
    ACTIVATOR_SHUTDOWN_GRACE_SECONDS: '1',
  });

  // nginx's CPU goes to its (one) worker, there once the master has started it.
  await waitUntil('nginx worker', () => nginx.pid !== undefined && nginxWorkerPid(nginx.pid) !== nginx.pid);
  const pids = (...ps: ChildProcess[]) => ps.flatMap((c) => (c.pid === undefined ? [] : [c.pid]));
  return protocols.flatMap((p): Target[] => {
    const qp = queueProxies.get(p)!;
    const base = { protocol: p, authority: undefined };
    return [
      { ...base, via: 'app directly', port: ports[p].app, processes: [], cpuPids: [] },
      {
        ...base,
        via: 'nginx',
        port: ports[p].nginx,
        processes: [{ name: 'nginx', child: nginx }],
        cpuPids: [nginxWorkerPid(nginx.pid!)],
      },
      {
        ...base,
        via: 'queue-proxy',
        port: ports[p].queueProxy,
        processes: [{ name: 'queue-proxy', child: qp }],
        cpuPids: pids(qp),
      },
      {
        ...base,
        via: 'activator + queue-proxy',
        port: ports.activator,
        authority: `${APPS[p].service}.bench.svc`,
        processes: [
          { name: 'activator', child: activator },
          { name: 'queue-proxy', child: qp },
        ],
        cpuPids: pids(activator, qp),
      },
    ];
  });
}

/**
 * Every path checked at once; the failures, by path. The baselines must answer (else the harness
 * is broken, and this throws); a zeroscale path that does not is reported and left out of the load.
 */
async function checkPaths(
  targets: readonly Target[],
  grpc: typeof Grpc | undefined,
  frame: Buffer,
): Promise<Map<Target, string>> {
  const checked = await Promise.all(targets.map((t) => ready(t, grpc, frame)));
  const failures = new Map<Target, string>();
  targets.forEach((t, i) => {
    const failure = checked[i];
    if (failure === undefined) return;
    if (t.via === 'app directly' || t.via === 'nginx')
      throw new Error(`bench h2: ${t.protocol} ${t.via} did not answer: ${failure}`);
    failures.set(t, failure);
  });
  return failures;
}

/** A warm-up run of each path, then interleaved rounds (the machine is noisy), medians. */
function measurePaths(
  targets: readonly Target[],
  failures: Map<Target, string>,
  o: H2BenchOptions & { readonly bodyFile: string; readonly logFile: string },
): Row[] {
  /** One run; a path that breaks on the way is marked failed rather than ending the bench. */
  const measure = (t: Target, seconds: number): { result: LoadResult; cpuUs: number } | undefined => {
    const load: H2loadOptions = {
      connections: CONNECTIONS,
      streams: STREAMS,
      seconds,
      logFile: o.logFile,
      ...(t.authority === undefined ? {} : { authority: t.authority }),
      ...(t.protocol === 'gRPC unary'
        ? { path: GRPC_PATH, headers: GRPC_HEADERS, bodyFile: o.bodyFile }
        : {}),
    };
    try {
      const before = t.cpuPids.reduce((a, pid) => a + cpuMs(pid), 0);
      const result = h2load(t.port, load);
      const after = t.cpuPids.reduce((a, pid) => a + cpuMs(pid), 0);
      return { result, cpuUs: ((after - before) * 1000) / Math.max(1, result.requests) };
    } catch (err) {
      failures.set(t, `failed under load: ${(err as Error).message}`);
      return undefined;
    }
  };
  const live = () => targets.filter((t) => !failures.has(t));

  // Warm-up: JIT and connection pools, not measured.
  for (const t of live()) measure(t, 1);
  const samples = new Map<Target, { results: LoadResult[]; cpu: number[] }>(
    targets.map((t) => [t, { results: [], cpu: [] }]),
  );
  for (let round = 0; round < o.rounds; round++) {
    for (const t of live()) {
      const sample = measure(t, o.seconds);
      if (sample === undefined) continue;
      samples.get(t)!.results.push(sample.result);
      samples.get(t)!.cpu.push(sample.cpuUs);
    }
  }
  return targets.map((t) => {
    const { results, cpu } = samples.get(t)!;
    return {
      protocol: t.protocol,
      via: t.via,
      ...(results.length > 0 ? medianResult(results) : unmeasured),
      cpuUsPerRequest: t.cpuPids.length === 0 || cpu.length === 0 ? undefined : median(cpu),
      failure: failures.get(t),
    };
  });
}

const unmeasured: LoadResult = {
  rps: Number.NaN,
  p50Ms: Number.NaN,
  p99Ms: Number.NaN,
  requests: 0,
  errors: 0,
};

function versionOf(command: string, args: string[], pattern: RegExp): string {
  const out = spawnSync(command, args, { encoding: 'utf8' });
  return pattern.exec(`${out.stdout ?? ''}${out.stderr ?? ''}`)?.[1] ?? 'unknown';
}

function report(rows: readonly Row[], options: H2BenchOptions, grpcVersion: string | undefined): void {
  const f0 = (n: number | undefined): string =>
    n !== undefined && Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—';
  const f2 = (n: number): string => (Number.isFinite(n) ? n.toFixed(2) : '—');
  const pct = (n: number): string => (Number.isFinite(n) ? `${Math.round(n * 100)} %` : '—');
  const goal = (n: number, min: number): string =>
    Number.isFinite(n) ? (n >= min ? 'met' : '**not met**') : '**not measured**';
  const find = (protocol: Protocol, via: Via): Row | undefined =>
    rows.find((r) => r.protocol === protocol && r.via === via);
  const rps = (protocol: Protocol, via: Via): number => find(protocol, via)?.rps ?? Number.NaN;
  const h2loadVersion = versionOf('h2load', ['--version'], /nghttp2\/(\S+)/);
  const nginxVersion = versionOf(hasCommand('nginx')!, ['-v'], /nginx\/(\S+)/);

  const lines: string[] = [
    `HTTP/2 through the data plane, ${os.cpus().length} cores, Node ${process.versions.node}; h2load ${h2loadVersion} -c${CONNECTIONS} -m${STREAMS} (${CONNECTIONS * STREAMS} streams in flight), ` +
      `${options.seconds} s × ${options.rounds} interleaved rounds (medians); nginx ${nginxVersion} (one worker, \`listen … http2\`, grpc_pass, upstream keepalive); ` +
      `zeroscale's queue-proxy with USER_PROTOCOL=h2c, the activator with \`protocol: h2c\`; everything on 127.0.0.1, unpinned.`,
    `h2c: a node:http2 app answering 5 bytes. gRPC unary: a @grpc/grpc-js ${grpcVersion ?? '(not installed)'} server, one method (${GRPC_PATH}, JSON messages); ` +
      "every path first answered grpc-status 0 to h2load's exact request and to a grpc-js client. " +
      "nginx's grpc module does not multiplex upstream (one request per connection), so behind it the app serves up to 100 connections of one stream each, which costs a Node HTTP/2 server more per request than 10 connections of 10 streams.",
    '',
    '| protocol | path | req/s | p50 ms | p99 ms | vs direct | vs nginx | proxy CPU µs/req | errors |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const measured = `${f0(r.rps)} | ${f2(r.p50Ms)} | ${f2(r.p99Ms)} | ${pct(r.rps / rps(r.protocol, 'app directly'))} | ${pct(r.rps / rps(r.protocol, 'nginx'))}`;
    lines.push(
      r.failure !== undefined && r.requests === 0
        ? `| ${r.protocol} | ${r.via} | **failed** | | | | | | |`
        : `| ${r.protocol} | ${r.via} | ${measured} | ${f0(r.cpuUsPerRequest)} | ${r.errors} |`,
    );
  }
  const failed = rows.filter((r) => r.failure !== undefined);
  if (failed.length > 0) lines.push('', ...failed.map((r) => `Failed: ${r.protocol} ${r.via}: ${r.failure}`));

  const h2cVsNginx = rps('h2c', 'activator + queue-proxy') / rps('h2c', 'nginx');
  const grpcVsDirect = rps('gRPC unary', 'activator + queue-proxy') / rps('gRPC unary', 'app directly');
  const grpcVsNginx = rps('gRPC unary', 'activator + queue-proxy') / rps('gRPC unary', 'nginx');
  lines.push(
    '',
    '| goal | measured | |',
    '|---|---|---|',
    `| h2c: activator + queue-proxy ≥ 70 % of nginx's req/s | ${pct(h2cVsNginx)} | ${goal(h2cVsNginx, 0.7)} |`,
    `| gRPC unary: activator + queue-proxy ≥ 70 % of nginx's req/s | ${pct(grpcVsNginx)} (${pct(grpcVsDirect)} of direct) | ${goal(grpcVsNginx, 0.7)} |`,
  );
  const markdown = lines.join('\n');
  if (!options.write) {
    process.stdout.write(`${markdown}\n`);
    return;
  }
  writeResult(
    'h2',
    {
      connections: CONNECTIONS,
      streams: STREAMS,
      seconds: options.seconds,
      rounds: options.rounds,
      versions: {
        node: process.versions.node,
        h2load: h2loadVersion,
        nginx: nginxVersion,
        grpcJs: grpcVersion,
      },
      rows,
      ratios: { h2cVsNginx, grpcVsDirect, grpcVsNginx },
    },
    markdown,
  );
}

// ---- entry ------------------------------------------------------------------------------------

if (import.meta.main) {
  const [name, arg] = process.argv.slice(2);
  if (name === 'h2c-app') runH2cApp(Number(arg));
  else if (name === 'grpc-app') await runGrpcApp(Number(arg));
  else {
    // Alone, it runs what src/ is now: the bundles first, as bench/run.ts does.
    const { bundle } = await import('../scripts/bundle.ts');
    await bundle(path.join(root, 'dist'));
    const quick = process.argv.includes('--quick');
    await benchH2(quick ? { seconds: 1, rounds: 1, write: false } : undefined);
  }
}
