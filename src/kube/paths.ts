// REST paths of the resources zeroscale reads and writes, in one place.

import { REVISION_PLURAL } from '../api/revision.ts';
import { GROUP, PLURAL, VERSION } from '../api/serverless-service.ts';

const ns = (namespace: string) => `namespaces/${namespace}`;

export const kubePaths = {
  serverlessServices: () => `/apis/${GROUP}/${VERSION}/${PLURAL}`,
  serverlessService: (namespace: string, name: string) =>
    `/apis/${GROUP}/${VERSION}/${ns(namespace)}/${PLURAL}/${name}`,
  serverlessServiceStatus: (namespace: string, name: string) =>
    `/apis/${GROUP}/${VERSION}/${ns(namespace)}/${PLURAL}/${name}/status`,
  revisions: (namespace?: string) =>
    namespace
      ? `/apis/${GROUP}/${VERSION}/${ns(namespace)}/${REVISION_PLURAL}`
      : `/apis/${GROUP}/${VERSION}/${REVISION_PLURAL}`,
  revision: (namespace: string, name: string) =>
    `/apis/${GROUP}/${VERSION}/${ns(namespace)}/${REVISION_PLURAL}/${name}`,
  revisionStatus: (namespace: string, name: string) =>
    `/apis/${GROUP}/${VERSION}/${ns(namespace)}/${REVISION_PLURAL}/${name}/status`,
  allHttpRoutes: () => '/apis/gateway.networking.k8s.io/v1/httproutes',
  httpRoutes: (namespace: string) => `/apis/gateway.networking.k8s.io/v1/${ns(namespace)}/httproutes`,
  httpRoute: (namespace: string, name: string) =>
    `/apis/gateway.networking.k8s.io/v1/${ns(namespace)}/httproutes/${name}`,
  deployments: (namespace?: string) =>
    namespace ? `/apis/apps/v1/${ns(namespace)}/deployments` : '/apis/apps/v1/deployments',
  deployment: (namespace: string, name: string) => `/apis/apps/v1/${ns(namespace)}/deployments/${name}`,
  deploymentScale: (namespace: string, name: string) =>
    `/apis/apps/v1/${ns(namespace)}/deployments/${name}/scale`,
  services: (namespace?: string) => (namespace ? `/api/v1/${ns(namespace)}/services` : '/api/v1/services'),
  service: (namespace: string, name: string) => `/api/v1/${ns(namespace)}/services/${name}`,
  endpointSlices: (namespace?: string) =>
    namespace
      ? `/apis/discovery.k8s.io/v1/${ns(namespace)}/endpointslices`
      : '/apis/discovery.k8s.io/v1/endpointslices',
  endpointSlice: (namespace: string, name: string) =>
    `/apis/discovery.k8s.io/v1/${ns(namespace)}/endpointslices/${name}`,
  pods: (namespace?: string) => (namespace ? `/api/v1/${ns(namespace)}/pods` : '/api/v1/pods'),
  pod: (namespace: string, name: string) => `/api/v1/${ns(namespace)}/pods/${name}`,
  configMaps: (namespace: string) => `/api/v1/${ns(namespace)}/configmaps`,
} as const;
