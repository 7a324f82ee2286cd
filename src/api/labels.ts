// The labels of the contract: what the controller puts on everything it makes for a
// ServerlessService, and the Kubernetes labels the activator and autoscaler select by. Every part
// imports them from here (Knative: pkg/apis/serving/register.go).

/** On every owned object and every pod: the name of the ServerlessService. */
export const SERVICE_LABEL = 'serving.zeroscale.dev/service';
/** On a Revision, its Deployment, private Service and pods: the name of the revision. */
export const REVISION_LABEL = 'serving.zeroscale.dev/revision';
/** On a Revision: its number among the service's revisions (the n of "<service>-<n>"). */
export const REVISION_NUMBER_LABEL = 'serving.zeroscale.dev/revision-number';
/**
 * On a Revision: whether traffic can reach it ("active": a share or a tag) or not ("reserve"). The
 * autoscaler takes a reserve revision to zero at once (Knative: serving.knative.dev/routingState).
 */
export const ROUTING_STATE_LABEL = 'serving.zeroscale.dev/routing-state';
export type RoutingState = 'active' | 'reserve';
/** On a Revision: a hash of its template, to tell whether the service's template still is it. */
export const TEMPLATE_HASH_ANNOTATION = 'serving.zeroscale.dev/template-hash';
/** On a Revision: when it last stopped being routed to (for the retention of old revisions). */
export const LAST_ROUTED_ANNOTATION = 'serving.zeroscale.dev/last-routed';

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

/** Labels of what the controller makes for one revision of a service (its Deployment, pods, private Service). */
export function revisionLabels(serviceName: string, revisionName: string): Record<string, string> {
  return { ...ownedLabels(serviceName), [REVISION_LABEL]: revisionName };
}

/**
 * The owned labels and pod selector of a run unit: a Revision (it carries REVISION_LABEL) or, for
 * the children made before revisions existed, the ServerlessService itself.
 */
export function unitLabels(unit: {
  metadata: { name: string; labels?: Record<string, string> | undefined };
}): {
  labels: Record<string, string>;
  selector: Record<string, string>;
} {
  const revision = unit.metadata.labels?.[REVISION_LABEL];
  const service = unit.metadata.labels?.[SERVICE_LABEL];
  if (revision === undefined || service === undefined)
    return { labels: ownedLabels(unit.metadata.name), selector: podSelector(unit.metadata.name) };
  return { labels: revisionLabels(service, revision), selector: { [REVISION_LABEL]: revision } };
}
