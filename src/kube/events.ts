// Kubernetes Events about our objects, deduplicated as client-go's recorder does: the same
// (object, reason, message) within ten minutes bumps the count of one Event instead of making
// another. The dedup cache is bounded, and so is the rate: Events are best effort, so when a burst
// (1,000 services applied at once: a Created and a Ready each) would crowd the apiserver, the ones
// over 20 a second (burst 100) are dropped and counted in zeroscale_events_dropped_total.

import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { KubeClient } from './rest.ts';
import { WriteBudget } from './write-budget.ts';

const EVENTS_PER_SECOND = 20;
const EVENTS_BURST = 100;

export interface InvolvedObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace: string;
  readonly uid?: string | undefined;
}

interface Seen {
  name: string;
  count: number;
  firstTimestamp: string;
  atMs: number;
}

const dedupWindowMs = 10 * 60_000;
const maxCached = 4096;

export class EventRecorder {
  readonly #client: KubeClient;
  readonly #component: string;
  readonly #log: Logger;
  readonly #seen = new Map<string, Seen>();
  readonly #budget = new WriteBudget(EVENTS_PER_SECOND, EVENTS_BURST, performance.now());
  readonly #dropped: Counter | undefined;

  constructor(client: KubeClient, component: string, log: Logger, registry?: Registry) {
    this.#client = client;
    this.#component = component;
    this.#log = log;
    const name = 'zeroscale_events_dropped_total';
    this.#dropped =
      registry === undefined
        ? undefined
        : ((registry.getSingleMetric(name) as Counter | undefined) ??
          new Counter({
            name,
            help: 'Kubernetes Events not written because more than 20 a second (burst 100) were asked for.',
            registers: [registry],
          }));
  }

  record(obj: InvolvedObject, type: 'Normal' | 'Warning', reason: string, message: string): void {
    if (!this.#budget.take(performance.now())) {
      this.#dropped?.inc();
      return;
    }
    void this.#record(obj, type, reason, message).catch((err: unknown) =>
      this.#log.debug({ err: String(err), reason }, 'event was not recorded'),
    );
  }

  async #record(
    obj: InvolvedObject,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
  ): Promise<void> {
    const key = `${obj.namespace}/${obj.kind}/${obj.name}/${obj.uid}/${reason}/${message}`;
    const now = Date.now();
    const nowIso = new Date(now).toISOString();
    const seen = this.#seen.get(key);
    const base = `/api/v1/namespaces/${obj.namespace}/events`;
    if (seen && now - seen.atMs < dedupWindowMs) {
      seen.count++;
      seen.atMs = now;
      await this.#client.patch(`${base}/${seen.name}`, 'merge', { count: seen.count, lastTimestamp: nowIso });
      return;
    }
    const created = await this.#client.post<{ metadata: { name: string } }>(base, {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { generateName: `${obj.name}.`, namespace: obj.namespace },
      involvedObject: obj,
      reason,
      message: message.slice(0, 1024),
      type,
      source: { component: this.#component },
      reportingComponent: this.#component,
      reportingInstance: this.#component,
      firstTimestamp: nowIso,
      lastTimestamp: nowIso,
      count: 1,
    });
    if (this.#seen.size >= maxCached) this.#seen.delete(this.#seen.keys().next().value!);
    this.#seen.set(key, { name: created.metadata.name, count: 1, firstTimestamp: nowIso, atMs: now });
  }
}
