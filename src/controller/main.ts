// `zeroscale controller`: parses its options, builds the controller and serves metrics.

import { parseArgs } from 'node:util';
import { systemClock } from '../clock.ts';
import { createKubeClient } from '../kube/config.ts';
import { leaderIdentity } from '../kube/leader.ts';
import { createLogger } from '../telemetry/log.ts';
import { buildVersion, createRegistry } from '../telemetry/metrics.ts';
import { startAdminServer } from '../telemetry/server.ts';
import { startController } from './controller.ts';

export async function runController(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      kubeconfig: { type: 'string', default: env.KUBECONFIG },
      namespace: {
        type: 'string',
        default: env.ZEROSCALE_NAMESPACE ?? env.POD_NAMESPACE ?? 'zeroscale-system',
      },
      'activator-service': {
        type: 'string',
        default: env.ZEROSCALE_ACTIVATOR_SERVICE ?? 'zeroscale-activator',
      },
      'activator-port': { type: 'string', default: env.ZEROSCALE_ACTIVATOR_PORT ?? '8080' },
      'metrics-port': { type: 'string', default: env.ZEROSCALE_METRICS_PORT ?? '9090' },
      'image-tag': { type: 'string', default: env.ZEROSCALE_IMAGE_TAG ?? buildVersion },
      identity: { type: 'string', default: leaderIdentity(env.POD_NAME) },
      'lease-duration': { type: 'string', default: env.ZEROSCALE_LEASE_DURATION_MS ?? '15000' },
      'renew-deadline': { type: 'string', default: env.ZEROSCALE_RENEW_DEADLINE_MS ?? '10000' },
      'retry-period': { type: 'string', default: env.ZEROSCALE_RETRY_PERIOD_MS ?? '2000' },
      'log-level': { type: 'string', default: env.ZEROSCALE_LOG_LEVEL ?? 'info' },
    },
  });
  const log = createLogger('controller', values['log-level']);
  const registry = createRegistry('controller');
  const client = createKubeClient(values.kubeconfig);
  const controller = startController({
    client,
    log,
    registry,
    clock: systemClock,
    systemNamespace: values.namespace!,
    activatorService: values['activator-service']!,
    activatorPort: Number(values['activator-port']),
    imageTag: values['image-tag']!,
    internalToken: env.ZEROSCALE_INTERNAL_TOKEN?.trim() || undefined,
    identity: values.identity!,
    leaseDurationMs: Number(values['lease-duration']),
    renewDeadlineMs: Number(values['renew-deadline']),
    retryPeriodMs: Number(values['retry-period']),
    onLostLeadership: () => process.exit(1),
  });
  const admin = await startAdminServer({ port: Number(values['metrics-port']), registry, ready: () => true });
  log.info({ identity: values.identity, namespace: values.namespace }, 'controller started');
  const shutdown = async () => {
    log.info('controller stopping; releasing the leader lease');
    await controller.stop();
    admin.close();
    client.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown());
  process.once('SIGINT', () => void shutdown());
}
