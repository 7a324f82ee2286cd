// One client request while the activator has it, and the ids its log lines carry.

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Span } from '@opentelemetry/api';
import { HeldSignal } from '../dataplane/held.ts';
import { type ClientRequest, type ClientResponse, clientGone } from '../http/client-message.ts';
import { firstValue, REQUEST_ID_HEADER } from '../http/headers.ts';
import { parseTraceparent } from '../http/traceparent.ts';
import type { PodSlot } from './balancer.ts';
import type { ColdStart } from './cold-start.ts';
import type { PodTarget, ServiceThrottler } from './service-throttler.ts';

/**
 * One client request while the activator has it. While it waits for capacity it is its own
 * abort signal and deadline-list node (see held.ts): holding costs no extra objects.
 */
export class ActivatorRequest extends HeldSignal {
  readonly service: ServiceThrottler;
  /** An HTTP/1.1 request or an HTTP/2 stream; an upgrade's is always HTTP/1.1. */
  readonly req: ClientRequest;
  readonly res: ClientResponse | undefined;
  readonly socket: Duplex | undefined;
  readonly head: Buffer | undefined;
  /** Built when first forwarded, not while held: 10,000 held requests need no header copies. */
  headers: string[] | undefined = undefined;
  readonly startedAt: number;
  /** Its whole deadline: the service's timeoutSeconds, or a gRPC client's shorter grpc-timeout. */
  timeoutMs: number;
  pod: PodTarget | undefined = undefined;
  slot: PodSlot | undefined = undefined;
  attempts = 0;
  holdsSlot = false;
  /** The cold start it waited through, if it found the service without a ready pod. */
  coldStart: ColdStart | undefined = undefined;
  /** With tracing: the request's span, and the child for the time it waits (cold_start or queue_wait). */
  span: Span | undefined = undefined;
  waitSpan: Span | undefined = undefined;

  constructor(
    service: ServiceThrottler,
    req: ClientRequest | IncomingMessage,
    res: ClientResponse | undefined,
    socket: Duplex | undefined,
    head: Buffer | undefined,
    startedAt = performance.now(),
  ) {
    super();
    this.service = service;
    this.req = req;
    this.res = res;
    this.socket = socket;
    this.head = head;
    this.startedAt = startedAt;
    this.timeoutMs = service.timeoutMs;
  }

  get client(): ClientResponse | Duplex {
    return (this.res ?? this.socket)!;
  }

  get clientGone(): boolean {
    return this.res === undefined ? this.socket!.destroyed : clientGone(this.res);
  }
}

/** The request id sent upstream (or the client's) and the trace id, for log lines. */
export function requestIds(r: ActivatorRequest): {
  requestId: string | undefined;
  traceId: string | undefined;
} {
  const raw = r.req.rawHeaders;
  const requestId = firstValue(r.headers ?? raw, REQUEST_ID_HEADER);
  let traceId = r.span?.spanContext().traceId;
  if (traceId === undefined) {
    const header = firstValue(raw, 'traceparent');
    const parsed = header === undefined ? undefined : parseTraceparent(header);
    if (parsed?.valid === true) traceId = parsed.context.traceId;
  }
  return { requestId, traceId };
}
