// Shared pieces of the data-plane component tests: user apps on 127.0.0.1, a client that can set
// Host and read raw answers, waiting on conditions with deadlines, running a ManualClock until
// something settles, and metric scraping.

import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { afterEach } from 'vitest';
import { type ActivatorDeps, type ActivatorHandle, startActivator } from '../../src/activator/activator.ts';
import {
  MemoryEndpointsSource,
  MemoryServiceCatalog,
  RecordingAutoscalerClient,
} from '../../src/activator/memory-sources.ts';
import { type ActivatorOptions, activatorOptions } from '../../src/activator/options.ts';
import type { ActivatorService } from '../../src/activator/sources.ts';
import type { ManualClock } from '../../src/clock.ts';
import { parseQueueProxyEnv, type QueueProxyOptions } from '../../src/queue/options.ts';
import { type QueueProxyDeps, type QueueProxyHandle, startQueueProxy } from '../../src/queue/queue-proxy.ts';

export const LOOPBACK = '127.0.0.1';
/** The install's internal token of every test activator and queue-proxy. */
export const TEST_INTERNAL_TOKEN = 'test-internal-token';

/** Polls `check` until it is truthy; fails after `timeoutMs` saying what it waited for. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out waiting for ${what}; last: ${last instanceof Error ? last.message : String(last)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Runs `clock` forward `stepMs` at a time, letting I/O run after each step, until `settles` has
 * settled: what waits on the clock (a drain's quiet period, a close grace) passes without real
 * time. Fails after `limitMs` of clock time.
 */
export async function runClockUntil<T>(
  clock: ManualClock,
  settles: Promise<T>,
  { stepMs = 50, limitMs = 60_000 }: { stepMs?: number; limitMs?: number } = {},
): Promise<T> {
  let done = false;
  const watched = settles.finally(() => {
    done = true;
  });
  for (let ms = 0; !done && ms < limitMs; ms += stepMs) await clock.tick(stepMs);
  if (!done) throw new Error(`not settled within ${limitMs} ms of clock time`);
  return watched;
}

export interface App {
  readonly port: number;
  readonly server: http.Server;
  /** Requests the app has received (started), in order. */
  readonly seen: IncomingMessage[];
  close(): Promise<void>;
}

export type AppHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** A user app on 127.0.0.1 with a handler; answers `ok` by default. */
export async function startApp(handler: AppHandler = (_req, res) => res.end('ok'), port = 0): Promise<App> {
  const seen: IncomingMessage[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(port, LOOPBACK, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    server,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A port nothing listens on (bound, then released). */
export async function deadPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

export interface RequestOptions {
  readonly method?: string;
  readonly path?: string;
  readonly host?: string;
  readonly headers?: Record<string, string | string[]>;
  readonly body?: string | Buffer;
  readonly agent?: http.Agent | false;
}

/** One request to 127.0.0.1:port; resolves with the whole answer. */
export function request(port: number, options: RequestOptions = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: LOOPBACK,
        port,
        method: options.method ?? 'GET',
        path: options.path ?? '/',
        agent: options.agent ?? false,
        headers: { ...(options.host === undefined ? {} : { host: options.host }), ...options.headers },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Writes raw bytes on a fresh connection and resolves with everything read until it closes. */
export function rawExchange(
  port: number,
  bytes: string | Buffer,
  options: { endAfterWrite?: boolean } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: LOOPBACK, port });
    let out = '';
    socket.setEncoding('latin1');
    socket.on('data', (c: string) => (out += c));
    socket.on('close', () => resolve(out));
    socket.on('error', (err: NodeJS.ErrnoException) =>
      err.code === 'ECONNRESET' ? resolve(out) : reject(err),
    );
    socket.write(bytes);
    if (options.endAfterWrite === true) socket.end();
  });
}

/** Opens a connection and sends `bytes` without waiting for anything. */
export function openRaw(port: number, bytes: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: LOOPBACK, port }, () => {
      socket.write(bytes);
      resolve(socket);
    });
    socket.on('error', reject);
  });
}

