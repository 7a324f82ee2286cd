// What the data-plane benchmarks measure with: wrk for HTTP/1.1, h2load (nghttp2) for HTTP/2
// cleartext, a process's CPU time and memory from /proc; and what they share to run: free ports,
// waiting, their child processes, nginx as the baseline. Loads may run inside a network namespace
// (bench/sidecar.ts).

import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { percentile } from './stats.ts';

const LOOPBACK = '127.0.0.1';

/** What one load run measured, from wrk or h2load. */
export interface LoadResult {
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly requests: number;
  readonly errors: number;
}
export type WrkResult = LoadResult;

export interface WrkOptions {
  readonly connections: number;
  readonly seconds: number;
  readonly script?: string;
  /** Run wrk inside this network namespace (a /proc/<pid>/ns/net path, entered with nsenter). */
  readonly netns?: string;
  readonly host?: string;
}

function toMs(value: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(value.trim());
  if (m === null) return Number.NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000;
}

/** One wrk run (one thread) against http://host:port/; bounded by its duration plus a minute. */
export function wrk(port: number, o: WrkOptions): WrkResult {
  const args = ['-t1', `-c${o.connections}`, `-d${o.seconds}s`, '--latency'];
  if (o.script !== undefined) args.push('-s', o.script);
  args.push(`http://${o.host ?? '127.0.0.1'}:${port}/`);
  const [command, argv] =
    o.netns === undefined ? ['wrk', args] : ['nsenter', [`--net=${o.netns}`, '--', 'wrk', ...args]];
  const out = execFileSync(command, argv, { encoding: 'utf8', timeout: (o.seconds + 60) * 1000 });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  const p50 = /\s50%\s+(\S+)/.exec(out)?.[1] ?? '';
  const p99 = /\s99%\s+(\S+)/.exec(out)?.[1] ?? '';
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = non2xx + (socketErrors ? socketErrors.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  return { rps, p50Ms: toMs(p50), p99Ms: toMs(p99), requests, errors };
}

export interface H2loadOptions {
  readonly connections: number;
  /** Concurrent streams per connection (-m): connections × streams requests in flight. */
  readonly streams: number;
  readonly seconds: number;
  /** Request path; '/' unless given. */
  readonly path?: string;
  /** The :authority pseudo-header (h2load's `-H ':authority: …'`; a `host:` header would be sent beside it). */
  readonly authority?: string;
  /** More request headers, `name: value`. */
  readonly headers?: readonly string[];
  /** A file sent as every request's body; makes the requests POSTs. */
  readonly bodyFile?: string;
  /** Where h2load writes its per-request log, the source of p50/p99 (it prints mean and sd only); removed after. */
  readonly logFile: string;
}

/**
 * One h2load run (one thread, HTTP/2 with prior knowledge) against http://127.0.0.1:port; bounded
 * by its duration plus a minute. Errors are failed streams and non-2xx answers. Throws when h2load
 * did not run at all (not installed, killed), with what it printed.
 */
export function h2load(port: number, o: H2loadOptions): LoadResult {
  const args = ['-c', String(o.connections), '-m', String(o.streams), '-D', String(o.seconds)];
  args.push(`--log-file=${o.logFile}`);
  if (o.authority !== undefined) args.push('-H', `:authority: ${o.authority}`);
  for (const header of o.headers ?? []) args.push('-H', header);
  if (o.bodyFile !== undefined) args.push('-d', o.bodyFile);
  args.push(`http://${LOOPBACK}:${port}${o.path ?? '/'}`);
  const run = spawnSync('h2load', args, { encoding: 'utf8', timeout: (o.seconds + 60) * 1000 });
  const out = run.stdout ?? '';
  const finished = /finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(out);
  if (finished === null) {
    const said = `${out}\n${run.stderr ?? ''}`.trim().split('\n').slice(-3).join(' / ');
    throw new Error(`h2load ${run.error?.message ?? `exited ${run.status ?? run.signal}`}: ${said}`);
  }
  const counts = /requests: \d+ total, \d+ started, (\d+) done, \d+ succeeded, (\d+) failed/.exec(out);
  const done = Number(counts?.[1] ?? 0);
  const ok = Number(/status codes: (\d+) 2xx/.exec(out)?.[1] ?? 0);
  // Columns: start (µs since the epoch), status, µs until the end of the response.
  const durations: number[] = [];
  try {
    for (const line of fs.readFileSync(o.logFile, 'utf8').split('\n')) {
      const us = Number(line.split('\t')[2]);
      if (line !== '' && Number.isFinite(us)) durations.push(us / 1000);
    }
  } finally {
    fs.rmSync(o.logFile, { force: true });
  }
  return {
    rps: Number(finished[1]),
    p50Ms: percentile(durations, 50),
    p99Ms: percentile(durations, 99),
    requests: done,
    errors: Math.max(Number(counts?.[2] ?? 0), done - ok),
  };
}

/** Medians of rates and latencies over runs of one target; requests and errors summed. */
export function medianResult(runs: readonly LoadResult[]): LoadResult {
  return {
    rps: median(runs.map((r) => r.rps)),
    p50Ms: median(runs.map((r) => r.p50Ms)),
    p99Ms: median(runs.map((r) => r.p99Ms)),
    requests: runs.reduce((a, r) => a + r.requests, 0),
    errors: runs.reduce((a, r) => a + r.errors, 0),
  };
}

/** CPU time (user + system) of a process, in ms. */
export function cpuMs(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // utime and stime are fields 14 and 15 of stat, 12 and 13 after the ") " split.
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

export function rssMb(pid: number): number {
  return memoryMb(pid).rss;
}

/** Resident memory of a process in MB: all of it, and its anonymous part (heap, stacks). */
export function memoryMb(pid: number): { rss: number; anon: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1]);
  return { rss: kb('VmRSS') / 1024, anon: kb('RssAnon') / 1024 };
}

