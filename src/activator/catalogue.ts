// The activator's services and how a request finds one: a ServiceThrottler per ServerlessService
// (made when it appears, updated in place, closed when it goes) and the Host table, rebuilt when
// the catalogue changes, never per request.

import { serviceKey } from '../api/names.ts';
import type { Clock } from '../clock.ts';
import type { ClientRequest } from '../http/client-message.ts';
import type { ErrorAnswer } from '../http/failures.ts';
import { perObject } from '../memo.ts';
import type { Logger } from '../telemetry/log.ts';
import type { ColdStartMetrics } from './cold-start.ts';
import { buildHostTable, type HostTable, normalizeHost } from './hosts.ts';
import type { ActivatorOptions } from './options.ts';
import { ServiceThrottler } from './service-throttler.ts';
import type {
  ActivatorService,
  EndpointsSource,
  PodLifecycleSource,
  ServiceFailure,
  ServiceFailureSource,
} from './sources.ts';
import { WeightedRoute } from './weighted-route.ts';

export interface CatalogueDeps {
  readonly options: ActivatorOptions;
  readonly endpoints: EndpointsSource;
  readonly podLifecycle: PodLifecycleSource | undefined;
  readonly failures: ServiceFailureSource | undefined;
  readonly clock: Clock;
  readonly log: Logger;
  readonly coldStartMetrics: ColdStartMetrics;
}

/** A route's split as text, once per route object (kept while the route does not change). */
const splitOf = perObject((route: ActivatorService) => JSON.stringify(route.traffic));

export class ServiceCatalogue {
  /** The backends: revisions (or services without revisions), each with its throttler. */
  readonly services = new Map<string, ServiceThrottler>();
  /** Routes by the service key their hosts map to: requests split over backends by weight. */
  #routes = new Map<string, WeightedRoute<ServiceThrottler>>();
  readonly #deps: CatalogueDeps;
  #hosts: HostTable = buildHostTable([]);
  #hostProblems = '';
  #apiUnavailable: ServiceFailure | undefined = undefined;

  constructor(deps: CatalogueDeps) {
    this.#deps = deps;
  }

  get(namespace: string, name: string): ServiceThrottler | undefined {
    return this.services.get(serviceKey(namespace, name));
  }

