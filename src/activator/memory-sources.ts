// In-memory ServiceCatalog, EndpointsSource and AutoscalerClient: for tests, benchmarks and the
// activator's static mode. Changes are delivered synchronously, in order.

import type { ActivatorReport, Poke } from '../autoscaler/metrics/protocol.ts';
import { PendingHosts } from './pending-hosts.ts';
import type {
  ActivatorService,
  AutoscalerClient,
  EndpointsSource,
  PodEndpoint,
  PodLifecycleEvent,
  PodLifecycleSource,
  ServiceCatalog,
  ServiceFailure,
  ServiceFailureSource,
  Unsubscribe,
} from './sources.ts';

export class MemoryServiceCatalog implements ServiceCatalog {
  readonly #services = new Map<string, ActivatorService>();
  readonly #listeners = new Set<(services: readonly ActivatorService[]) => void>();
  /** While true, changes wait for `flush`, as a coalescing catalog's do during a burst. */
  holdChanges = false;
  #held = false;
  readonly #pendingHosts = new PendingHosts();
  /** Held changes delivered by `flush`. */
  flushes = 0;

  constructor(services: readonly ActivatorService[] = []) {
    for (const s of services) this.#services.set(keyOf(s.namespace, s.name), s);
  }

  subscribe(onChange: (services: readonly ActivatorService[]) => void): Unsubscribe {
    this.#listeners.add(onChange);
    onChange(this.list());
    return () => {
      this.#listeners.delete(onChange);
    };
  }

  list(): ActivatorService[] {
    return [...this.#services.values()];
  }

  /** Adds or replaces a service. */
  put(service: ActivatorService): void {
    this.#services.set(keyOf(service.namespace, service.name), service);
    this.#pendingHosts.addService(service.namespace, service.service ?? service.name, [
      service.url,
      ...(service.tags ?? []).map((t) => `http://${t.host}`),
    ]);
    this.#notify();
  }

  remove(namespace: string, name: string): void {
    if (this.#services.delete(keyOf(namespace, name))) this.#notify();
  }

  flush(host: string): boolean {
    if (!this.#held || !this.#pendingHosts.mayServe(host)) return false;
    this.#held = false;
    this.flushes++;
    this.#deliver();
    return true;
  }

  #notify(): void {
    if (this.holdChanges) this.#held = true;
    else this.#deliver();
  }

  #deliver(): void {
    this.#pendingHosts.clear();
    const list = this.list();
    for (const listener of this.#listeners) listener(list);
  }
}

export class MemoryEndpointsSource implements EndpointsSource {
  readonly #pods = new Map<string, readonly PodEndpoint[]>();
  readonly #listeners = new Map<string, Set<(pods: readonly PodEndpoint[]) => void>>();

  subscribe(namespace: string, name: string, onChange: (pods: readonly PodEndpoint[]) => void): Unsubscribe {
    const key = keyOf(namespace, name);
    let set = this.#listeners.get(key);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(key, set);
    }
    set.add(onChange);
    onChange(this.#pods.get(key) ?? []);
    return () => {
      set.delete(onChange);
    };
  }

  /** Replaces the pods of a service. */
  set(namespace: string, name: string, pods: readonly PodEndpoint[]): void {
    const key = keyOf(namespace, name);
    this.#pods.set(key, [...pods]);
    for (const listener of this.#listeners.get(key) ?? []) listener(this.#pods.get(key)!);
  }

  get(namespace: string, name: string): readonly PodEndpoint[] {
    return this.#pods.get(keyOf(namespace, name)) ?? [];
  }

  /** Number of live subscriptions for a service (tests check that none leak). */
  subscribers(namespace: string, name: string): number {
    return this.#listeners.get(keyOf(namespace, name))?.size ?? 0;
  }
}

/** Keeps what it is sent; `waitFor` lets a test wait for a report or poke with a deadline. */
export class RecordingAutoscalerClient implements AutoscalerClient {
  readonly reports: ActivatorReport[] = [];
  readonly pokes: Poke[] = [];
  /** Set to make calls fail (tests of error handling). */
  failWith: Error | undefined = undefined;
  #changed: (() => void)[] = [];

  async report(report: ActivatorReport): Promise<void> {
    if (this.failWith !== undefined) throw this.failWith;
    this.reports.push(report);
    this.#wake();
  }

  async poke(poke: Poke): Promise<void> {
    if (this.failWith !== undefined) throw this.failWith;
    this.pokes.push(poke);
    this.#wake();
  }

  /** Resolves when `condition` holds, checked after each call; rejects after `timeoutMs`. */
  waitFor(condition: (client: this) => boolean, timeoutMs = 5_000): Promise<void> {
    if (condition(this)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error('autoscaler client: condition not met in time')),
        timeoutMs,
      );
      const check = (): void => {
        if (condition(this)) {
          clearTimeout(timer);
          resolve();
        } else {
          this.#changed.push(check);
        }
      };
      this.#changed.push(check);
    });
  }

  #wake(): void {
    const waiting = this.#changed;
    this.#changed = [];
    for (const check of waiting) check();
  }
}

function keyOf(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** Drops what it is sent: an activator with no autoscaler (static mode without one). */
export class DiscardingAutoscalerClient implements AutoscalerClient {
  async report(_report: ActivatorReport): Promise<void> {}
  async poke(_poke: Poke): Promise<void> {}
}

/** Pod lifecycle events sent by hand (tests; a stand-in for a pod informer). */
export class MemoryPodLifecycleSource implements PodLifecycleSource {
  readonly #listeners = new Map<string, Set<(event: PodLifecycleEvent) => void>>();

  subscribe(namespace: string, name: string, onEvent: (event: PodLifecycleEvent) => void): Unsubscribe {
    const key = keyOf(namespace, name);
    let set = this.#listeners.get(key);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(key, set);
    }
    set.add(onEvent);
    return () => {
      set.delete(onEvent);
    };
  }

  emit(namespace: string, name: string, event: PodLifecycleEvent): void {
    for (const listener of this.#listeners.get(keyOf(namespace, name)) ?? []) listener(event);
  }
}

/** Service failures set by hand (tests; a stand-in for the verdict over a pod informer). */
export class MemoryServiceFailureSource implements ServiceFailureSource {
  readonly #failures = new Map<string, ServiceFailure>();
  readonly #listeners = new Map<string, Set<(failure: ServiceFailure | undefined) => void>>();

  subscribe(
    namespace: string,
    name: string,
    onChange: (failure: ServiceFailure | undefined) => void,
  ): Unsubscribe {
    const key = keyOf(namespace, name);
    let set = this.#listeners.get(key);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(key, set);
    }
    set.add(onChange);
    const failure = this.#failures.get(key);
    if (failure !== undefined) onChange(failure);
    return () => {
      set.delete(onChange);
    };
  }

  /** Sets (or, with undefined, clears) the failure of a service. */
  set(namespace: string, name: string, failure: ServiceFailure | undefined): void {
    const key = keyOf(namespace, name);
    if (failure === undefined) this.#failures.delete(key);
    else this.#failures.set(key, failure);
    for (const listener of this.#listeners.get(key) ?? []) listener(failure);
  }
}
