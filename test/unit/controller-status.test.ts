// The controller's status as a pure function of what it observed: the conditions it writes, how
// Ready summarises them, and transition times that hold while a status does.

import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { parseClusterConfig } from '../../src/api/cluster-config.ts';
import { parseServerlessServiceSpec } from '../../src/api/parse.ts';
import type { ServerlessService } from '../../src/api/serverless-service.ts';
import {
  buildControllerStatus,
  buildServiceStatus,
  type ObservedChildren,
} from '../../src/controller/status.ts';
import type { TrafficDecision } from '../../src/controller/traffic.ts';

const config = parseClusterConfig({}, { imageTag: 'v0.1.0' });
const t0 = Date.UTC(2026, 0, 1);
const svc: ServerlessService = {
  apiVersion: 'serving.zeroscale.dev/v1alpha1',
  kind: 'ServerlessService',
  metadata: { name: 'hello', namespace: 'default', generation: 3 },
  spec: parseServerlessServiceSpec({
    template: { spec: { containers: [{ name: 'app', image: 'a:1', ports: [{ containerPort: 8080 }] }] } },
  }),
};
const deployment = (replicas: number, ready: number): V1Deployment => ({
  spec: { replicas, selector: {}, template: {} },
  status: { readyReplicas: ready, replicas },
});

describe('buildControllerStatus', () => {
  const cases: readonly {
    name: string;
    observed: ObservedChildren;
    expected: Record<string, [string, string]>;
  }[] = [
    {
      name: 'serving from ready pods',
      observed: { deployment: deployment(2, 2), pods: [], mode: 'serve', activatorsMissing: false },
      expected: {
        Ready: ['True', 'Ready'],
        DeploymentReady: ['True', 'PodsReady'],
        EndpointsReady: ['True', 'ServingPods'],
        ActivatorInPath: ['False', 'ServeMode'],
      },
    },
    {
      name: 'scaled to zero behind the activators',
      observed: { deployment: deployment(0, 0), pods: [], mode: 'proxy', activatorsMissing: false },
      expected: {
        Ready: ['True', 'Ready'],
        DeploymentReady: ['True', 'ScaledToZero'],
        EndpointsReady: ['True', 'ProxyingThroughActivators'],
        ActivatorInPath: ['True', 'ProxyMode'],
      },
    },
    {
      name: 'proxy mode with no activator yet: Ready is Unknown with its reason',
      observed: { deployment: deployment(1, 1), pods: [], mode: 'proxy', activatorsMissing: true },
      expected: {
        Ready: ['Unknown', 'NoActivators'],
        DeploymentReady: ['True', 'PodsReady'],
        EndpointsReady: ['Unknown', 'NoActivators'],
        ActivatorInPath: ['False', 'NoActivators'],
      },
    },
  ];
  for (const c of cases) {
    it(`${c.name}: one condition per part that can fail, and no other`, () => {
      const status = buildControllerStatus(svc, c.observed, config, new Date(t0));
      const got = Object.fromEntries(status.conditions.map((x) => [x.type, [x.status, x.reason]]));
      expect(got).toEqual(c.expected);
      expect(status.conditions.every((x) => x.observedGeneration === 3)).toBe(true);
      expect(status).toMatchObject({ url: 'http://hello.default.example.com', mode: c.observed.mode });
    });
  }

  it('keeps a condition’s lastTransitionTime while its status holds', () => {
    const observed: ObservedChildren = {
      deployment: deployment(1, 1),
      pods: [],
      mode: 'serve',
      activatorsMissing: false,
    };
    const first = buildControllerStatus(svc, observed, config, new Date(t0));
    const again = buildControllerStatus(
      { ...svc, status: { conditions: first.conditions } },
      { ...observed, mode: 'proxy' },
      config,
      new Date(t0 + 60_000),
    );
    const time = (s: typeof first, type: string) =>
      s.conditions.find((x) => x.type === type)?.lastTransitionTime;
    expect(time(again, 'DeploymentReady')).toBe('2026-01-01T00:00:00Z');
    expect(time(again, 'ActivatorInPath')).toBe('2026-01-01T00:01:00Z');
  });
});

