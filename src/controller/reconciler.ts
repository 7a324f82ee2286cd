// reconcile(key) for one ServerlessService, as a short list of steps: read it, check it, apply its
// children (Deployment, private and public Services, public EndpointSlice) with server-side apply,
// then write the status once if it changed. Level-based: running it twice changes nothing more.

import { createHash } from 'node:crypto';
import type { V1Deployment, V1EndpointSlice, V1Pod, V1Service } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { ClusterConfig } from '../api/cluster-config.ts';
import { CONDITION, findCondition, INVALID_SPEC_REASON } from '../api/conditions.ts';
import { resolveServerlessServiceSpec } from '../api/defaults.ts';
import { parseDurationMs } from '../api/duration.ts';
import {
  DESIRED_HASH_ANNOTATION,
  LAST_ROUTED_ANNOTATION,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  MODE_LABEL,
  REVISION_LABEL,
  ROUTING_STATE_LABEL,
  type RoutingState,
  SERVICE_LABEL,
  TEMPLATE_HASH_ANNOTATION,
} from '../api/labels.ts';
import {
  CONTROLLER_FIELD_MANAGER,
  deploymentName,
  privateServiceName,
  publicEndpointSliceName,
  publicServiceName,
  serviceKey,
} from '../api/names.ts';
import { describeIssues, parsedOnce, safeParseServerlessService } from '../api/parse.ts';
import { REVISION_API_VERSION, REVISION_KIND, type Revision, safeParseRevision } from '../api/revision.ts';
import { API_VERSION, KIND, type PodTemplate, type ServerlessService } from '../api/serverless-service.ts';
import type { ServingMode } from '../api/status.ts';
import type { Clock } from '../clock.ts';
import type { EventRecorder, InvolvedObject } from '../kube/events.ts';
import { handOverCreatedFields } from '../kube/field-ownership.ts';
import type { OwnWrites } from '../kube/own-writes.ts';
import { kubePaths } from '../kube/paths.ts';
import { isAlreadyExists, isNotFound, type KubeClient } from '../kube/rest.ts';
import { containsDesired } from '../kube/subset.ts';
import type { ProcessResult } from '../kube/workqueue.ts';
import { perObject, perObjectIn } from '../memo.ts';
import { choosePublicBackends } from './mode.ts';
import { buildDeployment } from './resources/deployment.ts';
import type { EndpointAddress } from './resources/endpoint-slice.ts';
import { buildPublicEndpointSlice } from './resources/endpoint-slice.ts';
import { buildHttpRoutes } from './resources/http-route.ts';
import {
  buildRevision,
  nextRevisionName,
  revisionAsService,
  revisionNumber,
  templateHash,
} from './resources/revision.ts';
import { buildPrivateService, buildPublicService } from './resources/services.ts';
import {
  buildControllerStatus,
  buildServiceStatus,
  type ControllerStatus,
  invalidSpecStatus,
  type RevisionObserved,
  type ServiceStatus,
} from './status.ts';
import {
  DEFAULT_ROLLOUT_STEPS,
  decideTraffic,
  type RevisionView,
  revisionsToCollect,
  type TrafficDecision,
} from './traffic.ts';

/** What the reconciler reads: informer caches, never a live list per reconcile. */
export interface ControllerView {
  serverlessService(key: string): unknown;
  /** The Revisions labelled with the service's name. */
  revisions(namespace: string, service: string): readonly unknown[];
  deployment(namespace: string, name: string): V1Deployment | undefined;
  service(namespace: string, name: string): V1Service | undefined;
  endpointSlice(namespace: string, name: string): V1EndpointSlice | undefined;
  pods(namespace: string, service: string): readonly V1Pod[];
  activators(): readonly EndpointAddress[];
  config(): ClusterConfig;
}

export interface ReconcilerOptions {
  readonly client: KubeClient;
  readonly view: ControllerView;
  readonly events: EventRecorder;
  readonly log: Logger;
  readonly activatorPort: number;
  /** The time of condition transitions. */
  readonly clock: Clock;
  /** Writes the caches do not show yet; the controller tells it what the informers see. */
  readonly ownWrites: OwnWrites;
}

/** Key of a child in OwnWrites: the kind and the informer key. */
export const childKey = (
  kind: 'Deployment' | 'Service' | 'EndpointSlice' | 'Revision',
  namespace: string,
  name: string,
) => `${kind}:${namespace}/${name}`;

/** The informers' objects, parsed once per version. */
const parseServiceOnce = parsedOnce(safeParseServerlessService);
const parseRevisionOnce = parsedOnce(safeParseRevision);

