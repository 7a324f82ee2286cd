// Wiring of the ServerlessService controller: informers for the services and everything they own,
// a work queue keyed by service, the cluster ConfigMap applied without a restart, and leader
// election so that of several replicas exactly one reconciles (the others keep warm caches).

import type { V1Deployment, V1EndpointSlice, V1Pod, V1Service } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { endpointSlicesOf, MANAGED_BY, MANAGED_BY_LABEL, SERVICE_LABEL } from '../api/labels.ts';
import type { Clock } from '../clock.ts';
import { ClusterConfigWatch } from '../kube/cluster-config-watch.ts';
import { EventRecorder } from '../kube/events.ts';
import { GroupIndex, Informer, logWatchErrors, objectKey } from '../kube/informer.ts';
import { LeaderElector } from '../kube/leader.ts';
import { OwnWrites } from '../kube/own-writes.ts';
import { kubePaths } from '../kube/paths.ts';
import { isNamespaceTerminating, type KubeClient } from '../kube/rest.ts';
import { WorkQueue } from '../kube/workqueue.ts';
import { ServerlessServiceReconciler } from './reconciler.ts';
import type { EndpointAddress } from './resources/endpoint-slice.ts';

export interface ControllerOptions {
  readonly client: KubeClient;
  readonly log: Logger;
  readonly registry: Registry;
  readonly clock: Clock;
  /** Namespace of zeroscale itself: its ConfigMap, the leader Lease, the activator Service. */
  readonly systemNamespace: string;
  readonly activatorService: string;
  readonly activatorPort: number;
  readonly imageTag: string;
  readonly internalToken?: string | undefined;
  readonly identity: string;
  readonly workers?: number;
  readonly resyncMs?: number;
  readonly leaseDurationMs?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
  /** Called once when leadership is lost; the entry point exits so a fresh process campaigns. */
  readonly onLostLeadership: () => void;
}

export interface ControllerHandle {
  readonly isLeader: () => boolean;
  stop(): Promise<void>;
}

const maxQueueLength = 100_000;

interface ServiceFields {
  readonly metadata?: {
    readonly generation?: number;
    readonly deletionTimestamp?: string;
    readonly labels?: Record<string, string>;
    readonly annotations?: Record<string, string>;
    readonly uid?: string;
  };
  readonly status?: { readonly autoscaler?: { readonly mode?: string } };
}

/**
 * Whether an update of a ServerlessService can change what its reconcile does: its spec (the
 * generation), its metadata, or the mode the autoscaler wants. Status written by the controller
 * itself or the autoscaler's observations change nothing, and were ~2 of the ~8 reconciles per
 * service of a 1,000-service apply; the 5-minute resync still repairs any drift.
 */
export function reconcileNeeded(previous: unknown, next: unknown): boolean {
  const a = previous as ServiceFields;
  const b = next as ServiceFields;
  const am = a.metadata ?? {};
  const bm = b.metadata ?? {};
  return (
    am.generation !== bm.generation ||
    am.deletionTimestamp !== bm.deletionTimestamp ||
    am.uid !== bm.uid ||
    a.status?.autoscaler?.mode !== b.status?.autoscaler?.mode ||
    JSON.stringify(am.labels) !== JSON.stringify(bm.labels) ||
    JSON.stringify(am.annotations) !== JSON.stringify(bm.annotations)
  );
}

interface RevisionFields extends ServiceFields {
  readonly status?: {
    readonly autoscaler?: { readonly mode?: string };
    readonly conditions?: readonly { readonly type: string; readonly status: string }[];
  };
}

/**
 * Whether an update of a Revision can change its service's reconcile: its metadata, the mode its
 * autoscaler wants, or whether it is Ready. The autoscaler's observations (written every few
 * seconds under load) change nothing.
 */
export function revisionReconcileNeeded(previous: unknown, next: unknown): boolean {
  const a = previous as RevisionFields;
  const b = next as RevisionFields;
  const ready = (r: RevisionFields) => r.status?.conditions?.find((c) => c.type === 'Ready')?.status;
  return reconcileNeeded(previous, next) || ready(a) !== ready(b);
}

