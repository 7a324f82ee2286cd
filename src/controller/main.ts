// `zeroscale controller`: parses its options, builds the controller and serves metrics; stops on
// SIGTERM or SIGINT, releasing the leader lease.

import { collectDefaultMetrics } from 'prom-client';
import { systemClock } from '../clock.ts';
import { stopOnce, stopOnSignals } from '../cmd/shutdown.ts';
import { createKubeClient } from '../kube/config.ts';
import { createLogger } from '../telemetry/log.ts';
import { createRegistry } from '../telemetry/metrics.ts';
import { startAdminServer } from '../telemetry/server.ts';
import { startController } from './controller.ts';
import { parseControllerOptions } from './options.ts';

export async function runController(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  const o = parseControllerOptions(argv, env);
  const log = createLogger('controller', o.logLevel);
  const registry = createRegistry('controller');
  // Node's process metrics (memory, CPU, heap), as the activator exports them.
  collectDefaultMetrics({ register: registry });
  const client = createKubeClient(o.kubeconfig);
  const controller = startController({
    client,
    log,
    registry,
    clock: systemClock,
    systemNamespace: o.namespace,
    activatorService: o.activatorService,
    activatorPort: o.activatorPort,
    imageTag: o.imageTag,
    internalToken: o.internalToken,
    identity: o.identity,
    leaseDurationMs: o.leaseDurationMs,
    renewDeadlineMs: o.renewDeadlineMs,
    retryPeriodMs: o.retryPeriodMs,
    workers: o.workers,
    onLostLeadership: () => process.exit(1),
  });
  const admin = await startAdminServer({ port: o.metricsPort, registry, ready: () => true });
  log.info({ identity: o.identity, namespace: o.namespace }, 'controller started');
  const stop = async (): Promise<void> => {
    log.info('controller stopping; releasing the leader lease');
    await controller.stop();
    admin.close();
    client.close();
  };
  stopOnSignals(stopOnce(stop), { log });
}
