// Leader election on a coordination.k8s.io Lease, as client-go does it: a candidate takes the
// lease when its holder has not renewed it for leaseDuration (measured on the candidate's own
// clock from when it last saw the record change, so clock skew does not matter), the leader
// renews every retryPeriod and steps down when it cannot renew within renewDeadline. A clean
// shutdown releases the lease so a standby takes over at once.

import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { Gauge, type Registry } from 'prom-client';
import type { Clock } from '../clock.ts';
import { isNotFound, type KubeClient } from './rest.ts';

export interface LeaderElectionOptions {
  readonly namespace: string;
  readonly name: string;
  readonly identity: string;
  readonly leaseDurationMs?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
  readonly clock: Clock;
  readonly registry?: Registry;
  readonly component: string;
}

interface Lease {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: {
    holderIdentity?: string | null;
    leaseDurationSeconds?: number;
    acquireTime?: string | null;
    renewTime?: string | null;
    leaseTransitions?: number;
  };
}

/**
 * A candidate's identity: its pod name plus a per-process suffix, as controller-runtime does, so a
 * restarted container is a new candidate and does not mistake the dead process's lease for its own.
 */
export function leaderIdentity(podName: string | undefined): string {
  return `${podName ?? os.hostname()}_${randomUUID().slice(0, 8)}`;
}

/** This replica's identity in its leader Lease: the flag, else the pod name with a random suffix. */
export function identityOf(
  given: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): string {
  return given ?? leaderIdentity(env.POD_NAME);
}

/** The pod name inside an identity made by leaderIdentity (pod names never contain "_"). */
export function podOfIdentity(identity: string): string {
  return identity.split('_')[0] ?? identity;
}

const microTime = (ms: number) => new Date(ms).toISOString().replace('Z', '000Z');

export class LeaderElector {
  readonly #client: KubeClient;
  readonly #o: Required<Omit<LeaderElectionOptions, 'registry'>>;
  readonly #leaderGauge: Gauge | undefined;
  #observedRecord = '';
  #observedAtMs = 0;
  #leading = false;
  #stopped = false;
  #lastRenewMs = 0;

  constructor(client: KubeClient, options: LeaderElectionOptions) {
    this.#client = client;
    this.#o = {
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      ...options,
    } as Required<Omit<LeaderElectionOptions, 'registry'>>;
    if (options.registry) {
      this.#leaderGauge = new Gauge({
        name: 'zeroscale_leader',
        help: '1 while this replica holds the leader lease of its component, else 0.',
        labelNames: ['component'],
        registers: [options.registry],
      });
      this.#leaderGauge.set({ component: options.component }, 0);
    }
  }

  get isLeader(): boolean {
    return this.#leading;
  }

  #path(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${this.#o.namespace}/leases/${this.#o.name}`;
  }

  /**
   * Campaigns until it holds the lease, calls `onStarted`, then keeps renewing; calls `onStopped`
   * once when leadership is lost (the caller should exit, as controller-runtime does).
   */
  async run(onStarted: () => void, onStopped: () => void): Promise<void> {
    while (!this.#stopped && !(await this.#tryAcquireOrRenew())) await this.#sleep(this.#o.retryPeriodMs);
    if (this.#stopped) return;
    this.#setLeading(true);
    onStarted();
    this.#lastRenewMs = this.#o.clock.now();
    while (!this.#stopped) {
      await this.#sleep(this.#o.retryPeriodMs);
      if (this.#stopped) break;
      if (await this.#tryAcquireOrRenew()) {
        this.#lastRenewMs = this.#o.clock.now();
      } else if (this.#o.clock.now() - this.#lastRenewMs > this.#o.renewDeadlineMs || !this.#leading) {
        break;
      }
    }
    if (this.#leading) {
      this.#setLeading(false);
      onStopped();
    }
  }

  #setLeading(leading: boolean): void {
    this.#leading = leading;
    this.#leaderGauge?.set({ component: this.#o.component }, leading ? 1 : 0);
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((r) => this.#o.clock.setTimeout(r, ms).unref());
  }

  async #tryAcquireOrRenew(): Promise<boolean> {
    const now = this.#o.clock.now();
    const desired = {
      holderIdentity: this.#o.identity,
      leaseDurationSeconds: Math.ceil(this.#o.leaseDurationMs / 1000),
      renewTime: microTime(now),
    };
    let lease: Lease;
    try {
      lease = await this.#client.get<Lease>(this.#path());
    } catch (err) {
      if (!isNotFound(err)) return false;
      try {
        await this.#client.post(`/apis/coordination.k8s.io/v1/namespaces/${this.#o.namespace}/leases`, {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: this.#o.name, namespace: this.#o.namespace },
          spec: { ...desired, acquireTime: microTime(now), leaseTransitions: 0 },
        });
        return true;
      } catch {
        return false;
      }
    }
    const record = JSON.stringify(lease.spec);
    if (record !== this.#observedRecord) {
      this.#observedRecord = record;
      this.#observedAtMs = now;
    }
    const holder = lease.spec.holderIdentity ?? '';
    const heldByMe = holder === this.#o.identity;
    const expired = this.#observedAtMs + (lease.spec.leaseDurationSeconds ?? 15) * 1000 < now;
    if (holder && !heldByMe && !expired) {
      if (this.#leading) this.#setLeading(false);
      return false;
    }
    const spec = {
      ...lease.spec,
      ...desired,
      ...(heldByMe
        ? {}
        : { acquireTime: microTime(now), leaseTransitions: (lease.spec.leaseTransitions ?? 0) + 1 }),
    };
    try {
      await this.#client.put(this.#path(), { ...lease, spec });
      this.#observedRecord = JSON.stringify(spec);
      this.#observedAtMs = now;
      return true;
    } catch {
      return false; // a conflict means someone else wrote first; the next round looks again
    }
  }

  /** Stops campaigning; a leader releases the lease so that a standby need not wait it out. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (!this.#leading) return;
    this.#setLeading(false);
    try {
      const lease = await this.#client.get<Lease>(this.#path());
      if (lease.spec.holderIdentity !== this.#o.identity) return;
      await this.#client.put(this.#path(), {
        ...lease,
        spec: {
          ...lease.spec,
          holderIdentity: null,
          renewTime: null,
          acquireTime: null,
          leaseDurationSeconds: 1,
        },
      });
    } catch {
      // the lease will expire by itself
    }
  }
}
