// Tracing through a real activator and queue-proxy over 127.0.0.1: a cold request's trace,
// exported by the OpenTelemetry SDK (set up by telemetry/tracing.ts from OTEL_* variables) to an
// OTLP/HTTP receiver in the test, holds the activator span with the cold-start phases as events,
// the queue-proxy span and the app's span, all in the caller's trace. And without tracing, the
// proxies make no span at all.

import http, { type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Span, type SpanContext, type Tracer, trace } from '@opentelemetry/api';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MemoryServiceFailureSource } from '../../src/activator/memory-sources.ts';
import { silentLogger } from '../../src/telemetry/log.ts';
import { callerContext, RequestSpans } from '../../src/telemetry/request-spans.ts';
import { startTracing, type Tracing } from '../../src/telemetry/tracing.ts';
import { HELLO, LOOPBACK, request, startActivatorRig, startPod, waitFor } from './proxy-harness.ts';

const HOST = 'hello.default.svc';
const CLIENT_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

// ---- an OTLP/HTTP receiver (JSON protocol) -------------------------------------------------

interface OtlpAttribute {
  readonly key: string;
  readonly value: {
    stringValue?: string;
    intValue?: string | number;
    boolValue?: boolean;
    doubleValue?: number;
  };
}
interface OtlpSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly name: string;
  readonly kind: number;
  readonly attributes: OtlpAttribute[];
  readonly events?: { name: string; timeUnixNano: string; attributes?: OtlpAttribute[] }[];
  readonly status?: { code?: number };
  readonly serviceName: string | undefined;
}

