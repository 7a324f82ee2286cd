// The wire contract for autoscaling metrics: what a queue-proxy serves to the autoscaler's scraper,
// and what an activator pushes to the autoscaler every second (its stats and its pokes). JSON over
// HTTP with keep-alive; all times in milliseconds, all rates per second.

/** Port and paths of the autoscaler's stats endpoint (its pods are found through EndpointSlices). */
export const AUTOSCALER_STATS_PORT = 8080;
export const AUTOSCALER_STATS_PATH = '/v1/stats';
export const AUTOSCALER_POKE_PATH = '/v1/poke';

/** Served by each queue-proxy on its metrics port (9091): the last whole reporting interval. */
export const QUEUE_STATS_PATH = '/stats';

export interface PodStats {
  /** Pod name, so a pod scraped twice in one tick is counted once. */
  readonly pod: string;
  /** Length of the interval these averages cover. */
  readonly intervalMs: number;
  /** Time-weighted average of requests in flight over the interval, all requests. */
  readonly averageConcurrency: number;
  /** The part of averageConcurrency that came through an activator (already counted there). */
  readonly averageProxiedConcurrency: number;
  /** Requests per second over the interval, all and proxied. */
  readonly requestsPerSecond: number;
  readonly proxiedRequestsPerSecond: number;
}

export interface ServiceLoad {
  /** `namespace/name` of the ServerlessService. */
  readonly service: string;
  readonly averageConcurrency: number;
  readonly requestsPerSecond: number;
  /** Requests waiting in the activator for capacity (they count as demand). */
  readonly queued: number;
}

/** One activator replica's push, once per second, for every service it handled or holds. */
export interface ActivatorReport {
  readonly activator: string;
  readonly intervalMs: number;
  readonly services: readonly ServiceLoad[];
}

/** Sent at once when a request arrives for a service with no ready pod: scale from zero now. */
export interface Poke {
  readonly service: string;
  readonly activator: string;
}
