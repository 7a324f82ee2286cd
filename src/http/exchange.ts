// The client's side of one forwarded request, the same whatever the upstream speaks: the request
// body read into the upstream with backpressure, its size bound and its stall timer; the whole
// deadline and the response-start timer; the client leaving; the one call to the handler. The
// HTTP/1.1 core (proxy.ts) and the HTTP/2 one (h2-proxy.ts) extend it with their upstream side.
//
// Hot path: client-side events go to module-level functions that find their exchange through a
// symbol on the emitter, so no closure is made per request.

import {
  type ClientRequest,
  type ClientResponse,
  clientGone,
  isHttp2Request,
  responseFinished,
} from './client-message.ts';
import { type ProxyFailure, proxyFailure } from './failures.ts';
import { type BodyFraming, EMPTY_BODY, NO_BODY } from './framing.ts';
import { takeHeldChunks } from './held-body.ts';

export interface ForwardHandler<C> {
  /**
   * Called exactly once per `forward`. `failure` undefined: the whole response reached the client.
   * With a failure whose `responseStarted` is false nothing was written to the client: the handler
   * answers it (see `writeErrorAnswer`) or, when `retryable`, may forward it again elsewhere.
   * The client request is then left unread and paused, ready to be forwarded again.
   */
  forwardEnded(context: C, failure: ProxyFailure | undefined): void;
  /** Optional: the upstream's status line and headers went to the client (its first byte). */
  responseStarted?(context: C): void;
}

export interface ForwarderOptions {
  /** From sending the request until the response begins; 0 = no limit. */
  readonly responseStartTimeoutMs?: number;
  /** No byte either way on the upstream connection (HTTP/2: stream) for this long; 0 = no limit. */
  readonly idleTimeoutMs?: number;
  /** Largest request body forwarded; beyond it 413 (or a cut connection if answering began). */
  readonly maxBodyBytes?: number;
  /** No byte of the client's body for this long while it is being forwarded: 408; 0 = no limit. */
  readonly bodyTimeoutMs?: number;
}

/** A forwarder's handler and options, resolved: what each of its exchanges reads. */
export class ForwarderBase<C> {
  readonly handler: ForwardHandler<C>;
  readonly responseStartTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly maxBodyBytes: number;
  readonly bodyTimeoutMs: number;

  constructor(handler: ForwardHandler<C>, options: ForwarderOptions = {}) {
    this.handler = handler;
    this.responseStartTimeoutMs = options.responseStartTimeoutMs ?? 0;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 0;
    this.maxBodyBytes = options.maxBodyBytes ?? Number.POSITIVE_INFINITY;
    this.bodyTimeoutMs = options.bodyTimeoutMs ?? 0;
  }

  /**
   * True (and the handler told) when the client left before its turn came, e.g. an HTTP/2 stream
   * reset as it was opened: its 'close' has been and gone, so nothing would end the exchange.
   */
  protected clientLeft(res: ClientResponse, context: C): boolean {
    if (!clientGone(res)) return false;
    this.handler.forwardEnded(context, proxyFailure('CLIENT_ABORTED', 'client closed the connection'));
    return true;
  }
}

const kExchange = Symbol('zeroscale.exchange');
interface Tagged {
  [kExchange]?: ClientExchange | undefined;
}

export abstract class ClientExchange {
  readonly forwarder: ForwarderBase<unknown>;
  readonly req: ClientRequest & Tagged;
  readonly res: ClientResponse & Tagged;
  readonly context: unknown;
  /** The upstream's address, for log lines (never for a client). */
  readonly address: string;
  framing: BodyFraming = NO_BODY;
  /** We started reading the client's body into the upstream. */
  bodyFlowing = false;
  bodyBytesSent = 0;
  /** The whole request, body included, was written upstream. */
  requestSent = false;
  /** The client's body stall timer is set (cleared when the body ends). */
  bodyTimerSet = false;
  responseStarted = false;
  ended = false;
  deadlineTimer: NodeJS.Timeout | undefined = undefined;
  startTimer: NodeJS.Timeout | undefined = undefined;

