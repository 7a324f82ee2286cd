// The controller's part of a ServerlessService's status, as a pure function of what it observed:
// one condition per owned part, Ready summarising them, the URL, replica counts and the mode the
// public endpoints are in.

import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import type { ClusterConfig } from '../api/cluster-config.ts';
import {
  CONDITION,
  type ConditionInput,
  findCondition,
  INVALID_SPEC_REASON,
  readyCondition,
  setConditions,
} from '../api/conditions.ts';
import { serviceUrl } from '../api/names.ts';
import type { ServerlessService } from '../api/serverless-service.ts';
import type { Condition, ResolvedTrafficTarget, RolloutStatus, ServingMode } from '../api/status.ts';
import { findPodProblem } from '../kube/pod-problems.ts';
import { type TrafficDecision, trafficSummary } from './traffic.ts';

export interface ObservedChildren {
  readonly deployment: V1Deployment | undefined;
  readonly pods: readonly V1Pod[];
  /** The mode the public EndpointSlice was just written in. */
  readonly mode: ServingMode;
  /** Proxy mode with no activator endpoint: requests have nowhere to go yet. */
  readonly activatorsMissing: boolean;
  /**
   * For a revision: at zero pods it is ready only if it was before, or if it starts at zero
   * (initialScale 0). A revision taken to zero while failing or still starting keeps what it
   * had: "latest ready" must never move traffic to a template no pod ever served.
   */
  readonly atZero?: { readonly previous: Condition | undefined; readonly startsAtZero: boolean } | undefined;
}

/** The fields of status the controller owns (the autoscaler owns status.autoscaler). */
export interface ControllerStatus {
  readonly observedGeneration: number;
  readonly conditions: Condition[];
  readonly url: string;
  readonly replicas: { readonly desired: number; readonly ready: number; readonly actual: number };
  readonly replicasSummary: string;
  readonly mode: ServingMode;
}

export function deploymentCondition(observed: ObservedChildren): ConditionInput {
  const d = observed.deployment;
  if (!d)
    return {
      type: CONDITION.deploymentReady,
      status: 'Unknown',
      reason: 'Creating',
      message: 'the Deployment is being created',
    };
  const desired = d.spec?.replicas ?? 0;
  const ready = d.status?.readyReplicas ?? 0;
  const before = observed.atZero?.previous;
  if (
    desired === 0 &&
    observed.atZero !== undefined &&
    before?.status !== 'True' &&
    !(observed.atZero.startsAtZero && before?.status !== 'False')
  )
    return {
      type: CONDITION.deploymentReady,
      status: before?.status === 'False' ? 'False' : 'Unknown',
      reason: before?.reason ?? 'ScaledToZeroBeforeReady',
      message: before?.message ?? 'at zero before any pod was ready',
    };
  if (desired === 0)
    return {
      type: CONDITION.deploymentReady,
      status: 'True',
      reason: 'ScaledToZero',
      message: 'no pods: requests wake the service',
    };
  if (ready > 0)
    return {
      type: CONDITION.deploymentReady,
      status: 'True',
      reason: 'PodsReady',
      message: `${ready} of ${desired} pods ready`,
    };
  const problem = findPodProblem(observed.pods);
  if (problem)
    return {
      type: CONDITION.deploymentReady,
      status: 'False',
      reason: problem.reason,
      message: problem.message,
    };
  return {
    type: CONDITION.deploymentReady,
    status: 'Unknown',
    reason: 'Deploying',
    message: `waiting for a ready pod (0 of ${desired})`,
  };
}

/** EndpointsReady: where the public endpoints point, or why nothing can be reached yet. */
function endpointsCondition(mode: ServingMode, activatorsMissing: boolean): ConditionInput {
  return activatorsMissing
    ? {
        type: CONDITION.endpointsReady,
        status: 'Unknown',
        reason: 'NoActivators',
        message: 'proxy mode, but no activator endpoint is ready yet',
      }
    : {
        type: CONDITION.endpointsReady,
        status: 'True',
        reason: mode === 'serve' ? 'ServingPods' : 'ProxyingThroughActivators',
      };
}

/**
 * Not part of Ready: the autoscaler reads its lastTransitionTime to know how long a request that
 * arrives now would be held by an activator (scale to zero waits for that, plus a grace period).
 */
function activatorInPathCondition(mode: ServingMode, activatorsMissing: boolean): ConditionInput {
  return mode === 'proxy' && !activatorsMissing
    ? {
        type: CONDITION.activatorInPath,
        status: 'True',
        reason: 'ProxyMode',
        message: 'the public endpoints are the activators',
      }
    : {
        type: CONDITION.activatorInPath,
        status: 'False',
        reason: mode === 'serve' ? 'ServeMode' : 'NoActivators',
      };
}

export function buildControllerStatus(
  svc: ServerlessService,
  observed: ObservedChildren,
  config: ClusterConfig,
  now: Date,
): ControllerStatus {
  const parts: ConditionInput[] = [
    // No condition for the two Services: status is written only after both were applied (a
    // failed apply throws and the reconcile is retried), so it could never say anything but True.
    deploymentCondition(observed),
    endpointsCondition(observed.mode, observed.activatorsMissing),
  ];
  const d = observed.deployment;
  const replicas = {
    desired: d?.spec?.replicas ?? 0,
    ready: d?.status?.readyReplicas ?? 0,
    actual: d?.status?.replicas ?? 0,
  };
  return statusOf(svc, parts, observed, replicas, config, now);
}

