// One pod on the local node, from binding to deletion: sandbox (network namespace and address),
// volumes, init containers in order, then the containers; status reported after every change;
// on deletion preStop, SIGTERM, grace period, SIGKILL, sandbox removed, pod object deleted.

import fs from 'node:fs/promises';
import path from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import type { KubeClient } from '../../../src/kube/rest.ts';
import { isNotFound } from '../../../src/kube/rest.ts';
import { ContainerSlot, type SlotHost } from './container-slot.ts';
import { ContainerConfigError, type EnvSources, type PodRuntimeInfo } from './env.ts';
import type { HostPorts } from './host-ports.ts';
import { createSandbox, deleteSandbox, type IpAllocator } from './network.ts';
import { buildPodStatus, type PodView } from './status.ts';
import { checkVolumesSupported, PodVolumes, type TokenSource, UnsupportedPodError } from './volumes.ts';

export interface AgentContext {
  readonly client: KubeClient;
  readonly nodeName: string;
  readonly hostIp: string;
  readonly apiHost: string;
  readonly apiPort: number;
  readonly ips: IpAllocator;
  readonly podsDir: string;
  readonly logsDir: string;
  readonly sources: EnvSources;
  readonly tokens: TokenSource;
  readonly hostPorts: HostPorts;
  readonly log: (msg: string, fields?: Record<string, unknown>) => void;
  readonly event: (pod: V1Pod, type: 'Normal' | 'Warning', reason: string, message: string) => void;
}

const volumeRefreshMs = 60_000;

export class PodWorker {
  readonly uid: string;
  readonly #ctx: AgentContext;
  #pod: V1Pod;
  #ip: string | undefined;
  #netns = '';
  #sandboxReady = false;
  #initialized = false;
  #failure: { reason: string; message: string } | undefined;
  #init: ContainerSlot[] = [];
  #main: ContainerSlot[] = [];
  #volumes: PodVolumes | undefined;
  #volumeTimer: NodeJS.Timeout | undefined;
  readonly #startTime = new Date();
  #terminating: Promise<void> | undefined;
  #flushing = false;
  #dirty = false;
  #lastStatusJson = '';
  #gone = false;

