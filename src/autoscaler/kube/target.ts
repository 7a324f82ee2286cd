// The autoscaler's writes to the cluster: replicas through the Deployment's scale subresource (the
// only writer of replicas), each pod's deletion cost before a scale-down, and its decision into the ServerlessService status under its own
// server-side-apply field manager (status.autoscaler and the `Active` condition), from which the
// controller programs the public endpoints.

import { Counter, type Registry } from 'prom-client';
import { type ActiveReason, type BudgetReason, CONDITION } from '../../api/conditions.ts';
import { AUTOSCALER_FIELD_MANAGER, deploymentName, serviceKey } from '../../api/names.ts';
import { REVISION_API_VERSION as API_VERSION, REVISION_KIND as KIND } from '../../api/revision.ts';
import { API_VERSION as SERVICE_API_VERSION, KIND as SERVICE_KIND } from '../../api/serverless-service.ts';
import { EventRecorder } from '../../kube/events.ts';
import { kubePaths } from '../../kube/paths.ts';
import type { KubeClient } from '../../kube/rest.ts';
import { WriteBudget } from '../../kube/write-budget.ts';
import type { Logger } from '../../telemetry/log.ts';
import type { BudgetView } from '../cost.ts';
import { costWrites, POD_DELETION_COST_ANNOTATION } from '../deletion-cost.ts';
import type { AutoscalerStatus, ScaleTarget, ServiceRef } from '../scale-target.ts';

/** Pod annotation writes a second across all services, and at once: a scale-down of many pods
 * of many services at the same moment must not crowd out the autoscaler's replica writes. */
const COST_WRITES_PER_SECOND = 20;
const COST_WRITES_BURST = 100;

const maxRemembered = 100_000;

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
/** Three decimals are plenty for status and keep a steady load from rewriting it every second. */
const round = (n: number) => Math.round(n * 1000) / 1000;

/** The ServerlessService a revision belongs to (its controller ownerReference). */
export interface ServiceOwner {
  readonly name: string;
  readonly uid: string;
}

export function autoscalerStatusBody(service: ServiceRef, s: AutoscalerStatus): object {
  const active: { status: 'True' | 'False'; reason: ActiveReason; message: string } =
    s.phase.kind === 'active'
      ? { status: 'True', reason: 'Active', message: 'the service has demand or minScale > 0' }
      : s.phase.kind === 'inactive'
        ? {
            status: 'False',
            reason: 'Inactive',
            message: 'no demand for a stable window; going to zero once the activators hold the endpoints',
          }
        : { status: 'False', reason: 'ScaledToZero', message: 'no pods; the next request wakes the service' };
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name: service.name, namespace: service.namespace },
    status: {
      autoscaler: {
        mode: s.mode,
        ...(s.desiredScale === undefined ? {} : { desiredScale: s.desiredScale }),
        observedConcurrency: round(s.observedConcurrency),
        observedRequestsPerSecond: round(s.observedRequestsPerSecond),
        panicking: s.panicking,
        excessBurstCapacity: round(s.excessBurstCapacity),
        ...(s.lastScaleTimeMs === undefined ? {} : { lastScaleTime: iso(s.lastScaleTimeMs) }),
        scaleTargetInitialized: s.scaleTargetInitialized,
        ...(s.warmWindow === undefined
          ? {}
          : {
              warmWindow: {
                minScale: s.warmWindow.minScale,
                start: iso(s.warmWindow.startMs),
                end: iso(s.warmWindow.endMs),
              },
            }),
        ...(s.nextWarmWindowMs === undefined ? {} : { nextWarmWindow: iso(s.nextWarmWindowMs) }),
        ...(s.budget === undefined
          ? {}
          : {
              budget: {
                used: round(s.budget.used),
                limit: s.budget.limit,
                unit: s.budget.unit,
                window: seconds(s.budget.windowMs),
                ...(s.budget.cappedAt === undefined ? {} : { cappedAt: s.budget.cappedAt }),
                ...(s.budget.earliestLiftMs === undefined ? {} : { nextDrop: iso(s.budget.earliestLiftMs) }),
              },
            }),
        ...(s.prediction === undefined
          ? {}
          : {
              prediction: {
                state: s.prediction.state,
                idleTimes: s.prediction.idleTimes,
                windows: s.prediction.windows.map((w) => `${seconds(w.startMs)}-${seconds(w.endMs)}`),
                ...(s.prediction.advice === undefined ? {} : { advice: s.prediction.advice }),
              },
            }),
      },
      // The phase's start is the transition time, so a restarted autoscaler resumes the grace period.
      conditions: [
        { type: CONDITION.active, ...active, lastTransitionTime: iso(s.phase.sinceMs) },
        ...(s.budget === undefined ? [] : [budgetCondition(s.budget, s.phase.sinceMs)]),
      ],
    },
  };
}

