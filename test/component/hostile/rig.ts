// The hostile-input rig: a real activator and two real queue-proxies in-process, in front of
// misbehaving apps, and a raw node:net client. Each case checks what the client got, and then
// `settled()` waits (with a deadline) until every counter of in-flight, queued and held work and
// every client connection is back to zero (protocol.test.ts also checks sockets, timers, heap).

import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, beforeAll, expect } from 'vitest';
import type { ActivatorService } from '../../../src/activator/sources.ts';
import type { ReadinessProbeSpec } from '../../../src/queue/probe-spec.ts';
import type { QueueProxyHandle } from '../../../src/queue/queue-proxy.ts';
import {
  type ActivatorRig,
  LOOPBACK,
  metricValue,
  request,
  scrape,
  startActivatorRig,
  startTestQueueProxy,
  TEST_INTERNAL_TOKEN,
  waitFor,
} from '../proxy-harness.ts';
import { RawApp } from './apps.ts';

export { RAW_RESPONSES, RawApp } from './apps.ts';
export { LOOPBACK, metricValue, request, scrape, TEST_INTERNAL_TOKEN as TEST_TOKEN, waitFor };

/** Hosts the activator routes: `good` → the Node app's pod, `raw` → the raw app's, `cold` → none. */
export const GOOD = 'good.default.example.com';
export const RAW = 'raw.default.example.com';
export const COLD = 'cold.default.example.com';
/** Routed straight to the Node app, as if it were a pod's queue-proxy (it answers the probe). */
export const DIRECT = 'direct.default.example.com';

const service = (name: string, containerConcurrency: number): ActivatorService => ({
  namespace: 'default',
  name,
  url: `http://${name}.default.example.com`,
  containerConcurrency,
  timeoutSeconds: 30,
});

/** Short bounds, so the cases that hit them end in well under a second. */
export const BODY_TIMEOUT_MS = 300;
export const HEADERS_TIMEOUT_MS = 400;
export const RESPONSE_START_TIMEOUT_MS = 500;
export const MAX_BODY_BYTES = 1024 * 1024;

/** A Node app whose behaviour is chosen by path; it counts requests in progress. */
export class NodeApp {
  readonly server: http.Server;
  port = 0;
  inProgress = 0;
  maxInProgress = 0;
  readonly seen: IncomingMessage[] = [];
  readonly held: ServerResponse[] = [];
  constructor() {
    // No 'upgrade' listener: like most apps, it answers an upgrade request as a plain request.
    this.server = http.createServer((req, res) => this.#handle(req, res));
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, LOOPBACK, resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  resetCounts(): void {
    this.releaseAll();
    this.seen.length = 0;
    this.maxInProgress = 0;
  }

  releaseAll(): void {
    for (const res of this.held.splice(0)) if (!res.destroyed) res.end('released');
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    if (req.headers['x-zeroscale-probe'] === 'queue') {
      res.end('queue');
      return;
    }
    this.seen.push(req);
    this.inProgress++;
    this.maxInProgress = Math.max(this.maxInProgress, this.inProgress);
    res.once('close', () => this.inProgress--);
    const path = (req.url ?? '/').split('?')[0];
    switch (path) {
      case '/hold':
        this.held.push(res);
        return;
      case '/slow':
        // A little work, so pipelined requests would overlap if they were forwarded at once.
        setTimeout(() => res.end(`slow ${req.url}`), 2);
        return;
      case '/reset-after-body':
        req.resume();
        req.on('end', () => req.socket.resetAndDestroy());
        return;
      case '/early':
        // Answers without reading the upload.
        res.end('early');
        return;
      case '/stream': {
        let n = 0;
        const timer = setInterval(() => {
          if (res.destroyed || n++ > 500) {
            clearInterval(timer);
            res.end();
            return;
          }
          res.write(`${'x'.repeat(1024)}\n`);
        }, 5);
        res.once('close', () => clearInterval(timer));
        return;
      }
      default: {
        let body = '';
        req.setEncoding('latin1');
        req.on('data', (c: string) => (body += c));
        req.on('end', () => {
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body }));
        });
      }
    }
  }
}

