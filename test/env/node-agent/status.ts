// Pod status as kubelet reports it, computed from the agent's view of a pod: phase, conditions
// (keeping lastTransitionTime while a condition holds), container statuses, pod and host IPs.

import type {
  V1ContainerState,
  V1ContainerStatus,
  V1Pod,
  V1PodCondition,
  V1PodStatus,
} from '@kubernetes/client-node';

export interface ContainerView {
  readonly name: string;
  readonly image: string;
  readonly imageId: string;
  readonly containerId: string | undefined;
  readonly state: V1ContainerState;
  readonly lastState: V1ContainerState;
  readonly ready: boolean;
  readonly started: boolean;
  readonly restartCount: number;
  /** Will this container be started (again) under the pod's restartPolicy? */
  readonly willRestart: boolean;
}

export interface PodView {
  readonly podIp: string | undefined;
  readonly hostIp: string;
  readonly startTime: Date;
  readonly sandboxReady: boolean;
  readonly initialized: boolean;
  readonly initContainers: readonly ContainerView[];
  readonly containers: readonly ContainerView[];
  /** Set when the pod can never run here; becomes the pod's reason and message. */
  readonly failure?: { readonly reason: string; readonly message: string };
}

type Phase = 'Pending' | 'Running' | 'Succeeded' | 'Failed';

export function podPhase(view: PodView): Phase {
  const all = view.containers;
  if (!view.initialized) {
    const initFailed = view.initContainers.some(
      (c) => c.state.terminated && c.state.terminated.exitCode !== 0 && !c.willRestart,
    );
    return initFailed ? 'Failed' : 'Pending';
  }
  if (all.some((c) => c.state.running)) return 'Running';
  const everStarted = all.some((c) => c.state.terminated || c.restartCount > 0 || c.lastState.terminated);
  if (!everStarted) return 'Pending';
  if (all.some((c) => c.willRestart)) return 'Running';
  if (all.every((c) => c.state.terminated)) {
    return all.every((c) => c.state.terminated?.exitCode === 0) ? 'Succeeded' : 'Failed';
  }
  return 'Running';
}

function condition(
  type: string,
  ok: boolean,
  previous: readonly V1PodCondition[],
  now: Date,
  reason?: string,
): V1PodCondition {
  const status = ok ? 'True' : 'False';
  const prev = previous.find((c) => c.type === type);
  const lastTransitionTime =
    prev && prev.status === status && prev.lastTransitionTime ? prev.lastTransitionTime : now;
  return { type, status, lastTransitionTime, ...(reason && !ok ? { reason } : {}) };
}

function containerStatus(c: ContainerView): V1ContainerStatus {
  return {
    name: c.name,
    image: c.image,
    imageID: c.imageId,
    ...(c.containerId ? { containerID: c.containerId } : {}),
    ready: c.ready,
    started: c.started,
    restartCount: c.restartCount,
    state: c.state,
    lastState: c.lastState,
  };
}

/** The status this node reports; `pod` supplies the conditions others own and the gates. */
export function buildPodStatus(pod: V1Pod, view: PodView, now: Date): V1PodStatus {
  const previous = pod.status?.conditions ?? [];
  const containersReady = view.containers.length > 0 && view.containers.every((c) => c.ready);
  const gates = pod.spec?.readinessGates ?? [];
  const gatesOk = gates.every((g) => previous.some((c) => c.type === g.conditionType && c.status === 'True'));
  const phase = podPhase(view);
  const conditions = [
    condition('PodReadyToStartContainers', view.sandboxReady, previous, now),
    condition('Initialized', view.initialized, previous, now, 'ContainersNotInitialized'),
    condition('ContainersReady', containersReady, previous, now, 'ContainersNotReady'),
    condition(
      'Ready',
      containersReady && gatesOk,
      previous,
      now,
      gatesOk ? 'ContainersNotReady' : 'ReadinessGatesNotReady',
    ),
  ];
  const status: V1PodStatus = {
    phase,
    conditions,
    hostIP: view.hostIp,
    hostIPs: [{ ip: view.hostIp }],
    startTime: view.startTime,
    containerStatuses: view.containers.map(containerStatus),
    ...(view.initContainers.length
      ? { initContainerStatuses: view.initContainers.map(containerStatus) }
      : {}),
    ...(view.podIp ? { podIP: view.podIp, podIPs: [{ ip: view.podIp }] } : {}),
    ...(view.failure ? { reason: view.failure.reason, message: view.failure.message } : {}),
  };
  return status;
}
