// The queue-proxy's logger: JSON lines in pino's format (level number, ISO time, bindings, msg),
// written synchronously to stdout, with no logging library loaded. pino costs the sidecar ~1.2 MB
// of memory and ~10 ms of start-up in every pod (bench/results/sidecar.md) for the handful of
// lines a queue-proxy writes (started, ready, drain, throttled failures). The control plane and
// the activator keep pino (log.ts); both loggers satisfy `Log`, which is all shared code asks for.

import type { Component } from './build-info.ts';

export interface LogFn {
  (obj: object, msg?: string): void;
  (msg: string): void;
}

/** What code shared by all components logs with: pino's Logger has it, and so does JsonLog. */
export interface Log {
  fatal: LogFn;
  error: LogFn;
  warn: LogFn;
  info: LogFn;
  debug: LogFn;
  trace: LogFn;
  child(bindings: Record<string, unknown>): Log;
}

export const LOG_LEVEL_VALUES = {
  fatal: 60,
  error: 50,
  warn: 40,
  info: 30,
  debug: 20,
  trace: 10,
  silent: Number.POSITIVE_INFINITY,
} as const;

export type LogLevel = keyof typeof LOG_LEVEL_VALUES;

type Write = (line: string) => void;

const toStdout: Write = (line) => {
  process.stdout.write(line);
};

class JsonLog implements Log {
  readonly #min: number;
  /** The bindings as a JSON fragment (`,"k":v…`), made once per child. */
  readonly #bound: string;
  readonly #write: Write;
  readonly fatal: LogFn;
  readonly error: LogFn;
  readonly warn: LogFn;
  readonly info: LogFn;
  readonly debug: LogFn;
  readonly trace: LogFn;

  constructor(min: number, bound: string, write: Write) {
    this.#min = min;
    this.#bound = bound;
    this.#write = write;
    this.fatal = this.#at(60);
    this.error = this.#at(50);
    this.warn = this.#at(40);
    this.info = this.#at(30);
    this.debug = this.#at(20);
    this.trace = this.#at(10);
  }

  child(bindings: Record<string, unknown>): Log {
    return new JsonLog(this.#min, this.#bound + fields(bindings), this.#write);
  }

  #at(level: number): LogFn {
    if (level < this.#min) return noop;
    return (objOrMsg: object | string, msg?: string): void => {
      const obj = typeof objOrMsg === 'string' ? undefined : objOrMsg;
      const text = typeof objOrMsg === 'string' ? objOrMsg : msg;
      let line = `{"level":${level},"time":"${new Date().toISOString()}"${this.#bound}`;
      if (obj !== undefined) line += fields(obj as Record<string, unknown>);
      if (text !== undefined) line += `,"msg":${JSON.stringify(text)}`;
      this.#write(`${line}}\n`);
    };
  }
}

function noop(): void {}

/** `,"k":v` for each own field; an Error as pino writes one (type, message, stack). */
function fields(obj: Record<string, unknown>): string {
  let out = '';
  for (const key of Object.keys(obj)) {
    const value = obj[key];
    if (value === undefined) continue;
    out += `,${JSON.stringify(key)}:${stringify(value)}`;
  }
  return out;
}

function stringify(value: unknown): string {
  if (value instanceof Error) {
    return JSON.stringify({ type: value.name, message: value.message, stack: value.stack });
  }
  try {
    return JSON.stringify(value) ?? 'null';
  } catch {
    // Circular or a BigInt: say so rather than lose the line.
    return JSON.stringify(`[unserializable ${typeof value}]`);
  }
}

/** A logger for `component` at `level` (one of LOG_LEVEL_VALUES); `write` is for tests. */
export function createJsonLog(component: Component, level: LogLevel = 'info', write: Write = toStdout): Log {
  return new JsonLog(LOG_LEVEL_VALUES[level], fields({ component }), write);
}

/** A logger that writes nothing. */
export function silentLog(): Log {
  return new JsonLog(LOG_LEVEL_VALUES.silent, '', toStdout);
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
