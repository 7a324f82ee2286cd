// Finds the pod problem a user must fix (an image that cannot be pulled, a crashing container, a
// missing ConfigMap, an unschedulable pod) and names it with the pod's own reason and message.

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
  'UnsupportedByLocalNode',
]);

function containerProblem(pod: string, s: V1ContainerStatus): PodProblem | undefined {
  const waiting = s.state?.waiting;
  if (!waiting?.reason || !FATAL_WAITING_REASONS.has(waiting.reason)) return undefined;
  const last = s.lastState?.terminated;
  const exit = last ? ` (last exit code ${last.exitCode}${last.reason ? `, ${last.reason}` : ''})` : '';
  return {
    reason: waiting.reason,
    message: `pod ${pod}, container ${s.name}: ${waiting.message ?? waiting.reason}${exit}`,
  };
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
    for (const s of [
      ...(pod.status?.initContainerStatuses ?? []),
      ...(pod.status?.containerStatuses ?? []),
    ]) {
      const problem = containerProblem(name, s);
      if (problem) return problem;
    }
  }
  return undefined;
}