export interface HostileRig {
  readonly nodeApp: NodeApp;
  readonly rawApp: RawApp;
  /** Queue-proxy in front of the Node app (containerConcurrency 0). */
  readonly goodPod: QueueProxyHandle;
  /** Queue-proxy in front of the raw app (containerConcurrency 2). */
  readonly rawPod: QueueProxyHandle;
  readonly activator: ActivatorRig;
  /** Waits until nothing is in flight or held anywhere and no client connection is left. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

export async function startHostileRig(): Promise<HostileRig> {
  const nodeApp = new NodeApp();
  const rawApp = new RawApp();
  await Promise.all([nodeApp.listen(), rawApp.listen()]);
  const podOptions = {
    statsIntervalMs: 100,
    bodyTimeoutMs: BODY_TIMEOUT_MS,
    responseStartTimeoutMs: RESPONSE_START_TIMEOUT_MS,
    idleTimeoutMs: 2_000,
    limits: { headersTimeoutMs: HEADERS_TIMEOUT_MS },
  };
  // The readiness probe is a TCP connect: the raw app answers no HTTP probe.
  const tcpProbe = (port: number): ReadinessProbeSpec => ({
    action: { kind: 'tcp', port },
    periodMs: 1_000,
    timeoutMs: 1_000,
    successThreshold: 1,
    failureThreshold: 3,
  });
  const goodPod = await startTestQueueProxy(nodeApp.port, {
    ...podOptions,
    pod: 'good-1',
    readinessProbe: tcpProbe(nodeApp.port),
  });
  const rawPod = await startTestQueueProxy(rawApp.port, {
    ...podOptions,
    pod: 'raw-1',
    containerConcurrency: 2,
    queueDepth: 20,
    readinessProbe: tcpProbe(rawApp.port),
  });
  await Promise.all([goodPod.whenReady(), rawPod.whenReady()]);
  const activator = await startActivatorRig(
    [service('good', 0), service('raw', 2), service('cold', 0), service('direct', 0)],
    {
      maxBodyBytes: MAX_BODY_BYTES,
      bodyTimeoutMs: BODY_TIMEOUT_MS,
      responseStartTimeoutMs: RESPONSE_START_TIMEOUT_MS * 2,
      idleTimeoutMs: 4_000,
      limits: { headersTimeoutMs: HEADERS_TIMEOUT_MS },
    },
  );
  activator.endpoints.set('default', 'good', [{ ip: LOOPBACK, port: goodPod.httpPort, ready: true }]);
  activator.endpoints.set('default', 'raw', [{ ip: LOOPBACK, port: rawPod.httpPort, ready: true }]);
  activator.endpoints.set('default', 'direct', [{ ip: LOOPBACK, port: nodeApp.port, ready: true }]);
  await waitFor('both services healthy in the activator', () => {
    const good = activator.activator.service('default', 'good');
    const raw = activator.activator.service('default', 'raw');
    const direct = activator.activator.service('default', 'direct');
    return good?.healthyPods === 1 && raw?.healthyPods === 1 && direct?.healthyPods === 1;
  });

  const busy = async (port: number, prefix: string): Promise<string | undefined> => {
    const text = await scrape(port);
    for (const name of [
      `${prefix}_in_flight_requests`,
      `${prefix}_queued_requests`,
      `${prefix}_held_body_bytes`,
      `${prefix}_open_connections`,
      `${prefix}_http2_streams`,
    ]) {
      const v = metricValue(text, name);
      // The scrape's own connection is the admin server's, not the data plane's.
      if (v !== undefined && v > 0) return `${name}=${v}`;
    }
    return undefined;
  };

  return {
    nodeApp,
    rawApp,
    goodPod,
    rawPod,
    activator,
    async settled() {
      await waitFor(
        'no request in flight or held, no client connection left',
        async () => {
          const problems: string[] = [];
          for (const name of ['good', 'raw', 'cold', 'direct']) {
            const s = activator.activator.service('default', name);
            if (s !== undefined && (s.active > 0 || s.queued > 0))
              problems.push(`${name} active=${s.active}`);
          }
          const a = await busy(activator.activator.metricsPort, 'zeroscale_activator');
          if (a !== undefined) problems.push(`activator ${a}`);
          // The activator keeps pooled connections to the pods: those are not client leftovers,
          // so the pods are checked for work, not for connections.
          for (const [pod, handle] of [
            ['good', goodPod],
            ['raw', rawPod],
          ] as const) {
            const text = await scrape(handle.metricsPort);
            for (const m of ['zeroscale_queue_in_flight_requests', 'zeroscale_queue_queued_requests']) {
              const v = metricValue(text, m);
              if (v !== undefined && v > 0) problems.push(`${pod} ${m}=${v}`);
            }
            if ((metricValue(text, 'zeroscale_queue_held_body_bytes') ?? 0) > 0) problems.push(`${pod} held`);
          }
          if (nodeApp.inProgress > 0) problems.push(`app inProgress=${nodeApp.inProgress}`);
          return problems.length === 0 ? true : (problems.join(', ') as unknown as false);
        },
        10_000,
      );
    },
    async close() {
      nodeApp.releaseAll();
      await activator.close();
      await Promise.all([goodPod.close(), rawPod.close()]);
      nodeApp.server.closeAllConnections();
      await new Promise<void>((resolve) => nodeApp.server.close(() => resolve()));
      await new Promise<void>((resolve) => rawApp.server.close(() => resolve()));
    },
  };
}

/** What a raw client saw: the bytes, and whether the server closed (or reset) the connection. */
export interface RawResult {
  readonly data: string;
  readonly closed: boolean;
}

/**
 * A raw connection: write bytes, read until `until(data)` holds or the server closes it, with a
 * deadline (a case that hangs fails with what was read so far).
 */
export class RawClient {
  readonly socket: net.Socket;
  data = '';
  closed = false;
  readonly #connected: Promise<void>;
  #waiters: (() => void)[] = [];

