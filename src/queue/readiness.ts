// Probes the user container's readiness from inside the pod: aggressively (every few tens of ms)
// until it first answers and whenever it stops answering, then at the probe's own period. The
// queue-proxy's readiness is this result, so a pod is usable the moment the app listens.

import http from 'node:http';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';
import net from 'node:net';
import { loadHttp2 } from '../http/http2-module.ts';
import type { ProbeAction, ReadinessProbeSpec } from './probe-spec.ts';

export interface ReadinessProberOptions {
  readonly spec: ReadinessProbeSpec;
  readonly host: string;
  /** Interval while not ready. */
  readonly aggressiveIntervalMs: number;
  /** Told when readiness flips. */
  readonly onChange?: (ready: boolean) => void;
}

export class ReadinessProber {
  readonly #spec: ReadinessProbeSpec;
  readonly #host: string;
  readonly #aggressiveIntervalMs: number;
  readonly #onChange: ((ready: boolean) => void) | undefined;
  #ready = false;
  #successes = 0;
  #failures = 0;
  #timer: NodeJS.Timeout | undefined = undefined;
  #stopped = true;
  #waiters: (() => void)[] = [];

  constructor(options: ReadinessProberOptions) {
    this.#spec = options.spec;
    this.#host = options.host;
    this.#aggressiveIntervalMs = options.aggressiveIntervalMs;
    this.#onChange = options.onChange;
  }

  get ready(): boolean {
    return this.#ready;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    void this.#attempt();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#wake();
  }