  /** The catalogue changed: services appear, change or go; the Host table is rebuilt. */
  update(services: readonly ActivatorService[]): void {
    const { options, log } = this.#deps;
    this.#hosts = buildHostTable(services, { clusterDomain: options.clusterDomain });
    const problems = JSON.stringify(this.#hosts.problems);
    if (problems !== this.#hostProblems && this.#hosts.problems.length > 0) {
      log.warn({ problems: this.#hosts.problems }, 'some service hosts could not be routed');
    }
    this.#hostProblems = problems;
    const seen = new Set<string>();
    const routes: ActivatorService[] = [];
    for (const spec of services) {
      if (spec.traffic !== undefined) {
        routes.push(spec);
        continue;
      }
      const key = serviceKey(spec.namespace, spec.name);
      seen.add(key);
      const existing = this.services.get(key);
      if (existing !== undefined) existing.updateSpec(spec);
      else this.services.set(key, this.#add(spec));
    }
    for (const [key, svc] of this.services) {
      if (seen.has(key)) continue;
      this.services.delete(key);
      svc.close();
    }
    this.#routes = this.#buildRoutes(routes);
  }

  /** A route keeps its round-robin state while its split stays the same. */
  #buildRoutes(routes: readonly ActivatorService[]): Map<string, WeightedRoute<ServiceThrottler>> {
    const next = new Map<string, WeightedRoute<ServiceThrottler>>();
    for (const r of routes) {
      const key = serviceKey(r.namespace, r.name);
      const entries: { backend: ServiceThrottler; weight: number }[] = [];
      for (const t of r.traffic ?? []) {
        const backend = this.services.get(serviceKey(r.namespace, t.name));
        if (backend !== undefined) entries.push({ backend, weight: t.percent });
      }
      const before = this.#routes.get(key);
      const same =
        before !== undefined &&
        before.size === entries.filter((e) => e.weight > 0).length &&
        entries.every((e) => e.weight <= 0 || before.has(e.backend)) &&
        this.#splits.get(key) === splitOf(r);
      next.set(key, same ? before : new WeightedRoute(entries));
      this.#splits.set(key, splitOf(r));
    }
    for (const key of this.#splits.keys()) if (!next.has(key)) this.#splits.delete(key);
    return next;
  }

  /** The split each route was built from, to keep a route whose split did not change. */
  readonly #splits = new Map<string, string>();

  /** The Kubernetes API became unavailable, or available again: every service is told. */
  setApiUnavailable(unavailable: ServiceFailure | undefined): void {
    this.#apiUnavailable = unavailable;
    for (const svc of this.services.values()) svc.setApiUnavailable(unavailable);
  }

  /**
   * The service a request is for, or the 404 to answer it with. `revision` (the revision header a
   * Gateway's HTTPRoute sets) picks that revision of a split service instead of the weights, if
   * it is one of the service's.
   */
  route(req: ClientRequest, revision?: string): ServiceThrottler | ErrorAnswer {
    const host = hostOf(req.rawHeaders);
    const svc =
      host === undefined
        ? undefined
        : ((revision === undefined ? undefined : this.#chosenRevision(host, revision)) ??
          this.routeHost(host));
    if (svc !== undefined) return svc;
    if (host !== undefined) {
      const key = this.#hosts.lookup(host);
      if (key !== undefined && this.#routes.has(key))
        return {
          status: 503,
          code: 'NO_REVISION',
          message: `service ${key} has no revision to route to yet`,
          retryAfterSeconds: 1,
        };
    }
    return {
      status: 404,
      code: 'UNKNOWN_HOST',
      message:
        host === undefined ? 'request has no Host header' : `no service for host "${host.slice(0, 256)}"`,
    };
  }

  /**
   * The backend for a Host header value, if any: a route picks one of its backends by weight.
   * With `take` false the pick is only looked at (the next call gives the same backend), for a
   * caller that may leave the request to the ordinary path, which then picks.
   */
  routeHost(host: string, take = true): ServiceThrottler | undefined {
    const key = this.#hosts.lookup(host);
    if (key === undefined) return undefined;
    const route = this.#routes.get(key);
    if (route === undefined) return this.services.get(key);
    return take ? route.pick() : route.peek();
  }

  /** The revision `name` of the service `host` names, when that is a route and it has one so named. */
  #chosenRevision(host: string, name: string): ServiceThrottler | undefined {
    const key = this.#hosts.lookup(host);
    if (key === undefined || !this.#routes.has(key)) return undefined;
    const slash = key.indexOf('/');
    const backend = this.services.get(serviceKey(key.slice(0, slash), name));
    return backend?.spec.service === key.slice(slash + 1) ? backend : undefined;
  }

  /** The service key a Host header value names (a route's or a backend's), if any. */
  hostKey(host: string | undefined): string | undefined {
    return host === undefined ? undefined : this.#hosts.lookup(host);
  }

  /** The service key `req`'s Host names, if any. */
  requestKey(req: ClientRequest): string | undefined {
    return this.hostKey(hostOf(req.rawHeaders));
  }

  /** `req`'s host as the table keys hosts (see `normalizeHost`), if it sent one. */
  requestHost(req: ClientRequest): string | undefined {
    const host = hostOf(req.rawHeaders);
    return host === undefined ? undefined : normalizeHost(host);
  }

  #add(spec: ActivatorService): ServiceThrottler {
    const { options, endpoints, podLifecycle, failures, clock, log, coldStartMetrics } = this.#deps;
    const svc = new ServiceThrottler(spec, {
      queueDepth: options.queueDepth,
      probeIntervalMs: options.probeIntervalMs,
      probeTimeoutMs: options.probeTimeoutMs,
      probeWaitMs: options.probeWaitMs,
      maxFreeSocketsPerPod: options.maxFreeSocketsPerPod,
      maxSocketsPerPod: options.maxSocketsPerPod,
      clock,
      logger: log,
      coldStartMetrics,
    });
    svc.unsubscribe = endpoints.subscribe(spec.namespace, spec.name, (pods) => svc.setEndpoints(pods));
    svc.unsubscribeLifecycle = podLifecycle?.subscribe(spec.namespace, spec.name, (event) =>
      svc.podLifecycle(event),
    );
    svc.unsubscribeFailures = failures?.subscribe(spec.namespace, spec.name, (failure) =>
      svc.setFailure(failure),
    );
    if (this.#apiUnavailable !== undefined) svc.setApiUnavailable(this.#apiUnavailable);
    return svc;
  }
}

/** The Host header, from rawHeaders (reading `req.headers` would build the whole object). */
function hostOf(raw: readonly string[]): string | undefined {
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && name.toLowerCase() === 'host') return raw[i + 1];
  }
  return undefined;
}
