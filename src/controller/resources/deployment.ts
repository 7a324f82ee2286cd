// The Deployment of a ServerlessService: the user's pod template with the queue-proxy sidecar
// injected in front of the serving container, which takes over its readiness probe.

import type { V1Container, V1Deployment, V1EnvVar, V1PodSpec, V1Probe } from '@kubernetes/client-node';
import type { ClusterConfig } from '../../api/cluster-config.ts';
import { resolveServerlessServiceSpec } from '../../api/defaults.ts';
import { REVISION_LABEL, SERVICE_LABEL, unitLabels } from '../../api/labels.ts';
import { DEFAULT_SERVING_CONTAINER_NAME, deploymentName } from '../../api/names.ts';
import { InvalidSpecError } from '../../api/parse.ts';
import { type ServingProtocol, servingProtocolOf } from '../../api/protocol.ts';
import {
  QUEUE_PROXY_ARGS,
  QUEUE_PROXY_COMMAND,
  QUEUE_PROXY_CONTAINER_NAME,
  QUEUE_PROXY_DRAIN_PATH,
  QUEUE_PROXY_ENV,
  QUEUE_PROXY_HTTP_PORT,
  QUEUE_PROXY_HTTP_PORT_NAME,
  QUEUE_PROXY_INTERNAL_TOKEN_ENV,
  QUEUE_PROXY_METRICS_PORT,
  QUEUE_PROXY_METRICS_PORT_NAME,
  QUEUE_PROXY_READINESS_PATH,
} from '../../api/queue-proxy.ts';
import type { ServerlessService } from '../../api/serverless-service.ts';
import { namespaceOf, ownerReference } from './owner.ts';

export interface DeploymentOptions {
  /**
   * spec.replicas, only when creating: afterwards replicas belong to the autoscaler, and leaving
   * the field out of what the controller applies keeps its field manager from owning it.
   */
  readonly replicas?: number;
}

/**
 * Time a pod gets between SIGTERM and SIGKILL beyond the request timeout: for the endpoint
 * removal to reach every client before the queue-proxy stops taking new requests.
 */
export const DRAIN_ALLOWANCE_SECONDS = 30;

export function buildDeployment(
  svc: ServerlessService,
  config: ClusterConfig,
  options: DeploymentOptions = {},
): V1Deployment {
  const name = svc.metadata.name;
  const spec = resolveServerlessServiceSpec(svc.spec, config.defaults);
  const template = spec.template;
  // The schema keeps the fields it does not model as they are; Kubernetes validates them as a PodSpec.
  const userPodSpec = template.spec as unknown as V1PodSpec;
  const servingIndex = userPodSpec.containers.findIndex((c) => (c.ports?.length ?? 0) > 0);
  const servingContainer = userPodSpec.containers[servingIndex];
  const userPort = servingContainer?.ports?.[0]?.containerPort;
  if (servingContainer === undefined || userPort === undefined) {
    throw new InvalidSpecError([
      { path: 'spec.template.spec.containers', message: 'no container with a port: nothing to serve' },
    ]);
  }
  const containers = userPodSpec.containers.map((c, i) =>
    i === servingIndex ? servingContainerOf(c, userPort) : c,
  );
  const podSpec: V1PodSpec = {
    ...userPodSpec,
    containers: [
      ...containers,
      queueProxyContainer({
        svc,
        config,
        userPort,
        containerConcurrency: spec.containerConcurrency,
        timeoutSeconds: spec.timeoutSeconds,
        userProbe: servingContainer.readinessProbe,
        protocol: servingProtocolOf(userPodSpec.containers),
      }),
    ],
    // Service links put ~7 variables per Service of the namespace in every container: with
    // hundreds of services that is noise at best and an oversized environment at worst.
    enableServiceLinks: userPodSpec.enableServiceLinks ?? false,
    terminationGracePeriodSeconds:
      userPodSpec.terminationGracePeriodSeconds ?? spec.timeoutSeconds + DRAIN_ALLOWANCE_SECONDS,
  };
  const annotations = template.metadata?.annotations;
  const { labels, selector } = unitLabels(svc);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: deploymentName(name),
      namespace: namespaceOf(svc),
      labels,
      ownerReferences: [ownerReference(svc)],
    },
    spec: {
      ...(options.replicas === undefined ? {} : { replicas: options.replicas }),
      selector: { matchLabels: selector },
      template: {
        metadata: {
          // Ours last: the selector label must not be overridden by the user's.
          labels: { ...template.metadata?.labels, ...labels },
          ...(annotations === undefined ? {} : { annotations }),
        },
        spec: podSpec,
      },
      // Never fewer ready pods than wanted during a rollout: capacity is what the autoscaler decided.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: '25%' } },
      // Old ReplicaSets are kept for `kubectl rollout undo` only; with 1,000 services, 10 each is a lot.
      revisionHistoryLimit: 2,
    },
  };
}

/**
 * The serving container as the user wrote it, except: its readiness probe moves to the
 * queue-proxy, PORT tells it where to listen (unless set), and a preStop hook holds it until the
 * queue-proxy has drained, so that it does not exit under in-flight requests.
 */
function servingContainerOf(container: V1Container, userPort: number): V1Container {
  const { readinessProbe: _moved, ...rest } = container;
  const env = container.env ?? [];
  const lifecycle = container.lifecycle ?? {};
  return {
    ...rest,
    name: container.name || DEFAULT_SERVING_CONTAINER_NAME,
    env: env.some((e) => e.name === 'PORT') ? env : [...env, { name: 'PORT', value: String(userPort) }],
    lifecycle:
      lifecycle.preStop === undefined
        ? {
            ...lifecycle,
            preStop: { httpGet: { path: QUEUE_PROXY_DRAIN_PATH, port: QUEUE_PROXY_METRICS_PORT } },
          }
        : lifecycle,
  };
}

