// The pod problem a user must fix, named with the runtime's own reason, however kubelet happens to
// show it at the moment the controller looks.
import type { V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { findPodProblem } from '../../src/controller/pod-problems.ts';

function pod(name: string, status: Partial<V1ContainerStatus>, extra: Partial<V1Pod> = {}): V1Pod {
  return {
    metadata: { name },
    spec: { containers: [{ name: 'app' }] },
    status: {
      containerStatuses: [{ name: 'app', image: 'x', imageID: '', ready: false, restartCount: 0, ...status }],
    },
    ...extra,
  };
}

const crashed = { terminated: { exitCode: 3, reason: 'Error' } };
const oom = { terminated: { exitCode: 137, reason: 'OOMKilled' } };

describe('findPodProblem', () => {
  it.each([
    [
      'image pull back-off',
      pod('a', { state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "x"' } } }),
      'ImagePullBackOff',
      /Back-off pulling image/,
    ],
    [
      'image never pulled',
      pod('a', { state: { waiting: { reason: 'ErrImageNeverPull', message: 'image "x" not present' } } }),
      'ErrImageNeverPull',
      /not present/,
    ],
    [
      'crash loop, waiting',
      pod('a', {
        restartCount: 2,
        state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 20s' } },
        lastState: crashed,
      }),
      'CrashLoopBackOff',
      /last exit code 3/,
    ],
    [
      'crash loop, shown as the last run',
      pod('a', { restartCount: 2, state: crashed }),
      'CrashLoopBackOff',
      /exited with code 3.*last exit code 3/,
    ],
    [
      'OOM kill, waiting',
      pod('a', {
        restartCount: 1,
        state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 10s' } },
        lastState: oom,
      }),
      'OOMKilled',
      /OOMKilled/,
    ],
    [
      'OOM kill, shown as the last run',
      pod('a', { restartCount: 1, state: oom }),
      'OOMKilled',
      /code 137 \(OOMKilled\)/,
    ],
    [
      'config error',
      pod('a', {
        state: { waiting: { reason: 'CreateContainerConfigError', message: 'configmap "c" not found' } },
      }),
      'CreateContainerConfigError',
      /configmap "c" not found/,
    ],
  ])('names %s', (_name, p, reason, message) => {
    const problem = findPodProblem([p]);
    expect(problem?.reason).toBe(reason);
    expect(problem?.message).toMatch(message);
  });

  it.each([
    ['a container still creating', pod('a', { state: { waiting: { reason: 'ContainerCreating' } } })],
    ['a running container', pod('a', { restartCount: 0, state: { running: {} } })],
    ['a first exit before any restart', pod('a', { restartCount: 0, state: crashed })],
    [
      'a clean exit',
      pod('a', { restartCount: 1, state: { terminated: { exitCode: 0, reason: 'Completed' } } }),
    ],
    [
      'a pod that never restarts',
      pod(
        'a',
        { restartCount: 1, state: crashed },
        { spec: { containers: [{ name: 'app' }], restartPolicy: 'Never' } },
      ),
    ],
    [
      'a pod being deleted',
      pod(
        'a',
        { restartCount: 3, state: crashed },
        { metadata: { name: 'a', deletionTimestamp: new Date() } },
      ),
    ],
  ])('sees no problem in %s', (_name, p) => {
    expect(findPodProblem([p])).toBeUndefined();
  });

  it('reports an unschedulable pod with the scheduler’s message', () => {
    const p: V1Pod = {
      metadata: { name: 'a' },
      status: {
        conditions: [
          {
            type: 'PodScheduled',
            status: 'False',
            reason: 'Unschedulable',
            message: '0/1 nodes are available',
          },
        ],
      },
    };
    expect(findPodProblem([p])).toEqual({
      reason: 'Unschedulable',
      message: 'pod a: 0/1 nodes are available',
    });
  });
});
