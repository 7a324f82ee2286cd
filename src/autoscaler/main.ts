// `zeroscale autoscaler`: warm informer caches on every replica; the replica holding the leader
// lease decides and writes. Only the leader reports ready, so the autoscaler Service's endpoints
// (where activators push stats and pokes) are the one that decides.

import { parseArgs } from 'node:util';
import { parseDurationMs } from '../api/duration.ts';
import { systemClock } from '../clock.ts';
import { ZeroscaleError } from '../errors.ts';
import { createKubeClient } from '../kube/config.ts';
import { LeaderElector, leaderIdentity } from '../kube/leader.ts';
import { createLogger } from '../telemetry/log.ts';
import { buildVersion, createRegistry } from '../telemetry/metrics.ts';
import { startAdminServer } from '../telemetry/server.ts';
import { type RunningAutoscaler, startAutoscaler } from './index.ts';
import { KubeServiceSource } from './kube-source.ts';
import { KubeScaleTarget } from './kube-target.ts';

function durationOption(name: string, text: string): number {
  const ms = parseDurationMs(text);
  if (ms === undefined)
    throw new ZeroscaleError('INVALID_OPTION', `--${name}: "${text}" is not a duration such as 30s`);
  return ms;
}

export async function runAutoscaler(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      kubeconfig: { type: 'string', default: env.KUBECONFIG },
      namespace: {
        type: 'string',
        default: env.ZEROSCALE_NAMESPACE ?? env.POD_NAMESPACE ?? 'zeroscale-system',
      },
      port: { type: 'string', default: env.ZEROSCALE_AUTOSCALER_PORT ?? '8080' },
      'metrics-port': { type: 'string', default: env.ZEROSCALE_METRICS_PORT ?? '9090' },
      'image-tag': { type: 'string', default: env.ZEROSCALE_IMAGE_TAG ?? buildVersion },
      identity: { type: 'string', default: leaderIdentity(env.POD_NAME) },
      'scale-to-zero-grace-period': {
        type: 'string',
        default: env.ZEROSCALE_SCALE_TO_ZERO_GRACE_PERIOD ?? '30s',
      },
      'max-scale-up-rate': { type: 'string', default: env.ZEROSCALE_MAX_SCALE_UP_RATE ?? '1000' },
      'max-scale-down-rate': { type: 'string', default: env.ZEROSCALE_MAX_SCALE_DOWN_RATE ?? '2' },
      'enable-scale-to-zero': { type: 'string', default: env.ZEROSCALE_ENABLE_SCALE_TO_ZERO ?? 'true' },
      'lease-duration': { type: 'string', default: env.ZEROSCALE_LEASE_DURATION_MS ?? '15000' },
      'log-level': { type: 'string', default: env.ZEROSCALE_LOG_LEVEL ?? 'info' },
    },
  });
  const log = createLogger('autoscaler', values['log-level']);
  const registry = createRegistry('autoscaler');
  const client = createKubeClient(values.kubeconfig);
  const cluster = {
    enableScaleToZero: values['enable-scale-to-zero'] !== 'false',
    scaleToZeroGracePeriodMs: durationOption(
      'scale-to-zero-grace-period',
      values['scale-to-zero-grace-period']!,
    ),
    maxScaleUpRate: Number(values['max-scale-up-rate']),
    maxScaleDownRate: Number(values['max-scale-down-rate']),
  };
  const source = new KubeServiceSource(client, {
    systemNamespace: values.namespace!,
    imageTag: values['image-tag']!,
    log,
  });
  source.start();
  const elector = new LeaderElector(client, {
    namespace: values.namespace!,
    name: 'zeroscale-autoscaler',
    identity: values.identity!,
    clock: systemClock,
    registry,
    component: 'autoscaler',
    leaseDurationMs: Number(values['lease-duration']),
  });
  let running: RunningAutoscaler | undefined;
  // Every replica is ready once its caches are warm; activators find the leader through its Lease.
  let synced = false;
  void source.waitForSync().then(() => {
    synced = true;
  });
  const admin = await startAdminServer({
    port: Number(values['metrics-port']),
    registry,
    ready: () => synced,
  });
  void elector.run(
    () => {
      void (async () => {
        await source.waitForSync();
        running = await startAutoscaler({
          source,
          target: new KubeScaleTarget(client, { log, uidOf: (svc) => source.uidOf(svc) }),
          logger: log,
          registry,
          port: Number(values.port),
          config: { cluster },
        });
        log.info({ identity: values.identity }, 'became leader; deciding');
      })().catch((err: unknown) => {
        log.fatal({ err: String(err) }, 'autoscaler failed to start');
        process.exit(1);
      });
    },
    () => {
      log.error('lost leadership; exiting so that a fresh process campaigns again');
      process.exit(1);
    },
  );
  const shutdown = async () => {
    log.info('autoscaler stopping; releasing the leader lease');
    await running?.stop();
    await elector.stop();
    source.stop();
    admin.close();
    client.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown());
  process.once('SIGINT', () => void shutdown());
}
