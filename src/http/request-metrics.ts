// Request metrics of the proxies, kept as plain numbers per service on the hot path and turned
// into Prometheus series only when scraped: a request costs a few additions, not a label hash per
// metric (prom-client hashes the label set on every inc/observe).

import type { Metric } from 'prom-client';
import { Collected, type CollectedType, type MetricsRegistry, type Sample } from '../telemetry/collected.ts';
import type { ServiceLabels } from '../telemetry/service-labels.ts';

/** Upper bounds of the duration histogram, in seconds: 1 ms to the longest timeout (600 s). */
export const DURATION_BUCKETS: readonly number[] = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600,
];

const CODE_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;
// Status codes 100..599 each have a counter slot: 4 KB per service, one array index per request.
const FIRST_CODE = 100;
const CODE_SLOTS = 500;

/**
 * The counters of one service. Labels are the service's namespace and name only, so the number
 * of series is bounded by the number of services; reasons are the caller's fixed unions.
 */
export class ServiceRequestMetrics<R extends string = string> {
  readonly labels: ServiceLabels;
  /** Responses by status code: slot `status - 100` for 100..599. */
  readonly byCode = new Float64Array(CODE_SLOTS);
  /** Non-cumulative bucket counts; the last slot is +Inf. */
  readonly buckets = new Float64Array(DURATION_BUCKETS.length + 1);
  durationSum = 0;
  durationCount = 0;
  readonly rejections = new Map<R, number>();
  /** Read at scrape time: requests in flight and waiting now. */
  inFlight: () => number = zero;
  queued: () => number = zero;

  constructor(labels: ServiceLabels) {
    this.labels = labels;
  }

  /** Records a finished request: its status (0 when no response was sent) and its duration. */
  observe(status: number, seconds: number): void {
    const slot = status - FIRST_CODE;
    if (slot >= 0 && slot < CODE_SLOTS) this.byCode[slot]!++;
    let i = 0;
    while (i < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[i]!) i++;
    this.buckets[i]!++;
    this.durationSum += seconds;
    this.durationCount++;
  }

  reject(reason: R): void {
    this.rejections.set(reason, (this.rejections.get(reason) ?? 0) + 1);
  }
}

function zero(): number {
  return 0;
}

/**
 * Registers the request metrics under `prefix` (`zeroscale_activator`, `zeroscale_queue`) for the
 * services `services()` yields at scrape time.
 */
export function registerRequestMetrics(
  registry: MetricsRegistry,
  prefix: string,
  services: () => Iterable<ServiceRequestMetrics>,
): void {
  const add = (name: string, help: string, type: CollectedType, samples: () => Sample[]): void => {
    registry.registerMetric(new Collected(name, help, type, samples) as unknown as Metric);
  };
  add(
    `${prefix}_requests_total`,
    'Requests answered, by status code and its class (requests that got no response are not counted).',
    'counter',
    () => {
      const out: Sample[] = [];
      for (const s of services()) {
        for (let i = 0; i < CODE_SLOTS; i++) {
          const value = s.byCode[i]!;
          if (value === 0) continue;
          const code = i + FIRST_CODE;
          const codeClass = CODE_CLASSES[Math.floor(code / 100) - 1]!;
          out.push({ value, labels: { ...s.labels, code, code_class: codeClass } });
        }
      }
      return out;
    },
  );
  add(
    `${prefix}_rejected_requests_total`,
    'Requests refused before reaching an upstream, by reason.',
    'counter',
    () => {
      const out: Sample[] = [];
      for (const s of services()) {
        for (const [reason, value] of s.rejections) out.push({ value, labels: { ...s.labels, reason } });
      }
      return out;
    },
  );
  add(`${prefix}_in_flight_requests`, 'Requests being forwarded now.', 'gauge', () => {
    const out: Sample[] = [];
    for (const s of services()) out.push({ value: s.inFlight(), labels: s.labels });
    return out;
  });
  add(`${prefix}_queued_requests`, 'Requests waiting for capacity now.', 'gauge', () => {
    const out: Sample[] = [];
    for (const s of services()) out.push({ value: s.queued(), labels: s.labels });
    return out;
  });
  const duration = `${prefix}_request_duration_seconds`;
  add(
    duration,
    'Time from receiving a request to the end of its response, queueing included.',
    'histogram',
    () => {
      const out: Sample[] = [];
      for (const s of services()) {
        let cumulative = 0;
        for (let i = 0; i < DURATION_BUCKETS.length; i++) {
          cumulative += s.buckets[i]!;
          out.push({
            metricName: `${duration}_bucket`,
            value: cumulative,
            labels: { ...s.labels, le: DURATION_BUCKETS[i]! },
          });
        }
        cumulative += s.buckets[DURATION_BUCKETS.length]!;
        out.push({
          metricName: `${duration}_bucket`,
          value: cumulative,
          labels: { ...s.labels, le: '+Inf' },
        });
        out.push({ metricName: `${duration}_sum`, value: s.durationSum, labels: s.labels });
        out.push({ metricName: `${duration}_count`, value: s.durationCount, labels: s.labels });
      }
      return out;
    },
  );
}
