// Names and labels of everything the controller makes for a ServerlessService, in one place so
// the controller, the autoscaler and the activator agree on them.

/** On every owned object and every pod: the name of the ServerlessService. */
export const SERVICE_LABEL = 'serving.zeroscale.dev/service';
/** On the two Services and the EndpointSlice: which of our Services it is. */
export const SERVICE_TYPE_LABEL = 'serving.zeroscale.dev/service-type';
export type ServiceType = 'private' | 'public';
/** On the public EndpointSlice: the mode it was written for ("proxy" or "serve"). */
export const MODE_LABEL = 'serving.zeroscale.dev/mode';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'zeroscale';

/** EndpointSlice labels: which Service it belongs to, and who manages it (not the EndpointSlice controller). */
export const ENDPOINTSLICE_SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
export const ENDPOINTSLICE_MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';
export const ENDPOINTSLICE_MANAGED_BY = 'controller.serving.zeroscale.dev';

/** Server-side apply field manager of the controller. */
export const CONTROLLER_FIELD_MANAGER = 'zeroscale-controller';
/** Name of the container that serves, when the user gave it none (Knative's choice). */
export const DEFAULT_SERVING_CONTAINER_NAME = 'user-container';

export function deploymentName(serviceName: string): string {
  return serviceName;
}

/** Selects the pods; the activator watches its EndpointSlices to find them. */
export function privateServiceName(serviceName: string): string {
  return `${serviceName}-private`;
}

/** No selector: clients use it; the controller points its EndpointSlice at activators or pods. */
export function publicServiceName(serviceName: string): string {
  return serviceName;
}

export function publicEndpointSliceName(serviceName: string): string {
  return `${serviceName}-public`;
}

/** Labels of every object the controller makes for a service. */
export function ownedLabels(serviceName: string): Record<string, string> {
  return { [SERVICE_LABEL]: serviceName, [MANAGED_BY_LABEL]: MANAGED_BY };
}

/** The Deployment's selector; it must never change, as a Deployment's selector is immutable. */
export function podSelector(serviceName: string): Record<string, string> {
  return { [SERVICE_LABEL]: serviceName };
}

/** Host name under the cluster's domain suffix: "hello.default.example.com". */
export function externalHost(serviceName: string, namespace: string, domainSuffix: string): string {
  return `${serviceName}.${namespace}.${domainSuffix}`;
}

/** Host name inside the cluster: "hello.default.svc.cluster.local". */
export function clusterLocalHost(serviceName: string, namespace: string, clusterDomain: string): string {
  return `${publicServiceName(serviceName)}.${namespace}.svc.${clusterDomain}`;
}

/** status.url */
export function serviceUrl(serviceName: string, namespace: string, domainSuffix: string): string {
  return `http://${externalHost(serviceName, namespace, domainSuffix)}`;
}
