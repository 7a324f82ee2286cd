// Whether the Kubernetes API answers, as the activator needs to know it: a cold start needs the
// autoscaler to write the scale and kubelet to start a pod, both through the API. Polls the
// apiserver's /readyz (which also fails while etcd is gone) every interval; unavailable after a
// few failures in a row, available again on the first success.

import type { KubeClient } from '../kube/rest.ts';
import type { Logger } from '../telemetry/log.ts';
import type { ControlPlaneHealthSource, ServiceFailure, Unsubscribe } from './sources.ts';

export const API_UNAVAILABLE_REASON = 'KubernetesApiUnavailable';

export interface ApiHealthOptions {
  readonly intervalMs: number;
  /** Failed polls in a row before the API counts as unavailable (one may be a blip). */
  readonly failuresBefore: number;
  readonly log: Logger;
}

export const API_HEALTH_DEFAULTS = { intervalMs: 2_000, failuresBefore: 2 } as const;

export class ApiHealthProbe implements ControlPlaneHealthSource {
  readonly #client: KubeClient;
  readonly #o: ApiHealthOptions;
  readonly #listeners = new Set<(unavailable: ServiceFailure | undefined) => void>();
  #failures = 0;
  #unavailable: ServiceFailure | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(client: KubeClient, options: ApiHealthOptions) {
    this.#client = client;
    this.#o = options;
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => void this.#poll(), this.#o.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  subscribe(onChange: (unavailable: ServiceFailure | undefined) => void): Unsubscribe {
    this.#listeners.add(onChange);
    if (this.#unavailable !== undefined) onChange(this.#unavailable);
    return () => this.#listeners.delete(onChange);
  }

  async #poll(): Promise<void> {
    try {
      await this.#client.request('GET', '/readyz', { timeoutMs: Math.min(this.#o.intervalMs, 5_000) });
    } catch (err) {
      this.#failures++;
      if (this.#failures === this.#o.failuresBefore) {
        this.#unavailable = {
          reason: API_UNAVAILABLE_REASON,
          message: 'the Kubernetes API is unavailable, so no pod can be started for it now',
        };
        this.#o.log.warn({ err: String(err) }, 'Kubernetes API unavailable: cold requests are answered 503');
        this.#notify();
      }
      return;
    }
    this.#failures = 0;
    if (this.#unavailable === undefined) return;
    this.#unavailable = undefined;
    this.#o.log.info('Kubernetes API available again: cold requests wait for pods again');
    this.#notify();
  }

  #notify(): void {
    for (const l of this.#listeners) l(this.#unavailable);
  }
}
