// The activator's throttler for one service (Knative's revisionThrottler): its pods (from the
// endpoints, each probed until its queue-proxy says ready), the balancer over the healthy ones,
// the breaker that holds requests while there is no capacity, and its cold starts. Pod changes recompute capacity; requests never do.

import { serviceKey } from '../api/names.ts';
import type { Clock } from '../clock.ts';
import { Breaker } from '../dataplane/breaker.ts';
import { DeadlineList } from '../dataplane/held.ts';
import { RequestStats } from '../dataplane/stats.ts';
import { ZeroscaleError } from '../errors.ts';
import { Http2Upstream } from '../http/h2-upstream.ts';
import { ServiceRequestMetrics } from '../http/request-metrics.ts';
import type { ClientErrorKind } from '../http/server.ts';
import { Upstream } from '../http/upstream.ts';
import { LogThrottle } from '../telemetry/json-log.ts';
import type { Logger } from '../telemetry/log.ts';
import { serviceLabels } from '../telemetry/service-labels.ts';
import { Balancer } from './balancer.ts';
import { type ColdStartMetrics, ColdStartTracker } from './cold-start.ts';
import { probeQueueProxy } from './pod-probe.ts';
import type {
  ActivatorService,
  PodEndpoint,
  PodLifecycleEvent,
  ServiceFailure,
  Unsubscribe,
} from './sources.ts';

/**
 * Retry-After of a fail-fast answer. A crash loop or a bad image stays until someone changes the
 * service, and kubelet retries a crashing container after 10 s at the soonest: a client retrying
 * sooner only gets the same answer.
 */
export const FAIL_FAST_RETRY_AFTER_SECONDS = 10;

/**
 * Retry-After of a 429 for a spent budget: the window rolls in steps of a sixtieth of it, so a
 * minute is the shortest step of the shortest window (1m).
 */
export const BUDGET_RETRY_AFTER_SECONDS = 60;

/** A request refused because every pod of its service is failing; answered 503 with the reason. */
export class ServiceFailingError extends ZeroscaleError {
  readonly failure: ServiceFailure;

  constructor(key: string, failure: ServiceFailure) {
    super('SERVICE_CANNOT_START', `service ${key} cannot start: ${failure.message} (${failure.reason})`, {
      httpStatus: 503,
    });
    this.failure = failure;
  }
}

export type ActivatorRejection =
  | ClientErrorKind
  | 'unknown-host'
  | 'queue-full'
  | 'activator-queue-full'
  | 'deadline'
  | 'client-aborted'
  | 'body-too-large'
  | 'no-capacity'
  | 'service-removed'
  | 'service-failing'
  | 'budget-exceeded'
  | 'shutting-down';

export interface ServiceThrottlerOptions {
  readonly queueDepth: number;
  readonly probeIntervalMs: number;
  readonly probeTimeoutMs: number;
  readonly probeWaitMs: number;
  /** Idle connections kept per pod. */
  readonly maxFreeSocketsPerPod: number;
  /** Connections open at once per pod. */
  readonly maxSocketsPerPod: number;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly coldStartMetrics: ColdStartMetrics;
}

/** A pod as the activator sees it. Kept by requests running on it after it left the service. */
export class PodTarget {
  readonly id: string;
  readonly upstream: Upstream;
  endpoint: PodEndpoint;
  /** Our own probe said ready, and nothing failed since. */
  healthy = false;
  /** Gone from the endpoints: gets nothing new; its pool closes when its last request ends. */
  removed = false;
  /** Requests forwarded to it and not yet ended. */
  inFlight = 0;
  probeTimer: NodeJS.Timeout | undefined = undefined;
  probing = false;
  #h2: Http2Upstream | undefined = undefined;

  constructor(id: string, endpoint: PodEndpoint, maxSockets: number, maxFreeSockets: number) {
    this.id = id;
    this.endpoint = endpoint;
    this.upstream = new Upstream({ host: endpoint.ip, port: endpoint.port, maxSockets, maxFreeSockets });
  }

  /** The pod's queue-proxy over h2c, for a service whose app speaks HTTP/2; opened on first use. */
  get h2(): Http2Upstream {
    this.#h2 ??= new Http2Upstream({ host: this.endpoint.ip, port: this.endpoint.port });
    return this.#h2;
  }

  /** Called when a request on it ended. */
  released(): void {
    this.inFlight--;
    if (this.removed && this.inFlight === 0) this.destroy();
  }

  /** Closes its connections (both pools). */
  destroy(): void {
    this.upstream.destroy();
    this.#h2?.destroy();
  }
}