/** What both status builders write the same way: conditions with Ready over `parts`, url, replicas. */
function statusOf(
  svc: ServerlessService,
  parts: readonly ConditionInput[],
  observed: { readonly mode: ServingMode; readonly activatorsMissing: boolean },
  replicas: { desired: number; ready: number; actual: number },
  config: ClusterConfig,
  now: Date,
): ControllerStatus {
  const generation = svc.metadata.generation ?? 0;
  const activatorInPath = activatorInPathCondition(observed.mode, observed.activatorsMissing);
  return {
    observedGeneration: generation,
    conditions: setConditions(
      svc.status?.conditions,
      [readyCondition(parts), ...parts, activatorInPath],
      generation,
      now,
    ),
    url: serviceUrl(svc.metadata.name, svc.metadata.namespace ?? 'default', config.domainSuffix),
    replicas,
    replicasSummary: `${replicas.ready}/${replicas.desired}`,
    mode: observed.mode,
  };
}

/** Status for a spec the controller cannot act on (what the CRD schema could not catch). */
export function invalidSpecStatus(
  svc: ServerlessService,
  message: string,
  config: ClusterConfig,
  now: Date,
): Partial<ControllerStatus> {
  const generation = svc.metadata.generation ?? 0;
  const ready: ConditionInput = {
    type: CONDITION.ready,
    status: 'False',
    reason: INVALID_SPEC_REASON,
    message,
  };
  return {
    observedGeneration: generation,
    conditions: setConditions(svc.status?.conditions, [ready], generation, now),
    url: serviceUrl(svc.metadata.name, svc.metadata.namespace ?? 'default', config.domainSuffix),
  };
}

/** What the controller saw of one revision at this reconcile: its children and its status. */
export interface RevisionObserved {
  readonly name: string;
  readonly deployment: V1Deployment | undefined;
  readonly pods: readonly V1Pod[];
  readonly status: ControllerStatus;
}

export interface ServiceObserved {
  readonly revisions: readonly RevisionObserved[];
  readonly latestCreated: string | undefined;
  /** Why the current template got no revision (its name is taken), if so. */
  readonly refusal: string | undefined;
  readonly traffic: TrafficDecision;
  readonly mode: ServingMode;
  readonly activatorsMissing: boolean;
}

/** The fields of a ServerlessService's status the controller owns. */
export interface ServiceStatus extends ControllerStatus {
  readonly latestCreatedRevisionName?: string;
  readonly latestReadyRevisionName?: string;
  readonly traffic: ResolvedTrafficTarget[];
  readonly trafficSummary: string;
  readonly rollout?: RolloutStatus;
}

/**
 * A service's status from its revisions: DeploymentReady is the latest created revision's (so a
 * new template whose pods fail says why, though traffic stays on the last ready revision), the
 * replica counts add up every revision's, TrafficRouted says whether every target resolved.
 */
export function buildServiceStatus(
  svc: ServerlessService,
  observed: ServiceObserved,
  config: ClusterConfig,
  now: Date,
): ServiceStatus {
  const latest = observed.revisions.find((r) => r.name === observed.latestCreated);
  const latestDeployment = findCondition(latest?.status.conditions, CONDITION.deploymentReady);
  const deployment: ConditionInput =
    observed.refusal !== undefined
      ? {
          type: CONDITION.deploymentReady,
          status: 'False',
          reason: 'RevisionNameTaken',
          message: observed.refusal,
        }
      : latestDeployment === undefined
        ? deploymentCondition({
            deployment: undefined,
            pods: [],
            mode: observed.mode,
            activatorsMissing: false,
          })
        : {
            type: CONDITION.deploymentReady,
            status: latestDeployment.status,
            reason: latestDeployment.reason ?? 'Unknown',
            message: `revision ${observed.latestCreated}: ${latestDeployment.message ?? ''}`.trim(),
          };
  const problems = observed.traffic.problems;
  const traffic: ConditionInput =
    problems.length === 0
      ? {
          type: CONDITION.trafficRouted,
          status: 'True',
          reason: observed.traffic.rollout === undefined ? 'Routed' : 'RollingOut',
          ...(observed.traffic.rollout === undefined
            ? {}
            : {
                message: `moving the latest-revision share from ${observed.traffic.rollout.fromRevision} to ${observed.traffic.rollout.toRevision}: step ${observed.traffic.rollout.step} of ${observed.traffic.rollout.steps}`,
              }),
        }
      : {
          type: CONDITION.trafficRouted,
          status: 'False',
          reason: problems[0]!.reason,
          message: problems.map((p) => p.message).join('; '),
        };
  const endpoints = endpointsCondition(observed.mode, observed.activatorsMissing);
  const parts = [deployment, traffic, endpoints];
  let desired = 0;
  let ready = 0;
  let actual = 0;
  for (const r of observed.revisions) {
    desired += r.status.replicas.desired;
    ready += r.status.replicas.ready;
    actual += r.status.replicas.actual;
  }
  const targets = observed.traffic.targets;
  return {
    ...statusOf(svc, parts, observed, { desired, ready, actual }, config, now),
    ...(observed.latestCreated === undefined ? {} : { latestCreatedRevisionName: observed.latestCreated }),
    ...(observed.traffic.latestReady === undefined
      ? {}
      : { latestReadyRevisionName: observed.traffic.latestReady }),
    traffic: targets,
    trafficSummary: trafficSummary(targets),
    ...(observed.traffic.rollout === undefined ? {} : { rollout: observed.traffic.rollout }),
  };
}
