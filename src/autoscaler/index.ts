// Entry point of the autoscaler's runtime, for `zeroscale autoscaler` (cli.ts): the tick loop, the
// stats server for the activators, and the scraper; on every replica, the leader's writing.
// Kubernetes is not touched here: the caller passes the ServiceSource and ScaleTarget.

import type { Registry } from 'prom-client';
import type { Clock } from '../clock.ts';
import type { Logger } from '../telemetry/log.ts';
import { Autoscaler } from './autoscaler.ts';
import { type AutoscalerConfig, type ClusterScalingConfig, resolveAutoscalerConfig } from './config.ts';
import { AUTOSCALER_STATS_PORT } from './metrics/protocol.ts';
import {
  HttpStatsFetcher,
  type HttpStatsFetcherOptions,
  type StatsFetcher,
} from './metrics/stats-fetcher.ts';
import type { ScaleTarget } from './scale-target.ts';
import type { ServiceSource } from './service-source.ts';
import { StatsServer } from './statserver/stats-server.ts';

export { Autoscaler, type AutoscalerOptions, type PokeOutcome } from './autoscaler.ts';
export {
  type AutoscalerConfig,
  type ClusterScalingConfig,
  DEFAULT_AUTOSCALER_CONFIG,
  DEFAULT_CLUSTER_SCALING,
  resolveAutoscalerConfig,
  toScalingSpec,
} from './config.ts';
export { HttpStatsFetcher, type StatsFetcher } from './metrics/stats-fetcher.ts';
export type { AutoscalerStatus, ScaleTarget, ServiceRef } from './scale-target.ts';
export type { ServiceView } from './service-scaler.ts';
export type { AutoscaledService, RestoredState, ServicePods, ServiceSource } from './service-source.ts';
export { StatsServer } from './statserver/stats-server.ts';

export interface StartAutoscalerOptions {
  readonly source: ServiceSource;
  readonly target: ScaleTarget;
  readonly logger: Logger;
  readonly registry: Registry;
  /** Port of the stats server; default 8080 (AUTOSCALER_STATS_PORT); 0 picks a free one. */
  readonly port?: number;
  /** Default: all interfaces. */
  readonly host?: string;
  /** Tick, status refresh, resync and the cluster-wide KPA knobs; defaults are Knative's. */
  readonly config?: Partial<Omit<AutoscalerConfig, 'cluster'>> & {
    readonly cluster?: Partial<ClusterScalingConfig>;
  };
  /** Options of the HTTP scraper (port 9091, 1 s timeout, 128 in flight); ignored with `fetcher`. */
  readonly scrape?: HttpStatsFetcherOptions;
  /** Replaces the HTTP scraper (benchmarks, tests). */
  readonly fetcher?: StatsFetcher;
  readonly clock?: Clock;
  /** False starts a hot standby: it decides but writes nothing until `autoscaler.lead()`. */
  readonly leading?: boolean;
}

export interface RunningAutoscaler {
  readonly autoscaler: Autoscaler;
  /** The stats server's bound port. */
  readonly port: number;
  /** Stops deciding and writing at once, then closes the stats server and the scraper's connections. */
  stop(): Promise<void>;
}

/**
 * Starts the autoscaler: the stats server first (so activators can report before the first
 * tick), then the tick loop. Throws INVALID_AUTOSCALER_CONFIG for bad options, and the listen
 * error (e.g. EADDRINUSE) if the port is taken.
 */
export async function startAutoscaler(options: StartAutoscalerOptions): Promise<RunningAutoscaler> {
  const config = resolveAutoscalerConfig(options.config);
  const fetcher = options.fetcher ?? new HttpStatsFetcher(options.scrape);
  const autoscaler = new Autoscaler({
    source: options.source,
    target: options.target,
    fetcher,
    logger: options.logger,
    registry: options.registry,
    config,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.leading === undefined ? {} : { leading: options.leading }),
  });
  const server = new StatsServer({ sink: autoscaler, logger: options.logger, registry: options.registry });
  let port: number;
  try {
    port = await server.listen(options.port ?? AUTOSCALER_STATS_PORT, options.host);
  } catch (err) {
    fetcher.close();
    throw err;
  }
  autoscaler.start();
  options.logger.info(
    { port, tickMs: config.tickMs, leading: autoscaler.leading },
    autoscaler.leading ? 'started the autoscaler' : 'started the autoscaler as a hot standby',
  );
  return {
    autoscaler,
    port,
    async stop() {
      await autoscaler.stop();
      await server.close();
      fetcher.close();
      options.logger.info('stopped the autoscaler');
    },
  };
}
