// Structured JSON logs (pino), one root logger per process with the component name; children carry
// the service or pod. Level from ZEROSCALE_LOG_LEVEL (read by the entry point, passed in here).

import pino, { type Logger } from 'pino';
import type { Component } from './build-info.ts';

export type { Logger };

export function createLogger(component: Component, level = 'info'): Logger {
  return pino({ level, base: { component }, timestamp: pino.stdTimeFunctions.isoTime });
}

/** A logger that writes nothing, for tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
