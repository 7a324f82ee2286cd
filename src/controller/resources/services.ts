// The two Services of a ServerlessService. The private one selects the pods; the public one has no
// selector, because the controller writes its EndpointSlice (activators or pods, by mode).

import type { V1Service, V1ServicePort } from '@kubernetes/client-node';
import { SERVICE_TYPE_LABEL, type ServiceType, unitLabels } from '../../api/labels.ts';
import { privateServiceName, publicServiceName } from '../../api/names.ts';
import { H2C_APP_PROTOCOL, servingProtocolOf } from '../../api/protocol.ts';
import {
  QUEUE_PROXY_HTTP_PORT,
  QUEUE_PROXY_HTTP_PORT_NAME,
  QUEUE_PROXY_METRICS_PORT,
  QUEUE_PROXY_METRICS_PORT_NAME,
} from '../../api/queue-proxy.ts';
import type { ServerlessService } from '../../api/serverless-service.ts';
import { namespaceOf, ownerReference } from './owner.ts';

/** Port 80 of both Services leads to the queue-proxy. */
export const SERVICE_HTTP_PORT = 80;

// Numeric target ports: a named one could resolve to a port of the user's container that happens
// to share the name ("http" is a common choice).
const httpPort: V1ServicePort = {
  name: QUEUE_PROXY_HTTP_PORT_NAME,
  port: SERVICE_HTTP_PORT,
  targetPort: QUEUE_PROXY_HTTP_PORT,
  protocol: 'TCP',
};
const metricsPort: V1ServicePort = {
  name: QUEUE_PROXY_METRICS_PORT_NAME,
  port: QUEUE_PROXY_METRICS_PORT,
  targetPort: QUEUE_PROXY_METRICS_PORT,
  protocol: 'TCP',
};

/** The HTTP port, marked h2c for a service whose app speaks HTTP/2 (gateways then speak h2c to it). */
function httpPortOf(svc: ServerlessService): V1ServicePort {
  return servingProtocolOf(svc.spec.template.spec.containers) === 'h2c'
    ? { ...httpPort, appProtocol: H2C_APP_PROTOCOL }
    : { ...httpPort };
}

function serviceMetadata(svc: ServerlessService, name: string, type: ServiceType) {
  const labels = unitLabels(svc).labels;
  return {
    name,
    namespace: namespaceOf(svc),
    labels: { ...labels, [SERVICE_TYPE_LABEL]: type },
    ownerReferences: [ownerReference(svc)],
  };
}

/**
 * Headless: it exists for its EndpointSlices (the activator and autoscaler read the pods from
 * them), and nothing sends to its address. A ClusterIP each would spend the cluster's service
 * range twice as fast: a /20 (GKE's default) holds 4,096 addresses, one per service is enough.
 */
export function buildPrivateService(svc: ServerlessService): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: serviceMetadata(svc, privateServiceName(svc.metadata.name), 'private'),
    spec: {
      type: 'ClusterIP',
      clusterIP: 'None',
      selector: unitLabels(svc).selector,
      ports: [httpPortOf(svc), { ...metricsPort }],
    },
  };
}

export function buildPublicService(svc: ServerlessService): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: serviceMetadata(svc, publicServiceName(svc.metadata.name), 'public'),
    // No selector: the port's name ties it to the EndpointSlice's port; targetPort is unused.
    spec: { type: 'ClusterIP', ports: [httpPortOf(svc)] },
  };
}
