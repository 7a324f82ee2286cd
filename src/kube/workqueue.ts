// The reconcile work queue, with controller-runtime's contract: duplicate keys collapse, a key is
// never processed by two workers at once, a key that changes while it runs is run again after,
// failures back off per key (exponential, capped), delayed requeues are timers, and the queue is
// bounded (adds beyond the bound are dropped and counted; a resync brings them back).

import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface WorkQueueOptions {
  readonly name: string;
  readonly workers: number;
  readonly maxLength: number;
  readonly baseBackoffMs?: number;
  readonly maxBackoffMs?: number;
  readonly registry?: Registry;
}

export type ProcessResult = { readonly requeueAfterMs?: number } | undefined;
export type Processor = (key: string) => Promise<ProcessResult>;

interface QueueMetrics {
  readonly depth: Gauge;
  readonly adds: Counter;
  readonly dropped: Counter;
  readonly retries: Counter;
  readonly duration: Histogram;
  readonly errors: Counter;
  readonly total: Counter;
}

function metricsFor(name: string, registry: Registry | undefined): QueueMetrics | undefined {
  if (!registry) return undefined;
  const labels = { controller: name };
  const reg = [registry];
  const get = <T>(metricName: string, make: () => T): T =>
    (registry.getSingleMetric(metricName) as T | undefined) ?? make();
  const depth = get(
    'zeroscale_workqueue_depth',
    () =>
      new Gauge({
        name: 'zeroscale_workqueue_depth',
        help: 'Keys waiting in the work queue.',
        labelNames: ['controller'],
        registers: reg,
      }),
  );
  const adds = get(
    'zeroscale_workqueue_adds_total',
    () =>
      new Counter({
        name: 'zeroscale_workqueue_adds_total',
        help: 'Keys added to the work queue.',
        labelNames: ['controller'],
        registers: reg,
      }),
  );
  const dropped = get(
    'zeroscale_workqueue_dropped_total',
    () =>
      new Counter({
        name: 'zeroscale_workqueue_dropped_total',
        help: 'Keys not queued because the queue was at its bound (a resync adds them again).',
        labelNames: ['controller'],
        registers: reg,
      }),
  );
  const retries = get(
    'zeroscale_workqueue_retries_total',
    () =>
      new Counter({
        name: 'zeroscale_workqueue_retries_total',
        help: 'Keys requeued with back-off after an error.',
        labelNames: ['controller'],
        registers: reg,
      }),
  );
  const duration = get(
    'zeroscale_reconcile_duration_seconds',
    () =>
      new Histogram({
        name: 'zeroscale_reconcile_duration_seconds',
        help: 'Time one reconcile took.',
        labelNames: ['controller'],
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        registers: reg,
      }),
  );
  const errors = get(
    'zeroscale_reconcile_errors_total',
    () =>
      new Counter({
        name: 'zeroscale_reconcile_errors_total',
        help: 'Reconciles that failed.',
        labelNames: ['controller'],
        registers: reg,
      }),
  );
  const total = get(
    'zeroscale_reconcile_total',
    () =>
      new Counter({
        name: 'zeroscale_reconcile_total',
        help: 'Reconciles run.',
        labelNames: ['controller'],
        registers: reg,
      }),
  );
  depth.set(labels, 0);
  return { depth, adds, dropped, retries, duration, errors, total };
}

export class WorkQueue {
  readonly #options: Required<Omit<WorkQueueOptions, 'registry'>>;
  readonly #processor: Processor;
  readonly #metrics: QueueMetrics | undefined;
  /** Keys waiting to run, in order; `#queued` mirrors it for O(1) dedup. */
  readonly #queue: string[] = [];
  readonly #queued = new Set<string>();
  readonly #running = new Set<string>();
  /** Keys added while running: they run again once the current run ends. */
  readonly #dirtyWhileRunning = new Set<string>();
  readonly #failures = new Map<string, number>();
  readonly #timers = new Map<string, NodeJS.Timeout>();
  #activeWorkers = 0;
  #started = false;
  #stopped = false;
  #idleWaiters: (() => void)[] = [];
  onError: ((key: string, err: unknown) => void) | undefined;

