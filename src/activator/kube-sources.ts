// The activator's sources in a cluster, from informers: the ServerlessServices to route (with
// containerConcurrency and timeout resolved over the zeroscale ConfigMap), the pods of each from
// the EndpointSlices of its private Service (not-ready ones included: the activator probes them
// itself), and the autoscaler's address from the EndpointSlices of its Service.

import type { V1EndpointSlice, V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { ClusterConfig } from '../api/cluster-config.ts';
import { type BudgetReason, CONDITION, findCondition } from '../api/conditions.ts';
import { resolveServerlessServiceSpec } from '../api/defaults.ts';
import { ENDPOINTSLICE_SERVICE_NAME_LABEL, REVISION_LABEL, SERVICE_LABEL } from '../api/labels.ts';
import { privateServiceName, serviceKey, serviceUrl } from '../api/names.ts';
import { safeParseServerlessService } from '../api/parse.ts';
import { servingProtocolOf } from '../api/protocol.ts';
import { QUEUE_PROXY_HTTP_PORT, QUEUE_PROXY_HTTP_PORT_NAME } from '../api/queue-proxy.ts';
import { type Revision, revisionNumberOf, safeParseRevision } from '../api/revision.ts';
import { API_VERSION, KIND } from '../api/serverless-service.ts';
import { AUTOSCALER_STATS_PORT } from '../autoscaler/metrics/protocol.ts';
import { ClusterConfigWatch } from '../kube/cluster-config-watch.ts';
import { EventRecorder } from '../kube/events.ts';
import {
  GroupIndex,
  Informer,
  type KubeObject,
  logWatchErrors,
  type ObjectMeta,
  objectKey,
  servingInformers,
} from '../kube/informer.ts';
import { podOfIdentity } from '../kube/leader.ts';
import { kubePaths } from '../kube/paths.ts';
import { DEFAULT_FAIL_FAST_POLICY, type FailFastPolicy, failingProblem } from '../kube/pod-problems.ts';
import type { KubeClient } from '../kube/rest.ts';
import type { ColdStartEnded } from './cold-start.ts';
import { PendingHosts } from './pending-hosts.ts';
import type {
  ActivatorService,
  EndpointsSource,
  PodEndpoint,
  PodLifecycleEvent,
  PodLifecycleSource,
  ServiceCatalog,
  ServiceFailure,
  ServiceFailureSource,
  TagRoute,
  Unsubscribe,
} from './sources.ts';

/** Least time between two catalog updates during a burst of ServerlessService events. */
const CATALOG_UPDATE_INTERVAL_MS = 250;
/**
 * A catalog update costs more with more services (~20 ms at 1,000): during a burst the interval
 * grows to this many times the last update's cost, so updates take at most ~5 % of a core…
 */
const CATALOG_UPDATE_COST_FACTOR = 20;
/** …but never beyond this (a request for a host not yet in the catalog flushes it anyway). */
const CATALOG_UPDATE_MAX_INTERVAL_MS = 2_000;

export interface KubeSourcesOptions {
  readonly systemNamespace: string;
  readonly autoscalerService: string;
  readonly imageTag: string;
  readonly log: Logger;
  /** When a service counts as failing (see kube/pod-problems.ts). */
  readonly failFast?: FailFastPolicy;
}

/** The failure verdict of one service that someone listens to. */
interface FailureWatch {
  readonly listeners: Set<(failure: ServiceFailure | undefined) => void>;
  current: ServiceFailure | undefined;
  /** Asks again when an unschedulable pod reaches the bound, though no pod changes. */
  timer: NodeJS.Timeout | undefined;
}

export class KubeActivatorSources {
  readonly catalog: ServiceCatalog;
  readonly endpoints: EndpointsSource;
  /** Pods created and scheduled, for the cold-start phases a pod informer sees first. */
  readonly podLifecycle: PodLifecycleSource;
  /** Every pod of a service failing (crash loop, image pull…), from the same pod informer. */
  readonly failures: ServiceFailureSource;
  readonly #services: Informer<KubeObject>;
  readonly #revisions: Informer<KubeObject>;
  readonly #slices: Informer<V1EndpointSlice>;
  readonly #configWatch: ClusterConfigWatch;
  readonly #pods: Informer<V1Pod>;
  /** Subscribers by `namespace/serviceName`. */
  readonly #lifecycleListeners = new Map<string, Set<(e: PodLifecycleEvent) => void>>();
  /** Pods by `namespace/serviceName` (bounded by the pods that exist). */
  readonly #podsByService = new Map<string, Map<string, V1Pod>>();
  readonly #failureWatches = new Map<string, FailureWatch>();
  /** Pods already reported as scheduled (bounded by the pods that exist). */
  readonly #scheduled = new Set<string>();
  /** The autoscaler's leader Lease: only its holder runs the stats server. */
  readonly #leases: Informer<{ metadata?: { name?: string }; spec?: { holderIdentity?: string | null } }>;
  readonly #o: KubeSourcesOptions;
  readonly #catalogListeners = new Set<(s: readonly ActivatorService[]) => void>();
  /** Subscribers by `namespace/privateServiceName`. */
  readonly #podListeners = new Map<string, Set<(p: readonly PodEndpoint[]) => void>>();
  /** Slices by `namespace/serviceName` (the Service the slice belongs to). */
  readonly #slicesByService = new GroupIndex<V1EndpointSlice>();
  /** Cancels the catalog update that is scheduled, if any. */
  #cancelCatalogUpdate: (() => void) | undefined;
  #lastCatalogUpdate = Number.NEGATIVE_INFINITY;
  /** What the last catalog update took, ms (its rebuild and the listeners it told). */
  #lastCatalogUpdateCostMs = 0;
  /** What the catalog update not yet made may add, so a request for another host does not flush it. */
  readonly #pendingHosts = new PendingHosts();
  /** What each ServerlessService gave the catalog, by key, with its resourceVersion. */
  #parsed = new Map<string, ParsedService>();
  #parsedDefaults: unknown;
  #catalog: ActivatorService[] = [];

  readonly #client: KubeClient;

  constructor(client: KubeClient, options: KubeSourcesOptions) {
    this.#client = client;
    this.#o = options;
    ({
      services: this.#services,
      revisions: this.#revisions,
      slices: this.#slices,
    } = servingInformers(client, options.log));
    this.#configWatch = new ClusterConfigWatch(client, {
      ...options,
      onChange: () => {
        this.#pendingHosts.addAll();
        this.#catalogChanged();
      },
    });
    this.#leases = new Informer(client, {
      path: `/apis/coordination.k8s.io/v1/namespaces/${options.systemNamespace}/leases`,
      fieldSelector: `metadata.name=${options.autoscalerService}`,
      onError: logWatchErrors(options.log, 'autoscaler Lease'),
    });
    this.#pods = new Informer(client, {
      path: kubePaths.pods(),
      labelSelector: SERVICE_LABEL,
      onError: logWatchErrors(options.log, 'Pod'),
    });
    this.#pods.on((event, pod, key) => {
      // A revision's pods are its own (the unit that scales); pods made before revisions, the service's.
      const labels = pod.metadata?.labels;
      const svcKey = `${pod.metadata?.namespace}/${labels?.[REVISION_LABEL] ?? labels?.[SERVICE_LABEL]}`;
      this.#indexPod(svcKey, key, event === 'delete' ? undefined : pod);
      if (event === 'delete') {
        this.#scheduled.delete(key);
        return;
      }
      const listeners = this.#lifecycleListeners.get(svcKey);
      const name = pod.metadata?.name;
      if (event === 'add') for (const l of listeners ?? []) l({ phase: 'pod_created', pod: name });
      if (pod.spec?.nodeName && !this.#scheduled.has(key)) {
        this.#scheduled.add(key);
        for (const l of listeners ?? []) l({ phase: 'pod_scheduled', pod: name });
      }
    });
    this.podLifecycle = {
      subscribe: (namespace, name, onEvent): Unsubscribe => {
        const key = serviceKey(namespace, name);
        const set = this.#lifecycleListeners.get(key) ?? new Set();
        set.add(onEvent);
        this.#lifecycleListeners.set(key, set);
        return () => {
          set.delete(onEvent);
          if (set.size === 0) this.#lifecycleListeners.delete(key);
        };
      },
    };
    this.failures = {
      subscribe: (namespace, name, onChange): Unsubscribe => {
        const key = serviceKey(namespace, name);
        let watch = this.#failureWatches.get(key);
        if (watch === undefined) {
          watch = { listeners: new Set(), current: undefined, timer: undefined };
          this.#failureWatches.set(key, watch);
          this.#judgeFailure(key);
        }
        const w = watch;
        w.listeners.add(onChange);
        if (w.current !== undefined) {
          const failure = w.current;
          queueMicrotask(() => onChange(failure));
        }
        return () => {
          w.listeners.delete(onChange);
          if (w.listeners.size > 0 || this.#failureWatches.get(key) !== w) return;
          if (w.timer !== undefined) clearTimeout(w.timer);
          this.#failureWatches.delete(key);
        };
      },
    };
    this.#services.on((event, svc) => {
      if (event !== 'delete') this.#pendingHostsOf(svc.metadata?.namespace, svc.metadata?.name);
      this.#catalogChanged();
    });
    this.#revisions.on((event, rev) => {
      const labels = (rev.metadata as { labels?: Record<string, string> } | undefined)?.labels;
      if (event !== 'delete') this.#pendingHostsOf(rev.metadata?.namespace, labels?.[SERVICE_LABEL]);
      this.#catalogChanged();
    });
    this.#slices.on((event, slice, key) => {
      const svcKey = `${slice.metadata?.namespace}/${slice.metadata?.labels?.[ENDPOINTSLICE_SERVICE_NAME_LABEL]}`;
      this.#slicesByService.set(svcKey, key, event === 'delete' ? undefined : slice);
      const listeners = this.#podListeners.get(svcKey);
      if (listeners) {
        const pods = this.#podsOf(svcKey);
        for (const l of listeners) l(pods);
      }
    });
    this.catalog = {
      subscribe: (onChange) => {
        this.#catalogListeners.add(onChange);
        if (this.#services.synced && this.#revisions.synced) {
          queueMicrotask(() => {
            // A change not yet sent goes to everyone; otherwise the newcomer gets the list as it is.
            if (this.#rebuildCatalog()) this.#emitCatalog();
            else onChange(this.#catalog);
          });
        }
        return () => this.#catalogListeners.delete(onChange);
      },
      flush: (host) => this.#flushCatalog(host),
    };
    this.endpoints = {
      subscribe: (namespace, name, onChange): Unsubscribe => {
        const key = serviceKey(namespace, privateServiceName(name));
        const set = this.#podListeners.get(key) ?? new Set();
        set.add(onChange);
        this.#podListeners.set(key, set);
        queueMicrotask(() => onChange(this.#podsOf(key)));
        return () => {
          set.delete(onChange);
          if (set.size === 0) this.#podListeners.delete(key);
        };
      },
    };
  }

  /** Every informer, in start order. */
  #informers(): { start(): void; stop(): void }[] {
    return [
      this.#configWatch.informer,
      this.#slices,
      this.#services,
      this.#revisions,
      this.#leases,
      this.#pods,
    ];
  }

  start(): void {
    for (const i of this.#informers()) i.start();
  }

  async waitForSync(): Promise<void> {
    await Promise.all([
      this.#configWatch.informer.waitForSync(),
      this.#slices.waitForSync(),
      this.#services.waitForSync(),
      this.#revisions.waitForSync(),
    ]);
    this.#catalogChanged();
  }

  stop(): void {
    for (const i of this.#informers()) i.stop();
    for (const w of this.#failureWatches.values()) if (w.timer !== undefined) clearTimeout(w.timer);
    this.#failureWatches.clear();
    this.#cancelCatalogUpdate?.();
    this.#cancelCatalogUpdate = undefined;
  }

  #indexPod(svcKey: string, podKey: string, pod: V1Pod | undefined): void {
    let pods = this.#podsByService.get(svcKey);
    if (pod !== undefined) {
      if (pods === undefined) {
        pods = new Map();
        this.#podsByService.set(svcKey, pods);
      }
      pods.set(podKey, pod);
    } else if (pods !== undefined) {
      pods.delete(podKey);
      if (pods.size === 0) this.#podsByService.delete(svcKey);
    }
    if (this.#failureWatches.has(svcKey)) this.#judgeFailure(svcKey);
  }

  /** Recomputes whether every pod of a service is failing; tells its listeners when that changed. */
  #judgeFailure(svcKey: string): void {
    const watch = this.#failureWatches.get(svcKey);
    if (watch === undefined) return;
    if (watch.timer !== undefined) clearTimeout(watch.timer);
    watch.timer = undefined;
    const now = Date.now();
    const pods = [...(this.#podsByService.get(svcKey)?.values() ?? [])];
    const verdict = failingProblem(pods, now, this.#o.failFast ?? DEFAULT_FAIL_FAST_POLICY);
    if (verdict.recheckAtMs !== undefined) {
      watch.timer = setTimeout(() => this.#judgeFailure(svcKey), verdict.recheckAtMs - now + 10);
      watch.timer.unref();
    }
    const p = verdict.problem;
    const failure = p === undefined ? undefined : { reason: p.reason, message: p.publicMessage };
    const before = watch.current;
    if (failure?.reason === before?.reason && failure?.message === before?.message) return;
    watch.current = failure;
    for (const l of watch.listeners) l(failure);
  }

  /**
   * A listener that records each finished cold start as a Kubernetes Event on its
   * ServerlessService, with its duration and phases (`kubectl describe ssvc` shows it).
   */
  coldStartEvents(): (e: ColdStartEnded) => void {
    const events = new EventRecorder(this.#client, 'zeroscale-activator', this.#o.log);
    return (e) => {
      // e.service is a revision: the Event goes on its ServerlessService, where users look.
      const rev = this.#revisions.get(`${e.namespace}/${e.service}`) as
        | { metadata?: { labels?: Record<string, string> } }
        | undefined;
      const serviceName = rev?.metadata?.labels?.[SERVICE_LABEL] ?? e.service;
      const svc = this.#services.get(`${e.namespace}/${serviceName}`) as
        | { metadata?: { uid?: string } }
        | undefined;
      const ofRevision = serviceName === e.service ? '' : `; revision ${e.service}`;
      const phases = e.phases.map((p) => `${p.phase} ${Math.round(p.ms)} ms`).join(', ');
      const involved = {
        apiVersion: API_VERSION,
        kind: KIND,
        name: serviceName,
        namespace: e.namespace,
        uid: svc?.metadata?.uid,
      };
      if (e.failure !== undefined) {
        events.record(
          involved,
          'Warning',
          'ColdStartFailed',
          `Cold start failed: ${e.failure.message} (${e.failure.reason}); its requests were answered 503 at once (${phases || 'no phase reached'})${ofRevision}`,
        );
      } else if (e.totalMs === undefined) {
        events.record(
          involved,
          'Warning',
          'ColdStartAbandoned',
          `Every request waiting for a cold start gave up before a pod answered (${phases || 'no phase reached'})${ofRevision}`,
        );
      } else {
        events.record(
          involved,
          'Normal',
          'ColdStart',
          `Cold start served its first request after ${Math.round(e.totalMs)} ms (${phases})${ofRevision}`,
        );
      }
    };
  }

  /**
   * Base URL of the autoscaler that decides: the pod holding its leader Lease (the Lease and the
   * Service share the name), found among the Service's endpoints. Undefined while there is none.
   */
  autoscalerUrl(): string | undefined {
    const leader = this.#autoscalerLeaderPod();
    if (leader === undefined) return undefined;
    for (const e of this.#autoscalerEndpoints()) if (e.pod === leader) return e.url;
    return undefined;
  }

  /** Base URLs of the ready autoscalers that do not hold the Lease: the hot standbys. */
  autoscalerStandbyUrls(): string[] {
    const leader = this.#autoscalerLeaderPod();
    const urls: string[] = [];
    for (const e of this.#autoscalerEndpoints()) if (e.ready && e.pod !== leader) urls.push(e.url);
    return urls;
  }

  #autoscalerLeaderPod(): string | undefined {
    const holder = this.#leases.list()[0]?.spec?.holderIdentity;
    return holder ? podOfIdentity(holder) : undefined;
  }

  *#autoscalerEndpoints(): Generator<{ pod: string | undefined; url: string; ready: boolean }> {
    const slices = this.#slicesByService.values(`${this.#o.systemNamespace}/${this.#o.autoscalerService}`);
    for (const s of slices) {
      const port = s.ports?.find((p) => p.name === 'http')?.port ?? AUTOSCALER_STATS_PORT;
      for (const e of s.endpoints ?? []) {
        const ip = e.addresses[0];
        if (!ip) continue;
        yield {
          pod: e.targetRef?.name,
          url: `http://${ip.includes(':') ? `[${ip}]` : ip}:${port}`,
          ready: e.conditions?.ready !== false,
        };
      }
    }
  }

  /**
   * Bursts of informer events collapse into one catalog update, and an update that changes no
   * service as the activator sees it (a status write by the autoscaler, a resync) is not sent: at
   * 1,000 services, re-sending the whole list on every status write cost most of a core. The
   * first change after a quiet spell goes out on the next turn; during a burst, at most one
   * update per CATALOG_UPDATE_INTERVAL_MS, or per 20 times the last update's cost when that is
   * longer (every rebuild walks all services: at 1,000 applied at once, one per turn cost each
   * activator ~10 s of CPU, one per 250 ms still ~7 s). A request for a host not yet in the
   * catalog calls `flush`, so the delay never answers 404 for a service the informer has; the
   * flush is taken only when the pending changes may serve that host (pending-hosts.ts), so
   * requests for made-up hosts cannot force a rebuild each.
   */
  #catalogChanged(): void {
    if (this.#cancelCatalogUpdate !== undefined || !this.#services.synced || !this.#revisions.synced) return;
    const update = (): void => {
      this.#cancelCatalogUpdate = undefined;
      this.#updateCatalog();
    };
    const interval = Math.min(
      CATALOG_UPDATE_MAX_INTERVAL_MS,
      Math.max(CATALOG_UPDATE_INTERVAL_MS, CATALOG_UPDATE_COST_FACTOR * this.#lastCatalogUpdateCostMs),
    );
    const wait = this.#lastCatalogUpdate + interval - performance.now();
    if (wait > 0) {
      const timer = setTimeout(update, wait);
      this.#cancelCatalogUpdate = () => clearTimeout(timer);
    } else {
      const immediate = setImmediate(update);
      this.#cancelCatalogUpdate = () => clearImmediate(immediate);
    }
  }

  /** The hosts a change to the service `namespace/name` (or to one of its revisions) may add. */
  #pendingHostsOf(namespace: string | undefined, name: string | undefined): void {
    if (name === undefined) return;
    const ns = namespace ?? 'default';
    const status = (
      this.#services.get(`${ns}/${name}`) as
        | { status?: { url?: string; traffic?: readonly { url?: string }[] } }
        | undefined
    )?.status;
    this.#pendingHosts.addService(ns, name, [status?.url, ...(status?.traffic ?? []).map((t) => t.url)]);
  }

  #updateCatalog(): void {
    const started = performance.now();
    this.#pendingHosts.clear();
    if (this.#rebuildCatalog()) this.#emitCatalog();
    this.#lastCatalogUpdate = performance.now();
    this.#lastCatalogUpdateCostMs = this.#lastCatalogUpdate - started;
  }

  #flushCatalog(host: string): boolean {
    if (this.#cancelCatalogUpdate === undefined || !this.#pendingHosts.mayServe(host)) return false;
    this.#cancelCatalogUpdate();
    this.#cancelCatalogUpdate = undefined;
    this.#updateCatalog();
    return true;
  }

  #emitCatalog(): void {
    for (const l of this.#catalogListeners) l(this.#catalog);
  }

  /**
   * Builds the catalog again; true when it differs from the last one built. Each object is parsed
   * once per resourceVersion (and again when the cluster defaults change).
   */
  #rebuildCatalog(): boolean {
    const config = this.#configWatch.current;
    const defaults = config.defaults;
    // Only a service the controller has not written status for yet needs it: made on first use.
    let newestMemo: Map<string, string> | undefined;
    const newest = () => (newestMemo ??= newestRevisions(this.#revisions.list()));
    const previous = this.#parsed;
    const next = new Map<string, ParsedService>();
    let changed = defaults !== this.#parsedDefaults;
    const out: ActivatorService[] = [];
    for (const [kind, raw] of this.#objects()) {
      const key = `${kind}:${objectKey(raw)}`;
      // A new service's route follows its newest revision until the controller's status says more.
      const pending = kind === 'route' && newServiceRoute(raw);
      const version = pending
        ? `${raw.metadata?.resourceVersion}/${newest().get(key.slice('route:'.length))}`
        : raw.metadata?.resourceVersion;
      const before = previous.get(key);
      let entry: ParsedService;
      if (before !== undefined && before.version === version && defaults === this.#parsedDefaults) {
        entry = before;
      } else {
        const value =
          kind === 'route'
            ? toRoute(
                raw,
                defaults,
                pending ? { domainSuffix: config.domainSuffix, newest: newest() } : undefined,
              )
            : toActivatorService(raw, defaults);
        entry = {
          version,
          value:
            before?.value !== undefined && value !== undefined && sameService(before.value, value)
              ? before.value
              : value,
        };
        if (entry.value !== before?.value) changed = true;
      }
      next.set(key, entry);
      if (entry.value !== undefined) out.push(entry.value);
    }
    if (next.size !== previous.size) changed = true;
    this.#parsed = next;
    this.#parsedDefaults = defaults;
    if (changed) this.#catalog = out;
    return changed;
  }

  /** ServerlessServices (routes) and Revisions (backends), each tagged with which it is. */
  *#objects(): Generator<['route' | 'backend', KubeObject]> {
    for (const raw of this.#services.list()) yield ['route', raw];
    for (const raw of this.#revisions.list()) yield ['backend', raw];
  }

  #podsOf(sliceServiceKey: string): PodEndpoint[] {
    const pods: PodEndpoint[] = [];
    for (const s of this.#slicesByService.values(sliceServiceKey)) {
      const port = s.ports?.find((p) => p.name === QUEUE_PROXY_HTTP_PORT_NAME)?.port ?? QUEUE_PROXY_HTTP_PORT;
      for (const e of s.endpoints ?? []) {
        for (const ip of e.addresses) {
          pods.push({
            ip,
            port,
            ready: e.conditions?.ready !== false,
            terminating: e.conditions?.terminating ?? false,
            ...(e.targetRef?.name ? { pod: e.targetRef.name } : {}),
          });
        }
      }
    }
    return pods;
  }
}

interface ParsedService {
  readonly version: string | undefined;
  /** Undefined for an object the controller refuses (InvalidSpec): the activator skips it. */
  readonly value: ActivatorService | undefined;
}

/** A ServerlessService the controller has written no status for yet: just applied. */
function newServiceRoute(raw: KubeObject): boolean {
  const status = (raw as { status?: { url?: string; traffic?: unknown } }).status;
  return status?.traffic === undefined && status?.url === undefined;
}

/** The newest revision (highest number) of each service, by `namespace/service`. */
function newestRevisions(revisions: readonly KubeObject[]): Map<string, string> {
  const newest = new Map<string, { name: string; n: number }>();
  for (const r of revisions as readonly { metadata?: ObjectMeta & { labels?: Record<string, string> } }[]) {
    const labels = r.metadata?.labels;
    const service = labels?.[SERVICE_LABEL];
    const name = r.metadata?.name;
    if (service === undefined || name === undefined) continue;
    const key = `${r.metadata?.namespace ?? 'default'}/${service}`;
    const n = revisionNumberOf(labels);
    const best = newest.get(key);
    if (best === undefined || n > best.n) newest.set(key, { name, n });
  }
  return new Map([...newest].map(([k, v]) => [k, v.name]));
}

/**
 * A ServerlessService as a route: its hosts, its split and its tags, from the controller's status.
 * `pending` (a service the controller has not written status for yet): its host from the domain
 * suffix and all of it to its newest revision, so a client that saw it Ready before this
 * activator saw the status write is held for that revision, not answered 404.
 */
function toRoute(
  raw: KubeObject,
  defaults: ClusterConfig['defaults'],
  pending: { readonly domainSuffix: string; readonly newest: ReadonlyMap<string, string> } | undefined,
): ActivatorService | undefined {
  const parsed = safeParseServerlessService(raw);
  if (!parsed.ok) return undefined;
  const svc = parsed.value;
  const ns = svc.metadata.namespace ?? 'default';
  if (pending !== undefined) {
    const newest = pending.newest.get(`${ns}/${svc.metadata.name}`);
    return {
      namespace: ns,
      name: svc.metadata.name,
      url: serviceUrl(svc.metadata.name, ns, pending.domainSuffix),
      containerConcurrency: 0,
      timeoutSeconds: 0,
      traffic: newest === undefined ? [] : [{ name: newest, percent: 100 }],
      tags: [],
    };
  }
  // Made before revisions existed and not yet reconciled by a controller that has them (an
  // upgrade under way): served as then, by its own pods, so no request finds it unroutable.
  if (svc.status?.traffic === undefined && svc.status?.url !== undefined)
    return toBackend(svc, defaults, undefined);
  const shares = new Map<string, number>();
  const tags: TagRoute[] = [];
  for (const t of svc.status?.traffic ?? []) {
    if (t.percent > 0) shares.set(t.revisionName, (shares.get(t.revisionName) ?? 0) + t.percent);
    const host = t.url === undefined ? undefined : URL.parse(t.url)?.hostname;
    if (t.tag !== undefined && host) tags.push({ host, name: t.revisionName });
  }
  return {
    namespace: svc.metadata.namespace ?? 'default',
    name: svc.metadata.name,
    url: svc.status?.url,
    containerConcurrency: 0,
    timeoutSeconds: 0,
    traffic: [...shares].map(([name, percent]) => ({ name, percent })),
    tags,
  };
}

/** A Revision as a backend: reached through its service's route only. */
function toActivatorService(
  raw: KubeObject,
  defaults: ClusterConfig['defaults'],
): ActivatorService | undefined {
  const parsed = safeParseRevision(raw);
  return parsed.ok
    ? toBackend(parsed.value, defaults, parsed.value.metadata.labels?.[SERVICE_LABEL] ?? '')
    : undefined;
}

/**
 * A backend: a revision of `service`, reached only through its service's route, or (service
 * undefined) a ServerlessService of before revisions, reached by its own hosts.
 */
function toBackend(
  svc: Pick<Revision, 'metadata' | 'spec' | 'status'>,
  defaults: ClusterConfig['defaults'],
  service: string | undefined,
): ActivatorService | undefined {
  try {
    const spec = resolveServerlessServiceSpec(svc.spec, defaults);
    return {
      namespace: svc.metadata.namespace ?? 'default',
      name: svc.metadata.name,
      url: svc.status?.url,
      containerConcurrency: spec.containerConcurrency,
      timeoutSeconds: spec.timeoutSeconds,
      protocol: servingProtocolOf(svc.spec.template.spec.containers),
      refusal: budgetRefusal(svc),
      ...(service === undefined ? {} : { routeOnly: true, service }),
    };
  } catch {
    return undefined; // reported by the controller as InvalidSpec
  }
}

function sameService(a: ActivatorService, b: ActivatorService): boolean {
  return (
    a.namespace === b.namespace &&
    a.name === b.name &&
    a.url === b.url &&
    a.containerConcurrency === b.containerConcurrency &&
    a.timeoutSeconds === b.timeoutSeconds &&
    a.protocol === b.protocol &&
    a.refusal === b.refusal &&
    a.routeOnly === b.routeOnly &&
    a.service === b.service &&
    JSON.stringify(a.traffic) === JSON.stringify(b.traffic) &&
    JSON.stringify(a.tags) === JSON.stringify(b.tags)
  );
}

/** The autoscaler's word that the budget is spent and its requests are to be refused. */
function budgetRefusal(svc: Pick<Revision, 'status'>): string | undefined {
  const c = findCondition(svc.status?.conditions, CONDITION.budgetExceeded);
  return c?.status === 'True' && c.reason === ('Rejecting' satisfies BudgetReason) ? c.message : undefined;
}