  constructor(
    forwarder: ForwarderBase<unknown>,
    req: ClientRequest,
    res: ClientResponse,
    address: string,
    context: unknown,
  ) {
    this.forwarder = forwarder;
    this.req = req;
    this.res = res;
    this.address = address;
    this.context = context;
  }

  // ---- what the upstream side provides ------------------------------------------------------

  /** Writes a body chunk upstream; false when the upstream wants no more for now. */
  protected abstract writeUpstream(chunk: Buffer): boolean;
  /** The client's body ended: end it upstream. */
  protected abstract endUpstream(): void;
  /** The exchange failed: give back or cut what it holds upstream. */
  protected abstract releaseUpstream(): void;
  /** The client can take more of the response: read the upstream again. */
  abstract resumeUpstream(): void;
  /** A body chunk can be written now (HTTP/1.1: a connection is assigned). */
  protected upstreamWritable(): boolean {
    return true;
  }

  // ---- client side --------------------------------------------------------------------------

  /** Watches the client and starts the deadline and response-start timers. */
  watchClient(timeoutMs: number): void {
    this.res[kExchange] = this;
    this.req[kExchange] = this;
    this.res.on('close', onClientClose);
    if (timeoutMs > 0) this.deadlineTimer = setTimeout(onDeadline, timeoutMs, this);
    const startMs = this.forwarder.responseStartTimeoutMs;
    if (startMs > 0) this.startTimer = setTimeout(onResponseStartTimeout, startMs, this);
  }

  /** The upstream's response began: its start timer stops. */
  responseBegan(): void {
    if (this.startTimer === undefined) return;
    clearTimeout(this.startTimer);
    this.startTimer = undefined;
  }

  /** Node's response writer refused a header the upstream sent (bytes its parser let through). */
  failInvalidHeader(err: unknown): void {
    this.fail(
      proxyFailure('UPSTREAM_PROTOCOL_ERROR', `upstream ${this.address} sent an invalid header`, {
        cause: err as Error,
      }),
    );
  }

  /** The response head went to the client: further 'drain's resume the upstream. */
  responseHeadSent(): void {
    this.responseStarted = true;
    this.res.on('drain', onClientDrain);
    this.forwarder.handler.responseStarted?.(this.context);
  }

  /** Starts reading the client's body into the upstream (once the upstream can take it). */
  startBody(): void {
    if (this.bodyFlowing || this.ended || this.framing <= EMPTY_BODY) return;
    this.bodyFlowing = true;
    const req = this.req;
    // What was read while the request waited for capacity goes first (see held-body.ts).
    const held = takeHeldChunks(req);
    if (held !== undefined) {
      for (const chunk of held) if (!this.acceptBody(chunk)) return;
    }
    if (req.readableEnded) {
      this.endBody();
      return;
    }
    req.on('data', onClientData);
    req.on('end', onClientEnd);
    const bodyTimeoutMs = this.forwarder.bodyTimeoutMs;
    if (bodyTimeoutMs > 0 && !req.complete) {
      // The socket's own timer (reset by every byte either way): no timer object per request.
      // Node emits 'timeout' on the request while its body is incomplete. An HTTP/2 request has
      // its stream's timer (the connection carries other streams).
      this.bodyTimerSet = true;
      req.on('timeout', onClientBodyTimeout);
      if (isHttp2Request(req)) req.setTimeout(bodyTimeoutMs);
      else req.socket.setTimeout(bodyTimeoutMs);
    }
    req.resume();
  }

  /** Counts a body chunk against the limit and writes it; false when the exchange failed. */
  acceptBody(chunk: Buffer): boolean {
    this.bodyBytesSent += chunk.length;
    if (this.bodyBytesSent > this.forwarder.maxBodyBytes) {
      this.fail(
        proxyFailure('BODY_TOO_LARGE', `request body larger than ${this.forwarder.maxBodyBytes} bytes`, {
          responseStarted: this.responseStarted,
        }),
      );
      return false;
    }
    if (!this.writeUpstream(chunk)) this.req.pause();
    return true;
  }