export class ServiceThrottler {
  readonly key: string;
  /** What clients are told: `namespace/service` (a revision's service, not the revision). */
  readonly displayKey: string;
  readonly namespace: string;
  readonly name: string;
  spec: ActivatorService;
  readonly breaker: Breaker;
  readonly balancer: Balancer;
  readonly stats: RequestStats;
  readonly metrics: ServiceRequestMetrics<ActivatorRejection>;
  readonly log: Logger;
  readonly coldStarts: ColdStartTracker;
  /** Failed requests are logged at most once a second per service (a failing pod under load). */
  readonly failureLog = new LogThrottle(1_000);
  readonly pods = new Map<string, PodTarget>();
  /** Held requests by deadline: one timer for the service ends those whose time ran out. */
  readonly deadlines = new DeadlineList(
    () =>
      new ZeroscaleError(
        'DEADLINE_EXCEEDED',
        `activator request timeout: no capacity for ${this.key} within ${this.spec.timeoutSeconds} s`,
        { httpStatus: 504 },
      ),
  );
  /** Requests received and not yet ended (queued ones included). */
  active = 0;
  retries = 0;
  pokes = 0;
  /** A poke was sent since the service last had a healthy pod. */
  poked = false;
  unsubscribe: Unsubscribe | undefined = undefined;
  unsubscribeLifecycle: Unsubscribe | undefined = undefined;
  unsubscribeFailures: Unsubscribe | undefined = undefined;
  /**
   * Set while the service cannot start: every pod is failing for a reason that needs the user, or
   * the Kubernetes API is unavailable and it has no pod at all. Requests that would wait get 503.
   */
  failure: ServiceFailure | undefined = undefined;
  #podFailure: ServiceFailure | undefined = undefined;
  #apiUnavailable: ServiceFailure | undefined = undefined;
  /** Requests answered at once for a failure, by its reason (bounded: the runtime's reasons). */
  readonly failFast = new Map<string, number>();
  readonly #options: ServiceThrottlerOptions;
  #closed = false;

  constructor(spec: ActivatorService, options: ServiceThrottlerOptions) {
    this.namespace = spec.namespace;
    this.name = spec.name;
    this.key = serviceKey(spec.namespace, spec.name);
    this.displayKey = serviceKey(spec.namespace, spec.service ?? spec.name);
    this.spec = spec;
    this.#options = options;
    // No pod yet: capacity 0 holds every request until a pod is probed ready.
    this.breaker = new Breaker({ capacity: 0, queueDepth: options.queueDepth });
    this.balancer = new Balancer({ containerConcurrency: spec.containerConcurrency });
    this.stats = new RequestStats(options.clock);
    this.metrics = new ServiceRequestMetrics(serviceLabels(spec.namespace, spec.name, spec.service));
    this.metrics.inFlight = () => this.active - this.breaker.queued;
    this.metrics.queued = () => this.breaker.queued;
    this.log = options.logger.child({ service: this.key });
    this.coldStarts = new ColdStartTracker(this.metrics.labels, this.log, options.coldStartMetrics);
  }

  get timeoutMs(): number {
    return this.spec.timeoutSeconds * 1000;
  }

  get healthyPods(): number {
    return this.balancer.podCount;
  }

  updateSpec(spec: ActivatorService): void {
    const before = this.spec;
    this.spec = spec;
    if (spec.containerConcurrency !== before.containerConcurrency) {
      this.balancer.setContainerConcurrency(spec.containerConcurrency);
      this.#syncCapacity();
    }
  }

