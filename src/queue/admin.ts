// The queue-proxy's metrics port: /stats for the autoscaler (the last whole interval of
// RequestStats), /metrics for Prometheus, /wait-for-drain for the user container's preStop hook.

import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { QUEUE_PROXY_DRAIN_PATH } from '../api/queue-proxy.ts';
import { type PodStats, QUEUE_STATS_PATH } from '../autoscaler/protocol.ts';
import type { RequestStats, StatsReport } from '../dataplane/stats.ts';
import { closeServer, listen } from '../http/server.ts';

export interface AdminOptions {
  readonly pod: string;
  readonly stats: RequestStats;
  readonly intervalMs: number;
  readonly registry: Registry;
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
  readonly #server: http.Server;
  #port = 0;
  #timer: NodeJS.Timeout | undefined = undefined;
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
    this.#server = http.createServer({ requestTimeout: 0, keepAliveTimeout: 65_000 }, (req, res) =>
      this.#onRequest(req, res),
    );
  }

  get port(): number {
    return this.#port;
  }

  /** The last whole interval. */
  get lastStats(): PodStats {
    return this.#last;
  }

  start(): void {
    // Closes an interval every intervalMs; the report of a closed interval is what /stats serves.
    this.#options.stats.report();
    this.#timer = setInterval(() => {
      this.#last = toPodStats(this.#options.pod, this.#options.stats.report());
    }, this.#options.intervalMs);
  }

  async listen(port: number, host: string): Promise<void> {
    this.#port = await listen(this.#server, port, host);
  }

  /** Answers every /wait-for-drain caller, now and later. */
  drained(): void {
    this.#drained = true;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const res of waiters) answerDrained(res);
  }

  async close(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    for (const res of this.#drainWaiters) res.destroy();
    this.#drainWaiters = [];
    // Answered preStop hooks get a moment to read their answer; then every connection is cut.
    const closed = closeServer(this.#server);
    const force = setTimeout(() => this.#server.closeAllConnections(), 1_000);
    await closed;
    clearTimeout(force);
  }

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    const path = pathOf(req.url ?? '/');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      plain(res, 405, 'only GET\n');
      return;
    }
    switch (path) {
      case QUEUE_STATS_PATH:
        json(res, this.#last);
        return;
      case '/metrics':
        this.#options.registry.metrics().then(
          (text) => {
            res.writeHead(200, ['content-type', this.#options.registry.contentType]);
            res.end(text);
          },
          (err: Error) => plain(res, 500, `${err.message}\n`),
        );
        return;
      case QUEUE_PROXY_DRAIN_PATH:
        if (this.#drained) {
          answerDrained(res);
        } else {
          this.#drainWaiters.push(res);
          res.once('close', () => {
            const i = this.#drainWaiters.indexOf(res);
            if (i >= 0) this.#drainWaiters.splice(i, 1);
          });
        }
        return;
      default:
        plain(res, 404, `no such endpoint ${path}\n`);
    }
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

function plain(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, [
    'content-type',
    'text/plain; charset=utf-8',
    'content-length',
    String(Buffer.byteLength(body)),
  ]);
  res.end(body);
}

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}