interface Receiver {
  readonly url: string;
  readonly spans: OtlpSpan[];
  readonly contentTypes: Set<string>;
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const spans: OtlpSpan[] = [];
  const contentTypes = new Set<string>();
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      contentTypes.add(req.headers['content-type'] ?? '');
      if (
        req.method !== 'POST' ||
        req.url !== '/v1/traces' ||
        !req.headers['content-type']?.includes('json')
      ) {
        res.writeHead(415).end();
        return;
      }
      const payload = JSON.parse(body);
      for (const rs of payload.resourceSpans ?? []) {
        const serviceName = (rs.resource?.attributes as OtlpAttribute[] | undefined)?.find(
          (a) => a.key === 'service.name',
        )?.value.stringValue;
        for (const ss of rs.scopeSpans ?? [])
          for (const span of ss.spans ?? []) spans.push({ ...span, serviceName });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
  return {
    url: `http://${LOOPBACK}:${(server.address() as AddressInfo).port}`,
    spans,
    contentTypes,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function attr(span: OtlpSpan, key: string): unknown {
  const v = span.attributes.find((a) => a.key === key)?.value;
  if (v === undefined) return undefined;
  return (
    v.stringValue ??
    (v.intValue === undefined ? undefined : Number(v.intValue)) ??
    v.boolValue ??
    v.doubleValue
  );
}

// ---- no tracing ------------------------------------------------------------------------------

describe('proxies without tracing', () => {
  it('make no span, even with a tracer provider registered in the process', async () => {
    let started = 0;
    const counting = trace.getTracer('counting');
    const tracer: Tracer = {
      startSpan: (...args: Parameters<Tracer['startSpan']>) => {
        started++;
        return counting.startSpan(...args);
      },
      startActiveSpan: (() => {
        started++;
        throw new Error('not used');
      }) as Tracer['startActiveSpan'],
    };
    trace.setGlobalTracerProvider({ getTracer: () => tracer });
    cleanups.push(async () => trace.disable());
    const r = await startActivatorRig();
    cleanups.push(() => r.close());
    const cold = request(r.activator.port, {
      host: HOST,
      headers: { traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01` },
    });
    await waitFor('request held', () => r.activator.service('default', 'hello')?.queued === 1);
    const p = await startPod('hello-1');
    cleanups.push(() => p.close());
    r.endpoints.set('default', 'hello', [p.endpoint]);
    expect((await cold).status).toBe(200);
    expect((await request(r.activator.port, { host: HOST })).status).toBe(200);
    expect(started).toBe(0);
    // The client's traceparent still goes through unchanged.
    expect(p.app.seen[0]!.headers.traceparent).toBe(`00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`);
  });
});

// ---- OTLP export -----------------------------------------------------------------------------

describe('tracing exported over OTLP/HTTP', () => {
  let receiver: Receiver;
  let tracing: Tracing;
  const savedEnv = { ...process.env };

  beforeAll(async () => {
    receiver = await startReceiver();
    // What a deployment sets; the SDK reads them from process.env.
    Object.assign(process.env, {
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_TRACES_SAMPLER: 'parentbased_always_on',
      OTEL_BSP_SCHEDULE_DELAY: '20',
      OTEL_NODE_RESOURCE_DETECTORS: 'env',
    });
    const started = await startTracing({ component: 'activator', env: process.env, log: silentLogger() });
    expect(started).toBeDefined();
    tracing = started!;
  });

  afterAll(async () => {
    await tracing?.shutdown();
    await receiver?.close();
    for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
    Object.assign(process.env, savedEnv);
  });

  it('holds the activator span with the cold-start phases, the queue-proxy span and the app span in the caller trace', async () => {
    // The app continues the trace it is given, as an instrumented app would.
    const appTracer = trace.getTracer('fake-app');
    const received: string[] = [];
    const app = (req: IncomingMessage, res: http.ServerResponse): void => {
      received.push(String(req.headers.traceparent));
      const span: Span = appTracer.startSpan('app.handle', {}, callerContext(req.rawHeaders));
      span.end();
      res.end('ok');
    };
    const r = await startActivatorRig([HELLO], {}, { spans: tracing.spans });
    cleanups.push(() => r.close());
    const cold = request(r.activator.port, {
      host: HOST,
      path: '/cold?x=1',
      headers: { traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`, tracestate: 'vendor=1' },
    });
    await waitFor('request held', () => r.activator.service('default', 'hello')?.queued === 1);
    const queueSpans = new RequestSpans(trace.getTracer('zeroscale'), 'queue-proxy');
    const p = await startPod('hello-1', app, {}, { spans: queueSpans });
    cleanups.push(() => p.close());
    r.endpoints.set('default', 'hello', [{ ...p.endpoint, ready: false }]);
    expect((await cold).status).toBe(200);

    const names = ['activator.proxy', 'cold_start', 'queue_proxy.proxy', 'app.handle'];
    const spans = await waitFor('the four spans exported', () => {
      const found = names.map((n) => receiver.spans.find((s) => s.name === n && s.traceId === CLIENT_TRACE));
      return found.every((s) => s !== undefined) ? (found as OtlpSpan[]) : undefined;
    });
    const [activator, coldStart, queueProxy, appSpan] = spans as [OtlpSpan, OtlpSpan, OtlpSpan, OtlpSpan];
    expect(receiver.contentTypes).toEqual(new Set(['application/json']));

    // One trace, the caller's, with each hop the child of the one before.
    expect(activator.parentSpanId).toBe(CLIENT_SPAN);
    expect(coldStart.parentSpanId).toBe(activator.spanId);
    expect(queueProxy.parentSpanId).toBe(activator.spanId);
    expect(appSpan.parentSpanId).toBe(queueProxy.spanId);
    expect(received).toEqual([`00-${CLIENT_TRACE}-${queueProxy.spanId}-01`]);

    expect(activator.serviceName).toBe('zeroscale-activator');
    expect(activator.kind).toBe(2); // SPAN_KIND_SERVER
    expect(attr(activator, 'http.request.method')).toBe('GET');
    expect(attr(activator, 'url.path')).toBe('/cold');
    expect(attr(activator, 'http.response.status_code')).toBe(200);
    expect(attr(activator, 'zeroscale.service')).toBe('hello');
    expect(attr(activator, 'zeroscale.request_id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(attr(queueProxy, 'zeroscale.request_id')).toBe(attr(activator, 'zeroscale.request_id'));

    // On one clock: the cold start lies within the request, and the queue-proxy got it after the
    // activator did (the cold start began when the request arrived: same start).
    const t = (span: OtlpSpan, end: 'start' | 'end') =>
      BigInt((span as unknown as Record<string, string>)[`${end}TimeUnixNano`]!);
    expect(t(coldStart, 'start')).toBe(t(activator, 'start'));
    expect(t(coldStart, 'end') <= t(activator, 'end')).toBe(true);
    expect(t(queueProxy, 'start') > t(coldStart, 'start')).toBe(true);

    const events = (coldStart.events ?? []).map((e) => e.name);
    expect(events).toEqual(['decision', 'pod_discovered', 'pod_ready', 'forwarded']);
    expect(attr(coldStart, 'zeroscale.cold_start.began_here')).toBe(true);
    const eventTimes = (coldStart.events ?? []).map((e) => BigInt(e.timeUnixNano));
    expect([...eventTimes].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(eventTimes);
  });

  it('ends a cold start that failed fast with its reason on the cold_start span', async () => {
    const failures = new MemoryServiceFailureSource();
    const r = await startActivatorRig([HELLO], {}, { spans: tracing.spans, failures });
    cleanups.push(() => r.close());
    const traceId = '5cf92f3577b34da6a3ce929d0e0e4737';
    const cold = request(r.activator.port, {
      host: HOST,
      headers: { traceparent: `00-${traceId}-${CLIENT_SPAN}-01` },
    });
    await waitFor('request held', () => r.activator.service('default', 'hello')?.queued === 1);
    failures.set('default', 'hello', {
      reason: 'ImagePullBackOff',
      message: 'container app: image "x" cannot be pulled',
    });
    expect((await cold).status).toBe(503);
    const span = await waitFor('the cold_start span exported', () =>
      receiver.spans.find((s) => s.name === 'cold_start' && s.traceId === traceId),
    );
    expect(attr(span, 'zeroscale.cold_start.failure_reason')).toBe('ImagePullBackOff');
  });

  it('starts a trace for a request without a traceparent and passes it on', async () => {
    const r = await startActivatorRig([HELLO], {}, { spans: tracing.spans });
    cleanups.push(() => r.close());
    const p = await startPod('hello-1');
    cleanups.push(() => p.close());
    r.endpoints.set('default', 'hello', [p.endpoint]);
    await waitFor('pod healthy', () => r.activator.service('default', 'hello')?.healthyPods === 1);
    expect((await request(r.activator.port, { host: HOST, path: '/warm' })).status).toBe(200);
    const sent = String(p.app.seen[0]!.headers.traceparent);
    const [, traceId, parentId] = sent.split('-');
    const activator = await waitFor('the activator span exported', () =>
      receiver.spans.find((s) => s.name === 'activator.proxy' && s.traceId === traceId),
    );
    // No queue-proxy tracing here: the app's parent is the activator's span, a new root.
    expect(activator.spanId).toBe(parentId);
    expect(activator.parentSpanId ?? '').toBe('');
    expect(receiver.spans.some((s) => s.traceId === traceId && s.name === 'queue_wait')).toBe(false);
    const sc: SpanContext | undefined = trace.getSpanContext(callerContext(['traceparent', sent]));
    expect(sc?.traceFlags).toBe(1);
  });
});
