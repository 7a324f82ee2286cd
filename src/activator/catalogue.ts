// The activator's services and how a request finds one: a ServiceThrottler per ServerlessService
// (made when it appears, updated in place, closed when it goes) and the Host table, rebuilt when
// the catalogue changes, never per request.

import { serviceKey } from '../api/names.ts';
import type { Clock } from '../clock.ts';
import type { ClientRequest } from '../http/client-message.ts';
import type { ErrorAnswer } from '../http/failures.ts';
import type { Logger } from '../telemetry/log.ts';
import type { ColdStartMetrics } from './cold-start.ts';
import { buildHostTable, type HostTable } from './hosts.ts';
import type { ActivatorOptions } from './options.ts';
import { ServiceThrottler } from './service-throttler.ts';
import type {
  ActivatorService,
  EndpointsSource,
  PodLifecycleSource,
  ServiceFailure,
  ServiceFailureSource,
} from './sources.ts';

export interface CatalogueDeps {
  readonly options: ActivatorOptions;
  readonly endpoints: EndpointsSource;
  readonly podLifecycle: PodLifecycleSource | undefined;
  readonly failures: ServiceFailureSource | undefined;
  readonly clock: Clock;
  readonly log: Logger;
  readonly coldStartMetrics: ColdStartMetrics;
}

export class ServiceCatalogue {
  readonly services = new Map<string, ServiceThrottler>();
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
    for (const spec of services) {
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
  }

  /** The Kubernetes API became unavailable, or available again: every service is told. */
  setApiUnavailable(unavailable: ServiceFailure | undefined): void {
    this.#apiUnavailable = unavailable;
    for (const svc of this.services.values()) svc.setApiUnavailable(unavailable);
  }

  /** The service a request is for, or the 404 to answer it with. */
  route(req: ClientRequest): ServiceThrottler | ErrorAnswer {
    const host = hostOf(req.rawHeaders);
    const svc = host === undefined ? undefined : this.routeHost(host);
    if (svc !== undefined) return svc;
    return {
      status: 404,
      code: 'UNKNOWN_HOST',
      message:
        host === undefined ? 'request has no Host header' : `no service for host "${host.slice(0, 256)}"`,
    };
  }

  /** The service for a Host header value, if any. */
  routeHost(host: string): ServiceThrottler | undefined {
    const key = this.#hosts.lookup(host);
    return key === undefined ? undefined : this.services.get(key);
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
