// Options more than one component reads, under the same flags and variables everywhere.

import { buildVersion } from '../telemetry/build-info.ts';
import { oneOf, port, text } from './options.ts';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const logLevelOption = oneOf(LOG_LEVELS)({
  flag: 'log-level',
  env: 'ZEROSCALE_LOG_LEVEL',
  default: 'info',
});

/** What the components that talk to the apiserver share: where it is, zeroscale's namespace, the image tag. */
export const kubeOptions = {
  kubeconfig: text({ flag: 'kubeconfig', env: 'KUBECONFIG' }),
  namespace: text({
    flag: 'namespace',
    env: ['ZEROSCALE_NAMESPACE', 'POD_NAMESPACE'],
    default: 'zeroscale-system',
  }),
  imageTag: text({ flag: 'image-tag', env: 'ZEROSCALE_IMAGE_TAG', default: buildVersion }),
  logLevel: logLevelOption,
} as const;

/** The leader-elected control plane (controller, autoscaler): metrics port and leader identity. */
export const controlPlaneOptions = {
  ...kubeOptions,
  metricsPort: port(1)({ flag: 'metrics-port', env: 'ZEROSCALE_METRICS_PORT', default: 9090 }),
  identity: text({ flag: 'identity' }),
} as const;