const creationManager = `${CONTROLLER_FIELD_MANAGER}-create`;
/** What the creation POST keeps owning: the first replicas (the autoscaler's from then on). */
const CREATED_REPLICAS = ['f:spec', 'f:replicas'];

/** The Deployment the controller wants, stamped with a hash of itself (see DESIRED_HASH_ANNOTATION). */
function desiredDeployment(svc: ServerlessService, config: ClusterConfig, replicas?: number): V1Deployment {
  const desired = buildDeployment(svc, config);
  const hash = createHash('sha256').update(JSON.stringify(desired)).digest('hex').slice(0, 16);
  const metadata = {
    ...desired.metadata,
    annotations: { ...desired.metadata?.annotations, [DESIRED_HASH_ANNOTATION]: hash },
  };
  return {
    ...desired,
    metadata,
    spec: { ...desired.spec!, ...(replicas === undefined ? {} : { replicas }) },
  };
}

/**
 * The Deployment wanted for a unit and its JSON, kept while the unit object (a parsed revision,
 * kept per version) and the cluster config stay the same: most reconciles are caused by the
 * controller's own writes and change nothing, and building, serialising and hashing the
 * Deployment on each was a tenth of the controller's CPU at 1,000 services.
 */
const wantedDeployment = perObjectIn((unit: ServerlessService, config: ClusterConfig) => {
  const desired = desiredDeployment(unit, config);
  return { desired, json: JSON.stringify(desired) };
});

/** A revision as the unit its children are built for, one object per revision version. */
const unitOf = perObject(revisionAsService);

function isReadyPod(p: V1Pod): boolean {
  return (
    !p.metadata?.deletionTimestamp &&
    !!p.status?.podIP &&
    (p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false)
  );
}

function podAddress(p: V1Pod): EndpointAddress {
  return {
    ip: p.status!.podIP!,
    ...(p.spec?.nodeName ? { nodeName: p.spec.nodeName } : {}),
    pod: {
      name: p.metadata!.name!,
      namespace: p.metadata!.namespace!,
      ...(p.metadata?.uid ? { uid: p.metadata.uid } : {}),
    },
  };
}

export class ServerlessServiceReconciler {
  readonly #o: ReconcilerOptions;
  /** HTTPRoutes applied per service key: route name → the JSON applied ('' when only listed). */
  readonly #httpRoutes = new Map<string, Map<string, string>>();
  /**
   * Whether what a Gateway needed (HTTPRoutes, per-revision public Services) was swept since the
   * config last named none: false at start and whenever a Gateway is configured.
   */
  #gatewaySwept = false;

  constructor(options: ReconcilerOptions) {
    this.#o = options;
  }