/** The BudgetExceeded condition: why the service is held or refused, in a sentence for kubectl describe. */
export function budgetCondition(b: BudgetView, fallbackSinceMs: number) {
  const spent = `used ${formatAmount(b.used)} of ${formatAmount(b.limit)} ${b.unit} in the last ${seconds(b.windowMs)}`;
  const exceeded = b.exceededSinceMs !== undefined;
  const reason: BudgetReason = !exceeded ? 'WithinBudget' : b.action === 'Reject' ? 'Rejecting' : 'Capped';
  const message = !exceeded
    ? spent
    : b.action === 'Reject'
      ? `budget spent: ${spent}; requests are refused with 429 until the window rolls`
      : `budget spent: ${spent}; held at ${b.cappedAt} pod${b.cappedAt === 1 ? '' : 's'} until the window rolls, every request still served`;
  return {
    type: CONDITION.budgetExceeded,
    status: exceeded ? ('True' as const) : ('False' as const),
    reason,
    message,
    lastTransitionTime: iso(b.changedAtMs ?? fallbackSinceMs),
  };
}

const formatAmount = (n: number): string => (Number.isInteger(n) ? String(n) : n.toFixed(n < 10 ? 2 : 0));

/** 12.3 s as "12.3s": status windows read at a glance. */
const seconds = (ms: number): string => `${Math.round(ms / 100) / 10}s`;

export class KubeScaleTarget implements ScaleTarget {
  readonly #client: KubeClient;
  readonly #events: EventRecorder;
  readonly #ownerOf: (service: ServiceRef) => ServiceOwner | undefined;
  readonly #lastPublished = new Map<string, string>();
  /** Whether each service's budget was spent at its last publish: a change is an Event. */
  readonly #budgetSpent = new Map<string, boolean>();
  /** Replicas last written per service, to tell a change (an Event) from a resync. */
  readonly #lastScale = new Map<string, number>();
  /** Deletion cost last written per `namespace/pod`. */
  readonly #costs = new Map<string, number>();
  readonly #costBudget = new WriteBudget(COST_WRITES_PER_SECOND, COST_WRITES_BURST, performance.now());
  readonly #costWrites: Counter<'result'>;
  readonly #log: Logger;

