// The pod problem a user must fix, named with the runtime's own reason, however kubelet happens to
// show it at the moment the controller looks.
import type { V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { DEFAULT_FAIL_FAST_POLICY, failingProblem, findPodProblem } from '../../src/kube/pod-problems.ts';

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
    expect(findPodProblem([p])).toMatchObject({
      reason: 'Unschedulable',
      message: 'pod a: 0/1 nodes are available',
      publicMessage: 'no node can run its pods: 0/1 nodes are available',
    });
  });
});

describe('what a client is told', () => {
  it.each([
    [
      'a crash loop names the container and exit code',
      pod('crash-7d9f-abcde', {
        restartCount: 2,
        state: {
          waiting: {
            reason: 'CrashLoopBackOff',
            message: 'back-off 20s restarting failed container=app pod=crash-7d9f-abcde_default(0f3c)',
          },
        },
        lastState: crashed,
      }),
      'container app exited with code 3 (restarted 2 times)',
    ],
    [
      'a crash shown as the last run',
      pod('a', { restartCount: 1, state: crashed }),
      'container app exited with code 3 (restarted once)',
    ],
    [
      'an image pull quotes the image, not the runtime error (it names the resolver address)',
      pod('a', {
        image: 'registry.invalid/nothing:1',
        state: {
          waiting: {
            reason: 'ErrImagePull',
            message:
              'failed to resolve reference "registry.invalid/nothing:1": dial udp 10.96.0.10:53: no such host',
          },
        },
      }),
      'container app: image "registry.invalid/nothing:1" cannot be pulled',
    ],
    [
      'an OOM kill',
      pod('a', {
        restartCount: 2,
        state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off' } },
        lastState: oom,
      }),
      'container app was killed for using more memory than its limit (restarted 2 times)',
    ],
    [
      'a missing ConfigMap, in the runtime words',
      pod('a', {
        state: { waiting: { reason: 'CreateContainerConfigError', message: 'configmap "c" not found' } },
      }),
      'container app cannot be started: configmap "c" not found',
    ],
  ])('%s', (_name, p, publicMessage) => {
    const problem = findPodProblem([p]);
    expect(problem?.publicMessage).toBe(publicMessage);
    expect(problem?.publicMessage).not.toMatch(/\d+\.\d+\.\d+\.\d+/);
  });
});

describe('failingProblem', () => {
  const now = Date.parse('2026-12-03T10:00:00Z');
  const policy = DEFAULT_FAIL_FAST_POLICY;
  const looping = (name: string) =>
    pod(name, {
      restartCount: 1,
      state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 10s' } },
      lastState: crashed,
    });
  const starting = (name: string) => pod(name, { state: { waiting: { reason: 'ContainerCreating' } } });
  const unschedulableFor = (name: string, ms: number): V1Pod => ({
    metadata: { name },
    status: {
      phase: 'Pending',
      conditions: [
        {
          type: 'PodScheduled',
          status: 'False',
          reason: 'Unschedulable',
          message: '0/1 nodes are available: 1 Insufficient cpu.',
          lastTransitionTime: new Date(now - ms),
        },
      ],
    },
  });
  const ready = (name: string): V1Pod => ({
    ...pod(name, { ready: true, state: { running: {} } }),
    status: {
      phase: 'Running',
      conditions: [{ type: 'Ready', status: 'True' }],
      containerStatuses: [{ name: 'app', image: 'x', imageID: '', ready: true, restartCount: 0 }],
    },
  });

  it.each<[string, V1Pod[], string | undefined]>([
    ['no pods (at zero, or not created yet)', [], undefined],
    ['one pod in a crash loop', [looping('a')], 'CrashLoopBackOff'],
    ['every pod failing, the first by name', [looping('b'), unschedulableFor('a', 120_000)], 'Unschedulable'],
    ['one failing pod beside one starting', [looping('a'), starting('b')], undefined],
    ['one failing pod beside one ready', [looping('a'), ready('b')], undefined],
    ['a pod still creating its container (a slow start)', [starting('a')], undefined],
    [
      'a pending pod the scheduler has not refused',
      [{ metadata: { name: 'a' }, status: { phase: 'Pending' } }],
      undefined,
    ],
    ['unschedulable for less than the bound', [unschedulableFor('a', 10_000)], undefined],
    ['unschedulable past the bound', [unschedulableFor('a', 60_000)], 'Unschedulable'],
    [
      'one OOM kill (may be a spike)',
      [pod('a', { restartCount: 1, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: oom })],
      undefined,
    ],
    [
      'repeated OOM kills',
      [pod('a', { restartCount: 2, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: oom })],
      'OOMKilled',
    ],
    [
      'a failing pod being deleted beside nothing else',
      [{ ...looping('a'), metadata: { name: 'a', deletionTimestamp: new Date(now) } }],
      undefined,
    ],
    [
      'a failed (evicted) pod beside a crash loop',
      [{ metadata: { name: 'a' }, status: { phase: 'Failed', reason: 'Evicted' } }, looping('b')],
      'CrashLoopBackOff',
    ],
  ])('%s', (_name, pods, reason) => {
    expect(failingProblem(pods, now, policy).problem?.reason).toBe(reason);
  });

  it('asks to be asked again when an unschedulable pod reaches the bound', () => {
    const verdict = failingProblem([unschedulableFor('a', 15_000), looping('b')], now, policy);
    expect(verdict).toEqual({ problem: undefined, recheckAtMs: now + 45_000 });
    expect(failingProblem([unschedulableFor('a', 15_000)], now + 45_000, policy).problem?.reason).toBe(
      'Unschedulable',
    );
  });
});