  constructor(options: WorkQueueOptions, processor: Processor) {
    this.#options = {
      name: options.name,
      workers: options.workers,
      maxLength: options.maxLength,
      baseBackoffMs: options.baseBackoffMs ?? 50,
      maxBackoffMs: options.maxBackoffMs ?? 60_000,
    };
    this.#processor = processor;
    this.#metrics = metricsFor(options.name, options.registry);
  }

  get length(): number {
    return this.#queue.length;
  }

  add(key: string): void {
    if (this.#stopped) return;
    this.#metrics?.adds.inc({ controller: this.#options.name });
    if (this.#running.has(key)) {
      this.#dirtyWhileRunning.add(key);
      return;
    }
    if (this.#queued.has(key)) return;
    if (this.#queue.length >= this.#options.maxLength) {
      this.#metrics?.dropped.inc({ controller: this.#options.name });
      return;
    }
    this.#queued.add(key);
    this.#queue.push(key);
    this.#metrics?.depth.set({ controller: this.#options.name }, this.#queue.length);
    this.#pump();
  }

  /** Adds `key` after `delayMs`; a later call for the same key replaces an earlier, later one. */
  addAfter(key: string, delayMs: number): void {
    if (this.#stopped) return;
    const existing = this.#timers.get(key);
    if (existing) clearTimeout(existing);
    const timer = setTimeout(() => {
      this.#timers.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.#timers.set(key, timer);
  }

  #backoffMs(key: string): number {
    const n = this.#failures.get(key) ?? 0;
    return Math.min(this.#options.maxBackoffMs, this.#options.baseBackoffMs * 2 ** n);
  }

  /** Keys are accepted before start (a standby keeps its queue warm); workers run after it. */
  start(): void {
    this.#started = true;
    this.#pump();
  }

  #pump(): void {
    if (!this.#started) return;
    while (!this.#stopped && this.#activeWorkers < this.#options.workers && this.#queue.length > 0) {
      const key = this.#queue.shift()!;
      this.#queued.delete(key);
      this.#metrics?.depth.set({ controller: this.#options.name }, this.#queue.length);
      this.#activeWorkers++;
      this.#running.add(key);
      void this.#run(key);
    }
    if (this.#activeWorkers === 0 && this.#queue.length === 0)
      for (const w of this.#idleWaiters.splice(0)) w();
  }

  async #run(key: string): Promise<void> {
    const labels = { controller: this.#options.name };
    const end = this.#metrics?.duration.startTimer(labels);
    this.#metrics?.total.inc(labels);
    try {
      const result = await this.#processor(key);
      this.#failures.delete(key);
      if (result?.requeueAfterMs !== undefined) this.addAfter(key, result.requeueAfterMs);
    } catch (err) {
      this.#metrics?.errors.inc(labels);
      this.#metrics?.retries.inc(labels);
      const delay = this.#backoffMs(key);
      this.#failures.set(key, (this.#failures.get(key) ?? 0) + 1);
      this.onError?.(key, err);
      this.addAfter(key, delay);
    } finally {
      end?.();
      this.#running.delete(key);
      this.#activeWorkers--;
      if (this.#dirtyWhileRunning.delete(key)) this.add(key);
      this.#pump();
    }
  }

  /** Resolves when nothing is queued or running (timers for later requeues may still be set). */
  idle(): Promise<void> {
    if (this.#activeWorkers === 0 && (this.#queue.length === 0 || !this.#started)) return Promise.resolve();
    return new Promise((r) => this.#idleWaiters.push(r));
  }

  stop(): void {
    this.#stopped = true;
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
    this.#queue.length = 0;
    this.#queued.clear();
  }
}
