// The queue-proxy's logger (telemetry/json-log.ts) writes what pino writes for the same calls, so
// log pipelines read the sidecar like every other component; and the request ids it would log.

import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { newRequestId } from '../../src/http/request-id.ts';
import { createJsonLog, type Log } from '../../src/telemetry/json-log.ts';

/** Lines a logger wrote, parsed, with the time checked and dropped. */
function parsed(lines: string[]): Record<string, unknown>[] {
  return lines.map((line) => {
    expect(line.endsWith('\n')).toBe(true);
    const { time, ...rest } = JSON.parse(line) as Record<string, unknown>;
    expect(new Date(time as string).toISOString()).toBe(time);
    return rest;
  });
}

function pinoLines(level: string, use: (log: Log) => void): string[] {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const log = pino(
    { level, base: { component: 'queue-proxy' }, timestamp: pino.stdTimeFunctions.isoTime },
    sink,
  );
  use(log);
  return lines;
}

function jsonLines(level: 'info' | 'debug' | 'warn', use: (log: Log) => void): string[] {
  const lines: string[] = [];
  use(createJsonLog('queue-proxy', level, (line) => lines.push(line)));
  return lines;
}

const calls = (log: Log): void => {
  const child = log.child({ namespace: 'default', service: 'hello', pod: 'hello-1' });
  child.info({ httpPort: 8012, ready: true }, 'queue-proxy started');
  child.info('drained');
  child.warn(
    { code: 'UPSTREAM_RESET', status: 502, traceId: undefined, text: 'quote " and \n' },
    'request failed',
  );
  child.debug({ detail: [1, 2] }, 'below info');
  child.child({ otel: true }).error('nested child');
};

describe('JsonLog', () => {
  it('writes the lines pino writes for the same calls, level filter included', () => {
    for (const level of ['info', 'debug', 'warn'] as const) {
      expect(parsed(jsonLines(level, calls))).toEqual(parsed(pinoLines(level, calls)));
    }
    expect(parsed(jsonLines('info', calls)).map((l) => l.msg)).toEqual([
      'queue-proxy started',
      'drained',
      'request failed',
      'nested child',
    ]);
  });

  it('writes an Error as pino does and keeps a line whose fields cannot be serialised', () => {
    const err = new Error('boom');
    const [ours] = parsed(jsonLines('info', (log) => log.error({ err }, 'failed')));
    const [theirs] = parsed(pinoLines('info', (log) => log.error({ err }, 'failed')));
    expect(ours).toMatchObject({ msg: 'failed', err: { type: 'Error', message: 'boom', stack: err.stack } });
    expect((theirs as { err: object }).err).toMatchObject({
      type: 'Error',
      message: 'boom',
      stack: err.stack,
    });
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const [line] = parsed(jsonLines('info', (log) => log.warn({ circular, big: 1n }, 'odd fields')));
    expect(line).toMatchObject({
      msg: 'odd fields',
      circular: '[unserializable object]',
      big: '[unserializable bigint]',
    });
  });
});

describe('newRequestId', () => {
  it('makes RFC 9562 version-4 UUIDs, all different', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 50_000; i++) {
      const id = newRequestId();
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      ids.add(id);
    }
    expect(ids.size).toBe(50_000);
  });
});