export function startController(o: ControllerOptions): ControllerHandle {
  const resyncMs = o.resyncMs ?? 5 * 60_000;
  const onError = (what: string) => logWatchErrors(o.log, what);
  const managed = `${MANAGED_BY_LABEL}=${MANAGED_BY}`;
  const services = new Informer<{ metadata?: { name?: string; namespace?: string } }>(o.client, {
    path: kubePaths.serverlessServices(),
    resyncMs,
    onError: onError('ServerlessService'),
  });
  const revisions = new Informer<{
    metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
  }>(o.client, {
    path: kubePaths.revisions(),
    resyncMs,
    onError: onError('Revision'),
  });
  const deployments = new Informer<V1Deployment>(o.client, {
    path: kubePaths.deployments(),
    labelSelector: managed,
    onError: onError('Deployment'),
  });
  const svcObjects = new Informer<V1Service>(o.client, {
    path: kubePaths.services(),
    labelSelector: managed,
    onError: onError('Service'),
  });
  const slices = new Informer<V1EndpointSlice>(o.client, {
    path: kubePaths.endpointSlices(),
    labelSelector: managed,
    onError: onError('EndpointSlice'),
  });
  const pods = new Informer<V1Pod>(o.client, {
    path: kubePaths.pods(),
    labelSelector: SERVICE_LABEL,
    onError: onError('Pod'),
  });
  const configWatch = new ClusterConfigWatch(o.client, {
    systemNamespace: o.systemNamespace,
    imageTag: o.imageTag,
    internalToken: o.internalToken,
    log: o.log,
    onChange: () => enqueueAll(),
  });
  const activatorSlices = new Informer<V1EndpointSlice>(o.client, {
    path: kubePaths.endpointSlices(o.systemNamespace),
    labelSelector: endpointSlicesOf(o.activatorService),
    onError: onError('activator EndpointSlice'),
  });

  // Revisions indexed by their service.
  const revisionsByService = new GroupIndex<unknown>();
  revisions.on((event, rev, key) => {
    const svcKey = `${rev.metadata?.namespace}/${rev.metadata?.labels?.[SERVICE_LABEL]}`;
    revisionsByService.set(svcKey, key, event === 'delete' ? undefined : rev);
  });
  // Pods indexed by their service, so a reconcile reads its own pods only.
  const podsByService = new Map<string, Map<string, V1Pod>>();
  pods.on((event, pod, key) => {
    const svcKey = `${pod.metadata?.namespace}/${pod.metadata?.labels?.[SERVICE_LABEL]}`;
    const entry = podsByService.get(svcKey) ?? new Map<string, V1Pod>();
    if (event === 'delete') entry.delete(key);
    else entry.set(key, pod);
    if (entry.size === 0) podsByService.delete(svcKey);
    else podsByService.set(svcKey, entry);
  });

  const activatorAddresses = (): EndpointAddress[] =>
    activatorSlices
      .list()
      .flatMap((s) => s.endpoints ?? [])
      .filter((e) => e.conditions?.ready !== false && !e.conditions?.terminating)
      .flatMap((e) =>
        e.addresses.map((ip) => ({
          ip,
          ...(e.nodeName ? { nodeName: e.nodeName } : {}),
          ...(e.targetRef?.name
            ? {
                pod: {
                  name: e.targetRef.name,
                  namespace: e.targetRef.namespace ?? o.systemNamespace,
                  ...(e.targetRef.uid ? { uid: e.targetRef.uid } : {}),
                },
              }
            : {}),
        })),
      );

  // What the informers see of our children settles the writes they did not show yet.
  const ownWrites = new OwnWrites({ registry: o.registry });
  for (const [kind, inf] of [
    ['Revision', revisions],
    ['Deployment', deployments],
    ['Service', svcObjects],
    ['EndpointSlice', slices],
  ] as const) {
    (inf as Informer<V1Service>).on((event, obj, key) =>
      ownWrites.observed(`${kind}:${key}`, event === 'delete' ? undefined : obj),
    );
  }
  const reconciler = new ServerlessServiceReconciler({
    ownWrites,
    client: o.client,
    events: new EventRecorder(o.client, 'zeroscale-controller', o.log, o.registry),
    log: o.log,
    clock: o.clock,
    activatorPort: o.activatorPort,
    view: {
      serverlessService: (key) => services.get(key),
      revisions: (ns, name) => [...revisionsByService.values(`${ns}/${name}`)],
      deployment: (ns, name) => deployments.get(`${ns}/${name}`),
      service: (ns, name) => svcObjects.get(`${ns}/${name}`),
      endpointSlice: (ns, name) => slices.get(`${ns}/${name}`),
      pods: (ns, name) => [...(podsByService.get(`${ns}/${name}`)?.values() ?? [])],
      activators: activatorAddresses,
      config: () => configWatch.current,
    },
  });
  const queue = new WorkQueue(
    { name: 'serverlessservice', workers: o.workers ?? 16, maxLength: maxQueueLength, registry: o.registry },
    // A service in a namespace being deleted goes with it: writing its children fails until then
    // and retrying only adds load (at 1,000 services, ~9,000 refused writes per deleted namespace).
    (key) =>
      reconciler.reconcile(key).catch((err: unknown) => {
        if (!isNamespaceTerminating(err)) throw err;
        o.log.debug({ service: key }, 'namespace is being deleted; not reconciling');
        return undefined;
      }),
  );
  queue.onError = (key, err) =>
    o.log.warn({ service: key, err: String(err) }, 'reconcile failed; retrying with back-off');

  const enqueueAll = () => {
    for (const s of services.list()) queue.add(objectKey(s));
  };
  services.on((event, obj, key, previous) => {
    if (event === 'update' && previous !== undefined && !reconcileNeeded(previous, obj)) return;
    queue.add(key);
  });
  const enqueueOwner = (obj: { metadata?: { namespace?: string; labels?: Record<string, string> } }) => {
    const owner = obj.metadata?.labels?.[SERVICE_LABEL];
    if (owner) queue.add(`${obj.metadata?.namespace}/${owner}`);
  };
  for (const inf of [deployments, svcObjects, slices, pods] as Informer<V1Pod>[])
    inf.on((_e, obj) => enqueueOwner(obj));
  revisions.on((event, obj, _key, previous) => {
    if (event === 'update' && previous !== undefined && !revisionReconcileNeeded(previous, obj)) return;
    enqueueOwner(obj);
  });
  activatorSlices.on(() => enqueueAll());

  const informers = [
    configWatch.informer,
    activatorSlices,
    revisions,
    deployments,
    svcObjects,
    slices,
    pods,
    services,
  ];
  for (const inf of informers) inf.start();

  const elector = new LeaderElector(o.client, {
    namespace: o.systemNamespace,
    name: 'zeroscale-controller',
    identity: o.identity,
    clock: o.clock,
    registry: o.registry,
    component: 'controller',
    ...(o.leaseDurationMs ? { leaseDurationMs: o.leaseDurationMs } : {}),
    ...(o.renewDeadlineMs ? { renewDeadlineMs: o.renewDeadlineMs } : {}),
    ...(o.retryPeriodMs ? { retryPeriodMs: o.retryPeriodMs } : {}),
  });
  void elector.run(
    () => {
      o.log.info({ identity: o.identity }, 'became leader; reconciling');
      void Promise.all(informers.map((i) => i.waitForSync())).then(() => {
        enqueueAll();
        queue.start();
      });
    },
    () => {
      o.log.error('lost leadership; stopping');
      queue.stop();
      for (const inf of informers) inf.stop();
      o.onLostLeadership();
    },
  );

  return {
    isLeader: () => elector.isLeader,
    async stop() {
      queue.stop();
      for (const inf of informers) inf.stop();
      await elector.stop();
    },
  };
}
