// Metrics computed at scrape time from state their owner keeps (counts on its own objects), so
// updating one costs nothing on the hot path. They go into any registry with `registerMetric`:
// prom-client's (control plane, activator) or the queue-proxy's TextRegistry, which never loads
// prom-client (see text-registry.ts). Only prom-client's types are imported here.

import type { Metric } from 'prom-client';

export type Labels = Record<string, string | number>;

export interface Sample {
  readonly value: number;
  readonly labels: Labels;
  /** For histograms: the series' own name (`…_bucket`, `…_sum`, `…_count`). */
  readonly metricName?: string;
}

export type CollectedType = 'counter' | 'gauge' | 'histogram';

/** What a registry reads from a metric at scrape time; prom-client's Registry reads the same shape. */
export interface CollectedValues {
  readonly name: string;
  readonly help: string;
  readonly type: CollectedType;
  readonly aggregator: 'sum';
  readonly values: Sample[];
}

/** Where metrics are registered: prom-client's Registry or a TextRegistry. */
export interface MetricsRegistry {
  registerMetric(metric: Metric): void;
}

/** What an admin server serves at /metrics. */
export interface MetricsSource {
  metrics(): Promise<string>;
  readonly contentType: string;
}

// The shape prom-client's Registry reads from a metric: name, help, type and `get()`.
export class Collected {
  readonly name: string;
  readonly help: string;
  readonly type: CollectedType;
  readonly aggregator = 'sum';
  readonly #samples: () => Sample[];

  constructor(name: string, help: string, type: CollectedType, samples: () => Sample[]) {
    this.name = name;
    this.help = help;
    this.type = type;
    this.#samples = samples;
  }

  /** The samples now, synchronously (TextRegistry). */
  collect(): CollectedValues {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values: this.#samples(),
    };
  }

  async get(): Promise<CollectedValues> {
    return this.collect();
  }

  reset(): void {}
}

/** Registers a metric whose samples `samples()` computes at scrape time. */
export function registerCollected(
  registry: MetricsRegistry,
  name: string,
  help: string,
  type: CollectedType,
  samples: () => Sample[],
): void {
  // The registry accepts any object of this shape; prom-client's types name only its classes.
  registry.registerMetric(new Collected(name, help, type, samples) as unknown as Metric);
}