/** The value of one Prometheus series from an exposition text, or undefined. */
export function metricValue(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labelText = line.slice(name.length).split(' ')[0]!;
    if (Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) {
      return Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return undefined;
}

export async function scrape(port: number): Promise<string> {
  return (await request(port, { path: '/metrics' })).body;
}

// ---- queue-proxy ----------------------------------------------------------------------------

export function queueProxyOptions(
  userPort: number,
  overrides: Partial<QueueProxyOptions> = {},
): QueueProxyOptions {
  return {
    ...parseQueueProxyEnv({
      SERVING_SERVICE: 'hello',
      SERVING_NAMESPACE: 'default',
      SERVING_POD: 'hello-pod-1',
      USER_PORT: String(userPort),
      QUEUE_SERVING_PORT: '0',
      QUEUE_METRICS_PORT: '0',
      QUEUE_LISTEN_HOST: LOOPBACK,
      ZEROSCALE_INTERNAL_TOKEN: TEST_INTERNAL_TOKEN,
    }),
    ...overrides,
  };
}

export async function startTestQueueProxy(
  userPort: number,
  overrides: Partial<QueueProxyOptions> = {},
  deps: QueueProxyDeps = {},
): Promise<QueueProxyHandle> {
  return startQueueProxy(queueProxyOptions(userPort, overrides), deps);
}

// ---- activator ------------------------------------------------------------------------------

export interface ActivatorRig {
  readonly activator: ActivatorHandle;
  readonly catalog: MemoryServiceCatalog;
  readonly endpoints: MemoryEndpointsSource;
  readonly autoscaler: RecordingAutoscalerClient;
  close(): Promise<void>;
}

export const HELLO: ActivatorService = {
  namespace: 'default',
  name: 'hello',
  url: 'http://hello.default.example.com',
  containerConcurrency: 0,
  timeoutSeconds: 30,
};

export async function startActivatorRig(
  services: readonly ActivatorService[] = [HELLO],
  overrides: Partial<ActivatorOptions> = {},
  deps: Partial<Omit<ActivatorDeps, 'catalog' | 'endpoints' | 'autoscaler'>> = {},
): Promise<ActivatorRig> {
  const catalog = new MemoryServiceCatalog(services);
  const endpoints = new MemoryEndpointsSource();
  const autoscaler = new RecordingAutoscalerClient();
  const activator = await startActivator(
    activatorOptions({
      name: 'activator-test',
      host: LOOPBACK,
      port: 0,
      metricsPort: 0,
      internalToken: TEST_INTERNAL_TOKEN,
      ...overrides,
    }),
    { catalog, endpoints, autoscaler, ...deps },
  );
  return { activator, catalog, endpoints, autoscaler, close: () => activator.close() };
}

/** A pod: a user app behind its own queue-proxy, as the activator reaches it. */
export interface Pod {
  readonly app: App;
  readonly queueProxy: QueueProxyHandle;
  readonly endpoint: { ip: string; port: number; ready: boolean; pod: string };
  close(): Promise<void>;
}

export async function startPod(
  name: string,
  handler?: AppHandler,
  overrides: Partial<QueueProxyOptions> = {},
  deps: QueueProxyDeps = {},
): Promise<Pod> {
  const app = await startApp(handler);
  const queueProxy = await startTestQueueProxy(app.port, { pod: name, ...overrides }, deps);
  await queueProxy.whenReady();
  return {
    app,
    queueProxy,
    endpoint: { ip: LOOPBACK, port: queueProxy.httpPort, ready: true, pod: name },
    close: async () => {
      await queueProxy.close();
      await app.close();
    },
  };
}

/**
 * For a test file of the activator: `rig` and `pod` start an activator rig or a pod that is closed
 * after each test; anything else to close goes into `cleanups`.
 */
export function activatorTestKit(): {
  readonly cleanups: (() => Promise<void>)[];
  rig(
    services?: readonly ActivatorService[],
    overrides?: Partial<ActivatorOptions>,
    clock?: ManualClock,
  ): Promise<ActivatorRig>;
  pod(name: string, handler?: AppHandler): Promise<Pod>;
} {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    while (cleanups.length > 0) await cleanups.pop()!();
  });
  return {
    cleanups,
    async rig(services, overrides, clock) {
      const r = await startActivatorRig(services, overrides, clock === undefined ? {} : { clock });
      cleanups.push(() => r.close());
      return r;
    },
    async pod(name, handler) {
      const p = await startPod(name, handler);
      cleanups.push(() => p.close());
      return p;
    },
  };
}