  constructor(port: number) {
    this.socket = net.connect({ host: LOOPBACK, port });
    this.socket.setEncoding('latin1');
    this.#connected = new Promise((resolve) => this.socket.once('connect', () => resolve()));
    this.socket.on('data', (c: string) => {
      this.data += c;
      this.#wake();
    });
    this.socket.on('error', () => {});
    this.socket.on('close', () => {
      this.closed = true;
      this.#wake();
    });
  }

  static async open(port: number): Promise<RawClient> {
    const c = new RawClient(port);
    await c.#connected;
    return c;
  }

  write(bytes: string | Buffer): boolean {
    return this.socket.write(bytes);
  }

  /** Resolves once `until(data)` holds or the connection closed; throws after `timeoutMs`. */
  async read(until: (data: string) => boolean = () => false, timeoutMs = 5_000): Promise<RawResult> {
    const deadline = Date.now() + timeoutMs;
    while (!until(this.data) && !this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `raw client: no answer in ${timeoutMs} ms; got ${JSON.stringify(this.data.slice(0, 300))}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return { data: this.data, closed: this.closed };
  }

  /** Reads until the connection closes. */
  untilClosed(timeoutMs = 5_000): Promise<RawResult> {
    return this.read(() => false, timeoutMs);
  }

  destroy(): void {
    this.socket.destroy();
  }

  reset(): void {
    this.socket.resetAndDestroy();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}

/** One raw exchange on a fresh connection: write, then read until closed or `until`. */
export async function raw(
  port: number,
  bytes: string | Buffer,
  until?: (data: string) => boolean,
): Promise<RawResult> {
  const c = await RawClient.open(port);
  c.write(bytes);
  try {
    return await c.read(until);
  } finally {
    c.destroy();
  }
}

/** The status codes of every response in `data`, in order. */
export function statuses(data: string): number[] {
  return [...data.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
}

/** The x-zeroscale-error code of the first response in `data`. */
export function errorCode(data: string): string | undefined {
  return /x-zeroscale-error: ([A-Z_]+)/i.exec(data)?.[1];
}

/** True once `data` holds `n` complete responses with Content-Length bodies. */
export function hasResponses(n: number): (data: string) => boolean {
  return (data) => statuses(data).length >= n && completeBodies(data) >= n;
}

function completeBodies(data: string): number {
  let count = 0;
  let at = 0;
  for (;;) {
    const head = data.indexOf('\r\n\r\n', at);
    if (head < 0) return count;
    const m = /content-length: (\d+)/i.exec(data.slice(at, head));
    const length = m === null ? 0 : Number(m[1]);
    if (data.length < head + 4 + length) return count;
    count++;
    at = head + 4 + length;
  }
}

/** Where a case sends its bytes: a queue-proxy alone, or the activator in front of one. */
export interface Target {
  readonly name: 'queue-proxy' | 'activator';
  /** Port and Host for the Node app, and for the raw app. */
  good(): { port: number; host: string };
  raw(): { port: number; host: string };
}

export function hostileTargets(rig: () => HostileRig): readonly Target[] {
  return [
    {
      name: 'queue-proxy',
      good: () => ({ port: rig().goodPod.httpPort, host: GOOD }),
      raw: () => ({ port: rig().rawPod.httpPort, host: RAW }),
    },
    {
      name: 'activator',
      good: () => ({ port: rig().activator.activator.port, host: GOOD }),
      raw: () => ({ port: rig().activator.activator.port, host: RAW }),
    },
  ];
}

/** After a case: nothing crashed, the target still serves, and every count is back to zero. */
export async function expectHealthy(rig: HostileRig, t: Target, crashes: readonly unknown[]): Promise<void> {
  expect(crashes).toEqual([]);
  const { port, host } = t.good();
  expect((await request(port, { host, path: '/echo' })).status).toBe(200);
  await rig.settled();
}

/** Sends `method /reset-after-body` with `body` on a fresh connection and reads one response. */
export function resetAfterBody(port: number, host: string, method: string, body: string): Promise<RawResult> {
  return raw(
    port,
    `${method} /reset-after-body HTTP/1.1\r\nHost: ${host}\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    hasResponses(1),
  );
}

/**
 * One rig per test file: started before its tests, closed after, with every uncaught exception
 * of the process recorded (an unhandled 'error' event is how one client used to kill the proxy).
 */
export function useHostileRig(): { readonly rig: () => HostileRig; readonly crashes: unknown[] } {
  let rig: HostileRig | undefined;
  const crashes: unknown[] = [];
  const onCrash = (err: unknown): void => {
    crashes.push(err);
  };
  beforeAll(async () => {
    process.on('uncaughtException', onCrash);
    rig = await startHostileRig();
  });
  afterAll(async () => {
    await rig?.close();
    process.removeListener('uncaughtException', onCrash);
  });
  return { rig: () => rig!, crashes };
}

let gc: (() => void) | undefined;
/** The heap in use after a full collection: what a suite compares before and after its attacks. */
export function heapUsedAfterGc(): number {
  if (gc === undefined) {
    v8.setFlagsFromString('--expose-gc');
    gc = vm.runInNewContext('gc') as () => void;
  }
  gc();
  return process.memoryUsage().heapUsed;
}
