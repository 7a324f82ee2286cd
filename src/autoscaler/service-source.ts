// What the autoscaler reads about the world: the services to scale and, per service, its ready
// pods. Kubernetes-backed in production (informer caches of ServerlessServices and of the
// EndpointSlices of `<name>-private`), in memory in tests and benchmarks (memory.ts).

import type { Prices, ResolvedBudget, ResolvedScaling } from '../api/defaults.ts';
import type { PodRequests } from './cost.ts';
import type { ServingPhase } from './scaling/scale-to-zero.ts';

/**
 * What a previous autoscaler published for the service (status), read back by a new one after a
 * restart or a leader change. Only consulted when the autoscaler first sees the service.
 */
export interface RestoredState {
  /**
   * The scale-to-zero phase and since when: e.g. from a condition `Active` (True = active,
   * False with reason Inactive / ScaledToZero) and its lastTransitionTime. A restored 'active'
   * phase restarts its clock at the autoscaler's start (the metric history is gone, so a fresh
   * stable window of data must be seen before the service may be called idle); 'inactive' and
   * 'zero' keep their time, so the grace period is not started over.
   */
  readonly phase: ServingPhase;
  /**
   * Whether the ready count once reached initialScale (Knative's ScaleTargetInitialized).
   * Without it, a service with initialScale 5 now running 2 pods would be lifted back to 5.
   */
  readonly scaleTargetInitialized: boolean;
}

export interface AutoscaledService {
  readonly namespace: string;
  readonly name: string;
  /**
   * False for a revision no traffic reaches (Knative's Reachability): it goes to zero at once,
   * with no minScale floor, scale-down delay or rate limit. Absent: reachable.
   */
  readonly reachable?: boolean | undefined;
  /** A revision: the ServerlessService it belongs to (the `service` label of its metrics). */
  readonly service?: string | undefined;
  /** spec.scaling over the cluster defaults: resolveServerlessServiceSpec(spec, defaults).scaling. */
  readonly scaling: ResolvedScaling;
  readonly containerConcurrency: number;
  /**
   * When the public endpoints were observed pointing at the activators (proxy mode in effect, with
   * at least one activator endpoint); undefined while they point at pods or at nothing. The last
   * pod is removed only once this is set and the grace period has run since (scale-to-zero.ts).
   * From status: e.g. the lastTransitionTime of a condition the controller sets when it wrote the
   * public EndpointSlice in proxy mode with activator endpoints.
   */
  readonly activatorInPathSinceMs: number | undefined;
  /** Undefined for a service no autoscaler has published for yet (e.g. just created). */
  readonly restored: RestoredState | undefined;
  /** spec.budget, resolved; undefined without one. */
  readonly budget?: ResolvedBudget | undefined;
  /** What one pod requests (its containers and the queue-proxy), for the spend metrics. */
  readonly podRequests?: PodRequests | undefined;
  /** The ConfigMap's prices; undefined when none are set (then no cost is metered). */
  readonly prices?: Prices | undefined;
}

export interface ServicePods {
  /**
   * Ready pods' addresses, each an IP (scraped on the queue-proxy's stats port, 9091) or
   * "host:port" / "[ipv6]:port" (tests). The ready count is the length.
   */
  readonly readyAddresses: readonly string[];
  /**
   * The pod name of each ready address, in the same order (EndpointSlice targetRef), for writes
   * to the pods. Not the name a scrape answer gives: a pod could claim another's.
   */
  readonly readyPodNames?: readonly (string | undefined)[];
  /** All pods of the service, ready or not (ready + not-ready endpoints), for status and metrics. */
  readonly actualCount: number;
  /** Pods shutting down (EndpointSlice `terminating`): they still take their resources. */
  readonly terminatingCount?: number;
}

export interface ServiceSource {
  /**
   * The services to scale, read once per tick (so: from a cache, no I/O). A service missing from
   * one read is forgotten (its history and metrics dropped); objects may be new each time.
   */
  services(): Iterable<AutoscaledService>;
  /** The service's pods now, read once per tick per service and on a poke (from a cache, no I/O). */
  pods(service: AutoscaledService): ServicePods;
}
