// What the data-plane benchmarks measure with: wrk (the one load generator) and a process's CPU
// time and memory from /proc. Loads may run inside a network namespace (bench/sidecar.ts).

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface WrkResult {
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly requests: number;
  readonly errors: number;
}

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

/** An nginx config in `dir` (made if missing): one keep-alive reverse proxy per route, on 127.0.0.1. */
export function nginxConfig(dir: string, routes: readonly { listen: number; upstream: number }[]): string {
  const blocks = routes
    .map(
      (r, i) => `
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