/**
 * The user's readiness probe as the queue-proxy runs it, against 127.0.0.1:<user port>: port set
 * to the user port and host dropped, exec turned into TCP (the queue-proxy cannot exec into
 * another container), and a TCP probe when there was none. Knative does the same.
 */
export function queueProxyReadinessProbe(probe: V1Probe | undefined, userPort: number): V1Probe {
  if (probe === undefined) return { tcpSocket: { port: userPort } };
  const { exec: _exec, httpGet, tcpSocket: _tcpSocket, grpc, ...timing } = probe;
  if (httpGet !== undefined) {
    const { host: _host, ...get } = httpGet;
    return { ...timing, httpGet: { ...get, port: userPort } };
  }
  if (grpc !== undefined) return { ...timing, grpc: { ...grpc, port: userPort } };
  // TCP, exec or no handler at all: a TCP connect to the user port.
  return { ...timing, tcpSocket: { port: userPort } };
}

interface QueueProxyInput {
  readonly svc: ServerlessService;
  readonly config: ClusterConfig;
  readonly userPort: number;
  readonly containerConcurrency: number;
  readonly timeoutSeconds: number;
  readonly userProbe: V1Probe | undefined;
  readonly protocol: ServingProtocol;
}

function queueProxyContainer(input: QueueProxyInput): V1Container {
  const { svc, config, userPort, userProbe } = input;
  const env: V1EnvVar[] = [
    ...unitEnv(svc),
    { name: QUEUE_PROXY_ENV.serviceNamespace, value: namespaceOf(svc) },
    { name: QUEUE_PROXY_ENV.podName, valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: QUEUE_PROXY_ENV.podIp, valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
    { name: QUEUE_PROXY_ENV.userPort, value: String(userPort) },
    { name: QUEUE_PROXY_ENV.containerConcurrency, value: String(input.containerConcurrency) },
    { name: QUEUE_PROXY_ENV.timeoutSeconds, value: String(input.timeoutSeconds) },
    { name: QUEUE_PROXY_ENV.httpPort, value: String(QUEUE_PROXY_HTTP_PORT) },
    { name: QUEUE_PROXY_ENV.metricsPort, value: String(QUEUE_PROXY_METRICS_PORT) },
    {
      name: QUEUE_PROXY_ENV.readinessProbe,
      value: JSON.stringify(queueProxyReadinessProbe(userProbe, userPort)),
    },
    // Only for h2c, so that the pods of every HTTP/1.1 service stay as they were.
    ...(input.protocol === 'h2c' ? [{ name: QUEUE_PROXY_ENV.userProtocol, value: input.protocol }] : []),
    // The user's namespace cannot read zeroscale's Secret: the token travels as a value. Who can
    // read this Deployment can mark requests as the activator's (hide load, set X-Forwarded-*);
    // whoever cannot, cannot.
    ...(config.queueProxy.internalToken
      ? [{ name: QUEUE_PROXY_INTERNAL_TOKEN_ENV, value: config.queueProxy.internalToken }]
      : []),
  ];
  return {
    name: QUEUE_PROXY_CONTAINER_NAME,
    image: config.queueProxy.image,
    command: [...QUEUE_PROXY_COMMAND],
    args: [...QUEUE_PROXY_ARGS],
    ports: [
      { name: QUEUE_PROXY_HTTP_PORT_NAME, containerPort: QUEUE_PROXY_HTTP_PORT, protocol: 'TCP' },
      { name: QUEUE_PROXY_METRICS_PORT_NAME, containerPort: QUEUE_PROXY_METRICS_PORT, protocol: 'TCP' },
    ],
    env,
    // Kubelet asks the queue-proxy, which probes the user container far more often than kubelet
    // would; the user's own thresholds, where given, still decide how slow kubelet may be.
    readinessProbe: {
      httpGet: { path: QUEUE_PROXY_READINESS_PATH, port: QUEUE_PROXY_HTTP_PORT },
      periodSeconds: positiveOr(userProbe?.periodSeconds, 1),
      timeoutSeconds: positiveOr(userProbe?.timeoutSeconds, 1),
      failureThreshold: positiveOr(userProbe?.failureThreshold, 3),
      successThreshold: 1,
      ...(userProbe?.initialDelaySeconds ? { initialDelaySeconds: userProbe.initialDelaySeconds } : {}),
    },
    resources: config.queueProxy.resources,
    // Everything Pod Security `restricted` asks of a container, set on the container itself, so the
    // sidecar never makes a pod fail a policy that the user's own container passes.
    securityContext: {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
  };
}

const positiveOr = (value: number | undefined, fallback: number): number =>
  value !== undefined && value > 0 ? value : fallback;

/** SERVING_SERVICE and, for a revision, SERVING_REVISION: the labels of the queue-proxy's metrics. */
function unitEnv(svc: ServerlessService): V1EnvVar[] {
  const revision = svc.metadata.labels?.[REVISION_LABEL];
  const service = svc.metadata.labels?.[SERVICE_LABEL];
  if (revision === undefined || service === undefined)
    return [{ name: QUEUE_PROXY_ENV.serviceName, value: svc.metadata.name }];
  return [
    { name: QUEUE_PROXY_ENV.serviceName, value: service },
    { name: QUEUE_PROXY_ENV.revisionName, value: revision },
  ];
}
