// Container probes with kubelet's timing: initialDelaySeconds, periodSeconds, timeoutSeconds and
// success/failure thresholds. httpGet and tcpSocket go from the host to the pod's address (as
// kubelet probes from the node); exec runs inside the container's namespaces with nsenter.

import { execFile } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { V1Container, V1Probe } from '@kubernetes/client-node';

export type ProbeKind = 'startup' | 'readiness' | 'liveness';

export interface ProbeOutcome {
  readonly ok: boolean;
  readonly message: string;
}

export interface ProbeTarget {
  readonly podIp: string;
  readonly container: V1Container;
  /** pid of the container's main process, for exec probes. */
  readonly pid: () => number | undefined;
  readonly env: ReadonlyMap<string, string>;
}

function resolvePort(port: number | string | undefined, container: V1Container): number | undefined {
  if (typeof port === 'number') return port;
  if (port === undefined) return undefined;
  if (/^\d+$/.test(port)) return Number(port);
  return container.ports?.find((p) => p.name === port)?.containerPort;
}

function httpProbe(probe: V1Probe, target: ProbeTarget, timeoutMs: number): Promise<ProbeOutcome> {
  const get = probe.httpGet!;
  const port = resolvePort(get.port as number | string, target.container);
  if (port === undefined)
    return Promise.resolve({ ok: false, message: `probe port ${String(get.port)} is not a container port` });
  if (get.host && get.host !== target.podIp) {
    return Promise.resolve({
      ok: false,
      message: `httpGet host ${get.host}: the local node only probes the pod's own address`,
    });
  }
  const secure = get.scheme === 'HTTPS';
  const headers: Record<string, string> = { 'user-agent': 'kube-probe/1.36', accept: '*/*' };
  for (const h of get.httpHeaders ?? []) headers[h.name.toLowerCase()] = h.value;
  return new Promise((resolve) => {
    const req = (secure ? https : http).request(
      {
        host: target.podIp,
        port,
        path: get.path ?? '/',
        method: 'GET',
        headers,
        timeout: timeoutMs,
        rejectUnauthorized: false,
        agent: false,
      },
      (res) => {
        res.resume();
        const code = res.statusCode ?? 0;
        resolve({ ok: code >= 200 && code < 400, message: `HTTP probe failed with statuscode: ${code}` });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`Client.Timeout exceeded after ${timeoutMs}ms`)));
    req.on('error', (err) =>
      resolve({
        ok: false,
        message: `Get "http://${target.podIp}:${port}${get.path ?? '/'}": ${err.message}`,
      }),
    );
    req.end();
  });
}

function tcpProbe(probe: V1Probe, target: ProbeTarget, timeoutMs: number): Promise<ProbeOutcome> {
  const port = resolvePort(probe.tcpSocket!.port as number | string, target.container);
  if (port === undefined)
    return Promise.resolve({ ok: false, message: 'tcpSocket port is not a container port' });
  return new Promise((resolve) => {
    const socket = net.connect({ host: target.podIp, port, timeout: timeoutMs });
    socket.once('connect', () => {
      socket.destroy();
      resolve({ ok: true, message: '' });
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve({ ok: false, message: `dial tcp ${target.podIp}:${port}: i/o timeout` });
    });
    socket.once('error', (err) =>
      resolve({ ok: false, message: `dial tcp ${target.podIp}:${port}: ${err.message}` }),
    );
  });
}

/** Runs argv inside the container's mount and network namespaces; used by exec probes and hooks. */
export function execInContainer(
  pid: number,
  argv: readonly string[],
  env: ReadonlyMap<string, string>,
  timeoutMs: number,
): Promise<{ exitCode: number; output: string }> {
  return new Promise((resolve) => {
    execFile(
      '/usr/bin/nsenter',
      ['--target', String(pid), '--mount', '--net', '--', ...argv],
      { env: Object.fromEntries(env), timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1 << 20 },
      (err, stdout, stderr) => {
        const output = `${stdout}${stderr}`.trim();
        if (!err) return resolve({ exitCode: 0, output });
        const code = typeof err.code === 'number' ? err.code : err.killed ? 137 : 126;
        resolve({
          exitCode: code,
          output: err.killed ? `command timed out after ${timeoutMs}ms` : output || err.message,
        });
      },
    );
  });
}

async function execProbe(probe: V1Probe, target: ProbeTarget, timeoutMs: number): Promise<ProbeOutcome> {
  const pid = target.pid();
  if (pid === undefined) return { ok: false, message: 'container is not running' };
  const { exitCode, output } = await execInContainer(pid, probe.exec?.command ?? [], target.env, timeoutMs);
  return { ok: exitCode === 0, message: `command failed with exit code ${exitCode}: ${output}` };
}

export function runProbeOnce(probe: V1Probe, target: ProbeTarget): Promise<ProbeOutcome> {
  const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
  if (probe.httpGet) return httpProbe(probe, target, timeoutMs);
  if (probe.tcpSocket) return tcpProbe(probe, target, timeoutMs);
  if (probe.exec) return execProbe(probe, target, timeoutMs);
  return Promise.resolve({
    ok: false,
    message: 'probe type not supported by the local node agent (httpGet, tcpSocket, exec are)',
  });
}

/**
 * Runs one probe on its period and reports when its result flips after the thresholds. The result
 * starts as `initial` (readiness: false, liveness: true; startup: false), as kubelet's does.
 */
export class ProbeWorker {
  readonly kind: ProbeKind;
  #result: boolean;
  #successes = 0;
  #failures = 0;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  readonly #probe: V1Probe;
  readonly #target: ProbeTarget;
  readonly #onChange: (result: boolean, message: string) => void;

  constructor(
    kind: ProbeKind,
    probe: V1Probe,
    target: ProbeTarget,
    onChange: (result: boolean, message: string) => void,
  ) {
    this.kind = kind;
    this.#probe = probe;
    this.#target = target;
    this.#onChange = onChange;
    this.#result = kind === 'liveness';
  }

  get result(): boolean {
    return this.#result;
  }

  start(): void {
    this.#schedule((this.#probe.initialDelaySeconds ?? 0) * 1000);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#tick(), delayMs);
  }

  async #tick(): Promise<void> {
    const outcome = await runProbeOnce(this.#probe, this.#target);
    if (this.#stopped) return;
    if (outcome.ok) {
      this.#failures = 0;
      this.#successes++;
      if (!this.#result && this.#successes >= (this.#probe.successThreshold ?? 1)) {
        this.#result = true;
        this.#onChange(true, '');
      }
    } else {
      this.#successes = 0;
      this.#failures++;
      const threshold = this.#probe.failureThreshold ?? 3;
      if (this.#failures >= threshold) {
        const wasOk = this.#result;
        this.#result = false;
        // A startup probe that never passed fails the container once, at its threshold.
        if (wasOk || (this.kind === 'startup' && this.#failures === threshold))
          this.#onChange(false, outcome.message);
      }
    }
    // A startup probe stops once it has succeeded: the container has started for good.
    if (this.kind === 'startup' && this.#result) return;
    this.#schedule((this.#probe.periodSeconds ?? 10) * 1000);
  }
}
