// The autoscaler's view of the cluster, from informer caches: the ServerlessServices (resolved over
// the cluster defaults of the zeroscale ConfigMap) and, per service, its pods from the
// EndpointSlices of its private Service. No I/O per tick: everything is read from memory.

import type { V1EndpointSlice } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { type ActiveReason, CONDITION, findCondition } from '../../api/conditions.ts';
import { resolveServerlessServiceSpec } from '../../api/defaults.ts';
import {
  ENDPOINTSLICE_MANAGED_BY,
  ENDPOINTSLICE_MANAGED_BY_LABEL,
  ENDPOINTSLICE_SERVICE_NAME_LABEL,
  ROUTING_STATE_LABEL,
  SERVICE_LABEL,
} from '../../api/labels.ts';
import { serviceKey, serviceOfPrivateService } from '../../api/names.ts';
import { type Revision, safeParseRevision } from '../../api/revision.ts';
import { ClusterConfigWatch } from '../../kube/cluster-config-watch.ts';
import { type Informer, objectKey, servingInformers } from '../../kube/informer.ts';
import type { KubeClient } from '../../kube/rest.ts';
import { podRequests } from '../cost.ts';
import type { ServingPhase } from '../scaling/scale-to-zero.ts';
import type { AutoscaledService, RestoredState, ServicePods, ServiceSource } from '../service-source.ts';
import type { ServiceOwner } from './target.ts';

/** The phase a previous autoscaler published, from its `Active` condition. */
export function restoredState(svc: Pick<Revision, 'status'>): RestoredState | undefined {
  const active = findCondition(svc.status?.conditions, CONDITION.active);
  if (!active) return undefined;
  const sinceMs = Date.parse(active.lastTransitionTime);
  const phase: ServingPhase =
    active.status === 'True'
      ? { kind: 'active', sinceMs }
      : active.reason === ('ScaledToZero' satisfies ActiveReason)
        ? { kind: 'zero', sinceMs }
        : { kind: 'inactive', sinceMs };
  return { phase, scaleTargetInitialized: svc.status?.autoscaler?.scaleTargetInitialized ?? false };
}

export function activatorInPathSince(svc: Pick<Revision, 'status'>): number | undefined {
  const c = findCondition(svc.status?.conditions, CONDITION.activatorInPath);
  return c?.status === 'True' ? Date.parse(c.lastTransitionTime) : undefined;
}

export class KubeServiceSource implements ServiceSource {
  readonly #services: Informer<{ metadata?: { name?: string; namespace?: string } }>;
  readonly #slices: Informer<V1EndpointSlice>;
  readonly #configWatch: ClusterConfigWatch;
  readonly #log: Logger;
  /** Resolved services, rebuilt only when a ServerlessService or the config changes. */
  readonly #resolved = new Map<string, AutoscaledService>();
  /** Private-Service EndpointSlices by `namespace/serviceName`. */
  readonly #slicesByService = new Map<string, Map<string, V1EndpointSlice>>();

  constructor(client: KubeClient, options: { systemNamespace: string; imageTag: string; log: Logger }) {
    this.#log = options.log;
    ({ revisions: this.#services, slices: this.#slices } = servingInformers(client, options.log));
    this.#configWatch = new ClusterConfigWatch(client, {
      ...options,
      onChange: () => {
        for (const s of this.#services.list()) this.#resolve(objectKey(s), s);
      },
    });
    this.#services.on((event, obj, key) => {
      if (event === 'delete') this.#resolved.delete(key);
      else this.#resolve(key, obj);
    });
    this.#slices.on((event, slice, key) => {
      const owner = serviceOfPrivateService(slice.metadata?.labels?.[ENDPOINTSLICE_SERVICE_NAME_LABEL] ?? '');
      // Our own public slices are not pods; the private ones come from the EndpointSlice controller.
      if (
        owner === undefined ||
        slice.metadata?.labels?.[ENDPOINTSLICE_MANAGED_BY_LABEL] === ENDPOINTSLICE_MANAGED_BY
      )
        return;
      const svcKey = serviceKey(slice.metadata?.namespace ?? '', owner);
      const entry = this.#slicesByService.get(svcKey) ?? new Map<string, V1EndpointSlice>();
      if (event === 'delete') entry.delete(key);
      else entry.set(key, slice);
      if (entry.size === 0) this.#slicesByService.delete(svcKey);
      else this.#slicesByService.set(svcKey, entry);
    });
  }

  start(): void {
    this.#configWatch.informer.start();
    this.#slices.start();
    this.#services.start();
  }

  stop(): void {
    for (const i of [this.#configWatch.informer, this.#slices, this.#services]) i.stop();
  }

  async waitForSync(): Promise<void> {
    await Promise.all([
      this.#configWatch.informer.waitForSync(),
      this.#slices.waitForSync(),
      this.#services.waitForSync(),
    ]);
  }

  #resolve(key: string, raw: unknown): void {
    const parsed = safeParseRevision(raw);
    if (!parsed.ok) {
      this.#resolved.delete(key); // the controller reports it as InvalidSpec
      return;
    }
    const svc = parsed.value;
    try {
      const config = this.#configWatch.current;
      const spec = resolveServerlessServiceSpec(svc.spec, config.defaults);
      this.#resolved.set(key, {
        namespace: svc.metadata.namespace ?? 'default',
        name: svc.metadata.name,
        reachable: svc.metadata.labels?.[ROUTING_STATE_LABEL] !== 'reserve',
        service: svc.metadata.labels?.[SERVICE_LABEL],
        scaling: spec.scaling,
        containerConcurrency: spec.containerConcurrency,
        activatorInPathSinceMs: activatorInPathSince(svc),
        restored: restoredState(svc),
        budget: spec.budget,
        podRequests: podRequests(spec.template.spec.containers, config.queueProxy.resources.requests),
        prices: config.defaults.prices,
      });
    } catch {
      this.#resolved.delete(key);
    }
  }

  /** The ServerlessService a revision belongs to, so Events about it show in `kubectl describe ssvc`. */
  ownerOf(service: { namespace: string; name: string }): ServiceOwner | undefined {
    const obj = this.#services.get(serviceKey(service.namespace, service.name)) as
      | {
          metadata?: {
            ownerReferences?: { kind?: string; name?: string; uid?: string; controller?: boolean }[];
          };
        }
      | undefined;
    const owner = obj?.metadata?.ownerReferences?.find(
      (o) => o.controller === true && o.kind === 'ServerlessService',
    );
    return owner?.name !== undefined && owner.uid !== undefined
      ? { name: owner.name, uid: owner.uid }
      : undefined;
  }

  services(): Iterable<AutoscaledService> {
    return this.#resolved.values();
  }

  pods(service: AutoscaledService): ServicePods {
    const slices = this.#slicesByService.get(serviceKey(service.namespace, service.name));
    const ready: string[] = [];
    const names: (string | undefined)[] = [];
    let actual = 0;
    let terminating = 0;
    for (const s of slices?.values() ?? []) {
      for (const e of s.endpoints ?? []) {
        if (e.conditions?.terminating) {
          terminating += e.addresses.length;
          continue;
        }
        actual += e.addresses.length;
        if (e.conditions?.ready === false) continue;
        for (const address of e.addresses) {
          ready.push(address);
          names.push(e.targetRef?.kind === 'Pod' ? e.targetRef.name : undefined);
        }
      }
    }
    return {
      readyAddresses: ready,
      readyPodNames: names,
      actualCount: actual,
      terminatingCount: terminating,
    };
  }
}
