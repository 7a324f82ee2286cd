// The controller's status as a pure function of what it observed: the conditions it writes, how
// Ready summarises them, and transition times that hold while a status does.

import type { V1Deployment } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { parseClusterConfig } from '../../src/api/cluster-config.ts';
import { parseServerlessServiceSpec } from '../../src/api/parse.ts';
import type { ServerlessService } from '../../src/api/serverless-service.ts';
import { buildControllerStatus, type ObservedChildren } from '../../src/controller/status.ts';

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
