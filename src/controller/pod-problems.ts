// Finds the pod problem a user must fix (an image that cannot be pulled, a crashing or OOM-killed
// container, a missing ConfigMap, an unschedulable pod) and names it with the runtime's own reason
// and message. Pure: pods in, the first problem out.

import type { V1ContainerStatus, V1Pod } from '@kubernetes/client-node';

export interface PodProblem {
  readonly reason: string;
  readonly message: string;
}

/** Waiting reasons that do not resolve themselves: the user must change something. */
const FATAL_WAITING_REASONS = new Set([
  'ImagePullBackOff',
  'ErrImagePull',
  'InvalidImageName',
  'CrashLoopBackOff',
  'CreateContainerConfigError',
  'CreateContainerError',
  'RunContainerError',
  'ErrImageNeverPull',
]);

/**
 * A container's problem. kubelet shows a crash loop two ways: `waiting: CrashLoopBackOff` while it
 * backs off, and — for much of the back-off, as kubelet 1.36 reports it — the last run as
 * `terminated` with a restart count. Both are the same problem; an OOM kill is named as such.
 */
function containerProblem(pod: string, s: V1ContainerStatus, restarts: boolean): PodProblem | undefined {
  const waiting = s.state?.waiting;
  if (waiting?.reason && FATAL_WAITING_REASONS.has(waiting.reason)) {
    const last = s.lastState?.terminated;
    const exit = last ? ` (last exit code ${last.exitCode}${last.reason ? `, ${last.reason}` : ''})` : '';
    return {
      reason:
        waiting.reason === 'CrashLoopBackOff' && last?.reason === 'OOMKilled' ? 'OOMKilled' : waiting.reason,
      message: `pod ${pod}, container ${s.name}: ${waiting.message ?? waiting.reason}${exit}`,
    };
  }
  const terminated = s.state?.terminated;
  if (terminated && restarts && terminated.exitCode !== 0 && s.restartCount > 0) {
    const reason = terminated.reason === 'OOMKilled' ? 'OOMKilled' : 'CrashLoopBackOff';
    return {
      reason,
      message: `pod ${pod}, container ${s.name}: exited with code ${terminated.exitCode}${terminated.reason ? ` (${terminated.reason})` : ''}, restarted ${s.restartCount} times (last exit code ${terminated.exitCode})`,
    };
  }
  return undefined;
}

/** The first problem among the pods, in a stable order (by pod name, init containers first). */
export function findPodProblem(pods: readonly V1Pod[]): PodProblem | undefined {
  const sorted = [...pods].sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
  for (const pod of sorted) {
    if (pod.metadata?.deletionTimestamp) continue;
    const name = pod.metadata?.name ?? '?';
    const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
    if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
      return {
        reason: 'Unschedulable',
        message: `pod ${name}: ${scheduled.message ?? 'cannot be scheduled'}`,
      };
    }
    const restarts = (pod.spec?.restartPolicy ?? 'Always') !== 'Never';
    for (const s of [
      ...(pod.status?.initContainerStatuses ?? []),
      ...(pod.status?.containerStatuses ?? []),
    ]) {
      const problem = containerProblem(name, s, restarts);
      if (problem) return problem;
    }
  }
  return undefined;
}
