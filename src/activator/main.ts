// `zeroscale activator`: options from the environment, services and pods from Kubernetes (or a
// static file), then serve until SIGTERM (drain, then exit) or SIGINT / a second SIGTERM.

import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { createKubeClient } from '../kube/config.ts';
import { stopOnSignals } from '../signals.ts';
import { createLogger } from '../telemetry/log.ts';
import { buildVersion } from '../telemetry/metrics.ts';
import { startTracing } from '../telemetry/tracing.ts';
import { startActivator } from './activator.ts';
import { HttpAutoscalerClient } from './http-autoscaler-client.ts';
import { KubeActivatorSources } from './kube-sources.ts';
import { DiscardingAutoscalerClient } from './memory-sources.ts';
import { parseActivatorEnv } from './options.ts';
import type { AutoscalerClient, EndpointsSource, ServiceCatalog } from './sources.ts';
import { parseStaticConfig, staticSources } from './static-config.ts';

export async function runActivator(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      // Services and pods from a JSON file instead of Kubernetes (see static-config.ts).
      'static-config': { type: 'string', default: env.ACTIVATOR_STATIC_CONFIG },
      // http://host:port of the autoscaler's stats endpoint.
      'autoscaler-url': { type: 'string', default: env.ZEROSCALE_AUTOSCALER_URL },
      kubeconfig: { type: 'string', default: env.KUBECONFIG },
      namespace: {
        type: 'string',
        default: env.ZEROSCALE_NAMESPACE ?? env.POD_NAMESPACE ?? 'zeroscale-system',
      },
      'autoscaler-service': {
        type: 'string',
        default: env.ZEROSCALE_AUTOSCALER_SERVICE ?? 'zeroscale-autoscaler',
      },
      'image-tag': { type: 'string', default: env.ZEROSCALE_IMAGE_TAG ?? buildVersion },
      'log-level': { type: 'string', default: env.ZEROSCALE_LOG_LEVEL ?? 'info' },
    },
  });
  const options = parseActivatorEnv(env);
  const log = createLogger('activator', values['log-level']);
  let catalog: ServiceCatalog;
  let endpoints: EndpointsSource;
  let autoscaler: AutoscalerClient | undefined;
  let kube: KubeActivatorSources | undefined;
  const staticFile = values['static-config'];
  if (staticFile !== undefined && staticFile !== '') {
    ({ catalog, endpoints } = staticSources(parseStaticConfig(fs.readFileSync(staticFile, 'utf8'))));
    autoscaler = new DiscardingAutoscalerClient();
  } else {
    kube = new KubeActivatorSources(createKubeClient(values.kubeconfig), {
      systemNamespace: values.namespace!,
      autoscalerService: values['autoscaler-service']!,
      imageTag: values['image-tag']!,
      log,
    });
    kube.start();
    await kube.waitForSync();
    ({ catalog, endpoints } = kube);
    const sources = kube;
    autoscaler = new HttpAutoscalerClient({ baseUrl: () => sources.autoscalerUrl() });
  }
  const url = values['autoscaler-url'];
  if (url !== undefined && url !== '') autoscaler = new HttpAutoscalerClient({ baseUrl: url });
  // Off unless OTEL_TRACES_EXPORTER or an OTLP endpoint is set (see telemetry/tracing.ts).
  const tracing = await startTracing({ component: 'activator', env, log });
  const activator = await startActivator(options, {
    catalog,
    endpoints,
    autoscaler,
    logger: log,
    spans: tracing?.spans,
    onColdStart: kube?.coldStartEvents(),
    podLifecycle: kube?.podLifecycle,
  });
  stopOnSignals(activator, log, async () => {
    await tracing?.shutdown();
  });
}