describe('buildServiceStatus (a service over its revisions)', () => {
  const now = new Date(t0);
  const revisionStatus = (d: V1Deployment, pods: V1Pod[] = []) =>
    buildControllerStatus(svc, { deployment: d, pods, mode: 'proxy', activatorsMissing: false }, config, now);
  const crashing: V1Pod = {
    metadata: { name: 'hello-2-abc' },
    status: {
      containerStatuses: [
        {
          name: 'app',
          image: 'a:2',
          imageID: '',
          ready: false,
          restartCount: 3,
          state: {
            waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container' },
          },
          lastState: { terminated: { exitCode: 3, reason: 'Error' } },
        },
      ],
    },
  };
  const traffic = (over: Partial<TrafficDecision> = {}): TrafficDecision => ({
    targets: [{ revisionName: 'hello-1', percent: 100, latestRevision: true }],
    latestReady: 'hello-1',
    rollout: undefined,
    reachable: new Set(['hello-1']),
    problems: [],
    ...over,
  });

  it('takes DeploymentReady from the latest created revision, naming it, and adds up the replicas', () => {
    const s = buildServiceStatus(
      svc,
      {
        revisions: [
          {
            name: 'hello-1',
            deployment: deployment(2, 2),
            pods: [],
            status: revisionStatus(deployment(2, 2)),
          },
          {
            name: 'hello-2',
            deployment: deployment(1, 0),
            pods: [crashing],
            status: revisionStatus(deployment(1, 0), [crashing]),
          },
        ],
        latestCreated: 'hello-2',
        refusal: undefined,
        traffic: traffic(),
        mode: 'proxy',
        activatorsMissing: false,
      },
      config,
      now,
    );
    const ready = s.conditions.find((c) => c.type === 'Ready');
    expect(ready).toMatchObject({ status: 'False', reason: 'CrashLoopBackOff' });
    expect(ready?.message).toMatch(/^revision hello-2: .*container app/);
    expect(s.replicas).toEqual({ desired: 3, ready: 2, actual: 3 });
    expect(s.latestCreatedRevisionName).toBe('hello-2');
    expect(s.latestReadyRevisionName).toBe('hello-1');
    expect(s.trafficSummary).toBe('hello-1=100');
  });

  it('says RevisionMissing when a target names no revision, and RevisionNameTaken for a reused name', () => {
    const base = {
      revisions: [
        { name: 'hello-1', deployment: deployment(1, 1), pods: [], status: revisionStatus(deployment(1, 1)) },
      ],
      latestCreated: 'hello-1',
      mode: 'proxy' as const,
      activatorsMissing: false,
    };
    const missing = buildServiceStatus(
      svc,
      {
        ...base,
        refusal: undefined,
        traffic: traffic({
          problems: [
            {
              reason: 'RevisionMissing',
              message: 'spec.traffic names revision hello-9, which does not exist',
            },
          ],
        }),
      },
      config,
      now,
    );
    expect(missing.conditions.find((c) => c.type === 'TrafficRouted')).toMatchObject({
      status: 'False',
      reason: 'RevisionMissing',
    });
    expect(missing.conditions.find((c) => c.type === 'Ready')?.status).toBe('False');
    const taken = buildServiceStatus(
      svc,
      {
        ...base,
        refusal:
          'spec.template.metadata.name: revision hello-1 already exists with another template; give the new template a new name',
        traffic: traffic(),
      },
      config,
      now,
    );
    expect(taken.conditions.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'False',
      reason: 'RevisionNameTaken',
    });
  });
});

describe('a revision at zero', () => {
  const now = new Date(t0);
  const cond = (status: 'True' | 'False' | 'Unknown', reason: string) => ({
    type: 'DeploymentReady',
    status,
    reason,
    message: reason,
    lastTransitionTime: '2026-01-01T00:00:00Z',
  });
  const at = (previous: ReturnType<typeof cond> | undefined, startsAtZero: boolean) =>
    buildControllerStatus(
      svc,
      {
        deployment: deployment(0, 0),
        pods: [],
        mode: 'proxy',
        activatorsMissing: false,
        atZero: { previous, startsAtZero },
      },
      config,
      now,
    ).conditions.find((c) => c.type === 'DeploymentReady');
  it('stays ready after being ready', () => {
    expect(at(cond('True', 'PodsReady'), false)).toMatchObject({ status: 'True', reason: 'ScaledToZero' });
  });
  it('is ready from the start when it starts at zero', () => {
    expect(at(undefined, true)).toMatchObject({ status: 'True', reason: 'ScaledToZero' });
  });
  it('keeps a failure: a crashing template taken to zero is not "ready"', () => {
    expect(at(cond('False', 'CrashLoopBackOff'), false)).toMatchObject({
      status: 'False',
      reason: 'CrashLoopBackOff',
    });
    expect(at(cond('False', 'CrashLoopBackOff'), true)).toMatchObject({
      status: 'False',
      reason: 'CrashLoopBackOff',
    });
  });
  it('is not ready when taken to zero before any pod was', () => {
    expect(at(cond('Unknown', 'Deploying'), false)).toMatchObject({ status: 'Unknown', reason: 'Deploying' });
    expect(at(undefined, false)).toMatchObject({ status: 'Unknown', reason: 'ScaledToZeroBeforeReady' });
  });
});
