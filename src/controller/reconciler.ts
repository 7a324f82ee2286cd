// reconcile(key) for one ServerlessService, as a short list of steps: read it, check it, apply its
// children (Deployment, private and public Services, public EndpointSlice) with server-side apply,
// then write the status once if it changed. Level-based: running it twice changes nothing more.

import { createHash } from 'node:crypto';
import type { V1Deployment, V1EndpointSlice, V1Pod, V1Service } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { ClusterConfig } from '../api/cluster-config.ts';
import { CONDITION, findCondition, INVALID_SPEC_REASON } from '../api/conditions.ts';
import { resolveServerlessServiceSpec } from '../api/defaults.ts';
import { DESIRED_HASH_ANNOTATION, MODE_LABEL } from '../api/labels.ts';
import {
  CONTROLLER_FIELD_MANAGER,
  deploymentName,
  privateServiceName,
  publicEndpointSliceName,
  publicServiceName,
} from '../api/names.ts';
import { describeIssues, safeParseServerlessService } from '../api/parse.ts';
import { API_VERSION, KIND, type ServerlessService } from '../api/serverless-service.ts';
import type { Clock } from '../clock.ts';
import type { EventRecorder, InvolvedObject } from '../kube/events.ts';
import { handOverCreatedFields } from '../kube/field-ownership.ts';
import type { OwnWrites } from '../kube/own-writes.ts';
import { kubePaths } from '../kube/paths.ts';
import { isAlreadyExists, isNotFound, type KubeClient } from '../kube/rest.ts';
import { containsDesired } from '../kube/subset.ts';
import type { ProcessResult } from '../kube/workqueue.ts';
import { choosePublicBackends } from './mode.ts';
import { buildDeployment } from './resources/deployment.ts';
import type { EndpointAddress } from './resources/endpoint-slice.ts';
import { buildPublicEndpointSlice } from './resources/endpoint-slice.ts';
import { buildPrivateService, buildPublicService } from './resources/services.ts';
import { buildControllerStatus, type ControllerStatus, invalidSpecStatus } from './status.ts';

/** What the reconciler reads: informer caches, never a live list per reconcile. */
export interface ControllerView {
  serverlessService(key: string): unknown;
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
export const childKey = (kind: 'Deployment' | 'Service' | 'EndpointSlice', namespace: string, name: string) =>
  `${kind}:${namespace}/${name}`;

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

  constructor(options: ReconcilerOptions) {
    this.#o = options;
  }

  async reconcile(key: string): Promise<ProcessResult> {
    const raw = this.#o.view.serverlessService(key);
    if (!raw) return undefined; // deleted: garbage collection removes what it owned
    const meta = (raw as { metadata?: { deletionTimestamp?: string } }).metadata;
    if (meta?.deletionTimestamp) return undefined;
    const config = this.#o.view.config();
    const parsed = safeParseServerlessService(raw);
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
    const deployment = await this.#applyDeployment(svc, config);
    await this.#applyServices(svc);
    const mode = await this.#applyPublicEndpoints(svc);
    const status = buildControllerStatus(
      svc,
      {
        deployment,
        pods: this.#o.view.pods(svc.metadata.namespace ?? 'default', svc.metadata.name),
        mode,
        activatorsMissing: mode === 'proxy' && this.#o.view.activators().length === 0,
      },
      config,
      new Date(this.#o.clock.now()),
    );
    await this.#writeStatus(svc, status);
    return undefined;
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
    const desired = desiredDeployment(svc, config);
    const desiredJson = JSON.stringify(desired);
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
        this.#o.events.record(
          this.#involved(svc),
          'Normal',
          'Created',
          `Created Deployment ${name} with ${replicas} replicas`,
        );
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

  async #applyServices(svc: ServerlessService): Promise<void> {
    const ns = svc.metadata.namespace ?? 'default';
    for (const [name, desired] of [
      [privateServiceName(svc.metadata.name), buildPrivateService(svc)],
      [publicServiceName(svc.metadata.name), buildPublicService(svc)],
    ] as const) {
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

  async #applyPublicEndpoints(svc: ServerlessService): Promise<'proxy' | 'serve'> {
    const ns = svc.metadata.namespace ?? 'default';
    const readyPods = this.#o.view.pods(ns, svc.metadata.name).filter(isReadyPod).map(podAddress);
    const backends = choosePublicBackends(
      svc.status?.autoscaler?.mode,
      readyPods,
      this.#o.view.activators(),
      this.#o.activatorPort,
    );
    const desired = buildPublicEndpointSlice(svc, backends);
    const name = publicEndpointSliceName(svc.metadata.name);
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
        { service: `${ns}/${svc.metadata.name}`, from: before, to: backends.mode },
        'switched public endpoints mode',
      );
      this.#o.events.record(
        this.#involved(svc),
        'Normal',
        'ModeChanged',
        `Public endpoints switched from ${before} to ${backends.mode} mode`,
      );
    }
    return backends.mode;
  }

  async #writeStatus(svc: ServerlessService, status: ControllerStatus): Promise<void> {
    const current = svc.status ?? {};
    const unchanged =
      current.observedGeneration === status.observedGeneration &&
      current.url === status.url &&
      current.mode === status.mode &&
      current.replicasSummary === status.replicasSummary &&
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

  async #applyStatus(svc: ServerlessService, status: Partial<ControllerStatus>): Promise<void> {
    const ns = svc.metadata.namespace ?? 'default';
    await this.#o.client.apply(
      kubePaths.serverlessServiceStatus(ns, svc.metadata.name),
      { apiVersion: API_VERSION, kind: KIND, metadata: { name: svc.metadata.name, namespace: ns }, status },
      CONTROLLER_FIELD_MANAGER,
    );
  }
}
