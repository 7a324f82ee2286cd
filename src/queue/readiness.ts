// Probes the user container's readiness from inside the pod: aggressively (every few tens of ms)
// until it first answers and whenever it stops answering, then at the probe's own period. The
// queue-proxy's readiness is this result, so a pod is usable the moment the app listens.

import http from 'node:http';
import net from 'node:net';
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
  return action.kind === 'tcp' ? probeTcp(host, action.port, timeoutMs) : probeHttp(action, host, timeoutMs);
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
