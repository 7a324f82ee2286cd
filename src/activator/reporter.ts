// Reports each service's load to the autoscaler once per interval: time-weighted concurrency,
// request rate and requests waiting, for every service that had any in the interval.

import type { ActivatorReport, ServiceLoad } from '../autoscaler/metrics/protocol.ts';
import type { Clock, Timer } from '../clock.ts';
import type { ServiceThrottler } from './service-throttler.ts';
import type { AutoscalerClient } from './sources.ts';

export interface StatReporterOptions {
  readonly activator: string;
  readonly intervalMs: number;
  readonly clock: Clock;
  readonly services: () => Iterable<ServiceThrottler>;
  readonly client: AutoscalerClient;
  readonly onError: (err: unknown) => void;
}

/** The report for one interval; services with no load are left out (undefined when none had any). */
export function buildReport(
  activator: string,
  intervalMs: number,
  services: Iterable<ServiceThrottler>,
): ActivatorReport | undefined {
  const loads: ServiceLoad[] = [];
  for (const svc of services) {
    // Every service's interval is closed on every tick, so all cover the same span.
    const r = svc.stats.report();
    const queued = svc.breaker.queued;
    if (r.averageConcurrency === 0 && r.requestCount === 0 && queued === 0) continue;
    loads.push({
      service: svc.key,
      averageConcurrency: r.averageConcurrency,
      requestsPerSecond: r.requestsPerSecond,
      queued,
    });
  }
  return loads.length === 0 ? undefined : { activator, intervalMs, services: loads };
}

export class StatReporter {
  readonly #options: StatReporterOptions;
  #timer: Timer | undefined = undefined;
  #last = 0;

  constructor(options: StatReporterOptions) {
    this.#options = options;
  }

  start(): void {
    const clock = this.#options.clock;
    this.#last = clock.monotonicNow();
    for (const svc of this.#options.services()) svc.stats.report();
    this.#timer = clock.setInterval(() => this.tick(), this.#options.intervalMs).unref();
  }

  stop(): void {
    this.#options.clock.clearInterval(this.#timer);
    this.#timer = undefined;
  }

  tick(): void {
    const now = this.#options.clock.monotonicNow();
    const intervalMs = Math.round(now - this.#last);
    this.#last = now;
    const report = buildReport(this.#options.activator, intervalMs, this.#options.services());
    if (report === undefined) return;
    this.#options.client.report(report).catch(this.#options.onError);
  }
}
