// In-memory ServiceSource, ScaleTarget and StatsFetcher, for tests and benchmarks: the same
// contracts as the Kubernetes-backed ones, with the world held in maps the caller changes.

import { BUILTIN_SERVING_DEFAULTS, type Prices, resolveServerlessServiceSpec } from '../api/defaults.ts';
import { serviceKey } from '../api/names.ts';
import type { ServerlessServiceSpec } from '../api/serverless-service.ts';
import { ZeroscaleError } from '../errors.ts';
import { podRequests } from './cost.ts';
import type { PodStats } from './metrics/protocol.ts';
import type { StatsFetcher } from './metrics/stats-fetcher.ts';
import type { AutoscalerStatus, ScaleTarget, ServiceRef } from './scale-target.ts';
import type { AutoscaledService, RestoredState, ServicePods, ServiceSource } from './service-source.ts';

export interface MemoryServiceOptions {
  readonly containerConcurrency?: number;
  /** spec.scaling as a user writes it ("6s" windows etc.), resolved over the built-in defaults. */
  readonly scaling?: ServerlessServiceSpec['scaling'];
  readonly restored?: RestoredState;
  readonly activatorInPathSinceMs?: number;
  readonly budget?: ServerlessServiceSpec['budget'];
  /** Requests of the app container, e.g. { cpu: '500m', memory: '256Mi' }. */
  readonly requests?: { readonly cpu?: string; readonly memory?: string };
  readonly prices?: Prices;
}

/** A service as the Kubernetes source would give it, resolved over the built-in defaults. */
export function memoryService(
  namespace: string,
  name: string,
  options: MemoryServiceOptions = {},
): AutoscaledService {
  const container = {
    image: 'example/app',
    ports: [{ containerPort: 8080 }],
    ...(options.requests === undefined ? {} : { resources: { requests: options.requests } }),
  };
  const resolved = resolveServerlessServiceSpec(
    {
      template: { spec: { containers: [container] } },
      ...(options.containerConcurrency === undefined
        ? {}
        : { containerConcurrency: options.containerConcurrency }),
      ...(options.scaling === undefined ? {} : { scaling: options.scaling }),
      ...(options.budget === undefined ? {} : { budget: options.budget }),
    },
    { ...BUILTIN_SERVING_DEFAULTS, prices: options.prices },
  );
  return {
    namespace,
    name,
    scaling: resolved.scaling,
    containerConcurrency: resolved.containerConcurrency,
    activatorInPathSinceMs: options.activatorInPathSinceMs,
    restored: options.restored,
    budget: resolved.budget,
    podRequests: podRequests([container], undefined),
    prices: options.prices,
  };
}

const NO_PODS: ServicePods = { readyAddresses: [], actualCount: 0 };

export class MemoryServiceSource implements ServiceSource {
  readonly #services = new Map<string, AutoscaledService>();
  readonly #pods = new Map<string, ServicePods>();

  services(): Iterable<AutoscaledService> {
    return this.#services.values();
  }

  pods(service: AutoscaledService): ServicePods {
    return this.#pods.get(serviceKey(service.namespace, service.name)) ?? NO_PODS;
  }

  get(namespace: string, name: string): AutoscaledService | undefined {
    return this.#services.get(serviceKey(namespace, name));
  }

  /** Adds or replaces a service. */
  set(service: AutoscaledService): void {
    this.#services.set(serviceKey(service.namespace, service.name), service);
  }

  delete(namespace: string, name: string): void {
    this.#services.delete(serviceKey(namespace, name));
    this.#pods.delete(serviceKey(namespace, name));
  }

  setPods(
    namespace: string,
    name: string,
    readyAddresses: readonly string[],
    actualCount = readyAddresses.length,
    readyPodNames: readonly (string | undefined)[] = readyAddresses,
  ): void {
    this.#pods.set(serviceKey(namespace, name), { readyAddresses, actualCount, readyPodNames });
  }

  /** What the controller does once the public endpoints reach the activators (or leave them). */
  setActivatorInPath(namespace: string, name: string, sinceMs: number | undefined): void {
    const service = this.get(namespace, name);
    if (service === undefined) throw new ZeroscaleError('NOT_FOUND', `no service ${namespace}/${name}`);
    this.set({ ...service, activatorInPathSinceMs: sinceMs });
  }
}

export interface ScaleCall {
  readonly service: string;
  readonly replicas: number;
}

export interface PublishCall {
  readonly service: string;
  readonly status: AutoscalerStatus;
}

/** Records every call; `onSetScale` / `onPublish` let a test play the controller and kubelet. */
export class MemoryScaleTarget implements ScaleTarget {
  readonly scaleCalls: ScaleCall[] = [];
  readonly publishCalls: PublishCall[] = [];
  /** Each rankPodsForRemoval call: the service and the loads it was given. */
  readonly rankCalls: { readonly service: string; readonly loads: ReadonlyMap<string, number> }[] = [];
  onSetScale: ((service: ServiceRef, replicas: number) => void | Promise<void>) | undefined;
  onPublish: ((service: ServiceRef, status: AutoscalerStatus) => void | Promise<void>) | undefined;
  /** Keep only the newest call per service (benchmarks: no growing history). */
  readonly #keepHistory: boolean;
  readonly #replicas = new Map<string, number>();
  readonly #status = new Map<string, AutoscalerStatus>();

  constructor(options: { readonly keepHistory?: boolean } = {}) {
    this.#keepHistory = options.keepHistory ?? true;
  }

  async setScale(service: ServiceRef, replicas: number): Promise<void> {
    const key = serviceKey(service.namespace, service.name);
    await this.onSetScale?.(service, replicas);
    this.#replicas.set(key, replicas);
    if (this.#keepHistory) this.scaleCalls.push({ service: key, replicas });
  }

  async rankPodsForRemoval(service: ServiceRef, loads: ReadonlyMap<string, number>): Promise<void> {
    if (this.#keepHistory)
      this.rankCalls.push({ service: serviceKey(service.namespace, service.name), loads });
  }

  async publish(service: ServiceRef, status: AutoscalerStatus): Promise<void> {
    const key = serviceKey(service.namespace, service.name);
    await this.onPublish?.(service, status);
    this.#status.set(key, status);
    if (this.#keepHistory) this.publishCalls.push({ service: key, status });
  }

  /** The replicas last written for the service. */
  replicas(namespace: string, name: string): number | undefined {
    return this.#replicas.get(serviceKey(namespace, name));
  }

  /** The status last published for the service. */
  status(namespace: string, name: string): AutoscalerStatus | undefined {
    return this.#status.get(serviceKey(namespace, name));
  }
}

/**
 * Stats without a network: `statsOf(address)` gives the pod's stats (it may return the same
 * object every time, so that a benchmark measures the autoscaler, not the allocation of fakes), or
 * undefined for a pod that does not answer.
 */
export class MemoryStatsFetcher implements StatsFetcher {
  readonly #statsOf: (address: string) => PodStats | undefined;
  fetches = 0;

  constructor(statsOf: (address: string) => PodStats | undefined) {
    this.#statsOf = statsOf;
  }

  fetchStats(address: string): Promise<PodStats> {
    this.fetches++;
    const stats = this.#statsOf(address);
    if (stats === undefined)
      return Promise.reject(new ZeroscaleError('SCRAPE_FAILED', `${address} did not answer`));
    return Promise.resolve(stats);
  }

  close(): void {}
}
