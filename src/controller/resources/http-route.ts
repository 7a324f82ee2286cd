// The Gateway API HTTPRoutes of a service, when the cluster config names a Gateway (pure): one for
// the service's host with a weighted backendRef per revision, and one per traffic tag, so users
// with Envoy Gateway, Istio or Cilium get the split from their own gateway. Each backend is the
// revision's public Service (its endpoints the revision's pods, or the activators while it has
// none), and each backendRef sets the revision header, so an activator that holds the request
// (a cold revision) sends it to the revision the gateway chose instead of splitting it again.

import { ownedLabels } from '../../api/labels.ts';
import { externalHost, tagHost, tagRouteName } from '../../api/names.ts';
import type { ServerlessService } from '../../api/serverless-service.ts';
import type { ResolvedTrafficTarget } from '../../api/status.ts';
import { REVISION_HEADER } from '../../http/internal-headers.ts';
import { namespaceOf, ownerReference } from './owner.ts';
import { SERVICE_HTTP_PORT } from './services.ts';

export const GATEWAY_API_GROUP = 'gateway.networking.k8s.io';
export const HTTP_ROUTE_API_VERSION = `${GATEWAY_API_GROUP}/v1`;

export interface HttpRouteBackendRef {
  readonly group: '';
  readonly kind: 'Service';
  readonly name: string;
  readonly port: number;
  readonly weight: number;
  readonly filters: readonly {
    readonly type: 'RequestHeaderModifier';
    readonly requestHeaderModifier: {
      readonly set: readonly { readonly name: string; readonly value: string }[];
    };
  }[];
}

export interface HttpRoute {
  readonly apiVersion: typeof HTTP_ROUTE_API_VERSION;
  readonly kind: 'HTTPRoute';
  readonly metadata: {
    readonly name: string;
    readonly namespace: string;
    readonly labels: Record<string, string>;
    readonly ownerReferences: ReturnType<typeof ownerReference>[];
  };
  readonly spec: {
    readonly parentRefs: readonly { group: string; kind: 'Gateway'; namespace: string; name: string }[];
    readonly hostnames: readonly string[];
    readonly rules: readonly {
      readonly matches: readonly { readonly path: { readonly type: 'PathPrefix'; readonly value: '/' } }[];
      readonly backendRefs: readonly HttpRouteBackendRef[];
    }[];
  };
}

function backendRef(revision: string, weight: number): HttpRouteBackendRef {
  return {
    group: '',
    kind: 'Service',
    name: revision,
    port: SERVICE_HTTP_PORT,
    weight,
    filters: [
      {
        type: 'RequestHeaderModifier',
        requestHeaderModifier: { set: [{ name: REVISION_HEADER, value: revision }] },
      },
    ],
  };
}

/** The HTTPRoutes for `targets` (status.traffic as resolved), at the Gateway `gateway`. */
export function buildHttpRoutes(
  svc: ServerlessService,
  targets: readonly ResolvedTrafficTarget[],
  gateway: { readonly namespace: string; readonly name: string },
  domainSuffix: string,
): HttpRoute[] {
  const ns = namespaceOf(svc);
  const name = svc.metadata.name;
  const route = (routeName: string, hostname: string, refs: HttpRouteBackendRef[]): HttpRoute => ({
    apiVersion: HTTP_ROUTE_API_VERSION,
    kind: 'HTTPRoute',
    metadata: {
      name: routeName,
      namespace: ns,
      labels: ownedLabels(name),
      ownerReferences: [ownerReference(svc)],
    },
    spec: {
      parentRefs: [
        { group: GATEWAY_API_GROUP, kind: 'Gateway', namespace: gateway.namespace, name: gateway.name },
      ],
      hostnames: [hostname],
      rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: refs }],
    },
  });
  const shares = new Map<string, number>();
  for (const t of targets)
    if (t.percent > 0) shares.set(t.revisionName, (shares.get(t.revisionName) ?? 0) + t.percent);
  const routes = [
    route(
      name,
      externalHost(name, ns, domainSuffix),
      [...shares].map(([revision, percent]) => backendRef(revision, percent)),
    ),
  ];
  for (const t of targets) {
    if (t.tag === undefined) continue;
    routes.push(
      route(tagRouteName(name, t.tag), tagHost(t.tag, name, ns, domainSuffix), [
        backendRef(t.revisionName, 1),
      ]),
    );
  }
  return routes;
}
