import type { V1Container, V1Deployment, V1Probe } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { type ClusterConfig, parseClusterConfig } from '../../src/api/cluster-config.ts';
import {
  clusterLocalHost,
  deploymentName,
  externalHost,
  privateServiceName,
  publicEndpointSliceName,
  publicServiceName,
  serviceUrl,
} from '../../src/api/names.ts';
import { parseServerlessServiceSpec } from '../../src/api/parse.ts';
import type { ServerlessService } from '../../src/api/serverless-service.ts';
import { buildDeployment } from '../../src/controller/resources/deployment.ts';
import {
  buildPublicEndpointSlice,
  type PublicBackends,
} from '../../src/controller/resources/endpoint-slice.ts';
import { buildPrivateService, buildPublicService } from '../../src/controller/resources/services.ts';
import { isZeroscaleError } from '../../src/errors.ts';

const config: ClusterConfig = parseClusterConfig({}, { imageTag: 'v0.1.0' });
const app = { name: 'app', image: 'ghcr.io/acme/hello:1.0', ports: [{ containerPort: 8080 }] };

function service(specFields: Record<string, unknown> = {}, containers: unknown[] = [app]): ServerlessService {
  return {
    apiVersion: 'serving.zeroscale.dev/v1alpha1',
    kind: 'ServerlessService',
    metadata: { name: 'hello', namespace: 'default', uid: 'uid-1', generation: 1 },
    spec: parseServerlessServiceSpec({ template: { spec: { containers } }, ...specFields }),
  };
}

const owner = {
  apiVersion: 'serving.zeroscale.dev/v1alpha1',
  kind: 'ServerlessService',
  name: 'hello',
  uid: 'uid-1',
  controller: true,
  blockOwnerDeletion: true,
};
const labels = { 'serving.zeroscale.dev/service': 'hello', 'app.kubernetes.io/managed-by': 'zeroscale' };

const containersOf = (d: V1Deployment): V1Container[] => d.spec?.template.spec?.containers ?? [];
const queueProxyOf = (d: V1Deployment): V1Container => containersOf(d).find((c) => c.name === 'queue-proxy')!;
const envOf = (c: V1Container, name: string) => c.env?.find((e) => e.name === name)?.value;
const probeEnv = (d: V1Deployment): V1Probe =>
  JSON.parse(envOf(queueProxyOf(d), 'SERVING_READINESS_PROBE') ?? 'null');

describe('names', () => {
  const cases: [string, string, string][] = [
    ['deployment', deploymentName('hello'), 'hello'],
    ['private service', privateServiceName('hello'), 'hello-private'],
    ['public service', publicServiceName('hello'), 'hello'],
    ['public endpoint slice', publicEndpointSliceName('hello'), 'hello-public'],
    ['external host', externalHost('hello', 'team-a', 'example.com'), 'hello.team-a.example.com'],
    [
      'cluster-local host',
      clusterLocalHost('hello', 'team-a', 'cluster.local'),
      'hello.team-a.svc.cluster.local',
    ],
    ['url', serviceUrl('hello', 'team-a', 'example.com'), 'http://hello.team-a.example.com'],
  ];
  it.each(cases)('%s', (_name, actual, expected) => expect(actual).toBe(expected));
});

