// Finds the pod problem a user must fix (an image that cannot be pulled, a crashing or OOM-killed
// container, a missing ConfigMap, an unschedulable pod) and names it with the runtime's own reason
// and message. Pure: pods in, the first problem out. The controller puts it in status; the
// activator asks `failingProblem` whether every pod of a service has one, to answer at once.

import type { V1ContainerStatus, V1Pod } from '@kubernetes/client-node';

export interface PodProblem {
  readonly reason: string;
  /** For status: names the pod and container, with the runtime's own words. */
  readonly message: string;
  /**
   * For a client of the service: what is wrong, in words that name no pod, node or address
   * ("container app exited with code 3"). Runtime messages are left out where they may carry
   * addresses (an image pull error quotes the registry's and the resolver's).
   */
  readonly publicMessage: string;
  /** Restarts of the container at fault (0 for a problem that is not a crash). */
  readonly restarts: number;
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

const IMAGE_REASONS = new Set(['ImagePullBackOff', 'ErrImagePull', 'InvalidImageName', 'ErrImageNeverPull']);

/** Longest runtime message quoted to a client. */
const PUBLIC_DETAIL_CHARS = 200;

function imageMessage(s: V1ContainerStatus, reason: string): string {
  const image = JSON.stringify(s.image ?? '');
  if (reason === 'InvalidImageName') return `container ${s.name}: image name ${image} is not valid`;
  if (reason === 'ErrImageNeverPull')
    return `container ${s.name}: image ${image} is not on the node and its pull policy is Never`;
  return `container ${s.name}: image ${image} cannot be pulled`;
}

function exitMessage(name: string, exitCode: number, reason: string | undefined, restarts: number): string {
  const how =
    reason === 'OOMKilled'
      ? 'was killed for using more memory than its limit'
      : `exited with code ${exitCode}`;
  const again = restarts === 1 ? 'restarted once' : `restarted ${restarts} times`;
  return `container ${name} ${how}${restarts > 0 ? ` (${again})` : ''}`;
}

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
    const reason =
      waiting.reason === 'CrashLoopBackOff' && last?.reason === 'OOMKilled' ? 'OOMKilled' : waiting.reason;
    let publicMessage: string;
    if (IMAGE_REASONS.has(reason)) publicMessage = imageMessage(s, reason);
    else if (last !== undefined)
      publicMessage = exitMessage(s.name, last.exitCode, last.reason, s.restartCount);
    else {
      const detail = (waiting.message ?? '').slice(0, PUBLIC_DETAIL_CHARS);
      publicMessage = `container ${s.name} cannot be started${detail ? `: ${detail}` : ''}`;
    }
    return {
      reason,
      message: `pod ${pod}, container ${s.name}: ${waiting.message ?? waiting.reason}${exit}`,
      publicMessage,
      restarts: s.restartCount,
    };
  }
  const terminated = s.state?.terminated;
  if (terminated && restarts && terminated.exitCode !== 0 && s.restartCount > 0) {
    const reason = terminated.reason === 'OOMKilled' ? 'OOMKilled' : 'CrashLoopBackOff';
    return {
      reason,
      message: `pod ${pod}, container ${s.name}: exited with code ${terminated.exitCode}${terminated.reason ? ` (${terminated.reason})` : ''}, restarted ${s.restartCount} times (last exit code ${terminated.exitCode})`,
      publicMessage: exitMessage(s.name, terminated.exitCode, terminated.reason, s.restartCount),
      restarts: s.restartCount,
    };
  }
  return undefined;
}

function unschedulable(pod: V1Pod): { message: string; sinceMs: number | undefined } | undefined {
  const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (scheduled?.status !== 'False' || scheduled.reason !== 'Unschedulable') return undefined;
  const since = scheduled.lastTransitionTime ?? pod.metadata?.creationTimestamp;
  return {
    message: scheduled.message ?? 'cannot be scheduled',
    sinceMs: since === undefined ? undefined : new Date(since).getTime(),
  };
}

/** The problem of one pod, if it has one; a pod being deleted has none. */
export function podProblem(pod: V1Pod): PodProblem | undefined {
  if (pod.metadata?.deletionTimestamp) return undefined;
  const name = pod.metadata?.name ?? '?';
  const pending = unschedulable(pod);
  if (pending !== undefined) {
    return {
      reason: 'Unschedulable',
      message: `pod ${name}: ${pending.message}`,
      publicMessage: `no node can run its pods: ${pending.message.slice(0, PUBLIC_DETAIL_CHARS)}`,
      restarts: 0,
    };
  }
  const restarts = (pod.spec?.restartPolicy ?? 'Always') !== 'Never';
  for (const s of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) {
    const problem = containerProblem(name, s, restarts);
    if (problem) return problem;
  }
  return undefined;
}

function byName(pods: readonly V1Pod[]): V1Pod[] {
  return [...pods].sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
}

/** The first problem among the pods, in a stable order (by pod name, init containers first). */
export function findPodProblem(pods: readonly V1Pod[]): PodProblem | undefined {
  for (const pod of byName(pods)) {
    const problem = podProblem(pod);
    if (problem) return problem;
  }
  return undefined;
}

export interface FailFastPolicy {
  /** An unschedulable pod counts once the scheduler has refused it this long (a cluster
   * autoscaler may be adding a node meanwhile). */
  readonly unschedulableAfterMs: number;
  /** OOM kills a container must have had (restarts) before it counts: one may be a spike. */
  readonly oomKillsBefore: number;
}

export const DEFAULT_FAIL_FAST_POLICY: FailFastPolicy = { unschedulableAfterMs: 60_000, oomKillsBefore: 2 };

export interface FailingVerdict {
  /** Set when every live pod has a problem that will not fix itself: the first, by pod name. */
  readonly problem: PodProblem | undefined;
  /** When to ask again though no pod changed (an unschedulable pod reaches the bound then). */
  readonly recheckAtMs: number | undefined;
}

function isReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/**
 * Whether a service cannot start now: it has live pods (not being deleted, not finished), none of
 * them ready, and every one of them failing for a reason that needs the user — a crash loop, an
 * image that cannot be pulled, a bad container config, OOM kills past the policy's count, or a
 * pod the scheduler refused for longer than the policy's bound. A pod that is pending or starting
 * without an error keeps the verdict clear: a slow start is waited for, never failed.
 */
export function failingProblem(
  pods: readonly V1Pod[],
  nowMs: number,
  policy: FailFastPolicy,
): FailingVerdict {
  let first: PodProblem | undefined;
  let recheckAtMs: number | undefined;
  let live = 0;
  for (const pod of byName(pods)) {
    if (pod.metadata?.deletionTimestamp) continue;
    const phase = pod.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') continue;
    live++;
    if (isReady(pod)) return { problem: undefined, recheckAtMs: undefined };
    const problem = podProblem(pod);
    if (problem === undefined) return { problem: undefined, recheckAtMs: undefined };
    if (problem.reason === 'OOMKilled' && problem.restarts < policy.oomKillsBefore)
      return { problem: undefined, recheckAtMs: undefined };
    if (problem.reason === 'Unschedulable') {
      const sinceMs = unschedulable(pod)?.sinceMs ?? nowMs;
      const due = sinceMs + policy.unschedulableAfterMs;
      if (due > nowMs) {
        recheckAtMs = Math.min(recheckAtMs ?? due, due);
        continue;
      }
    }
    first ??= problem;
  }
  if (recheckAtMs !== undefined) return { problem: undefined, recheckAtMs };
  return { problem: live > 0 ? first : undefined, recheckAtMs: undefined };
}
