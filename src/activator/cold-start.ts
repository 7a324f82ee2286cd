// Cold-start telemetry. A cold start of a service, as its waiting requests see it, runs from the
// arrival of the first request that found no ready pod until a pod began to answer one of the
// requests that waited through it. Its phases are timed where the activator sees them, and where a
// pod informer does (PodLifecycleSource); each ends in one metric update and one log line.

import { Counter, Histogram, type Registry } from 'prom-client';
import type { Logger } from '../telemetry/log.ts';
import { SERVICE_LABEL_NAMES, type ServiceLabels } from '../telemetry/service-labels.ts';

/**
 * The steps of a cold start in the order they normally happen. `decision`: the autoscaler
 * answered the poke; `pod_created`, `pod_scheduled`: reported by a pod informer, when one is
 * wired; `pod_discovered`: the first pod appeared in the endpoints (created, scheduled, has an
 * IP); `pod_ready`: the activator's own probe of its queue-proxy passed; `forwarded`: the pod
 * began to answer (first byte).
 */
export const COLD_START_PHASES = [
  'decision',
  'pod_created',
  'pod_scheduled',
  'pod_discovered',
  'pod_ready',
  'forwarded',
] as const;
export type ColdStartPhase = (typeof COLD_START_PHASES)[number];

/** One cold start's times, in ms on the performance.now() clock. */
export interface ColdStartTimes {
  readonly startedAt: number;
  /** When the poke that `decision` answers was sent. */
  readonly pokedAt: number | undefined;
  readonly at: Readonly<Partial<Record<ColdStartPhase, number>>>;
}

export interface PhaseTiming {
  readonly phase: ColdStartPhase;
  /** When the phase ended. */
  readonly at: number;
  readonly ms: number;
}

/**
 * The phases a cold start went through, in the order of COLD_START_PHASES, each with its
 * duration: `decision` from the poke to its answer, every other phase from the latest earlier
 * phase (or the start), 0 when it ended before that one. When the steps happen in order the
 * durations add up to the total: arrival 0, answer 4, pod listed 900, probe passed 1400, first
 * byte 1412 give decision 4, pod_discovered 896, pod_ready 500, forwarded 12 (sum 1412).
 */
export function coldStartPhases(times: ColdStartTimes): PhaseTiming[] {
  const out: PhaseTiming[] = [];
  let previous = times.startedAt;
  for (const phase of COLD_START_PHASES) {
    const at = times.at[phase];
    if (at === undefined) continue;
    const from = phase === 'decision' ? (times.pokedAt ?? times.startedAt) : previous;
    out.push({ phase, at, ms: Math.max(0, at - from) });
    if (at > previous) previous = at;
  }
  return out;
}

/** One cold start while it lasts. */
export class ColdStart implements ColdStartTimes {
  readonly startedAt: number;
  pokedAt: number | undefined = undefined;
  readonly at: Partial<Record<ColdStartPhase, number>> = {};
  /** Requests that waited through it and have not ended. */
  waiting = 0;
  /** Requests that waited through it, in all. */
  requests = 0;
  outcome: 'served' | 'abandoned' | 'failed' | undefined = undefined;
  /** Why it cannot succeed, when every pod of the service failed while it waited. */
  failure: ColdStartFailure | undefined = undefined;

  constructor(startedAt: number) {
    this.startedAt = startedAt;
  }

  /** Keeps the first time of `phase`; nothing after the end, and nothing from before the start. */
  mark(phase: ColdStartPhase, at: number): boolean {
    if (this.outcome !== undefined || at < this.startedAt || this.at[phase] !== undefined) return false;
    this.at[phase] = at;
    return true;
  }
}

/** Why a cold start could not succeed: every pod failed for this reason (see kube/pod-problems.ts). */
export interface ColdStartFailure {
  readonly reason: string;
  readonly message: string;
}

/** What the log line of a served cold start names: the request that got the first byte. */
export interface ColdStartServedBy {
  readonly requestId: string | undefined;
  readonly traceId: string | undefined;
  readonly pod: string | undefined;
}