describe('buildDeployment', () => {
  it('builds the whole Deployment for the smallest spec', () => {
    expect(buildDeployment(service(), config)).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'hello', namespace: 'default', labels, ownerReferences: [owner] },
      spec: {
        selector: { matchLabels: { 'serving.zeroscale.dev/service': 'hello' } },
        template: {
          metadata: { labels },
          spec: {
            containers: [
              {
                name: 'app',
                image: 'ghcr.io/acme/hello:1.0',
                ports: [{ containerPort: 8080 }],
                env: [{ name: 'PORT', value: '8080' }],
                lifecycle: { preStop: { httpGet: { path: '/wait-for-drain', port: 9091 } } },
              },
              {
                name: 'queue-proxy',
                image: 'ghcr.io/zeroscale/zeroscale:v0.1.0',
                command: [
                  'node',
                  '--max-semi-space-size=1',
                  '--no-concurrent-recompilation',
                  '/app/dist/cli.cjs',
                ],
                args: ['queue-proxy'],
                ports: [
                  { name: 'http', containerPort: 8012, protocol: 'TCP' },
                  { name: 'metrics', containerPort: 9091, protocol: 'TCP' },
                ],
                env: [
                  { name: 'SERVING_SERVICE', value: 'hello' },
                  { name: 'SERVING_NAMESPACE', value: 'default' },
                  { name: 'SERVING_POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                  { name: 'SERVING_POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
                  { name: 'USER_PORT', value: '8080' },
                  { name: 'CONTAINER_CONCURRENCY', value: '0' },
                  { name: 'REQUEST_TIMEOUT_SECONDS', value: '300' },
                  { name: 'QUEUE_SERVING_PORT', value: '8012' },
                  { name: 'QUEUE_METRICS_PORT', value: '9091' },
                  { name: 'SERVING_READINESS_PROBE', value: '{"tcpSocket":{"port":8080}}' },
                ],
                readinessProbe: {
                  httpGet: { path: '/healthz/ready', port: 8012 },
                  periodSeconds: 1,
                  timeoutSeconds: 1,
                  failureThreshold: 3,
                  successThreshold: 1,
                },
                resources: { requests: { cpu: '25m', memory: '64Mi' } },
                securityContext: {
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  runAsNonRoot: true,
                  capabilities: { drop: ['ALL'] },
                  seccompProfile: { type: 'RuntimeDefault' },
                },
              },
            ],
            enableServiceLinks: false,
            terminationGracePeriodSeconds: 330,
          },
        },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: '25%' } },
        revisionHistoryLimit: 2,
      },
    });
  });

  const cases: [string, ServerlessService, { replicas?: number }, (d: V1Deployment) => void][] = [
    [
      'leaves spec.replicas to the autoscaler',
      service(),
      {},
      (d) => expect(d.spec).not.toHaveProperty('replicas'),
    ],
    ['sets spec.replicas when creating', service(), { replicas: 3 }, (d) => expect(d.spec?.replicas).toBe(3)],
    [
      'sets spec.replicas 0 when creating',
      service(),
      { replicas: 0 },
      (d) => expect(d.spec?.replicas).toBe(0),
    ],
    [
      'moves the readiness probe to the queue-proxy, aimed at the user port on localhost',
      service({}, [
        {
          ...app,
          readinessProbe: { httpGet: { path: '/ready', port: 'web', host: '10.0.0.1' }, periodSeconds: 5 },
        },
      ]),
      {},
      (d) => {
        expect(containersOf(d)[0]).not.toHaveProperty('readinessProbe');
        expect(probeEnv(d)).toEqual({ httpGet: { path: '/ready', port: 8080 }, periodSeconds: 5 });
        expect(queueProxyOf(d).readinessProbe?.periodSeconds).toBe(5);
      },
    ],
    [
      'turns an exec probe into a TCP probe',
      service({}, [{ ...app, readinessProbe: { exec: { command: ['true'] }, failureThreshold: 5 } }]),
      {},
      (d) => {
        expect(probeEnv(d)).toEqual({ tcpSocket: { port: 8080 }, failureThreshold: 5 });
        expect(queueProxyOf(d).readinessProbe?.failureThreshold).toBe(5);
      },
    ],
    [
      'keeps a gRPC probe, on the user port',
      service({}, [{ ...app, readinessProbe: { grpc: { port: 1, service: 'health' } } }]),
      {},
      (d) => expect(probeEnv(d)).toEqual({ grpc: { port: 8080, service: 'health' } }),
    ],
    [
      'passes containerConcurrency and timeout from the spec',
      service({ containerConcurrency: 4, timeoutSeconds: 20 }),
      {},
      (d) => {
        expect(envOf(queueProxyOf(d), 'CONTAINER_CONCURRENCY')).toBe('4');
        expect(envOf(queueProxyOf(d), 'REQUEST_TIMEOUT_SECONDS')).toBe('20');
        expect(d.spec?.template.spec?.terminationGracePeriodSeconds).toBe(50);
      },
    ],
    [
      'keeps sidecars as they are, in order, with the queue-proxy last',
      service({}, [{ name: 'shipper', image: 'shipper', readinessProbe: { tcpSocket: { port: 1 } } }, app]),
      {},
      (d) => {
        expect(containersOf(d).map((c) => c.name)).toEqual(['shipper', 'app', 'queue-proxy']);
        expect(containersOf(d)[0]).toEqual({
          name: 'shipper',
          image: 'shipper',
          readinessProbe: { tcpSocket: { port: 1 } },
        });
      },
    ],
    [
      'names an unnamed serving container user-container',
      service({}, [{ image: 'hello', ports: [{ containerPort: 80 }] }]),
      {},
      (d) => expect(containersOf(d)[0]?.name).toBe('user-container'),
    ],
    [
      "keeps the user's PORT and preStop hook",
      service({}, [
        {
          ...app,
          env: [{ name: 'PORT', value: '9999' }],
          lifecycle: { preStop: { exec: { command: ['sleep', '1'] } } },
        },
      ]),
      {},
      (d) => {
        expect(containersOf(d)[0]?.env).toEqual([{ name: 'PORT', value: '9999' }]);
        expect(containersOf(d)[0]?.lifecycle).toEqual({ preStop: { exec: { command: ['sleep', '1'] } } });
      },
    ],
    [
      "merges the user's pod labels and annotations; the selector label stays ours",
      {
        ...service(),
        spec: parseServerlessServiceSpec({
          template: {
            metadata: {
              labels: { team: 'a', 'serving.zeroscale.dev/service': 'other' },
              annotations: { note: 'x' },
            },
            spec: { containers: [app] },
          },
        }),
      },
      {},
      (d) => {
        expect(d.spec?.template.metadata).toEqual({
          labels: { team: 'a', ...labels },
          annotations: { note: 'x' },
        });
      },
    ],
    [
      "keeps the user's pod-level settings",
      {
        ...service(),
        spec: parseServerlessServiceSpec({
          template: {
            spec: {
              containers: [app],
              volumes: [{ name: 'v', emptyDir: {} }],
              enableServiceLinks: true,
              terminationGracePeriodSeconds: 10,
            },
          },
        }),
      },
      {},
      (d) => {
        expect(d.spec?.template.spec).toMatchObject({
          volumes: [{ name: 'v', emptyDir: {} }],
          enableServiceLinks: true,
          terminationGracePeriodSeconds: 10,
        });
      },
    ],
  ];
  it.each(cases)('%s', (_name, svc, options, check) => check(buildDeployment(svc, config, options)));

  it('takes the queue-proxy image and resources from the config', () => {
    const custom = parseClusterConfig(
      {
        'queue-proxy-image': 'registry.local/qp:dev',
        'queue-proxy-cpu-limit': '1',
        'container-concurrency': '9',
      },
      { imageTag: 'v0.1.0' },
    );
    const qp = queueProxyOf(buildDeployment(service(), custom));
    expect(qp.image).toBe('registry.local/qp:dev');
    expect(qp.resources).toEqual({ requests: { cpu: '25m', memory: '64Mi' }, limits: { cpu: '1' } });
    expect(envOf(qp, 'CONTAINER_CONCURRENCY')).toBe('9');
  });

  it('passes the install token to the queue-proxy only when the controller has one', () => {
    expect(
      envOf(queueProxyOf(buildDeployment(service(), config)), 'ZEROSCALE_INTERNAL_TOKEN'),
    ).toBeUndefined();
    const withToken = parseClusterConfig({}, { imageTag: 'v0.1.0', internalToken: 's3cret' });
    expect(envOf(queueProxyOf(buildDeployment(service(), withToken)), 'ZEROSCALE_INTERNAL_TOKEN')).toBe(
      's3cret',
    );
  });

  it('refuses a service without uid, as its children could not be owned', () => {
    const svc = service();
    const noUid = { ...svc, metadata: { ...svc.metadata, uid: undefined } };
    expect(() => buildDeployment(noUid, config)).toThrowError(
      expect.objectContaining({ code: 'INCOMPLETE_OBJECT' }) as Error,
    );
  });

  it('refuses a spec that skipped validation and has nothing to serve', () => {
    const svc = service();
    const unserved = { ...svc, spec: { ...svc.spec, template: { spec: { containers: [{ image: 'x' }] } } } };
    let caught: unknown;
    try {
      buildDeployment(unserved, config);
    } catch (err) {
      caught = err;
    }
    expect(isZeroscaleError(caught, 'INVALID_SPEC')).toBe(true);
  });
});

