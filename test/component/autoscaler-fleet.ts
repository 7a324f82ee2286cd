// A fake world for the autoscaler's component tests: each pod is a tiny node:http server on
// 127.0.0.1 (port 0) serving GET /stats like a queue-proxy, started and stopped as the autoscaler
// sets the scale; the controller's part (endpoints follow the published mode) is played too.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { MemoryServiceSource } from '../../src/autoscaler/memory.ts';
import { type PodStats, QUEUE_STATS_PATH } from '../../src/autoscaler/metrics/protocol.ts';
import type { AutoscalerStatus, ScaleTarget, ServiceRef } from '../../src/autoscaler/scale-target.ts';
import type { Clock } from '../../src/clock.ts';

/** What the pods of one service carry, service totals; each pod reports its share. */
export interface FleetLoad {
  total: number;
  /** The part of `total` that came through an activator. */
  proxied: number;
}

class FakeQueueProxy {
  readonly server: http.Server;
  scrapes = 0;

  constructor(name: string, stats: () => Omit<PodStats, 'pod'>) {
    this.server = http.createServer((req, res) => {
      if (req.url !== QUEUE_STATS_PATH) {
        res.writeHead(404).end();
        return;
      }
      this.scrapes++;
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ pod: name, ...stats() }));
    });
  }

  listen(): Promise<string> {
    return new Promise((resolve) => {
      this.server.listen(0, '127.0.0.1', () =>
        resolve(`127.0.0.1:${(this.server.address() as AddressInfo).port}`),
      );
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

interface ServicePods {
  readonly servers: FakeQueueProxy[];
  readonly addresses: string[];
}

export interface FleetEvent {
  readonly atMs: number;
  readonly what: 'scale' | 'activator-in-path' | 'activator-out-of-path';
  readonly replicas?: number;
}

export class FakeFleet implements ScaleTarget {
  readonly source = new MemoryServiceSource();
  readonly events: FleetEvent[] = [];
  readonly statuses = new Map<string, AutoscalerStatus>();
  readonly #clock: Clock;
  readonly #pods = new Map<string, ServicePods>();
  readonly #loads = new Map<string, FleetLoad>();
  /** Serialises pod changes per service (setScale is never called twice at once per service anyway). */
  #changing: Promise<void> = Promise.resolve();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  load(namespace: string, name: string): FleetLoad {
    const key = `${namespace}/${name}`;
    let load = this.#loads.get(key);
    if (load === undefined) {
      load = { total: 0, proxied: 0 };
      this.#loads.set(key, load);
    }
    return load;
  }

  replicas(namespace: string, name: string): number {
    return this.#pods.get(`${namespace}/${name}`)?.servers.length ?? 0;
  }

  /** Starts or stops pods until there are `replicas`, then publishes their addresses as ready. */
  async setScale(service: ServiceRef, replicas: number): Promise<void> {
    this.events.push({ atMs: this.#clock.now(), what: 'scale', replicas });
    const change = this.#changing.then(() => this.#resize(service, replicas));
    this.#changing = change;
    await change;
  }

  /** The controller's part: the public endpoints follow the mode, and it observes that at once. */
  async publish(service: ServiceRef, status: AutoscalerStatus): Promise<void> {
    this.statuses.set(`${service.namespace}/${service.name}`, status);
    const current = this.source.get(service.namespace, service.name);
    if (current === undefined) return;
    const inPath = status.mode === 'proxy';
    if (inPath === (current.activatorInPathSinceMs !== undefined)) return;
    const atMs = this.#clock.now();
    this.source.setActivatorInPath(service.namespace, service.name, inPath ? atMs : undefined);
    this.events.push({ atMs, what: inPath ? 'activator-in-path' : 'activator-out-of-path' });
  }

  /** Resolves once every pod change asked for so far is done and its callbacks have run. */
  async settled(): Promise<void> {
    await this.#changing;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  async close(): Promise<void> {
    await this.#changing;
    for (const pods of this.#pods.values()) await Promise.all(pods.servers.map((s) => s.close()));
    this.#pods.clear();
  }

  async #resize(service: ServiceRef, replicas: number): Promise<void> {
    const key = `${service.namespace}/${service.name}`;
    let pods = this.#pods.get(key);
    if (pods === undefined) {
      pods = { servers: [], addresses: [] };
      this.#pods.set(key, pods);
    }
    const load = this.load(service.namespace, service.name);
    while (pods.servers.length < replicas) {
      const server = new FakeQueueProxy(`${service.name}-${pods.servers.length}`, () => {
        const n = Math.max(1, this.replicas(service.namespace, service.name));
        return {
          intervalMs: 1_000,
          averageConcurrency: load.total / n,
          averageProxiedConcurrency: load.proxied / n,
          requestsPerSecond: 0,
          proxiedRequestsPerSecond: 0,
        };
      });
      pods.addresses.push(await server.listen());
      pods.servers.push(server);
    }
    while (pods.servers.length > replicas) {
      pods.addresses.pop();
      await pods.servers.pop()!.close();
    }
    this.source.setPods(service.namespace, service.name, [...pods.addresses]);
  }
}

/** Polls `condition` every 10 ms until it holds; fails with `what` at the deadline. */
export async function waitFor(what: string, condition: () => boolean, deadlineMs = 20_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
