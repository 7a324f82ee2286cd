// Structured JSON logs (pino), one root logger per process with the component name; children carry
// the service or pod. Level from ZEROSCALE_LOG_LEVEL (read by the entry point, passed in here).

import pino, { type Logger } from 'pino';
import type { Component } from './metrics.ts';

export type { Logger };

export function createLogger(component: Component, level = 'info'): Logger {
  return pino({ level, base: { component }, timestamp: pino.stdTimeFunctions.isoTime });
}

/** A logger that writes nothing, for tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/**
 * Lets one line through per interval and counts the rest, for logs a flood of requests could
 * trigger (one failing pod under load): the line that gets through says how many were left out.
 */
export class LogThrottle {
  readonly #intervalMs: number;
  #nextAt = Number.NEGATIVE_INFINITY;
  #suppressed = 0;

  constructor(intervalMs = 1_000) {
    this.#intervalMs = intervalMs;
  }

  /**
   * At `nowMs` (any monotonic ms clock): undefined when this line must be left out, otherwise the
   * number of lines left out since the last one that got through.
   */
  take(nowMs: number): number | undefined {
    if (nowMs < this.#nextAt) {
      this.#suppressed++;
      return undefined;
    }
    this.#nextAt = nowMs + this.#intervalMs;
    const suppressed = this.#suppressed;
    this.#suppressed = 0;
    return suppressed;
  }
}
