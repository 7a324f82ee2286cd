// What every component says about its build, without loading any metrics library (the
// queue-proxy's start path stays free of prom-client; see text-registry.ts).

import packageJson from '../../package.json' with { type: 'json' };

export type Component = 'controller' | 'autoscaler' | 'activator' | 'queue-proxy';

/** The package's version (the image is tagged with it); read from package.json, not the environment. */
export const buildVersion: string = packageJson.version;

export const BUILD_INFO_NAME = 'zeroscale_build_info';
export const BUILD_INFO_HELP = 'Build information of this zeroscale component; always 1.';

export function buildInfoLabels(component: Component): {
  component: string;
  version: string;
  node_version: string;
} {
  return { component, version: buildVersion, node_version: process.versions.node };
}
