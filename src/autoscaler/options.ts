// The autoscaler's options: flags, with the environment as default (see cmd/options.ts).

import { boolean, decimal, duration, type Env, millis, port, readOptions } from '../cmd/options.ts';
import { controlPlaneOptions } from '../cmd/shared-options.ts';
import { identityOf } from '../kube/leader.ts';
import { DEFAULT_CLUSTER_SCALING } from './config.ts';
import { AUTOSCALER_STATS_PORT } from './metrics/protocol.ts';

const d = DEFAULT_CLUSTER_SCALING;

const autoscalerOptionSpecs = {
  ...controlPlaneOptions,
  /** The stats server, where activators report and poke. */
  port: port(1)({ flag: 'port', env: 'ZEROSCALE_AUTOSCALER_PORT', default: AUTOSCALER_STATS_PORT }),
  scaleToZeroGracePeriodMs: duration({
    flag: 'scale-to-zero-grace-period',
    env: 'ZEROSCALE_SCALE_TO_ZERO_GRACE_PERIOD',
    default: d.scaleToZeroGracePeriodMs,
  }),
  maxScaleUpRate: decimal({ above: 1 })({
    flag: 'max-scale-up-rate',
    env: 'ZEROSCALE_MAX_SCALE_UP_RATE',
    default: d.maxScaleUpRate,
  }),
  maxScaleDownRate: decimal({ above: 1 })({
    flag: 'max-scale-down-rate',
    env: 'ZEROSCALE_MAX_SCALE_DOWN_RATE',
    default: d.maxScaleDownRate,
  }),
  enableScaleToZero: boolean({
    flag: 'enable-scale-to-zero',
    env: 'ZEROSCALE_ENABLE_SCALE_TO_ZERO',
    default: d.enableScaleToZero,
  }),
  leaseDurationMs: millis({ flag: 'lease-duration', env: 'ZEROSCALE_LEASE_DURATION_MS', default: 15_000 }),
} as const;

/** Throws INVALID_OPTION / INVALID_ENV naming the flag or variable. */
export function parseAutoscalerOptions(argv: readonly string[], env: Env) {
  const o = readOptions(autoscalerOptionSpecs, env, argv);
  return { ...o, identity: identityOf(o.identity, env) };
}
