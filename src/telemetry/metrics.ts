// One Prometheus registry per process, made by the entry point and passed down: no global
// registry, so tests can build as many components as they like side by side.

import { Gauge, Registry } from 'prom-client';
import { BUILD_INFO_HELP, BUILD_INFO_NAME, buildInfoLabels, type Component } from './build-info.ts';

export { buildVersion, type Component } from './build-info.ts';

export function createRegistry(component: Component): Registry {
  const registry = new Registry();
  const info = new Gauge({
    name: BUILD_INFO_NAME,
    help: BUILD_INFO_HELP,
    labelNames: ['component', 'version', 'node_version'],
    registers: [registry],
  });
  info.set(buildInfoLabels(component), 1);
  return registry;
}
