// `zeroscale autoscaler`: every replica warms its informer caches, then runs the stats server and
// the decision loop and reports ready; only the replica holding the leader lease writes. The others
// are hot standbys: the activators report to every replica (the leader found by its Lease), and a
// standby scrapes the pods too, so a new leader decides on the same history as the old one.

import { collectDefaultMetrics } from 'prom-client';
import { systemClock } from '../clock.ts';
import { stopOnce, stopOnSignals } from '../cmd/shutdown.ts';
import { createKubeClient } from '../kube/config.ts';
import { LeaderElector } from '../kube/leader.ts';
import { createLogger } from '../telemetry/log.ts';
import { createRegistry } from '../telemetry/metrics.ts';
import { startAdminServer } from '../telemetry/server.ts';
import { type RunningAutoscaler, startAutoscaler } from './index.ts';
import { KubeServiceSource } from './kube/source.ts';
import { KubeScaleTarget } from './kube/target.ts';
import { parseAutoscalerOptions } from './options.ts';

export async function runAutoscaler(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  const o = parseAutoscalerOptions(argv, env);
  const log = createLogger('autoscaler', o.logLevel);
  const registry = createRegistry('autoscaler');
  // Node's process metrics (memory, CPU, heap), as the activator exports them.
  collectDefaultMetrics({ register: registry });
  const client = createKubeClient(o.kubeconfig);
  const cluster = {
    enableScaleToZero: o.enableScaleToZero,
    scaleToZeroGracePeriodMs: o.scaleToZeroGracePeriodMs,
    maxScaleUpRate: o.maxScaleUpRate,
    maxScaleDownRate: o.maxScaleDownRate,
  };
  const source = new KubeServiceSource(client, {
    systemNamespace: o.namespace,
    imageTag: o.imageTag,
    log,
  });
  source.start();
  const elector = new LeaderElector(client, {
    namespace: o.namespace,
    name: 'zeroscale-autoscaler',
    identity: o.identity,
    clock: systemClock,
    registry,
    component: 'autoscaler',
    leaseDurationMs: o.leaseDurationMs,
  });
  let running: RunningAutoscaler | undefined;
  let elected = false;
  let synced = false;
  const admin = await startAdminServer({ port: o.metricsPort, registry, ready: () => running !== undefined });
  // Every replica runs the loop once its caches are synced: the standby takes the activators'
  // reports and scrapes the pods like the leader, so it takes over with full windows.
  void (async () => {
    await source.waitForSync();
    synced = true;
    running = await startAutoscaler({
      source,
      target: new KubeScaleTarget(client, { log, ownerOf: (svc) => source.ownerOf(svc), registry }),
      logger: log,
      registry,
      port: o.port,
      config: { cluster },
      leading: elected,
    });
    if (elected) running.autoscaler.lead();
  })().catch((err: unknown) => {
    log.fatal({ err: String(err) }, 'autoscaler failed to start');
    process.exit(1);
  });
  void elector.run(
    () => {
      elected = true;
      running?.autoscaler.lead();
      log.info({ identity: o.identity, synced }, 'became leader; deciding');
    },
    () => {
      log.error('lost leadership; exiting so that a fresh process campaigns again');
      process.exit(1);
    },
  );
  const stop = async (): Promise<void> => {
    log.info('autoscaler stopping; releasing the leader lease');
    await running?.stop();
    await elector.stop();
    source.stop();
    admin.close();
    client.close();
  };
  stopOnSignals(stopOnce(stop), { log });
}
