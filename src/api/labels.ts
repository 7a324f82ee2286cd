// The labels of the contract: what the controller puts on everything it makes for a
// ServerlessService, and the Kubernetes labels the activator and autoscaler select by. Every part
// imports them from here (Knative: pkg/apis/serving/register.go).

/** On every owned object and every pod: the name of the ServerlessService. */
export const SERVICE_LABEL = 'serving.zeroscale.dev/service';
/** On the two Services and the EndpointSlice: which of our Services it is. */
export const SERVICE_TYPE_LABEL = 'serving.zeroscale.dev/service-type';
export type ServiceType = 'private' | 'public';
/** On the public EndpointSlice: the mode it was written for ("proxy" or "serve"). */
export const MODE_LABEL = 'serving.zeroscale.dev/mode';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
/**
 * On a Deployment: a hash of what the controller last meant to apply (replicas aside). A field
 * removed from the template leaves the live object a superset of the desired one, which a subset
 * check alone would take for "nothing to do".
 */
export const DESIRED_HASH_ANNOTATION = 'serving.zeroscale.dev/desired-hash';
export const MANAGED_BY = 'zeroscale';

/** EndpointSlice label (Kubernetes'): the Service a slice belongs to. */
export const ENDPOINTSLICE_SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
/** EndpointSlice label: who manages the slice; ours are not the EndpointSlice controller's. */
export const ENDPOINTSLICE_MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';
export const ENDPOINTSLICE_MANAGED_BY = 'controller.serving.zeroscale.dev';

/** Labels of every object the controller makes for a service. */
export function ownedLabels(serviceName: string): Record<string, string> {
  return { [SERVICE_LABEL]: serviceName, [MANAGED_BY_LABEL]: MANAGED_BY };
}

/** The Deployment's selector; it must never change, as a Deployment's selector is immutable. */
export function podSelector(serviceName: string): Record<string, string> {
  return { [SERVICE_LABEL]: serviceName };
}

/** Label selector of the EndpointSlices of one Service: "kubernetes.io/service-name=<name>". */
export function endpointSlicesOf(serviceName: string): string {
  return `${ENDPOINTSLICE_SERVICE_NAME_LABEL}=${serviceName}`;
}
