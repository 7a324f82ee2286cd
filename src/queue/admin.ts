// The queue-proxy's metrics port, on the shared admin server: /stats for the autoscaler (the last
// whole interval of RequestStats), /metrics, /healthz, /readyz, and /wait-for-drain for the user
// container's preStop hook.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { QUEUE_PROXY_DRAIN_PATH } from '../api/queue-proxy.ts';
import { type PodStats, QUEUE_STATS_PATH } from '../autoscaler/metrics/protocol.ts';
import type { Clock, Timer } from '../clock.ts';
import type { RequestStats, StatsReport } from '../dataplane/stats.ts';
import type { MetricsSource } from '../telemetry/collected.ts';
import { AdminServer, plain } from '../telemetry/server.ts';

export interface AdminOptions {
  readonly pod: string;
  readonly stats: RequestStats;
  readonly intervalMs: number;
  readonly clock: Clock;
  readonly registry: MetricsSource;
  /** /readyz: the user container is ready and the queue-proxy is not draining (/healthz stays 200). */
  readonly ready: () => boolean;
}

/** PodStats from one interval's report. */
export function toPodStats(pod: string, report: StatsReport): PodStats {
  return {
    pod,
    intervalMs: report.intervalMs,
    averageConcurrency: report.averageConcurrency,
    averageProxiedConcurrency: report.averageProxiedConcurrency,
    requestsPerSecond: report.requestsPerSecond,
    proxiedRequestsPerSecond: report.proxiedRequestsPerSecond,
  };
}

export class AdminEndpoints {
  readonly #options: AdminOptions;
  readonly #server: AdminServer;
  #timer: Timer | undefined = undefined;
  // Until the first interval closes there is no whole interval: an empty one, so the scraper sees
  // a pod with no load rather than an error.
  #last: PodStats;
  #drained = false;
  #drainWaiters: ServerResponse[] = [];

  constructor(options: AdminOptions) {
    this.#options = options;
    this.#last = {
      pod: options.pod,
      intervalMs: 0,
      averageConcurrency: 0,
      averageProxiedConcurrency: 0,
      requestsPerSecond: 0,
      proxiedRequestsPerSecond: 0,
    };
    this.#server = new AdminServer({
      clock: options.clock,
      registry: options.registry,
      ready: options.ready,
      routes: {
        [QUEUE_STATS_PATH]: (_req, res) => json(res, this.#last),
        [QUEUE_PROXY_DRAIN_PATH]: (req, res) => this.#waitForDrain(req, res),
      },
      // Answered preStop hooks get a moment to read their answer; then every connection is cut.
      closeGraceMs: 1_000,
    });
  }

  get port(): number {
    return this.#server.port;
  }

  /** The last whole interval. */
  get lastStats(): PodStats {
    return this.#last;
  }

  start(): void {
    // Closes an interval every intervalMs; the report of a closed interval is what /stats serves.
    this.#options.stats.report();
    this.#timer = this.#options.clock.setInterval(() => {
      this.#last = toPodStats(this.#options.pod, this.#options.stats.report());
    }, this.#options.intervalMs);
  }

  async listen(port: number, host: string): Promise<void> {
    await this.#server.listen(port, host);
  }

  /** Answers every /wait-for-drain caller, now and later. */
  drained(): void {
    this.#drained = true;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const res of waiters) answerDrained(res);
  }

  async close(): Promise<void> {
    this.#options.clock.clearInterval(this.#timer);
    for (const res of this.#drainWaiters) res.destroy();
    this.#drainWaiters = [];
    await this.#server.close();
  }

  #waitForDrain(_req: IncomingMessage, res: ServerResponse): void {
    if (this.#drained) {
      answerDrained(res);
      return;
    }
    this.#drainWaiters.push(res);
    res.once('close', () => {
      const i = this.#drainWaiters.indexOf(res);
      if (i >= 0) this.#drainWaiters.splice(i, 1);
    });
  }
}

function answerDrained(res: ServerResponse): void {
  plain(res, 200, 'drained\n');
}

function json(res: ServerResponse, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(200, [
    'content-type',
    'application/json',
    'content-length',
    String(Buffer.byteLength(body)),
    'cache-control',
    'no-store',
  ]);
  res.end(body);
}
