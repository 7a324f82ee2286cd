// One Prometheus registry per process, made by the entry point and passed down: no global
// registry, so tests can build as many components as they like side by side.

import { Gauge, Registry } from 'prom-client';
import packageJson from '../../package.json' with { type: 'json' };

export type Component = 'controller' | 'autoscaler' | 'activator' | 'queue-proxy';

/** The package's version (the image is tagged with it); read from package.json, not the environment. */
export const buildVersion: string = packageJson.version;

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
