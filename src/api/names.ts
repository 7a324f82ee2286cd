// Names of everything the controller makes for a ServerlessService, and the keys and field
// managers the parts agree on, in one place (Knative: pkg/reconciler/.../resources/names).

/** Server-side apply field managers: the controller owns the children, the autoscaler replicas and status.autoscaler. */
export const CONTROLLER_FIELD_MANAGER = 'zeroscale-controller';
export const AUTOSCALER_FIELD_MANAGER = 'zeroscale-autoscaler';
/** Name of the container that serves, when the user gave it none (Knative's choice). */
export const DEFAULT_SERVING_CONTAINER_NAME = 'user-container';

export function deploymentName(serviceName: string): string {
  return serviceName;
}

const PRIVATE_SUFFIX = '-private';

/** Selects the pods; the activator watches its EndpointSlices to find them. */
export function privateServiceName(serviceName: string): string {
  return `${serviceName}${PRIVATE_SUFFIX}`;
}

/** The ServerlessService a private Service is of ("hello-private" → "hello"); undefined for any other name. */
export function serviceOfPrivateService(name: string): string | undefined {
  return name.endsWith(PRIVATE_SUFFIX) ? name.slice(0, -PRIVATE_SUFFIX.length) : undefined;
}

/** No selector: clients use it; the controller points its EndpointSlice at activators or pods. */
export function publicServiceName(serviceName: string): string {
  return serviceName;
}

export function publicEndpointSliceName(serviceName: string): string {
  return `${serviceName}-public`;
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

/** ("default", "hello") → "default/hello": how every part keys a service (maps, reports, pokes, the work queue). */
export function serviceKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** A revision's number-based name, "hello-3", kept within the length a revision name may have. */
export function numberedRevisionName(serviceName: string, n: number, maxLength = 55): string {
  const suffix = `-${n}`;
  return `${serviceName.slice(0, maxLength - suffix.length).replace(/-+$/, '')}${suffix}`;
}

/** The host of a traffic tag: "<tag>-<service>.<namespace>.<domain>" (Knative's default template). */
export function tagHost(tag: string, serviceName: string, namespace: string, domainSuffix: string): string {
  return `${tag}-${serviceName}.${namespace}.${domainSuffix}`;
}

/** A traffic tag's HTTPRoute (the service's own HTTPRoute is named after the service). */
export function tagRouteName(serviceName: string, tag: string): string {
  return `${serviceName}-${tag}`;
}
