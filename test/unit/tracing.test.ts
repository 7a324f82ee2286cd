import fs from 'node:fs';
import path from 'node:path';
import { trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { LogThrottle } from '../../src/telemetry/json-log.ts';
import { callerContext } from '../../src/telemetry/request-spans.ts';
import { tracingRequested } from '../../src/telemetry/tracing.ts';

describe('tracingRequested', () => {
  it.each<{ name: string; env: Record<string, string>; expected: boolean }>([
    { name: 'nothing set: off (the default)', env: {}, expected: false },
    { name: 'an exporter named', env: { OTEL_TRACES_EXPORTER: 'otlp' }, expected: true },
    { name: 'console exporter', env: { OTEL_TRACES_EXPORTER: 'console' }, expected: true },
    { name: 'exporter none', env: { OTEL_TRACES_EXPORTER: 'none' }, expected: false },
    {
      name: 'none first wins, as the SDK reads it',
      env: { OTEL_TRACES_EXPORTER: 'none,otlp', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' },
      expected: false,
    },
    {
      name: 'an OTLP endpoint alone',
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' },
      expected: true,
    },
    {
      name: 'a traces-only OTLP endpoint',
      env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' },
      expected: true,
    },
    {
      name: 'blank values',
      env: { OTEL_TRACES_EXPORTER: ' ', OTEL_EXPORTER_OTLP_ENDPOINT: '' },
      expected: false,
    },
    {
      name: 'SDK disabled',
      env: { OTEL_SDK_DISABLED: 'TRUE', OTEL_TRACES_EXPORTER: 'otlp' },
      expected: false,
    },
    { name: 'sampler alone starts nothing', env: { OTEL_TRACES_SAMPLER: 'always_on' }, expected: false },
  ])('$name', ({ env, expected }) => {
    expect(tracingRequested(env)).toBe(expected);
  });
});

describe('callerContext', () => {
  const TRACE = '0af7651916cd43dd8448eb211c80319c';
  const PARENT = 'b7ad6b7169203331';
  const spanOf = (raw: string[]) => trace.getSpanContext(callerContext(raw));

  it('continues a valid traceparent as a remote parent, with its tracestate', () => {
    const sc = spanOf([
      'Host',
      'h',
      'TraceParent',
      `00-${TRACE}-${PARENT}-01`,
      'tracestate',
      'a=1',
      'tracestate',
      'b=2',
    ]);
    expect(sc).toMatchObject({ traceId: TRACE, spanId: PARENT, traceFlags: 1, isRemote: true });
    expect(sc?.traceState?.serialize()).toBe('a=1,b=2');
  });

  it('keeps the not-sampled flag', () => {
    expect(spanOf(['traceparent', `00-${TRACE}-${PARENT}-00`])?.traceFlags).toBe(0);
  });

  it.each([
    ['absent', ['Host', 'h']],
    ['malformed', ['traceparent', 'nope']],
    ['two of them', ['traceparent', `00-${TRACE}-${PARENT}-01`, 'traceparent', `00-${TRACE}-${PARENT}-01`]],
  ])('starts a new trace when the traceparent is %s', (_name, raw) => {
    expect(spanOf(raw)).toBeUndefined();
  });
});

describe('LogThrottle', () => {
  it('lets one line through per interval and says how many it left out', () => {
    const throttle = new LogThrottle(1_000);
    expect(throttle.take(0)).toBe(0);
    expect(throttle.take(10)).toBeUndefined();
    expect(throttle.take(999)).toBeUndefined();
    expect(throttle.take(1_000)).toBe(2);
    expect(throttle.take(5_000)).toBe(0);
  });
});

describe('the OpenTelemetry packages', () => {
  it('are loaded at run time only by the tracing modules, so a proxy without tracing never loads them', () => {
    const src = path.resolve(import.meta.dirname, '../../src');
    const offenders: string[] = [];
    for (const file of fs.readdirSync(src, { recursive: true, encoding: 'utf8' })) {
      if (!file.endsWith('.ts') || file === path.join('telemetry', 'request-spans.ts')) continue;
      const text = fs.readFileSync(path.join(src, file), 'utf8');
      // Static value imports (type-only imports are erased); tracing.ts imports dynamically.
      for (const m of text.matchAll(
        /^import (?!type )[^;]*?from '(@opentelemetry\/[^']+|[^']*request-spans\.ts)'/gms,
      )) {
        offenders.push(`${file}: ${m[1]}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
