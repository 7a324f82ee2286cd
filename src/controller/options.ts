// The controller's options: flags, with the environment as default (see cmd/options.ts).

import { type Env, integer, millis, port, readOptions, text } from '../cmd/options.ts';
import { controlPlaneOptions } from '../cmd/shared-options.ts';
import { identityOf } from '../kube/leader.ts';

const controllerOptionSpecs = {
  ...controlPlaneOptions,
  activatorService: text({
    flag: 'activator-service',
    env: 'ZEROSCALE_ACTIVATOR_SERVICE',
    default: 'zeroscale-activator',
  }),
  activatorPort: port(1)({ flag: 'activator-port', env: 'ZEROSCALE_ACTIVATOR_PORT', default: 8080 }),
  leaseDurationMs: millis({ flag: 'lease-duration', env: 'ZEROSCALE_LEASE_DURATION_MS', default: 15_000 }),
  renewDeadlineMs: millis({ flag: 'renew-deadline', env: 'ZEROSCALE_RENEW_DEADLINE_MS', default: 10_000 }),
  retryPeriodMs: millis({ flag: 'retry-period', env: 'ZEROSCALE_RETRY_PERIOD_MS', default: 2_000 }),
  internalToken: text({ env: 'ZEROSCALE_INTERNAL_TOKEN' }),
  // Reconciles at once. A new service costs ~5 sequential API writes, each waiting on the
  // apiserver and etcd; on the 2-core local cluster 1,000 new services were all Ready after 75 s
  // with 4 workers, 50 s with 16 and 70 s with 32 (CPU-bound by then; one run each, noisy).
  workers: integer(1, 256)({ flag: 'workers', env: 'ZEROSCALE_CONTROLLER_WORKERS', default: 16 }),
} as const;

export type ControllerCommandOptions = ReturnType<typeof parseControllerOptions>;

/** Throws INVALID_OPTION / INVALID_ENV naming the flag or variable. */
export function parseControllerOptions(argv: readonly string[], env: Env) {
  const o = readOptions(controllerOptionSpecs, env, argv);
  return { ...o, identity: identityOf(o.identity, env) };
}
