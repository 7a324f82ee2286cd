// The public Service's EndpointSlice: in proxy mode it lists the activators, in serve mode the
// pods' queue-proxies. Switching modes is rewriting this one object.

import type { V1Endpoint, V1EndpointSlice } from '@kubernetes/client-node';
import {
  ENDPOINTSLICE_MANAGED_BY,
  ENDPOINTSLICE_MANAGED_BY_LABEL,
  ENDPOINTSLICE_SERVICE_NAME_LABEL,
  MODE_LABEL,
  SERVICE_TYPE_LABEL,
  unitLabels,
} from '../../api/labels.ts';
import { publicEndpointSliceName, publicServiceName } from '../../api/names.ts';
import { H2C_APP_PROTOCOL, servingProtocolOf } from '../../api/protocol.ts';
import { QUEUE_PROXY_HTTP_PORT, QUEUE_PROXY_HTTP_PORT_NAME } from '../../api/queue-proxy.ts';
import type { ServerlessService } from '../../api/serverless-service.ts';
import type { ServingMode } from '../../api/status.ts';
import { namespaceOf, ownerReference } from './owner.ts';

export interface EndpointAddress {
  readonly ip: string;
  /** Defaults to true. */
  readonly ready?: boolean;
  /** Defaults to ready. */
  readonly serving?: boolean;
  readonly terminating?: boolean;
  readonly nodeName?: string;
  /** The pod behind the address (a user pod or an activator pod). */
  readonly pod?: { readonly name: string; readonly namespace: string; readonly uid?: string };
}

export type PublicBackends =
  /** Activators at `port` (all activators share one port, as a slice has one port list). */
  | {
      readonly mode: Extract<ServingMode, 'proxy'>;
      readonly activators: readonly EndpointAddress[];
      readonly port: number;
    }
  /** The pods' queue-proxies on their HTTP port. */
  | { readonly mode: Extract<ServingMode, 'serve'>; readonly pods: readonly EndpointAddress[] };

type AddressType = 'IPv4' | 'IPv6';

const familyOf = (ip: string): AddressType => (ip.includes(':') ? 'IPv6' : 'IPv4');

function toEndpoint(address: EndpointAddress): V1Endpoint {
  const ready = address.ready ?? true;
  return {
    addresses: [address.ip],
    conditions: { ready, serving: address.serving ?? ready, terminating: address.terminating ?? false },
    ...(address.nodeName === undefined ? {} : { nodeName: address.nodeName }),
    ...(address.pod === undefined ? {} : { targetRef: { kind: 'Pod', ...address.pod } }),
  };
}

/**
 * One slice of one address family (IPv6 only when every address is IPv6; addresses of the other
 * family are left out, as a dual-stack cluster would need a second slice). Endpoints are sorted and
 * de-duplicated by IP so that the same backends always give the same object and applying it again
 * changes nothing.
 */
export function buildPublicEndpointSlice(svc: ServerlessService, backends: PublicBackends): V1EndpointSlice {
  const addresses = backends.mode === 'proxy' ? backends.activators : backends.pods;
  const port = backends.mode === 'proxy' ? backends.port : QUEUE_PROXY_HTTP_PORT;
  const addressType: AddressType =
    addresses.length > 0 && addresses.every((a) => familyOf(a.ip) === 'IPv6') ? 'IPv6' : 'IPv4';
  const byIp = new Map<string, EndpointAddress>();
  for (const address of addresses) {
    if (familyOf(address.ip) === addressType && !byIp.has(address.ip)) byIp.set(address.ip, address);
  }
  const endpoints = [...byIp.keys()].sort().map((ip) => toEndpoint(byIp.get(ip) as EndpointAddress));
  const name = svc.metadata.name;
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: publicEndpointSliceName(name),
      namespace: namespaceOf(svc),
      labels: {
        ...unitLabels(svc).labels,
        [SERVICE_TYPE_LABEL]: 'public',
        [MODE_LABEL]: backends.mode,
        [ENDPOINTSLICE_SERVICE_NAME_LABEL]: publicServiceName(name),
        [ENDPOINTSLICE_MANAGED_BY_LABEL]: ENDPOINTSLICE_MANAGED_BY,
      },
      ownerReferences: [ownerReference(svc)],
    },
    addressType,
    ports: [
      servingProtocolOf(svc.spec.template.spec.containers) === 'h2c'
        ? { name: QUEUE_PROXY_HTTP_PORT_NAME, port, protocol: 'TCP', appProtocol: H2C_APP_PROTOCOL }
        : { name: QUEUE_PROXY_HTTP_PORT_NAME, port, protocol: 'TCP' },
    ],
    endpoints,
  };
}