  /** Resolves once ready (or stopped). */
  whenReady(): Promise<void> {
    if (this.#ready || this.#stopped) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  async #attempt(): Promise<void> {
    const started = performance.now();
    const ok = await probeOnce(this.#spec.action, this.#host, this.#spec.timeoutMs);
    if (this.#stopped) return;
    this.#record(ok);
    const interval = this.#ready ? this.#spec.periodMs : this.#aggressiveIntervalMs;
    const wait = Math.max(0, interval - (performance.now() - started));
    this.#timer = setTimeout(() => void this.#attempt(), wait);
  }

  #record(ok: boolean): void {
    if (ok) {
      this.#failures = 0;
      this.#successes++;
      if (!this.#ready && this.#successes >= this.#spec.successThreshold) this.#set(true);
    } else {
      this.#successes = 0;
      this.#failures++;
      // Before the first success one failure is enough to stay not ready; once ready, it takes
      // failureThreshold in a row, as with kubelet.
      if (this.#ready && this.#failures >= this.#spec.failureThreshold) this.#set(false);
    }
  }

  #set(ready: boolean): void {
    this.#ready = ready;
    this.#onChange?.(ready);
    if (ready) this.#wake();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resolve of waiters) resolve();
  }
}

/** One probe attempt; resolves true on success, never rejects. */
export function probeOnce(action: ProbeAction, host: string, timeoutMs: number): Promise<boolean> {
  switch (action.kind) {
    case 'tcp':
      return probeTcp(host, action.port, timeoutMs);
    case 'grpc':
      return probeHttp2(host, action.port, grpcHealthCheck(action.service), timeoutMs);
    case 'http':
      return action.h2c
        ? probeHttp2(host, action.port, http2Get(host, action), timeoutMs)
        : probeHttp(action, host, timeoutMs);
  }
}

function probeTcp(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(timeoutMs);
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

function probeHttp(
  action: ProbeAction & { kind: 'http' },
  host: string,
  timeoutMs: number,
): Promise<boolean> {
  return new Promise((resolve) => {
    // node:https only for an HTTPS probe: loading it costs every other pod 3 MB of memory.
    const client = action.scheme === 'https' ? process.getBuiltinModule('node:https') : http;
    // With headers given as a list Node adds no Host of its own; kubelet sends host:port.
    const headers = [
      'host',
      `${host}:${action.port}`,
      'user-agent',
      'zeroscale-queue-proxy-probe',
      'accept',
      '*/*',
      ...action.headers,
    ];
    const req = client.request({
      host,
      port: action.port,
      path: action.path,
      method: 'GET',
      headers,
      // A fresh connection each time, as kubelet does: a probe must see the listener, not a pool.
      agent: false,
      // Kubelet does not verify the container's certificate either.
      rejectUnauthorized: false,
      timeout: timeoutMs,
    });
    let settled = false;
    const done = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      req.destroy();
      resolve(ok);
    };
    req.once('response', (res) => {
      const status = res.statusCode ?? 0;
      res.resume();
      done(status >= 200 && status < 400);
    });
    req.once('error', () => done(false));
    req.once('timeout', () => done(false));
    req.end();
  });
}

/** What one HTTP/2 probe sends and how its answer is judged. */
interface Http2Probe {
  readonly headers: OutgoingHttpHeaders;
  readonly body: Buffer | undefined;
  /** Given the response headers, the body and the trailers: did the probe pass? */
  passed(headers: IncomingHttpHeaders, body: Buffer, trailers: IncomingHttpHeaders): boolean;
}

function http2Get(host: string, action: ProbeAction & { kind: 'http' }): Http2Probe {
  const headers: OutgoingHttpHeaders = {
    ':method': 'GET',
    ':path': action.path,
    ':authority': `${host}:${action.port}`,
    'user-agent': 'zeroscale-queue-proxy-probe',
  };
  for (let i = 0; i < action.headers.length; i += 2)
    headers[action.headers[i]!.toLowerCase()] = action.headers[i + 1]!;
  return {
    headers,
    body: undefined,
    passed: (h) => {
      const status = Number(h[':status']);
      return status >= 200 && status < 400;
    },
  };
}

// grpc.health.v1.HealthCheckResponse{status: SERVING}: field 1, varint 1.
const SERVING = Buffer.from([0x08, 0x01]);

/**
 * Kubernetes' gRPC probe: grpc.health.v1.Health/Check for `service` ("" = the server as a whole);
 * it passes when the answer is SERVING with grpc-status 0. The one protobuf message is written by
 * hand: HealthCheckRequest{service} is field 1, a string.
 */
function grpcHealthCheck(service: string): Http2Probe {
  const name = Buffer.from(service, 'utf8');
  const message =
    name.length === 0 ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x0a, name.length]), name]);
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  return {
    headers: {
      ':method': 'POST',
      ':path': '/grpc.health.v1.Health/Check',
      'content-type': 'application/grpc',
      te: 'trailers',
    },
    body: frame,
    passed: (headers, body, trailers) => {
      const status = trailers['grpc-status'] ?? headers['grpc-status'];
      return status === '0' && body.length >= 7 && body.subarray(5, 7).equals(SERVING);
    },
  };
}

/** One request on a fresh h2c connection (a probe must see the listener, not a pool). */
function probeHttp2(host: string, port: number, probe: Http2Probe, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const session = loadHttp2().connect(`http://${host.includes(':') ? `[${host}]` : host}:${port}`);
    const timer = setTimeout(() => done(false), timeoutMs);
    let settled = false;
    const done = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session.destroy();
      resolve(ok);
    };
    session.on('error', () => done(false));
    const stream = session.request(probe.headers, { endStream: probe.body === undefined });
    let headers: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('response', (h) => {
      headers = h;
    });
    stream.on('trailers', (t) => {
      trailers = t;
    });
    stream.on('data', (d: Buffer) => {
      // A probe needs a few bytes: anything past 4 KiB is not read.
      size += d.length;
      if (size <= 4_096) chunks.push(d);
    });
    stream.on('end', () => done(probe.passed(headers, Buffer.concat(chunks), trailers)));
    stream.on('error', () => done(false));
    if (probe.body !== undefined) stream.end(probe.body);
  });
}
