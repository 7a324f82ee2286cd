// Spans of the requests the proxies handle: one server span per request that continues the
// caller's W3C trace, a child span for time spent waiting, and the traceparent to send on so that
// the app's spans become children of ours. Loaded by tracing.ts only when tracing is on: a proxy
// without tracing never loads the OpenTelemetry API and makes no span.

import {
  type Attributes,
  type Context,
  createTraceState,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import type { ClientRequest } from '../http/client-message.ts';
import { parseTraceparent } from '../http/traceparent.ts';

export type TracedComponent = 'activator' | 'queue-proxy';

/** `cold_start`: waiting while the service had no ready pod; `queue_wait`: waiting for capacity. */
export type WaitSpanName = 'queue_wait' | 'cold_start';

export const REQUEST_SPAN_NAMES: { readonly [C in TracedComponent]: string } = {
  activator: 'activator.proxy',
  'queue-proxy': 'queue_proxy.proxy',
};

/**
 * Times are given in performance.now() ms, as the proxies measure them, and turned into wall-clock
 * time with one offset for all spans, so that a child never seems to start before its parent (the
 * SDK's default reads Date.now() per span, whole milliseconds apart).
 */
export class RequestSpans {
  readonly #tracer: Tracer;
  readonly #name: string;
  /** Wall-clock ms minus performance.now() ms; followed when the wall clock is stepped. */
  #offset = performance.timeOrigin;

  constructor(tracer: Tracer, component: TracedComponent) {
    this.#tracer = tracer;
    this.#name = REQUEST_SPAN_NAMES[component];
  }

  /** The span of a request received at `at`: a child of the caller's span when its traceparent is valid. */
  startRequest(req: ClientRequest, namespace: string, service: string, at = performance.now()): Span {
    return this.#tracer.startSpan(
      this.#name,
      {
        kind: SpanKind.SERVER,
        startTime: this.#wallClock(at),
        attributes: {
          'http.request.method': req.method ?? '',
          'url.path': pathOf(req.url ?? '/'),
          'zeroscale.namespace': namespace,
          'zeroscale.service': service,
        },
      },
      callerContext(req.rawHeaders),
    );
  }

  /** A child of a request span for the time it waits, from `at`. */
  startWait(parent: Span, name: WaitSpanName, at = performance.now()): Span {
    return this.#tracer.startSpan(
      name,
      { kind: SpanKind.INTERNAL, startTime: this.#wallClock(at) },
      trace.setSpan(ROOT_CONTEXT, parent),
    );
  }

  event(span: Span, name: string, at: number, attributes?: Attributes): void {
    span.addEvent(name, attributes, this.#wallClock(at));
  }

  end(span: Span, at = performance.now()): void {
    span.end(this.#wallClock(at));
  }

  /**
   * Ends a request span. `status` 0: no response was sent; `error`: the stable code of what went
   * wrong (a proxy failure or a rejection). 5xx marks the span as an error, as the HTTP semantic
   * conventions have it for servers.
   */
  endRequest(span: Span, status: number, error: string | undefined, at = performance.now()): void {
    if (status > 0) span.setAttribute('http.response.status_code', status);
    if (error !== undefined) span.setAttribute('error.type', error);
    if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: error ?? String(status) });
    span.end(this.#wallClock(at));
  }

  /** The traceparent that makes `span` the parent of what the next hop does. */
  traceparentOf(span: Span): string {
    const c = span.spanContext();
    return `00-${c.traceId}-${c.spanId}-${(c.traceFlags & 1) === 1 ? '01' : '00'}`;
  }

  // Epoch ms (with the fraction: the SDK keeps it) for a performance.now() time. Date.now() has
  // whole ms, so the offset moves only when it is off by more than 5 ms (the clock was stepped).
  #wallClock(at: number): number {
    const measured = Date.now() - performance.now();
    if (Math.abs(measured - this.#offset) > 5) this.#offset = measured;
    return at + this.#offset;
  }
}

/**
 * The caller's span from the traceparent and tracestate headers, as a parent context; the root
 * context when there is none or it is invalid (more than one traceparent is invalid: W3C §3.2).
 */
export function callerContext(raw: readonly string[]): Context {
  let traceparent: string | undefined;
  let count = 0;
  let tracestate: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 11 && name.toLowerCase() === 'traceparent') {
      traceparent = raw[i + 1];
      count++;
    } else if (name.length === 10 && name.toLowerCase() === 'tracestate') {
      tracestate = tracestate === undefined ? raw[i + 1] : `${tracestate},${raw[i + 1]}`;
    }
  }
  if (traceparent === undefined || count !== 1) return ROOT_CONTEXT;
  const parsed = parseTraceparent(traceparent);
  if (!parsed.valid) return ROOT_CONTEXT;
  const { traceId, parentId, flags } = parsed.context;
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId,
    spanId: parentId,
    traceFlags: flags & 1,
    isRemote: true,
    ...(tracestate === undefined ? {} : { traceState: createTraceState(tracestate) }),
  });
}

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}
