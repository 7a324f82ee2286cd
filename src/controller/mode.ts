// Which backends the public EndpointSlice lists. The autoscaler decides the mode; the controller
// only refuses to serve straight to pods when there is no ready pod (that would drop requests).

import type { ServingMode } from '../api/status.ts';
import type { EndpointAddress, PublicBackends } from './resources/endpoint-slice.ts';

export function choosePublicBackends(
  wanted: ServingMode | undefined,
  readyPods: readonly EndpointAddress[],
  activators: readonly EndpointAddress[],
  activatorPort: number,
): PublicBackends {
  if (wanted === 'serve' && readyPods.length > 0) return { mode: 'serve', pods: readyPods };
  return { mode: 'proxy', activators, port: activatorPort };
}
