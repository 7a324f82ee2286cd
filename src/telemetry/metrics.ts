// One Prometheus registry per process, made by the entry point and passed down: no global
// registry, so tests can build as many components as they like side by side.

import { Gauge, Registry } from 'prom-client';

export type Component = 'controller' | 'autoscaler' | 'activator' | 'queue-proxy';

export const buildVersion = process.env.ZEROSCALE_VERSION ?? '0.1.0';

export function createRegistry(component: Component): Registry {
  const registry = new Registry();
  const info = new Gauge({
    name: 'zeroscale_build_info',
    help: 'Build information of this zeroscale component; always 1.',
    labelNames: ['component', 'version', 'node_version'],
    registers: [registry],
  });
  info.set({ component, version: buildVersion, node_version: process.versions.node }, 1);
  return registry;
}