export function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function hasCommand(command: string): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/bin']) {
    const candidate = path.join(dir, command);
    if (fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}

export interface NginxRoute {
  readonly listen: number;
  readonly upstream: number;
  /**
   * 'h2c': HTTP/2 with prior knowledge on both sides, through grpc_pass, which (unlike proxy_pass)
   * speaks HTTP/2 upstream and carries any h2c exchange, gRPC or not. HTTP/1.1 unless given.
   */
  readonly protocol?: 'http1' | 'h2c';
}

/** An nginx config in `dir` (made if missing): one keep-alive reverse proxy per route, on 127.0.0.1. */
export function nginxConfig(dir: string, routes: readonly NginxRoute[]): string {
  const blocks = routes
    .map((r, i) =>
      r.protocol === 'h2c'
        ? // nginx 1.22's syntax (`listen … http2`; 1.25 moved it to an `http2 on;` directive). Its
          // grpc module sends one request per upstream connection, so the idle pool is sized
          // above the streams a benchmark keeps in flight (bench/h2.ts: 100).
          `
  upstream app${i} { server 127.0.0.1:${r.upstream}; keepalive 128; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:${r.listen} http2;
    location / { grpc_pass grpc://app${i}; }
  }`
        : `
  upstream app${i} { server 127.0.0.1:${r.upstream}; keepalive 64; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:${r.listen};
    location / { proxy_pass http://app${i}; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }`,
    )
    .join('\n');
  const conf = `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${blocks}
}
`;
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'nginx.conf');
  fs.writeFileSync(file, conf);
  return file;
}

/** The pid of nginx's (one) worker under its master, which is where the requests' CPU goes. */
export function nginxWorkerPid(masterPid: number): number {
  try {
    const pids = execFileSync('pgrep', ['-P', String(masterPid)], { encoding: 'utf8' })
      .trim()
      .split('\n');
    return Number(pids[0]) || masterPid;
  } catch {
    return masterPid;
  }
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Polls `check` every 50 ms (a throw counts as not yet) until it holds; throws after `timeoutMs`. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`bench: timed out waiting for ${what}`);
}

/** The processes one benchmark started, all stopped together in its finally block. */
export class ChildProcesses {
  readonly #children: ChildProcess[] = [];

  /** Starts `command` with warn-level zeroscale logs; its stderr shows, its stdout does not. */
  start(command: string, args: readonly string[], env: Readonly<Record<string, string>> = {}): ChildProcess {
    return this.add(
      spawn(command, args, {
        env: { ...process.env, ZEROSCALE_LOG_LEVEL: 'warn', ...env },
        stdio: ['ignore', 'ignore', 'inherit'],
      }),
    );
  }

  /** Takes a process started elsewhere into the set that stopAll stops. */
  add(child: ChildProcess): ChildProcess {
    this.#children.push(child);
    return child;
  }

  /** SIGTERM first (nginx's master then stops its workers), SIGKILL what is left after 3 s. */
  async stopAll(): Promise<void> {
    const running = this.#children
      .splice(0)
      .filter((child) => child.pid !== undefined && child.exitCode === null && child.signalCode === null);
    const exited = running.map(
      (child) => new Promise<void>((resolve) => child.once('exit', () => resolve())),
    );
    for (const child of running) child.kill('SIGTERM');
    const timer = setTimeout(() => {
      for (const child of running)
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }, 3_000);
    await Promise.all(exited);
    clearTimeout(timer);
  }
}
