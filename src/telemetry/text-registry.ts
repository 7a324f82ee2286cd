// The queue-proxy's metrics registry: only metrics computed at scrape time (collected.ts), written
// in the Prometheus text format (version 0.0.4) by this file, with no metrics library loaded.
// prom-client costs the sidecar ~5.5 MB of anonymous memory and ~70 ms of start-up in every pod
// (bench/results/sidecar.md); what the queue-proxy exports is all Collected anyway, so only the
// writing of the text is needed, and that is this file. The control plane and the activator keep
// prom-client (metrics.ts).

import type { Metric } from 'prom-client';
import { BUILD_INFO_HELP, BUILD_INFO_NAME, buildInfoLabels, type Component } from './build-info.ts';
import {
  Collected,
  type CollectedValues,
  type MetricsRegistry,
  type MetricsSource,
  type Sample,
} from './collected.ts';

export const PROMETHEUS_TEXT_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export class TextRegistry implements MetricsRegistry, MetricsSource {
  readonly contentType = PROMETHEUS_TEXT_CONTENT_TYPE;
  readonly #metrics = new Map<string, Collected>();

  registerMetric(metric: Metric): void {
    const m: unknown = metric;
    if (!(m instanceof Collected)) throw new TypeError('a TextRegistry takes only Collected metrics');
    this.add(m);
  }

  add(metric: Collected): void {
    if (this.#metrics.has(metric.name))
      throw new Error(`a metric named ${metric.name} is already registered`);
    this.#metrics.set(metric.name, metric);
  }

  /** Names of the registered metrics, in registration order. */
  names(): string[] {
    return [...this.#metrics.keys()];
  }

  async metrics(): Promise<string> {
    return this.text();
  }

  /** The exposition text: `# HELP`, `# TYPE`, one line per sample, a blank line between metrics. */
  text(): string {
    let out = '';
    for (const metric of this.#metrics.values())
      out += `${out === '' ? '' : '\n'}${formatMetric(metric.collect())}`;
    return out;
  }
}

/** A TextRegistry holding the build info and the process metrics every component exports. */
export function createTextRegistry(component: Component): TextRegistry {
  const registry = new TextRegistry();
  const info = buildInfoLabels(component);
  registry.add(gauge(BUILD_INFO_NAME, BUILD_INFO_HELP, () => [{ value: 1, labels: info }]));
  registerProcessMetrics(registry);
  return registry;
}

/**
 * The process metrics under the names prom-client's default metrics use, so that dashboards read
 * the sidecar like the other components: CPU, resident memory, start time and V8 heap.
 */
export function registerProcessMetrics(registry: TextRegistry): void {
  const startSeconds = Math.round(Date.now() / 1000 - process.uptime());
  const cpu = (pick: (u: NodeJS.CpuUsage) => number) => (): Sample[] => [
    { value: pick(process.cpuUsage()) / 1e6, labels: {} },
  ];
  const one = (value: () => number) => (): Sample[] => [{ value: value(), labels: {} }];
  const metrics: Collected[] = [
    counter(
      'process_cpu_user_seconds_total',
      'Total user CPU time spent in seconds.',
      cpu((u) => u.user),
    ),
    counter(
      'process_cpu_system_seconds_total',
      'Total system CPU time spent in seconds.',
      cpu((u) => u.system),
    ),
    counter(
      'process_cpu_seconds_total',
      'Total user and system CPU time spent in seconds.',
      cpu((u) => u.user + u.system),
    ),
    gauge('process_resident_memory_bytes', 'Resident memory size in bytes.', one(process.memoryUsage.rss)),
    gauge('process_start_time_seconds', 'Start time of the process since unix epoch in seconds.', () => [
      { value: startSeconds, labels: {} },
    ]),
    gauge(
      'nodejs_heap_size_total_bytes',
      'Process heap size from Node.js in bytes.',
      one(() => process.memoryUsage().heapTotal),
    ),
    gauge(
      'nodejs_heap_size_used_bytes',
      'Process heap size used from Node.js in bytes.',
      one(() => process.memoryUsage().heapUsed),
    ),
    gauge(
      'nodejs_external_memory_bytes',
      'Node.js external memory size in bytes.',
      one(() => process.memoryUsage().external),
    ),
  ];
  for (const m of metrics) registry.add(m);
}

function gauge(name: string, help: string, samples: () => Sample[]): Collected {
  return new Collected(name, help, 'gauge', samples);
}
function counter(name: string, help: string, samples: () => Sample[]): Collected {
  return new Collected(name, help, 'counter', samples);
}

/** One metric in the text format. Exported for its tests. */
export function formatMetric(m: CollectedValues): string {
  let out = `# HELP ${m.name} ${escapeHelp(m.help)}\n# TYPE ${m.name} ${m.type}\n`;
  for (const s of m.values) {
    out += s.metricName ?? m.name;
    let labels = '';
    for (const key in s.labels) {
      labels += `${labels === '' ? '' : ','}${key}="${escapeLabelValue(String(s.labels[key]))}"`;
    }
    if (labels !== '') out += `{${labels}}`;
    out += ` ${formatValue(s.value)}\n`;
  }
  return out;
}

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(v);
}

// The text format escapes backslash and newline in HELP, and also the double quote in label values.
function escapeHelp(s: string): string {
  return /[\\\n]/.test(s) ? s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n') : s;
}

function escapeLabelValue(s: string): string {
  return /[\\\n"]/.test(s) ? s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"') : s;
}