/**
 * The cold-start metrics of an activator. Labels are namespace and service (and the phase), so
 * series are bounded by the services; each activator replica counts the cold starts its own
 * waiting requests saw.
 */
/** A finished cold start, for whoever records it beyond metrics (Kubernetes Events). */
export interface ColdStartEnded {
  readonly namespace: string;
  readonly service: string;
  /** Undefined when no waiting request was served (abandoned or failed). */
  readonly totalMs: number | undefined;
  readonly phases: readonly PhaseTiming[];
  /** Set when its requests were answered at once because every pod was failing. */
  readonly failure?: ColdStartFailure | undefined;
}

export class ColdStartMetrics {
  readonly #duration: Histogram<'namespace' | 'service' | 'revision'>;
  readonly #phases: Histogram<'namespace' | 'service' | 'revision' | 'phase'>;
  readonly #total: Counter<'namespace' | 'service' | 'revision'>;

  readonly #onEnded: ((e: ColdStartEnded) => void) | undefined;

  constructor(registry: Registry, onEnded?: (e: ColdStartEnded) => void) {
    this.#onEnded = onEnded;
    const registers = [registry];
    this.#duration = new Histogram({
      name: 'zeroscale_cold_start_duration_seconds',
      help: 'Cold starts as the waiting requests saw them: from the first request that found no ready pod to the first byte a pod answered.',
      labelNames: SERVICE_LABEL_NAMES,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 1.5, 2, 3, 5, 7.5, 10, 15, 20, 30, 60, 120, 300],
      registers,
    });
    this.#phases = new Histogram({
      name: 'zeroscale_cold_start_phase_duration_seconds',
      help: 'Duration of each phase of a cold start (decision, pod_created, pod_scheduled, pod_discovered, pod_ready, forwarded).',
      labelNames: [...SERVICE_LABEL_NAMES, 'phase'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
      registers,
    });
    this.#total = new Counter({
      name: 'zeroscale_cold_starts_total',
      help: 'Cold starts begun: requests found no ready pod and waited. Those that ended with no request served are counted here but not in zeroscale_cold_start_duration_seconds.',
      labelNames: SERVICE_LABEL_NAMES,
      registers,
    });
  }

  /** A cold start began; `first` of the service: its duration series starts at 0 (not absent). */
  begun(labels: ServiceLabels, first: boolean): void {
    if (first) this.#duration.zero(labels);
    this.#total.inc(labels);
  }

  ended(
    labels: ServiceLabels,
    totalMs: number | undefined,
    phases: readonly PhaseTiming[],
    failure?: ColdStartFailure,
  ): void {
    if (totalMs !== undefined) this.#duration.observe(labels, totalMs / 1000);
    for (const p of phases) this.#phases.observe({ ...labels, phase: p.phase }, p.ms / 1000);
    // The unit that cold-started: the revision when there is one.
    this.#onEnded?.({
      namespace: labels.namespace,
      service: labels.revision ?? labels.service,
      totalMs,
      phases,
      failure,
    });
  }

  /** Drops the series of a service that is gone. */
  forget(labels: ServiceLabels): void {
    this.#total.remove(labels);
    this.#duration.remove(labels);
    for (const phase of COLD_START_PHASES) this.#phases.remove({ ...labels, phase });
  }
}

/**
 * The cold starts of one service, one at a time. A request that has to wait joins the one under
 * way, or begins one when the service has no ready pod. It is served when a pod begins to answer
 * one of its requests; it is abandoned when all its requests ended before that (deadline, client
 * gone), and the next waiting request begins a new one.
 */
export class ColdStartTracker {
  readonly #labels: ServiceLabels;
  readonly #log: Logger;
  readonly #metrics: ColdStartMetrics;
  #current: ColdStart | undefined = undefined;
  #begun = 0;
  #closed = false;

  constructor(labels: ServiceLabels, log: Logger, metrics: ColdStartMetrics) {
    this.#labels = labels;
    this.#log = log;
    this.#metrics = metrics;
  }