  constructor(
    client: KubeClient,
    options: { log: Logger; ownerOf: (service: ServiceRef) => ServiceOwner | undefined; registry?: Registry },
  ) {
    this.#client = client;
    this.#log = options.log;
    this.#events = new EventRecorder(client, 'zeroscale-autoscaler', options.log, options.registry);
    this.#ownerOf = options.ownerOf;
    this.#costWrites = new Counter({
      name: 'zeroscale_autoscaler_deletion_cost_writes_total',
      help: 'Pod deletion-cost annotations before scale-downs: written, failed, or skipped when over 20 a second.',
      labelNames: ['result'],
      registers: options.registry === undefined ? [] : [options.registry],
    });
  }

  async rankPodsForRemoval(service: ServiceRef, loads: ReadonlyMap<string, number>): Promise<void> {
    const key = (pod: string) => `${service.namespace}/${pod}`;
    const writes = costWrites(loads, (pod) => this.#costs.get(key(pod)));
    await Promise.all(
      writes.map(async ({ pod, cost }) => {
        if (!this.#costBudget.take(performance.now())) {
          this.#costWrites.inc({ result: 'skipped' });
          return;
        }
        try {
          await this.#client.patch(kubePaths.pod(service.namespace, pod), 'merge', {
            metadata: { annotations: { [POD_DELETION_COST_ANNOTATION]: String(cost) } },
          });
          if (this.#costs.size >= maxRemembered) this.#costs.clear();
          this.#costs.set(key(pod), cost);
          this.#costWrites.inc({ result: 'written' });
        } catch (err) {
          // A pod that went away meanwhile, or no RBAC for pods: the scale-down goes on regardless.
          this.#costWrites.inc({ result: 'failed' });
          this.#log.debug({ err: String(err), pod: key(pod) }, 'could not write the pod deletion cost');
        }
      }),
    );
  }

  async setScale(service: ServiceRef, replicas: number): Promise<void> {
    const key = serviceKey(service.namespace, service.name);
    const path = kubePaths.deploymentScale(service.namespace, deploymentName(service.name));
    let before = this.#lastScale.get(key);
    if (before === undefined) {
      // Once per service and process: what the scale was before this autoscaler's first write.
      const current = await this.#client.get<{ spec?: { replicas?: number } }>(path);
      before = current.spec?.replicas ?? 0;
    }
    await this.#client.patch(
      path,
      'merge',
      { spec: { replicas } },
      { fieldManager: AUTOSCALER_FIELD_MANAGER },
    );
    if (this.#lastScale.size >= maxRemembered) this.#lastScale.clear();
    this.#lastScale.set(key, replicas);
    if (before !== replicas) {
      this.#event(
        service,
        'Normal',
        replicas > before ? 'ScaledUp' : 'ScaledDown',
        `Scaled from ${before} to ${replicas} pods`,
      );
    }
  }

  /**
   * An Event on the revision's ServerlessService, shown by `kubectl describe ssvc` (where users
   * look), naming the revision; on the Revision itself while its owner is not known.
   */
  #event(service: ServiceRef, type: 'Normal' | 'Warning', reason: string, message: string): void {
    const owner = this.#ownerOf(service);
    this.#events.record(
      owner === undefined
        ? { apiVersion: API_VERSION, kind: KIND, name: service.name, namespace: service.namespace }
        : {
            apiVersion: SERVICE_API_VERSION,
            kind: SERVICE_KIND,
            name: owner.name,
            namespace: service.namespace,
            uid: owner.uid,
          },
      type,
      reason,
      owner === undefined ? message : `${message} (revision ${service.name})`,
    );
  }

  async publish(service: ServiceRef, status: AutoscalerStatus): Promise<void> {
    const key = serviceKey(service.namespace, service.name);
    const body = autoscalerStatusBody(service, status);
    const json = JSON.stringify(body);
    if (this.#lastPublished.get(key) === json) return;
    await this.#client.apply(
      kubePaths.revisionStatus(service.namespace, service.name),
      body,
      AUTOSCALER_FIELD_MANAGER,
    );
    if (this.#lastPublished.size >= maxRemembered) this.#lastPublished.clear();
    this.#lastPublished.set(key, json);
    const spent = status.budget?.exceededSinceMs !== undefined;
    const before = this.#budgetSpent.get(key) ?? false;
    if (status.budget !== undefined && spent !== before) {
      const condition = budgetCondition(status.budget, status.phase.sinceMs);
      this.#event(
        service,
        spent ? 'Warning' : 'Normal',
        spent ? 'BudgetExceeded' : 'BudgetRestored',
        condition.message,
      );
    }
    if (this.#budgetSpent.size >= maxRemembered) this.#budgetSpent.clear();
    this.#budgetSpent.set(key, spent);
  }
}
