// What the activator needs from the world, as small interfaces: the services to route
// (ServiceCatalog), the pods of each (EndpointsSource), the autoscaler to report to
// (AutoscalerClient) and, optionally, pod lifecycle times for cold-start phases
// (PodLifecycleSource). The Kubernetes-backed implementations live with the informers; plain
// in-memory ones are in memory-sources.ts for tests and static setups.

import type { ServingProtocol } from '../api/protocol.ts';
import type { ActivatorReport, Poke } from '../autoscaler/metrics/protocol.ts';

/** A share of a route's requests: the revision (a backend of the same namespace) and its percent. */
export interface WeightedBackend {
  readonly name: string;
  readonly percent: number;
}

/** A tag's own host and the revision it reaches. */
export interface TagRoute {
  readonly host: string;
  readonly name: string;
}

/**
 * A backend the activator holds requests for and balances over pods: a revision, or (in static
 * setups and tests) a service with no revisions. Or, when `traffic` is set, a route: a
 * ServerlessService's hosts, whose requests are split over backends by weight.
 */
export interface ActivatorService {
  readonly namespace: string;
  readonly name: string;
  /** `status.url`, when published: its host routes to the service too. */
  readonly url?: string | undefined;
  /** Requests each pod may hold at once; 0 = no limit. */
  readonly containerConcurrency: number;
  /** Deadline of a whole request, time queued in the activator included. */
  readonly timeoutSeconds: number;
  /** How its pods' app speaks HTTP: `h2c` requests go to the pods over HTTP/2. Absent: http1. */
  readonly protocol?: ServingProtocol | undefined;
  /**
   * Set while the service's spec.budget is spent with action Reject (its BudgetExceeded
   * condition, reason Rejecting): requests are answered 429 with this, not held or forwarded.
   */
  readonly refusal?: string | undefined;
  /** A route: each request goes to one of these backends, by weight. */
  readonly traffic?: readonly WeightedBackend[] | undefined;
  /** A route's tag hosts, each reaching one backend whatever its share. */
  readonly tags?: readonly TagRoute[] | undefined;
  /** A revision: reached only through a route, with no host of its own. */
  readonly routeOnly?: boolean | undefined;
  /** A revision: the ServerlessService it belongs to (the `service` label of its metrics). */
  readonly service?: string | undefined;
}

/** Stops a subscription; calling it twice is harmless. */
export type Unsubscribe = () => void;

export interface ServiceCatalog {
  /**
   * Calls `onChange` with the complete current list of services, once soon after subscribing
   * (synchronously or not) and again after every change. Each call replaces the previous list:
   * a service missing from it is gone. Implementations may coalesce bursts of changes.
   */
  subscribe(onChange: (services: readonly ActivatorService[]) => void): Unsubscribe;
  /**
   * Sends a change held back by that coalescing now, synchronously, if it may serve `host` (a
   * normalised Host header); true when it did. The activator calls it before answering 404, so
   * coalescing never turns away a known service.
   */
  flush?(host: string): boolean;
}

/** One address of a service's pods, from the EndpointSlices of its private Service. */
export interface PodEndpoint {
  /** Pod IP. */
  readonly ip: string;
  /** The queue-proxy's HTTP port (8012 in a cluster). */
  readonly port: number;
  /** The EndpointSlice's `conditions.ready`. Not-ready pods are listed too: the activator
   * probes them itself, so traffic flows before Kubernetes marks them Ready. */
  readonly ready: boolean;
  /** `conditions.terminating`: such a pod gets no new requests, whatever its probe says. */
  readonly terminating?: boolean;
  /** Pod name (`targetRef.name`), for logs. */
  readonly pod?: string;
}

export interface EndpointsSource {
  /**
   * Watches the pods of the service `namespace/name`: the endpoints of every EndpointSlice of
   * its private Service (`privateServiceName(name)` in src/api/names.ts), merged. Calls
   * `onChange` with the complete current list once soon after subscribing (an empty list when
   * there are none yet) and after every change; each list replaces the previous one.
   */
  subscribe(namespace: string, name: string, onChange: (pods: readonly PodEndpoint[]) => void): Unsubscribe;
}

export interface AutoscalerClient {
  /** Sends the once-a-second report. A rejection is logged and counted; the next report follows. */
  report(report: ActivatorReport): Promise<void>;
  /** Asks for scale-from-zero at once; sent when a request finds a service with no ready pod. */
  poke(poke: Poke): Promise<void>;
}

/**
 * A step of a pod's start that only a pod informer sees, for the cold-start phases of the same
 * names (see cold-start.ts).
 */
export interface PodLifecycleEvent {
  readonly phase: 'pod_created' | 'pod_scheduled';
  /**
   * When it happened, in ms since the epoch; undefined means "now" (when the informer saw it).
   * Kubernetes timestamps (creationTimestamp, the PodScheduled condition) have whole seconds
   * only, so the time an informer saw the change is often the better measure.
   */
  readonly atMs?: number | undefined;
  /** Pod name, for logs. */
  readonly pod?: string | undefined;
}

/**
 * Optional: reports the pods of a service as they are created and scheduled. Only events while a
 * cold start is under way, and not before it began, become its phases; the first of each counts.
 */
export interface PodLifecycleSource {
  subscribe(namespace: string, name: string, onEvent: (event: PodLifecycleEvent) => void): Unsubscribe;
}

/** Why a service cannot start now, as a client of it may be told (see kube/pod-problems.ts). */
export interface ServiceFailure {
  /** The runtime's reason: CrashLoopBackOff, ImagePullBackOff, OOMKilled, Unschedulable… */
  readonly reason: string;
  /** Names no pod or address: "container app exited with code 3". */
  readonly message: string;
}

/**
 * Optional: says when every pod of a service is failing for a reason that will not fix itself,
 * and when that ends. The activator then answers the requests it holds for the service, and new
 * ones, at once with 503 and the reason, instead of holding them to their deadline.
 */
export interface ServiceFailureSource {
  /** Calls `onChange` with the failure when one begins or its reason changes, and with undefined
   * when it ends. Nothing is called while the service is healthy. */
  subscribe(
    namespace: string,
    name: string,
    onChange: (failure: ServiceFailure | undefined) => void,
  ): Unsubscribe;
}

/**
 * Optional: says when the Kubernetes API stops answering (and when it answers again). Without
 * it no pod can be started, so a service with no pod at all cannot start: the activator answers
 * its requests at once with the reason, while services with pods keep serving from what the
 * activator knows.
 */
export interface ControlPlaneHealthSource {
  /** Calls `onChange` with the failure when the API becomes unavailable, undefined when it is back. */
  subscribe(onChange: (unavailable: ServiceFailure | undefined) => void): Unsubscribe;
  /** Health checks so far by outcome, for the metrics (a source that counts none leaves it out). */
  checks?(): ReadonlyMap<string, number>;
}
