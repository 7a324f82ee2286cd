// `zeroscale autoscaler`: every replica warms its informer caches and reports ready once they are
// synced; the replica holding the leader lease decides, writes and runs the stats server. So all
// replicas are the Service's endpoints, and activators pick the leader's among them by its Lease.

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
  let synced = false;
  void source.waitForSync().then(() => {
    synced = true;
  });
  const admin = await startAdminServer({ port: o.metricsPort, registry, ready: () => synced });
  void elector.run(
    () => {
      void (async () => {
        await source.waitForSync();
        running = await startAutoscaler({
          source,
          target: new KubeScaleTarget(client, { log, uidOf: (svc) => source.uidOf(svc) }),
          logger: log,
          registry,
          port: o.port,
          config: { cluster },
        });
        log.info({ identity: o.identity }, 'became leader; deciding');
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