  /** Applies the complete current endpoint list. */
  setEndpoints(endpoints: readonly PodEndpoint[]): void {
    if (this.#closed) return;
    const seen = new Set<string>();
    for (const endpoint of endpoints) {
      if (endpoint.terminating === true) continue;
      const id = podId(endpoint);
      seen.add(id);
      const pod = this.pods.get(id);
      if (pod === undefined) {
        const added = new PodTarget(
          id,
          endpoint,
          this.#options.maxSocketsPerPod,
          this.#options.maxFreeSocketsPerPod,
        );
        this.pods.set(id, added);
        this.coldStarts.mark('pod_discovered', performance.now());
        this.log.debug({ pod: endpoint.pod ?? id, ready: endpoint.ready }, 'pod appeared; probing it');
        this.#probeSoon(added, 0);
        continue;
      }
      const wasReady = pod.endpoint.ready;
      pod.endpoint = endpoint;
      // Kubernetes says it stopped being ready: trust our probe again only once it passes again.
      if (wasReady && !endpoint.ready && pod.healthy) this.#markUnhealthy(pod, 'pod became not ready');
    }
    for (const pod of [...this.pods.values()]) {
      if (!seen.has(pod.id)) this.#removePod(pod);
    }
    if (this.#apiUnavailable !== undefined) this.#refreshFailure();
  }

  /** A forward to `pod` could not connect: take it out until a probe passes again. */
  podFailed(pod: PodTarget): void {
    if (pod.removed || !pod.healthy) return;
    this.#markUnhealthy(pod, 'connection to pod failed');
  }

  /** A pod informer saw a pod of this service created or scheduled. */
  podLifecycle(event: PodLifecycleEvent): void {
    const at = event.atMs === undefined ? performance.now() : event.atMs - performance.timeOrigin;
    this.coldStarts.mark(event.phase, at);
  }

  /** Every pod is failing (a crash loop, an image that cannot be pulled…), or no longer is. */
  setFailure(failure: ServiceFailure | undefined): void {
    this.#podFailure = failure;
    this.#refreshFailure();
  }

  /** The Kubernetes API became unavailable (or available again): only a service with no pod is hit. */
  setApiUnavailable(unavailable: ServiceFailure | undefined): void {
    this.#apiUnavailable = unavailable;
    this.#refreshFailure();
  }

  /**
   * While a failure lasts, requests that have to wait are answered at once (`failingError`);
   * those waiting when it begins are answered so, and the cold start under way ends with it.
   */
  #refreshFailure(): void {
    if (this.#closed) return;
    const failure = this.#podFailure ?? (this.pods.size === 0 ? this.#apiUnavailable : undefined);
    const before = this.failure;
    if (failure === before) return;
    this.failure = failure;
    if (failure === undefined) {
      if (before !== undefined)
        this.log.info({ reason: before.reason }, 'service can start again; requests wait for its pods again');
      return;
    }
    if (before?.reason !== failure.reason || before.message !== failure.message) {
      this.log.warn(
        { reason: failure.reason, failure: failure.message, waiting: this.breaker.queued },
        'service cannot start: answering its requests with 503 at once',
      );
    }
    this.coldStarts.failed(failure);
    this.breaker.rejectWaiting(this.failingError()!);
  }

  /** The error a request that would wait gets while the service is failing; undefined otherwise. */
  failingError(): ServiceFailingError | undefined {
    return this.failure === undefined ? undefined : new ServiceFailingError(this.displayKey, this.failure);
  }

  /** Counts a fail-fast answer by the failure's reason. */
  countFailFast(failure: ServiceFailure): void {
    this.failFast.set(failure.reason, (this.failFast.get(failure.reason) ?? 0) + 1);
  }

  /** Stops probing, fails the waiting requests, closes pools as their requests end. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.unsubscribe?.();
    this.unsubscribeLifecycle?.();
    this.unsubscribeFailures?.();
    this.coldStarts.close();
    for (const pod of [...this.pods.values()]) this.#removePod(pod);
    this.deadlines.clear();
    this.breaker.rejectWaiting(
      new ZeroscaleError('SERVICE_REMOVED', `service ${this.key} was removed`, { httpStatus: 503 }),
    );
  }

  #removePod(pod: PodTarget): void {
    this.pods.delete(pod.id);
    pod.removed = true;
    pod.healthy = false;
    if (pod.probeTimer !== undefined) clearTimeout(pod.probeTimer);
    pod.probeTimer = undefined;
    this.balancer.removePod(pod.id);
    this.#syncCapacity();
    if (pod.inFlight === 0) pod.destroy();
    this.log.debug({ pod: pod.endpoint.pod ?? pod.id }, 'pod left the service');
  }

  #markUnhealthy(pod: PodTarget, why: string): void {
    pod.healthy = false;
    this.balancer.removePod(pod.id);
    this.#syncCapacity();
    this.log.debug({ pod: pod.endpoint.pod ?? pod.id }, `stopped sending to pod: ${why}`);
    this.#probeSoon(pod, this.#options.probeIntervalMs);
  }

  #probeSoon(pod: PodTarget, delayMs: number): void {
    if (pod.removed || pod.probing || pod.probeTimer !== undefined) return;
    pod.probeTimer = setTimeout(() => {
      pod.probeTimer = undefined;
      void this.#probe(pod);
    }, delayMs);
  }

  async #probe(pod: PodTarget): Promise<void> {
    pod.probing = true;
    const started = performance.now();
    const ok = await probeQueueProxy(pod.upstream, this.#options.probeTimeoutMs, this.#options.probeWaitMs);
    pod.probing = false;
    if (pod.removed || this.#closed) return;
    if (ok) {
      this.coldStarts.mark('pod_ready', performance.now());
      pod.healthy = true;
      this.balancer.addPod(pod.id);
      this.poked = false;
      this.#syncCapacity();
      this.log.debug({ pod: pod.endpoint.pod ?? pod.id }, 'pod passed its probe; sending to it');
      return;
    }
    // The queue-proxy held the probe until ready or the wait ran out (or refused it: it is not
    // listening yet); again within one interval, so traffic flows the moment it says ready.
    this.#probeSoon(pod, Math.max(0, this.#options.probeIntervalMs - (performance.now() - started)));
  }

  #syncCapacity(): void {
    this.breaker.setCapacity(this.balancer.capacity);
  }
}

export function podId(endpoint: PodEndpoint): string {
  return endpoint.ip.includes(':') ? `[${endpoint.ip}]:${endpoint.port}` : `${endpoint.ip}:${endpoint.port}`;
}