  /** The cold start under way, if any. */
  get current(): ColdStart | undefined {
    return this.#current;
  }

  /** A request that arrived at `arrivedAt` starts waiting; `cold`: the service has no ready pod. */
  join(arrivedAt: number, cold: boolean): ColdStart | undefined {
    if (this.#closed) return undefined;
    let coldStart = this.#current;
    if (coldStart === undefined) {
      if (!cold) return undefined;
      coldStart = new ColdStart(arrivedAt);
      this.#current = coldStart;
      this.#metrics.begun(this.#labels, this.#begun++ === 0);
    }
    coldStart.waiting++;
    coldStart.requests++;
    return coldStart;
  }

  /** The autoscaler answered a poke sent at `pokedAt`; a poke from before this cold start is not its decision. */
  decided(pokedAt: number, at: number): void {
    const coldStart = this.#current;
    if (coldStart === undefined || pokedAt < coldStart.startedAt) return;
    if (coldStart.mark('decision', at)) coldStart.pokedAt = pokedAt;
  }

  mark(phase: ColdStartPhase, at: number): void {
    this.#current?.mark(phase, at);
  }

  /** A pod began to answer a request of `coldStart` at `at`: the first such answer ends it. */
  served(coldStart: ColdStart, at: number, by: ColdStartServedBy): void {
    if (coldStart !== this.#current) return;
    coldStart.mark('forwarded', at);
    coldStart.outcome = 'served';
    this.#current = undefined;
    this.#record(coldStart, by);
  }

  /** A request of `coldStart` ended; when none is left before one was served, it was abandoned. */
  left(coldStart: ColdStart): void {
    coldStart.waiting--;
    if (coldStart !== this.#current || coldStart.waiting > 0) return;
    coldStart.outcome = coldStart.failure === undefined ? 'abandoned' : 'failed';
    this.#current = undefined;
    this.#record(coldStart, undefined);
  }

  /**
   * Every pod of the service is failing: the cold start under way (if any) will not be served.
   * Its requests are about to be answered with the reason; when the last has left, it is
   * recorded as failed, with the reason.
   */
  failed(failure: ColdStartFailure): void {
    const coldStart = this.#current;
    if (coldStart !== undefined) coldStart.failure ??= failure;
  }

  /** The service is gone: nothing more is recorded and its series are dropped. */
  close(): void {
    this.#closed = true;
    this.#current = undefined;
    this.#metrics.forget(this.#labels);
  }

  #record(coldStart: ColdStart, by: ColdStartServedBy | undefined): void {
    if (this.#closed) return;
    const phases = coldStartPhases(coldStart);
    const forwarded = coldStart.at.forwarded;
    const totalMs = forwarded === undefined ? undefined : forwarded - coldStart.startedAt;
    this.#metrics.ended(this.#labels, totalMs, phases, coldStart.failure);
    const phasesMs: Partial<Record<ColdStartPhase, number>> = {};
    for (const p of phases) phasesMs[p.phase] = round(p.ms);
    const fields = {
      coldStart: {
        outcome: coldStart.outcome,
        ...(totalMs === undefined ? {} : { durationMs: round(totalMs) }),
        phasesMs,
        requests: coldStart.requests,
        ...(coldStart.failure === undefined ? {} : { failure: coldStart.failure }),
      },
      ...(by?.requestId === undefined ? {} : { requestId: by.requestId }),
      ...(by?.traceId === undefined ? {} : { traceId: by.traceId }),
      ...(by?.pod === undefined ? {} : { pod: by.pod }),
    };
    if (totalMs !== undefined) {
      this.#log.info(fields, `cold start served its first request after ${Math.round(totalMs)} ms`);
    } else if (coldStart.failure !== undefined) {
      this.#log.warn(
        fields,
        `cold start failed: ${coldStart.failure.message} (${coldStart.failure.reason}); its ${coldStart.requests} requests were answered 503`,
      );
    } else {
      this.#log.info(fields, `cold start ended with none of its ${coldStart.requests} requests served`);
    }
  }
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
