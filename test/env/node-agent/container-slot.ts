// One container of a pod across its restarts: resolves the image, builds env, starts the process,
// runs its probes, and restarts it under the pod's restartPolicy with kubelet's back-off
// (immediately the first time, then 10 s doubling to 5 min; reset after 10 min of running).

import { constants } from 'node:os';
import path from 'node:path';
import type { V1Container, V1ContainerState, V1Pod } from '@kubernetes/client-node';
import { type ContainerExit, ContainerProcess } from './container.ts';
import { buildEnv, ContainerConfigError, type EnvSources, expandVars, type PodRuntimeInfo } from './env.ts';
import { resolveImage } from './images.ts';
import { execInContainer, ProbeWorker, runProbeOnce } from './probes.ts';
import type { ContainerView } from './status.ts';
import type { BindMount } from './volumes.ts';

export const initialBackoffMs = 10_000;
export const maxBackoffMs = 300_000;
const backoffResetAfterMs = 600_000;

export interface SlotHost {
  readonly pod: () => V1Pod;
  readonly netns: () => string;
  readonly info: () => PodRuntimeInfo;
  readonly sources: EnvSources;
  readonly logDir: string;
  readonly mountsFor: (c: V1Container) => BindMount[];
  readonly changed: () => void;
  readonly event: (type: 'Normal' | 'Warning', reason: string, message: string) => void;
  /** Grace for a kill that the pod did not ask for (liveness failure). */
  readonly graceMs: () => number;
}

export type SlotRole = 'init' | 'regular';

export class ContainerSlot {
  readonly spec: V1Container;
  readonly role: SlotRole;
  readonly #host: SlotHost;
  #process: ContainerProcess | undefined;
  #env: Map<string, string> = new Map();
  #imageId = '';
  #state: V1ContainerState = { waiting: { reason: 'ContainerCreating' } };
  #lastState: V1ContainerState = {};
  #restartCount: number;
  #ready = false;
  #started = false;
  #probes: ProbeWorker[] = [];
  #backoffMs = 0;
  #imageBackoffMs = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  #stopping = false;
  #exitListeners: ((exit: ContainerExit) => void)[] = [];

  constructor(spec: V1Container, role: SlotRole, host: SlotHost, restartCount = 0) {
    this.spec = spec;
    this.role = role;
    this.#host = host;
    this.#restartCount = restartCount;
  }

  get running(): boolean {
    return this.#process?.running ?? false;
  }
  get exitedOk(): boolean {
    return this.#state.terminated?.exitCode === 0;
  }

  onExit(listener: (exit: ContainerExit) => void): void {
    this.#exitListeners.push(listener);
  }

  view(): ContainerView {
    return {
      name: this.spec.name,
      image: this.spec.image ?? '',
      imageId: this.#imageId,
      containerId: this.#process?.pid ? `zeroscale://${this.#process.pid}` : undefined,
      state: this.#state,
      lastState: this.#lastState,
      ready: this.#ready,
      started: this.#started,
      restartCount: this.#restartCount,
      willRestart: !this.#stopping && this.#willRestartAfter(this.#state.terminated?.exitCode ?? 0),
    };
  }

