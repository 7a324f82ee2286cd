// `zeroscale activator`: options from the environment, services and pods from Kubernetes (or a
// static file), then serve until SIGTERM (drain, then exit) or SIGINT / a second SIGTERM.

import fs from 'node:fs';
import { readOptions } from '../cmd/options.ts';
import { stopOnSignals } from '../cmd/shutdown.ts';
import { createKubeClient } from '../kube/config.ts';
import { DEFAULT_FAIL_FAST_POLICY } from '../kube/pod-problems.ts';
import type { KubeClient } from '../kube/rest.ts';
import { createLogger } from '../telemetry/log.ts';
import { startTracing } from '../telemetry/tracing.ts';
import { startActivator } from './activator.ts';
import { API_HEALTH_DEFAULTS, ApiHealthProbe } from './api-health.ts';
import { HttpAutoscalerClient } from './http-autoscaler-client.ts';
import { KubeActivatorSources } from './kube-sources.ts';
import { DiscardingAutoscalerClient } from './memory-sources.ts';
import { activatorWiringOptions, parseActivatorEnv } from './options.ts';
import type { AutoscalerClient, EndpointsSource, ServiceCatalog } from './sources.ts';
import { parseStaticConfig, staticSources } from './static-config.ts';

export async function runActivator(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  const w = readOptions(activatorWiringOptions, env, argv);
  const options = parseActivatorEnv(env);
  const log = createLogger('activator', w.logLevel);
  let catalog: ServiceCatalog;
  let endpoints: EndpointsSource;
  let autoscaler: AutoscalerClient | undefined;
  let kube: KubeActivatorSources | undefined;
  let kubeClient: KubeClient | undefined;
  const staticFile = w.staticConfig;
  if (staticFile !== undefined) {
    ({ catalog, endpoints } = staticSources(parseStaticConfig(fs.readFileSync(staticFile, 'utf8'))));
    autoscaler = new DiscardingAutoscalerClient();
  } else {
    kubeClient = createKubeClient(w.kubeconfig);
    kube = new KubeActivatorSources(kubeClient, {
      systemNamespace: w.namespace,
      autoscalerService: w.autoscalerService,
      imageTag: w.imageTag,
      log,
      failFast: { ...DEFAULT_FAIL_FAST_POLICY, unschedulableAfterMs: w.unschedulableFailAfterMs },
    });
    kube.start();
    await kube.waitForSync();
    ({ catalog, endpoints } = kube);
    const sources = kube;
    autoscaler = new HttpAutoscalerClient({
      baseUrl: () => sources.autoscalerUrl(),
      standbyUrls: () => sources.autoscalerStandbyUrls(),
    });
  }
  // Only in a cluster: a static setup has no API to lose.
  const apiHealth =
    kubeClient === undefined ? undefined : new ApiHealthProbe(kubeClient, { ...API_HEALTH_DEFAULTS, log });
  apiHealth?.start();
  const url = w.autoscalerUrl;
  if (url !== undefined) autoscaler = new HttpAutoscalerClient({ baseUrl: url });
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
    failures: kube?.failures,
    controlPlane: apiHealth,
  });
  stopOnSignals(activator, { log, beforeExit: async () => await tracing?.shutdown() });
}