  async reconcile(key: string): Promise<ProcessResult> {
    const raw = this.#o.view.serverlessService(key);
    if (!raw) return undefined; // deleted: garbage collection removes what it owned
    const meta = (raw as { metadata?: { deletionTimestamp?: string } }).metadata;
    if (meta?.deletionTimestamp) return undefined;
    const config = this.#o.view.config();
    const parsed = parseServiceOnce(raw);
    if (!parsed.ok) {
      await this.#refuseSpec(raw as ServerlessService, describeIssues(parsed.issues), config);
      return undefined;
    }
    const svc = parsed.value;
    try {
      resolveServerlessServiceSpec(svc.spec, config.defaults);
    } catch (err) {
      await this.#refuseSpec(svc, err instanceof Error ? err.message : String(err), config);
      return undefined;
    }
    const ns = svc.metadata.namespace ?? 'default';
    const revisions = await this.#ensureLatestRevision(svc);
    const now = this.#o.clock.now();
    const views = revisions.list.map((r) => revisionView(r, now));
    const rollout = svc.spec.rollout;
    const decision = decideTraffic({
      serviceName: svc.metadata.name,
      namespace: ns,
      domainSuffix: config.domainSuffix,
      traffic: svc.spec.traffic,
      rollout:
        rollout === undefined
          ? undefined
          : {
              durationMs: parseDurationMs(rollout.duration) ?? 0,
              steps: rollout.steps ?? DEFAULT_ROLLOUT_STEPS,
            },
      revisions: views,
      previousLatestReady: svc.status?.latestReadyRevisionName,
      previousRollout: svc.status?.rollout,
      nowMs: now,
    });
    const served = servedRevision(decision);
    // The latest created revision is kept reachable though it has no traffic yet: it must come up
    // to become ready and take its share (Knative's "pending" routing state).
    const routed = new Set(decision.reachable);
    if (revisions.latestCreated !== undefined) routed.add(revisions.latestCreated);
    const activatorsMissing = this.#o.view.activators().length === 0;
    const observed: RevisionObserved[] = [];
    for (const rev of revisions.list) {
      const unit = unitOf(await this.#syncRevision(svc, rev, routed, now));
      const deployment = await this.#applyDeployment(unit, config);
      await this.#applyServices(unit, ['private']);
      const pods = this.#o.view
        .pods(ns, svc.metadata.name)
        .filter((p) => p.metadata?.labels?.[REVISION_LABEL] === rev.metadata.name);
      // With a Gateway, each revision has public endpoints of its own for the HTTPRoute.
      let gatewayMode: ServingMode | undefined;
      if (config.gateway !== undefined) {
        await this.#applyServices(unit, ['public']);
        gatewayMode = await this.#applyPublicEndpoints(unit, rev);
      } else {
        await this.#removeRevisionPublicEndpoints(unit);
      }
      // Serve mode for a revision: some path to it skips the activators (its scale to zero waits).
      const mode: ServingMode =
        (served === rev.metadata.name && rev.status?.autoscaler?.mode === 'serve' && pods.some(isReadyPod)) ||
        gatewayMode === 'serve'
          ? 'serve'
          : 'proxy';
      const status = buildControllerStatus(
        unit,
        {
          deployment,
          pods,
          mode,
          activatorsMissing,
          atZero: {
            previous: findCondition(rev.status?.conditions, CONDITION.deploymentReady),
            startsAtZero: resolveServerlessServiceSpec(rev.spec, config.defaults).scaling.initialScale === 0,
          },
        },
        config,
        new Date(now),
      );
      await this.#writeRevisionStatus(rev, status);
      observed.push({ name: rev.metadata.name, deployment, pods, status });
    }
    await this.#applyServices(svc, ['public']);
    const servedRev = revisions.list.find((r) => r.metadata.name === served);
    const mode = await this.#applyPublicEndpoints(svc, servedRev);
    await this.#applyHttpRoutes(svc, decision, config);
    await this.#collectRevisions(svc, views, decision, revisions.latestCreated, config, now);
    if (views.some((v) => v.ready && v.name === decision.latestReady)) await this.#removeLegacyChildren(svc);
    const status = buildServiceStatus(
      svc,
      {
        revisions: observed,
        latestCreated: revisions.latestCreated,
        refusal: revisions.refusal,
        traffic: decision,
        mode,
        activatorsMissing: mode === 'proxy' && activatorsMissing,
      },
      config,
      new Date(now),
    );
    await this.#writeStatus(svc, status);
    return decision.nextStepAtMs === undefined
      ? undefined
      : { requeueAfterMs: Math.max(50, decision.nextStepAtMs - now) };
  }

  /**
   * The service's revisions, with one for its current template: made when no revision has the
   * template's hash (under the template's metadata.name, or the next number). A name already used
   * by another template is refused: the revision stays as it was and status says why.
   */
  async #ensureLatestRevision(
    svc: ServerlessService,
  ): Promise<{ list: Revision[]; latestCreated: string | undefined; refusal: string | undefined }> {
    const ns = svc.metadata.namespace ?? 'default';
    const list: Revision[] = [];
    for (const raw of this.#o.view.revisions(ns, svc.metadata.name)) {
      const parsed = parseRevisionOnce(raw);
      const owned = (
        raw as { metadata?: { ownerReferences?: { uid?: string }[]; deletionTimestamp?: string } }
      ).metadata;
      if (!parsed.ok || owned?.deletionTimestamp) continue;
      if (svc.metadata.uid !== undefined && !owned?.ownerReferences?.some((o) => o.uid === svc.metadata.uid))
        continue;
      list.push(parsed.value);
    }
    const template = svc.spec.template;
    const hash = templateHash(template);
    const newest = (): Revision | undefined =>
      list.reduce<Revision | undefined>(
        (a, r) => (a === undefined || revisionNumber(r) > revisionNumber(a) ? r : a),
        undefined,
      );
    // Only the newest revision can be the template's: going back to an older template stamps a
    // new revision (as Knative does), so "latest" always means the last change.
    const last = newest();
    const named = template.metadata?.name;
    const current =
      last?.metadata.annotations?.[TEMPLATE_HASH_ANNOTATION] === hash
        ? last
        : named === undefined
          ? undefined
          : list.find(
              (r) => r.metadata.name === named && r.metadata.annotations?.[TEMPLATE_HASH_ANNOTATION] === hash,
            );
    if (current !== undefined) return { list, latestCreated: current.metadata.name, refusal: undefined };
    const highest = list.reduce((n, r) => Math.max(n, revisionNumber(r)), 0);
    const name = nextRevisionName(svc, highest);
    if (list.some((r) => r.metadata.name === name)) {
      return {
        list,
        latestCreated: svc.status?.latestCreatedRevisionName ?? newest()?.metadata.name,
        refusal: `spec.template.metadata.name: revision ${name} already exists with another template; give the new template a new name`,
      };
    }
    const created = await this.#createRevision(svc, template, name, highest + 1);
    if (created === undefined) {
      return {
        list,
        latestCreated: svc.status?.latestCreatedRevisionName ?? newest()?.metadata.name,
        refusal: `revision ${name} exists and belongs to another service; give the template another metadata.name`,
      };
    }
    list.push(created);
    return { list, latestCreated: created.metadata.name, refusal: undefined };
  }