describe('buildPrivateService and buildPublicService', () => {
  it('selects the pods from the private Service', () => {
    expect(buildPrivateService(service())).toEqual({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: 'hello-private',
        namespace: 'default',
        labels: { ...labels, 'serving.zeroscale.dev/service-type': 'private' },
        ownerReferences: [owner],
      },
      spec: {
        type: 'ClusterIP',
        clusterIP: 'None',
        selector: { 'serving.zeroscale.dev/service': 'hello' },
        ports: [
          { name: 'http', port: 80, targetPort: 8012, protocol: 'TCP' },
          { name: 'metrics', port: 9091, targetPort: 9091, protocol: 'TCP' },
        ],
      },
    });
  });

  it('gives the public Service no selector', () => {
    expect(buildPublicService(service())).toEqual({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: 'hello',
        namespace: 'default',
        labels: { ...labels, 'serving.zeroscale.dev/service-type': 'public' },
        ownerReferences: [owner],
      },
      spec: { type: 'ClusterIP', ports: [{ name: 'http', port: 80, targetPort: 8012, protocol: 'TCP' }] },
    });
  });
});

describe('buildPublicEndpointSlice', () => {
  const sliceLabels = (mode: string) => ({
    ...labels,
    'serving.zeroscale.dev/service-type': 'public',
    'serving.zeroscale.dev/mode': mode,
    'kubernetes.io/service-name': 'hello',
    'endpointslice.kubernetes.io/managed-by': 'controller.serving.zeroscale.dev',
  });
  const endpoint = (ip: string, ready = true, extra: object = {}) => ({
    addresses: [ip],
    conditions: { ready, serving: ready, terminating: false },
    ...extra,
  });

  const cases: [string, PublicBackends, object][] = [
    [
      'proxy mode: the activators, sorted and de-duplicated',
      {
        mode: 'proxy',
        port: 8080,
        activators: [{ ip: '10.244.0.9' }, { ip: '10.244.0.3' }, { ip: '10.244.0.9' }],
      },
      {
        addressType: 'IPv4',
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
        endpoints: [endpoint('10.244.0.3'), endpoint('10.244.0.9')],
      },
    ],
    [
      'proxy mode with no activator yet',
      { mode: 'proxy', port: 8080, activators: [] },
      { addressType: 'IPv4', ports: [{ name: 'http', port: 8080, protocol: 'TCP' }], endpoints: [] },
    ],
    [
      'serve mode: the pods on the queue-proxy port, with their readiness and pod',
      {
        mode: 'serve',
        pods: [
          {
            ip: '10.244.1.5',
            nodeName: 'node-1',
            pod: { name: 'hello-abc', namespace: 'default', uid: 'p1' },
          },
          { ip: '10.244.1.4', ready: false, terminating: true },
        ],
      },
      {
        addressType: 'IPv4',
        ports: [{ name: 'http', port: 8012, protocol: 'TCP' }],
        endpoints: [
          { addresses: ['10.244.1.4'], conditions: { ready: false, serving: false, terminating: true } },
          endpoint('10.244.1.5', true, {
            nodeName: 'node-1',
            targetRef: { kind: 'Pod', name: 'hello-abc', namespace: 'default', uid: 'p1' },
          }),
        ],
      },
    ],
    [
      'an IPv6-only cluster',
      { mode: 'serve', pods: [{ ip: 'fd00::2' }] },
      { addressType: 'IPv6', endpoints: [endpoint('fd00::2')] },
    ],
    [
      'a mixed list keeps one family',
      { mode: 'serve', pods: [{ ip: 'fd00::2' }, { ip: '10.244.1.4' }] },
      { addressType: 'IPv4', endpoints: [endpoint('10.244.1.4')] },
    ],
  ];

  it.each(cases)('%s', (_name, backends, expected) => {
    const slice = buildPublicEndpointSlice(service(), backends);
    expect(slice).toMatchObject({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: 'hello-public',
        namespace: 'default',
        labels: sliceLabels(backends.mode),
        ownerReferences: [owner],
      },
      ...expected,
    });
    expect(slice.endpoints).toEqual((expected as { endpoints: unknown }).endpoints);
  });
});
