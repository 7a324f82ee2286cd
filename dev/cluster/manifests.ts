// Manifests for the local cluster's tests: the probe app (dev/apps/probe-app.mjs) in its own
// image, built on the local `node:24` base by images.ts (as is the gRPC app, grpcAppImage()).

import type { V1Container, V1Deployment, V1Pod, V1PodSpec } from '@kubernetes/client-node';
import { probeAppImage } from './images.ts';

export { probeAppFile } from './images.ts';

export function probeAppContainer(overrides: Partial<V1Container> = {}, port = 8080): V1Container {
  return {
    name: 'app',
    image: probeAppImage(),
    env: [
      { name: 'PORT', value: String(port) },
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
    ],
    ports: [{ name: 'http', containerPort: port }],
    readinessProbe: { httpGet: { path: '/ready', port }, periodSeconds: 1, failureThreshold: 1 },
    ...overrides,
  };
}

export function pod(
  name: string,
  spec: Partial<V1PodSpec> & Pick<V1PodSpec, 'containers'>,
  labels: Record<string, string> = {},
): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { app: name, ...labels } },
    spec: { terminationGracePeriodSeconds: 5, ...spec },
  };
}

export function deployment(
  name: string,
  replicas: number,
  spec: Partial<V1PodSpec> & Pick<V1PodSpec, 'containers'>,
): V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { terminationGracePeriodSeconds: 5, ...spec } },
    },
  };
}

export interface ServerlessServiceOptions {
  readonly scaling?: Record<string, unknown>;
  readonly containerConcurrency?: number;
  readonly budget?: Record<string, unknown>;
  readonly timeoutSeconds?: number;
  /** Replaces parts of the serving container (by default the probe app on port 8080). */
  readonly container?: Partial<V1Container>;
  /** The name of the serving container's port 8080: `h2c` makes the path to the app HTTP/2 cleartext. */
  readonly portName?: string;
}

/** A ServerlessService running the probe app, as the end-to-end tests and benchmarks use it. */
export function serverlessService(name: string, o: ServerlessServiceOptions = {}): object {
  return {
    apiVersion: 'serving.zeroscale.dev/v1alpha1',
    kind: 'ServerlessService',
    metadata: { name },
    spec: {
      ...(o.containerConcurrency === undefined ? {} : { containerConcurrency: o.containerConcurrency }),
      ...(o.timeoutSeconds === undefined ? {} : { timeoutSeconds: o.timeoutSeconds }),
      template: {
        spec: {
          containers: [
            {
              name: 'app',
              image: probeAppImage(),
              ports: [{ ...(o.portName === undefined ? {} : { name: o.portName }), containerPort: 8080 }],
              ...o.container,
            },
          ],
        },
      },
      ...(o.scaling ? { scaling: o.scaling } : {}),
      ...(o.budget ? { budget: o.budget } : {}),
    },
  };
}