  endBody(): void {
    this.clearBodyTimer();
    this.endUpstream();
    this.requestSent = true;
  }

  clearBodyTimer(): void {
    if (!this.bodyTimerSet) return;
    this.bodyTimerSet = false;
    const req = this.req;
    req.removeListener('timeout', onClientBodyTimeout);
    // Node sets the keep-alive timeout again once the response is finished.
    if (isHttp2Request(req)) req.setTimeout(0);
    else req.socket?.setTimeout(0);
  }

  /** Leaves the client's request paused and unread so that it can be forwarded again. */
  detachClientBody(): void {
    if (!this.bodyFlowing) return;
    this.bodyFlowing = false;
    this.clearBodyTimer();
    const req = this.req;
    req.removeListener('data', onClientData);
    req.removeListener('end', onClientEnd);
    if (!req.readableEnded) req.pause();
  }

  // ---- outcome ------------------------------------------------------------------------------

  /** Ends the exchange with a failure: frees the upstream side and tells the handler. */
  fail(failure: ProxyFailure): void {
    if (this.ended) return;
    this.finish();
    this.releaseUpstream();
    this.detachClientBody();
    // Once the status line went out, the only way to tell the client is to cut the connection.
    if (failure.responseStarted && !clientGone(this.res)) this.res.destroy();
    this.forwarder.handler.forwardEnded(this.context, failure);
  }

  succeed(): void {
    if (this.ended) return;
    this.finish();
    this.forwarder.handler.forwardEnded(this.context, undefined);
  }

  finish(): void {
    this.ended = true;
    if (this.deadlineTimer !== undefined) clearTimeout(this.deadlineTimer);
    if (this.startTimer !== undefined) clearTimeout(this.startTimer);
    this.res.removeListener('close', onClientClose);
    this.res.removeListener('drain', onClientDrain);
    this.res[kExchange] = undefined;
    this.req[kExchange] = undefined;
  }

  /** Data from the client, while the body flows. */
  clientData(chunk: Buffer): void {
    if (!this.ended && this.upstreamWritable()) this.acceptBody(chunk);
  }
}

function onClientData(this: ClientRequest & Tagged, chunk: Buffer): void {
  this[kExchange]?.clientData(chunk);
}

function onClientEnd(this: ClientRequest & Tagged): void {
  this[kExchange]?.endBody();
}

function onClientBodyTimeout(this: ClientRequest & Tagged): void {
  const exchange = this[kExchange];
  if (exchange === undefined || exchange.ended) return;
  exchange.fail(
    proxyFailure(
      'CLIENT_BODY_TIMEOUT',
      `no byte of the request body for ${exchange.forwarder.bodyTimeoutMs} ms`,
      {
        responseStarted: exchange.responseStarted,
      },
    ),
  );
}

function onClientDrain(this: ClientResponse & Tagged): void {
  this[kExchange]?.resumeUpstream();
}

function onClientClose(this: ClientResponse & Tagged): void {
  const exchange = this[kExchange];
  if (exchange === undefined || exchange.ended) return;
  if (responseFinished(this)) exchange.succeed();
  else {
    exchange.fail(
      proxyFailure('CLIENT_ABORTED', 'client closed the connection', {
        responseStarted: exchange.responseStarted,
      }),
    );
  }
}

function onDeadline(exchange: ClientExchange): void {
  exchange.deadlineTimer = undefined;
  if (exchange.ended) return;
  exchange.fail(
    proxyFailure('REQUEST_TIMEOUT', 'request timeout: the request took longer than allowed', {
      responseStarted: exchange.responseStarted,
    }),
  );
}

function onResponseStartTimeout(exchange: ClientExchange): void {
  exchange.startTimer = undefined;
  if (exchange.ended || exchange.responseStarted) return;
  exchange.fail(
    proxyFailure(
      'RESPONSE_START_TIMEOUT',
      `upstream ${exchange.address} did not start its response within ${exchange.forwarder.responseStartTimeoutMs} ms`,
    ),
  );
}