  #willRestartAfter(exitCode: number): boolean {
    const policy = this.#host.pod().spec?.restartPolicy ?? 'Always';
    if (this.role === 'init') return policy !== 'Never' && exitCode !== 0;
    return policy === 'Always' || (policy === 'OnFailure' && exitCode !== 0);
  }

  /** Records why the container cannot start (shown as its waiting reason). */
  markWaiting(reason: string, message?: string): void {
    this.#setWaiting(reason, message);
  }

  #setWaiting(reason: string, message?: string): void {
    this.#state = { waiting: { reason, ...(message ? { message } : {}) } };
    this.#host.changed();
  }

  #retryIn(ms: number): void {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => void this.start(), ms);
  }

  /** Starts the container, or records why it cannot start yet and retries later. */
  async start(): Promise<void> {
    if (this.#stopping || this.running) return;
    const pod = this.#host.pod();
    const image = resolveImage(this.spec);
    if (!image.ok) {
      // ErrImagePull first, then ImagePullBackOff while the back-off runs, as kubelet reports it.
      if (this.#imageBackoffMs === 0) {
        this.#setWaiting('ErrImagePull', image.message);
        this.#host.event('Warning', 'Failed', image.message);
        this.#imageBackoffMs = initialBackoffMs;
        this.#retryTimer = setTimeout(() => {
          this.#setWaiting('ImagePullBackOff', `Back-off pulling image "${this.spec.image}"`);
          this.#host.event('Normal', 'BackOff', `Back-off pulling image "${this.spec.image}"`);
          this.#retryIn(this.#imageBackoffMs);
        }, 1_000);
      } else {
        this.#setWaiting('ImagePullBackOff', `Back-off pulling image "${this.spec.image}"`);
        this.#imageBackoffMs = Math.min(maxBackoffMs, this.#imageBackoffMs * 2);
        this.#retryIn(this.#imageBackoffMs);
      }
      return;
    }
    this.#imageId = image.imageId;
    try {
      this.#env = await buildEnv(pod, this.spec, this.#host.info(), this.#host.sources, image.pathDirs);
    } catch (err) {
      if (!(err instanceof ContainerConfigError)) throw err;
      this.#setWaiting('CreateContainerConfigError', err.message);
      this.#host.event('Warning', 'Failed', `Error: ${err.message}`);
      this.#retryIn(initialBackoffMs);
      return;
    }
    if (this.#stopping) return;
    const argv = image.argv.map((a) => expandVars(a, this.#env));
    const proc = new ContainerProcess({
      netns: this.#host.netns(),
      argv,
      env: this.#env,
      mounts: this.#host.mountsFor(this.spec),
      workingDir: this.spec.workingDir || image.workingDir,
      logFile: path.join(this.#host.logDir, this.spec.name, `${this.#restartCount}.log`),
    });
    this.#process = proc;
    this.#state = { running: { startedAt: proc.startedAt } };
    this.#host.event('Normal', 'Started', `Started container ${this.spec.name}`);
    this.#startProbes(proc);
    this.#host.changed();
    void proc.exited.then((exit) => this.#exited(proc, exit));
  }

  #startProbes(proc: ContainerProcess): void {
    const target = {
      podIp: this.#host.info().podIp,
      container: this.spec,
      pid: () => proc.pid,
      env: this.#env,
    };
    const { startupProbe, readinessProbe, livenessProbe } = this.spec;
    const startMain = () => {
      this.#started = true;
      if (readinessProbe) {
        const w = new ProbeWorker('readiness', readinessProbe, target, (ok, message) => {
          this.#ready = ok;
          if (!ok) this.#host.event('Warning', 'Unhealthy', `Readiness probe failed: ${message}`);
          this.#host.changed();
        });
        this.#probes.push(w);
        w.start();
      } else {
        this.#ready = this.role === 'regular';
      }
      if (livenessProbe) {
        const w = new ProbeWorker('liveness', livenessProbe, target, (ok, message) => {
          if (!ok) this.#failedProbe('liveness', message);
        });
        this.#probes.push(w);
        w.start();
      }
      this.#host.changed();
    };
    if (startupProbe) {
      const w = new ProbeWorker('startup', startupProbe, target, (ok, message) => {
        if (ok) startMain();
        else this.#failedProbe('startup', message);
      });
      this.#probes.push(w);
      w.start();
    } else {
      startMain();
    }
  }

  #failedProbe(kind: 'liveness' | 'startup', message: string): void {
    this.#host.event(
      'Warning',
      'Unhealthy',
      `${kind === 'liveness' ? 'Liveness' : 'Startup'} probe failed: ${message}`,
    );
    this.#host.event(
      'Normal',
      'Killing',
      `Container ${this.spec.name} failed ${kind} probe, will be restarted`,
    );
    void this.#kill(this.#host.graceMs());
  }

  #stopProbes(): void {
    for (const p of this.#probes) p.stop();
    this.#probes = [];
    this.#ready = false;
    this.#started = false;
  }

  #exited(proc: ContainerProcess, exit: ContainerExit): void {
    if (this.#process !== proc) return;
    this.#stopProbes();
    const reason = exit.startError ? 'StartError' : exit.exitCode === 0 ? 'Completed' : 'Error';
    this.#state = {
      terminated: {
        exitCode: exit.exitCode,
        reason,
        ...(exit.signal ? { signal: constants.signals[exit.signal as NodeJS.Signals] } : {}),
        ...(exit.startError ? { message: exit.startError } : {}),
        startedAt: proc.startedAt,
        finishedAt: exit.finishedAt,
        containerID: `zeroscale://${proc.pid}`,
      },
    };
    for (const l of this.#exitListeners) l(exit);
    if (!this.#stopping && this.#willRestartAfter(exit.exitCode)) this.#scheduleRestart(exit, proc.startedAt);
    this.#host.changed();
  }

  #scheduleRestart(exit: ContainerExit, startedAt: Date): void {
    if (exit.finishedAt.getTime() - startedAt.getTime() >= backoffResetAfterMs) this.#backoffMs = 0;
    const restart = () => {
      this.#lastState = this.#state;
      this.#restartCount++;
      this.#process = undefined;
      void this.start();
    };
    if (this.#backoffMs === 0) {
      this.#backoffMs = initialBackoffMs;
      restart();
      return;
    }
    const delay = this.#backoffMs;
    const pod = this.#host.pod().metadata;
    const message = `back-off ${delay / 1000}s restarting failed container=${this.spec.name} pod=${pod?.name}_${pod?.namespace}(${pod?.uid})`;
    this.#lastState = this.#state;
    this.#state = { waiting: { reason: 'CrashLoopBackOff', message } };
    this.#host.event('Warning', 'BackOff', `Back-off restarting failed container ${this.spec.name}`);
    this.#backoffMs = Math.min(maxBackoffMs, this.#backoffMs * 2);
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => {
      this.#restartCount++;
      this.#process = undefined;
      void this.start();
    }, delay);
  }

  async #kill(graceMs: number): Promise<void> {
    const proc = this.#process;
    if (!proc?.running) return;
    await this.#runPreStop(proc, graceMs);
    await proc.stop(graceMs);
  }

  async #runPreStop(proc: ContainerProcess, graceMs: number): Promise<void> {
    const hook = this.spec.lifecycle?.preStop;
    if (!hook || proc.pid === undefined) return;
    if (hook.exec?.command) {
      const { exitCode, output } = await execInContainer(proc.pid, hook.exec.command, this.#env, graceMs);
      if (exitCode !== 0) this.#host.event('Warning', 'FailedPreStopHook', `PreStopHook failed: ${output}`);
    } else if (hook.httpGet) {
      const res = await runProbeOnce(
        { httpGet: hook.httpGet, timeoutSeconds: Math.max(1, Math.ceil(graceMs / 1000)) },
        {
          podIp: this.#host.info().podIp,
          container: this.spec,
          pid: () => proc.pid,
          env: this.#env,
        },
      );
      if (!res.ok) this.#host.event('Warning', 'FailedPreStopHook', `PreStopHook failed: ${res.message}`);
    } else if (hook.sleep?.seconds) {
      await new Promise((r) => setTimeout(r, Math.min(graceMs, hook.sleep!.seconds * 1000)));
    }
  }

  /**
   * Stops the container for good (pod deletion): preStop within the grace period, SIGTERM, then
   * SIGKILL when the period has run out. Kubelet gives at least 2 s after a preStop hook.
   */
  async stopForGood(graceMs: number): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#retryTimer);
    const proc = this.#process;
    if (!proc?.running) {
      this.#stopProbes();
      return;
    }
    this.#stopProbes();
    this.#host.changed();
    const deadline = Date.now() + graceMs;
    await this.#runPreStop(proc, graceMs);
    const remaining = Math.max(this.spec.lifecycle?.preStop ? 2_000 : 0, deadline - Date.now());
    await proc.stop(remaining);
  }

  killNow(): void {
    this.#stopping = true;
    clearTimeout(this.#retryTimer);
    this.#stopProbes();
    this.#process?.kill();
  }
}