  /** Creates a revision; undefined when the name is taken by someone else's revision. */
  async #createRevision(
    svc: ServerlessService,
    template: PodTemplate,
    name: string,
    number: number,
  ): Promise<Revision | undefined> {
    const ns = svc.metadata.namespace ?? 'default';
    const key = childKey('Revision', ns, name);
    const known = this.#o.ownWrites.result(key) as Revision | undefined;
    if (
      known !== undefined &&
      known.metadata.annotations?.[TEMPLATE_HASH_ANNOTATION] === templateHash(template)
    )
      return known;
    const desired = buildRevision(svc, template, { name, number, routing: 'active' });
    try {
      const created = await this.#o.client.post<Revision>(kubePaths.revisions(ns), desired, {
        fieldManager: CONTROLLER_FIELD_MANAGER,
      });
      this.#o.ownWrites.record(key, JSON.stringify(desired), undefined, created);
      this.#o.events.record(this.#involved(svc), 'Normal', 'RevisionCreated', `Created revision ${name}`);
      return parsedRevision(created);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      // Ours but not in the cache yet (a retry), or another service's: read it to know which.
      const live = await this.#o.client.get<Revision>(kubePaths.revision(ns, name));
      const owners = (live.metadata as { ownerReferences?: { uid?: string }[] }).ownerReferences;
      const ours = owners?.some((o) => o.uid === svc.metadata.uid) ?? false;
      if (ours && live.metadata.annotations?.[TEMPLATE_HASH_ANNOTATION] === templateHash(template))
        return live;
      return undefined;
    }
  }

  /**
   * Keeps a revision's labels and the fields that follow the service (containerConcurrency,
   * timeoutSeconds, scaling, budget) up to date; its template never changes. Returns it as it is now.
   */
  async #syncRevision(
    svc: ServerlessService,
    rev: Revision,
    routed: ReadonlySet<string>,
    nowMs: number,
  ): Promise<Revision> {
    const routing: RoutingState = routed.has(rev.metadata.name) ? 'active' : 'reserve';
    const before = rev.metadata.labels?.[ROUTING_STATE_LABEL];
    const lastRouted =
      routing === 'reserve' && before !== 'reserve'
        ? new Date(nowMs).toISOString().replace(/\.\d{3}Z$/, 'Z')
        : rev.metadata.annotations?.[LAST_ROUTED_ANNOTATION];
    const desired = buildRevision(svc, rev.spec.template, {
      name: rev.metadata.name,
      templateHash: rev.metadata.annotations?.[TEMPLATE_HASH_ANNOTATION],
      number: revisionNumber(rev),
      routing,
      lastRouted,
    });
    if (containsDesired(desired, rev) && JSON.stringify(desired.spec) === JSON.stringify(rev.spec))
      return rev;
    const ns = svc.metadata.namespace ?? 'default';
    const key = childKey('Revision', ns, rev.metadata.name);
    const desiredJson = JSON.stringify(desired);
    if (this.#o.ownWrites.covers(key, desiredJson, rev))
      return parsedRevision(this.#o.ownWrites.result(key)) ?? rev;
    // A JSON patch: the spec fields that follow the service are replaced or removed one by one
    // (a merge could not remove a field a user dropped), the template is left alone.
    const ops: object[] = [
      { op: 'test', path: '/metadata/resourceVersion', value: rev.metadata.resourceVersion },
      { op: 'add', path: '/metadata/labels', value: desired.metadata.labels },
      {
        op: 'add',
        path: '/metadata/annotations',
        value: { ...rev.metadata.annotations, ...desired.metadata.annotations },
      },
    ];
    for (const field of ['containerConcurrency', 'timeoutSeconds', 'scaling', 'budget'] as const) {
      const value = desired.spec[field];
      if (value !== undefined) ops.push({ op: 'add', path: `/spec/${field}`, value });
      else if (rev.spec[field] !== undefined) ops.push({ op: 'remove', path: `/spec/${field}` });
    }
    const patched = await this.#o.client.patch<Revision>(
      kubePaths.revision(ns, rev.metadata.name),
      'json',
      ops,
    );
    this.#o.ownWrites.record(key, desiredJson, rev, patched);
    const result = parsedRevision(patched) ?? rev;
    if (before !== routing)
      this.#o.log.info(
        { service: `${ns}/${svc.metadata.name}`, revision: rev.metadata.name, routing },
        'revision routing changed',
      );
    return result;
  }

  async #writeRevisionStatus(rev: Revision, status: ControllerStatus): Promise<void> {
    const { url: _url, ...rest } = status;
    const current = rev.status ?? {};
    const unchanged =
      current.observedGeneration === rest.observedGeneration &&
      current.mode === rest.mode &&
      current.replicasSummary === rest.replicasSummary &&
      JSON.stringify(current.replicas) === JSON.stringify(rest.replicas) &&
      JSON.stringify(current.conditions?.filter((c) => rest.conditions.some((s) => s.type === c.type))) ===
        JSON.stringify(rest.conditions);
    if (unchanged) return;
    const ns = rev.metadata.namespace ?? 'default';
    await this.#o.client.apply(
      kubePaths.revisionStatus(ns, rev.metadata.name),
      {
        apiVersion: REVISION_API_VERSION,
        kind: REVISION_KIND,
        metadata: { name: rev.metadata.name, namespace: ns },
        status: rest,
      },
      CONTROLLER_FIELD_MANAGER,
    );
  }

  /** Deletes the unrouted revisions past the cluster's retention. */
  async #collectRevisions(
    svc: ServerlessService,
    views: readonly RevisionView[],
    decision: TrafficDecision,
    latestCreated: string | undefined,
    config: ClusterConfig,
    nowMs: number,
  ): Promise<void> {
    const ns = svc.metadata.namespace ?? 'default';
    const doomed = revisionsToCollect(
      views,
      {
        reachable: decision.reachable,
        ...(latestCreated === undefined ? {} : { latestCreated }),
        ...(decision.latestReady === undefined ? {} : { latestReady: decision.latestReady }),
        ...(decision.rollout === undefined ? {} : { rolloutFrom: decision.rollout.fromRevision }),
      },
      config.revisionRetention,
      nowMs,
    );
    for (const name of doomed) {
      await this.#o.client.delete(kubePaths.revision(ns, name)).catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      });
      this.#o.events.record(
        this.#involved(svc),
        'Normal',
        'RevisionDeleted',
        `Deleted revision ${name}: no traffic reaches it and it is past the retention`,
      );
    }
  }

  /**
   * The Deployment and private Service a service had before it had revisions (named after the
   * service itself) go once its latest revision is ready (the caller checks): until then the
   * old pods are still there.
   */
  async #removeLegacyChildren(svc: ServerlessService): Promise<void> {
    const ns = svc.metadata.namespace ?? 'default';
    const name = svc.metadata.name;
    const legacy = this.#o.view.deployment(ns, deploymentName(name));
    if (legacy === undefined || legacy.metadata?.labels?.[REVISION_LABEL] !== undefined) return;
    if (
      !findCondition(svc.status?.conditions, CONDITION.ready) ||
      svc.status?.latestReadyRevisionName === undefined
    )
      return;
    for (const path of [
      kubePaths.deployment(ns, deploymentName(name)),
      kubePaths.service(ns, privateServiceName(name)),
    ]) {
      await this.#o.client.delete(path).catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      });
    }
    this.#o.log.info(
      { service: `${ns}/${name}` },
      'removed the Deployment and private Service made before revisions',
    );
  }

  #involved(svc: ServerlessService): InvolvedObject {
    return {
      apiVersion: API_VERSION,
      kind: KIND,
      name: svc.metadata.name,
      namespace: svc.metadata.namespace ?? 'default',
      uid: svc.metadata.uid,
    };
  }

  async #refuseSpec(svc: ServerlessService, message: string, config: ClusterConfig): Promise<void> {
    const status = invalidSpecStatus(svc, message, config, new Date(this.#o.clock.now()));
    if (findCondition(svc.status?.conditions, CONDITION.ready)?.reason !== INVALID_SPEC_REASON) {
      this.#o.events.record(this.#involved(svc), 'Warning', INVALID_SPEC_REASON, message);
    }
    await this.#applyStatus(svc, status);
  }

  /** Creates the Deployment with its initial replicas; afterwards applies it without replicas. */
  async #applyDeployment(svc: ServerlessService, config: ClusterConfig): Promise<V1Deployment> {
    const ns = svc.metadata.namespace ?? 'default';
    const name = deploymentName(svc.metadata.name);
    const key = childKey('Deployment', ns, name);
    const live = this.#o.view.deployment(ns, name);
    const { desired, json: desiredJson } = wantedDeployment(svc, config);
    const writes = this.#o.ownWrites;
    if (writes.covers(key, desiredJson, live)) return live ?? (writes.result(key) as V1Deployment);
    if (!live) {
      const replicas = resolveServerlessServiceSpec(svc.spec, config.defaults).scaling.initialScale;
      try {
        const created = await this.#o.client.post<V1Deployment>(
          kubePaths.deployments(ns),
          desiredDeployment(svc, config, replicas),
          {
            fieldManager: creationManager,
          },
        );
        writes.record(key, desiredJson, undefined, created);
        // No Event: the revision's RevisionCreated says it, and at 1,000 services applied at once
        // one Event per Deployment was a sixth of the apiserver's writes.
        return created;
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
      }
    }
    if (live && containsDesired(desired, live)) return live;
    // Created by POST: its fields are the creator's until handed to our Apply entry, and apply
    // could remove none of them (a command or env var dropped from the template would stay).
    const handedOver = handOverCreatedFields(
      live?.metadata?.managedFields,
      creationManager,
      CONTROLLER_FIELD_MANAGER,
      CREATED_REPLICAS,
    );
    if (live && handedOver) {
      await this.#o.client.patch(kubePaths.deployment(ns, name), 'merge', {
        metadata: { resourceVersion: live.metadata?.resourceVersion, managedFields: handedOver },
      });
    }
    const applied = await this.#o.client.apply<V1Deployment>(
      kubePaths.deployment(ns, name),
      desired,
      CONTROLLER_FIELD_MANAGER,
    );
    writes.record(key, desiredJson, live, applied);
    if (live && applied.metadata?.generation !== live.metadata?.generation) {
      this.#o.events.record(
        this.#involved(svc),
        'Normal',
        'Updated',
        `Updated Deployment ${name} to the desired template`,
      );
    }
    return applied;
  }

  async #applyServices(svc: ServerlessService, which: readonly ('private' | 'public')[]): Promise<void> {
    const ns = svc.metadata.namespace ?? 'default';
    const all = [
      ['private', privateServiceName(svc.metadata.name), () => buildPrivateService(svc)],
      ['public', publicServiceName(svc.metadata.name), () => buildPublicService(svc)],
    ] as const;
    for (const [type, name, build] of all) {
      if (!which.includes(type)) continue;
      const desired = build();
      const live = this.#o.view.service(ns, name);
      if (live && containsDesired(desired, live)) continue;
      const key = childKey('Service', ns, name);
      const desiredJson = JSON.stringify(desired);
      if (this.#o.ownWrites.covers(key, desiredJson, live)) continue;
      // A private Service of an older version has a ClusterIP, which cannot be changed to None:
      // it is made again (its EndpointSlices follow within a second; the activator keeps the
      // pods it is sending to meanwhile).
      if (
        live &&
        desired.spec?.clusterIP === 'None' &&
        live.spec?.clusterIP &&
        live.spec.clusterIP !== 'None'
      ) {
        await this.#o.client.delete(kubePaths.service(ns, name)).catch((err: unknown) => {
          if (!isNotFound(err)) throw err;
        });
      }
      const applied = await this.#o.client.apply<V1Service>(
        kubePaths.service(ns, name),
        desired,
        CONTROLLER_FIELD_MANAGER,
      );
      this.#o.ownWrites.record(key, desiredJson, live, applied);
    }
  }

  /** The ready pods of a revision, as endpoint addresses. */
  #readyPodsOf(rev: Revision | undefined): EndpointAddress[] {
    if (rev === undefined) return [];
    const ns = rev.metadata.namespace ?? 'default';
    const service = rev.metadata.labels?.[SERVICE_LABEL] ?? '';
    return this.#o.view
      .pods(ns, service)
      .filter((p) => p.metadata?.labels?.[REVISION_LABEL] === rev.metadata.name && isReadyPod(p))
      .map(podAddress);
  }

  /**
   * The public EndpointSlice of a unit (a service, or with a Gateway a revision): its pods when
   * the autoscaler of `rev` wants serve mode and has ready pods, else the activators.
   */
  async #applyPublicEndpoints(unit: ServerlessService, rev: Revision | undefined): Promise<ServingMode> {
    const ns = unit.metadata.namespace ?? 'default';
    const backends = choosePublicBackends(
      rev?.status?.autoscaler?.mode,
      this.#readyPodsOf(rev),
      this.#o.view.activators(),
      this.#o.activatorPort,
    );
    const desired = buildPublicEndpointSlice(unit, backends);
    const name = publicEndpointSliceName(unit.metadata.name);
    const live = this.#o.view.endpointSlice(ns, name);
    if (live && containsDesired(desired, live)) return backends.mode;
    const key = childKey('EndpointSlice', ns, name);
    const desiredJson = JSON.stringify(desired);
    if (this.#o.ownWrites.covers(key, desiredJson, live)) return backends.mode;
    const applied = await this.#o.client.apply<V1EndpointSlice>(
      kubePaths.endpointSlice(ns, name),
      desired,
      CONTROLLER_FIELD_MANAGER,
    );
    this.#o.ownWrites.record(key, desiredJson, live, applied);
    const before = live?.metadata?.labels?.[MODE_LABEL];
    if (before && before !== backends.mode) {
      this.#o.log.info(
        { service: `${ns}/${unit.metadata.name}`, from: before, to: backends.mode },
        'switched public endpoints mode',
      );
      if (unit.metadata.labels?.[REVISION_LABEL] === undefined)
        this.#o.events.record(
          this.#involved(unit),
          'Normal',
          'ModeChanged',
          `Public endpoints switched from ${before} to ${backends.mode} mode`,
        );
    }
    return backends.mode;
  }

  /**
   * With a Gateway in the cluster config: the service's HTTPRoutes, applied when they change, and
   * those of tags no longer in the split deleted. What was applied is remembered per service; the
   * first reconcile of a service after a start lists its HTTPRoutes once to learn it.
   */
  async #applyHttpRoutes(
    svc: ServerlessService,
    decision: TrafficDecision,
    config: ClusterConfig,
  ): Promise<void> {
    if (config.gateway === undefined) {
      await this.#sweepHttpRoutes();
      return;
    }
    this.#gatewaySwept = false;
    const ns = svc.metadata.namespace ?? 'default';
    const key = serviceKey(ns, svc.metadata.name);
    const desired = buildHttpRoutes(svc, decision.targets, config.gateway, config.domainSuffix);
    let applied = this.#httpRoutes.get(key);
    if (applied === undefined) {
      applied = new Map();
      const list = await this.#o.client.get<{ items: { metadata: { name: string } }[] }>(
        kubePaths.httpRoutes(ns),
        {
          labelSelector: `${SERVICE_LABEL}=${svc.metadata.name}`,
        },
      );
      for (const r of list.items) applied.set(r.metadata.name, '');
      if (this.#httpRoutes.size >= 100_000) this.#httpRoutes.clear();
      this.#httpRoutes.set(key, applied);
    }
    for (const route of desired) {
      const json = JSON.stringify(route);
      if (applied.get(route.metadata.name) === json) continue;
      await this.#o.client.apply(
        kubePaths.httpRoute(ns, route.metadata.name),
        route,
        CONTROLLER_FIELD_MANAGER,
      );
      applied.set(route.metadata.name, json);
    }
    for (const name of [...applied.keys()]) {
      if (desired.some((r) => r.metadata.name === name)) continue;
      await this.#o.client.delete(kubePaths.httpRoute(ns, name)).catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      });
      applied.delete(name);
    }
  }

  /**
   * Without a Gateway (never configured, or taken out of the config): every HTTPRoute zeroscale
   * made is deleted, once per controller start or config change; one list, cluster-wide.
   */
  async #sweepHttpRoutes(): Promise<void> {
    if (this.#gatewaySwept) return;
    let routes: { metadata: { name: string; namespace: string } }[];
    try {
      routes = (
        await this.#o.client.get<{ items: { metadata: { name: string; namespace: string } }[] }>(
          kubePaths.allHttpRoutes(),
          { labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY}` },
        )
      ).items;
    } catch (err) {
      if (!isNotFound(err)) throw err;
      routes = []; // the Gateway API is not installed
    }
    for (const r of routes) {
      await this.#o.client
        .delete(kubePaths.httpRoute(r.metadata.namespace, r.metadata.name))
        .catch((err: unknown) => {
          if (!isNotFound(err)) throw err;
        });
    }
    if (routes.length > 0)
      this.#o.log.info({ routes: routes.length }, 'no gateway configured: HTTPRoutes deleted');
    this.#httpRoutes.clear();
    this.#gatewaySwept = true;
  }

  /** Without a Gateway a revision needs no public Service or EndpointSlice of its own. */
  async #removeRevisionPublicEndpoints(unit: ServerlessService): Promise<void> {
    const ns = unit.metadata.namespace ?? 'default';
    const name = unit.metadata.name;
    // Only the revision's own: a ServerlessService may have the same name as another's revision.
    const ours = (o: { metadata?: { labels?: Record<string, string> } } | undefined) =>
      o?.metadata?.labels?.[REVISION_LABEL] === name;
    const paths = [
      ours(this.#o.view.service(ns, publicServiceName(name))) &&
        kubePaths.service(ns, publicServiceName(name)),
      ours(this.#o.view.endpointSlice(ns, publicEndpointSliceName(name))) &&
        kubePaths.endpointSlice(ns, publicEndpointSliceName(name)),
    ];
    for (const path of paths) {
      if (!path) continue;
      await this.#o.client.delete(path).catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      });
    }
  }

  async #writeStatus(svc: ServerlessService, status: ServiceStatus): Promise<void> {
    const current = svc.status ?? {};
    const unchanged =
      current.observedGeneration === status.observedGeneration &&
      current.url === status.url &&
      current.mode === status.mode &&
      current.replicasSummary === status.replicasSummary &&
      current.latestCreatedRevisionName === status.latestCreatedRevisionName &&
      current.latestReadyRevisionName === status.latestReadyRevisionName &&
      current.trafficSummary === status.trafficSummary &&
      JSON.stringify(current.traffic) === JSON.stringify(status.traffic) &&
      JSON.stringify(current.rollout) === JSON.stringify(status.rollout) &&
      JSON.stringify(current.replicas) === JSON.stringify(status.replicas) &&
      JSON.stringify(current.conditions?.filter((c) => status.conditions.some((s) => s.type === c.type))) ===
        JSON.stringify(status.conditions);
    if (unchanged) return;
    const before = findCondition(current.conditions, CONDITION.ready);
    const after = findCondition(status.conditions, CONDITION.ready);
    if (after && (before?.status !== after.status || before?.reason !== after.reason)) {
      this.#o.log.info(
        {
          service: `${svc.metadata.namespace}/${svc.metadata.name}`,
          ready: after.status,
          reason: after.reason,
        },
        'readiness changed',
      );
      if (after.status === 'False')
        this.#o.events.record(
          this.#involved(svc),
          'Warning',
          after.reason ?? 'NotReady',
          after.message ?? '',
        );
      if (after.status === 'True')
        this.#o.events.record(this.#involved(svc), 'Normal', 'Ready', `Ready at ${status.url}`);
    }
    await this.#applyStatus(svc, status);
  }

  async #applyStatus(svc: ServerlessService, status: Partial<ServiceStatus>): Promise<void> {
    const ns = svc.metadata.namespace ?? 'default';
    await this.#o.client.apply(
      kubePaths.serverlessServiceStatus(ns, svc.metadata.name),
      { apiVersion: API_VERSION, kind: KIND, metadata: { name: svc.metadata.name, namespace: ns }, status },
      CONTROLLER_FIELD_MANAGER,
    );
  }
}

/** A Revision as the apiserver answered it, in the schema's shape (the builders' input must not depend on key order). */
function parsedRevision(raw: unknown): Revision | undefined {
  const parsed = raw === undefined ? undefined : safeParseRevision(raw);
  return parsed?.ok === true ? parsed.value : undefined;
}

/** The revision that takes all of the service's traffic, if one does (then serve mode is possible). */
function servedRevision(decision: TrafficDecision): string | undefined {
  const shared = decision.targets.filter((t) => t.percent > 0);
  const first = shared[0]?.revisionName;
  return first !== undefined && shared.every((t) => t.revisionName === first) ? first : undefined;
}

function revisionView(rev: Revision, nowMs: number): RevisionView {
  const created = Date.parse((rev.metadata as { creationTimestamp?: string }).creationTimestamp ?? '');
  const lastRouted = Date.parse(rev.metadata.annotations?.[LAST_ROUTED_ANNOTATION] ?? '');
  return {
    name: rev.metadata.name,
    number: revisionNumber(rev),
    ready: findCondition(rev.status?.conditions, CONDITION.ready)?.status === 'True',
    createdMs: Number.isNaN(created) ? nowMs : created,
    lastRoutedMs: Number.isNaN(lastRouted) ? undefined : lastRouted,
    active: rev.metadata.labels?.[ROUTING_STATE_LABEL] !== 'reserve',
  };
}