  constructor(pod: V1Pod, ctx: AgentContext) {
    this.#pod = pod;
    this.uid = pod.metadata?.uid ?? '';
    this.#ctx = ctx;
    // Slots exist from the start so that status lists every container (ContainerCreating) at once.
    const previous = new Map((pod.status?.containerStatuses ?? []).map((s) => [s.name, s.restartCount]));
    const host = this.#slotHost();
    this.#init = (pod.spec?.initContainers ?? []).map((c) => new ContainerSlot(c, 'init', host));
    this.#main = (pod.spec?.containers ?? []).map(
      (c) => new ContainerSlot(c, 'regular', host, previous.get(c.name) ?? 0),
    );
  }

  get #name(): string {
    return `${this.#pod.metadata?.namespace}/${this.#pod.metadata?.name}`;
  }

  /** The informer saw a newer version of the pod. */
  update(pod: V1Pod): void {
    this.#pod = pod;
    if (pod.metadata?.deletionTimestamp) void this.terminate();
    else this.#changed(); // readiness gates may have flipped
  }

  async start(): Promise<void> {
    try {
      await this.#setUp();
    } catch (err) {
      if (err instanceof UnsupportedPodError) return this.#fail('UnsupportedByLocalNode', err.message);
      this.#ctx.log('pod set-up failed', { pod: this.#name, err: String(err) });
      this.#ctx.event(this.#pod, 'Warning', 'FailedCreatePodSandBox', String(err));
      this.#changed();
    }
  }

  #fail(reason: string, message: string): void {
    this.#failure = { reason, message };
    // Every container waits with the reason, so kubectl's STATUS column shows it.
    for (const slot of [...this.#init, ...this.#main]) slot.markWaiting(reason, message);
    this.#ctx.event(this.#pod, 'Warning', reason, message);
    this.#changed();
  }

  async #setUp(): Promise<void> {
    const spec = this.#pod.spec ?? { containers: [] };
    if (spec.hostNetwork)
      throw new UnsupportedPodError(
        'hostNetwork pods are not supported by the local node agent: every pod gets its own network namespace',
      );
    if (spec.hostPID || spec.hostIPC)
      throw new UnsupportedPodError('hostPID/hostIPC pods are not supported by the local node agent');
    checkVolumesSupported(this.#pod);

    this.#ip = this.#ctx.ips.allocate();
    this.#netns = await createSandbox(this.uid, this.#ip);
    for (const c of spec.containers) {
      for (const p of c.ports ?? []) {
        if (!p.hostPort) continue;
        try {
          await this.#ctx.hostPorts.publish(this.uid, p.hostPort, this.#ip, p.containerPort);
        } catch (err) {
          this.#ctx.event(
            this.#pod,
            'Warning',
            'FailedHostPort',
            `hostPort ${p.hostPort} could not be published on 127.0.0.1: ${String(err)}`,
          );
        }
      }
    }
    this.#sandboxReady = true;
    this.#changed();

    const info = this.#info();
    const podDir = path.join(this.#ctx.podsDir, this.uid);
    this.#volumes = new PodVolumes(
      this.#pod,
      path.join(podDir, 'volumes'),
      this.#ctx.sources,
      this.#ctx.tokens,
      info,
    );
    await this.#materializeVolumesUntilDone();
    this.#scheduleVolumeRefresh();

    await this.#runInitContainers();
    if (this.#terminating) return;
    this.#initialized = true;
    for (const slot of this.#main) await slot.start();
  }

  #info(): PodRuntimeInfo {
    return {
      podIp: this.#ip ?? '',
      hostIp: this.#ctx.hostIp,
      apiHost: this.#ctx.apiHost,
      apiPort: this.#ctx.apiPort,
    };
  }

  /** A missing ConfigMap or Secret keeps the pod waiting (and retrying) rather than failing it. */
  async #materializeVolumesUntilDone(): Promise<void> {
    for (;;) {
      try {
        await this.#volumes!.materialize();
        return;
      } catch (err) {
        if (!(err instanceof ContainerConfigError) || this.#terminating) throw err;
        this.#ctx.event(this.#pod, 'Warning', 'FailedMount', `MountVolume.SetUp failed: ${err.message}`);
        await new Promise((r) => setTimeout(r, 5_000));
      }
    }
  }

  #scheduleVolumeRefresh(): void {
    const renewIn = Math.min(
      volumeRefreshMs,
      Math.max(1_000, (this.#volumes?.renewAtMs ?? Number.POSITIVE_INFINITY) - Date.now()),
    );
    this.#volumeTimer = setTimeout(async () => {
      if (this.#terminating || this.#gone) return;
      try {
        await this.#volumes?.materialize();
      } catch (err) {
        this.#ctx.log('volume refresh failed', { pod: this.#name, err: String(err) });
      }
      this.#scheduleVolumeRefresh();
    }, renewIn);
    this.#volumeTimer.unref();
  }

  async #runInitContainers(): Promise<void> {
    for (const slot of this.#init) {
      const done = new Promise<void>((resolve) => {
        slot.onExit(() => {
          if (slot.exitedOk || !slot.view().willRestart) resolve();
        });
      });
      await slot.start();
      await Promise.race([done, this.#terminating]);
      if (this.#terminating || !slot.exitedOk) return;
    }
  }

  #slotHost(): SlotHost {
    return {
      pod: () => this.#pod,
      netns: () => this.#netns,
      info: () => this.#info(),
      sources: this.#ctx.sources,
      logDir: path.join(
        this.#ctx.logsDir,
        `${this.#pod.metadata?.namespace}_${this.#pod.metadata?.name}_${this.uid}`,
      ),
      mountsFor: (c) => this.#volumes?.mountsFor(c) ?? [],
      changed: () => this.#changed(),
      event: (type, reason, message) => this.#ctx.event(this.#pod, type, reason, message),
      graceMs: () => (this.#pod.spec?.terminationGracePeriodSeconds ?? 30) * 1000,
    };
  }

  #view(): PodView {
    return {
      podIp: this.#ip,
      hostIp: this.#ctx.hostIp,
      startTime: this.#startTime,
      sandboxReady: this.#sandboxReady,
      initialized: this.#initialized,
      initContainers: this.#init.map((s) => s.view()),
      containers: this.#main.map((s) => s.view()),
      ...(this.#failure ? { failure: this.#failure } : {}),
    };
  }

  /** Coalesces changes into one status write at a time; writes only what differs. */
  #changed(): void {
    this.#dirty = true;
    if (this.#flushing || this.#gone) return;
    this.#flushing = true;
    setImmediate(() => void this.#flush());
  }

  async #flush(): Promise<void> {
    while (this.#dirty && !this.#gone) {
      this.#dirty = false;
      const status = buildPodStatus(this.#pod, this.#view(), new Date());
      const json = JSON.stringify(status);
      if (json === this.#lastStatusJson) continue;
      const { namespace, name } = this.#pod.metadata ?? {};
      try {
        await this.#ctx.client.patch(`/api/v1/namespaces/${namespace}/pods/${name}/status`, 'strategic', {
          status,
        });
        this.#lastStatusJson = json;
      } catch (err) {
        if (isNotFound(err)) break;
        this.#ctx.log('pod status update failed', { pod: this.#name, err: String(err) });
        this.#dirty = true;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    this.#flushing = false;
  }

  /** Graceful stop on deletion; runs once however often it is asked for. */
  terminate(): Promise<void> {
    this.#terminating ??= this.#terminate();
    return this.#terminating;
  }

  async #terminate(): Promise<void> {
    const md = this.#pod.metadata ?? {};
    const graceSeconds = md.deletionGracePeriodSeconds ?? this.#pod.spec?.terminationGracePeriodSeconds ?? 30;
    for (const s of this.#main)
      this.#ctx.event(this.#pod, 'Normal', 'Killing', `Stopping container ${s.spec.name}`);
    await Promise.all([...this.#init, ...this.#main].map((s) => s.stopForGood(graceSeconds * 1000)));
    await this.#flushNow();
    await this.#tearDown();
    try {
      await this.#ctx.client.delete(`/api/v1/namespaces/${md.namespace}/pods/${md.name}`, {
        apiVersion: 'v1',
        kind: 'DeleteOptions',
        gracePeriodSeconds: 0,
        preconditions: { uid: this.uid },
      });
    } catch (err) {
      if (!isNotFound(err)) this.#ctx.log('pod delete failed', { pod: this.#name, err: String(err) });
    }
    this.#gone = true;
  }

  async #flushNow(): Promise<void> {
    this.#changed();
    while (this.#flushing) await new Promise((r) => setTimeout(r, 20));
  }

  /** The pod object is gone (force-deleted): kill everything at once. */
  async forget(): Promise<void> {
    this.#gone = true;
    for (const s of [...this.#init, ...this.#main]) s.killNow();
    await this.#tearDown();
  }

  async #tearDown(): Promise<void> {
    clearTimeout(this.#volumeTimer);
    this.#ctx.hostPorts.release(this.uid);
    await deleteSandbox(this.uid);
    if (this.#ip) this.#ctx.ips.release(this.#ip);
    this.#ip = undefined;
    await fs.rm(path.join(this.#ctx.podsDir, this.uid), { recursive: true, force: true });
  }
}
