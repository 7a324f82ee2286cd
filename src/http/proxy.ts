// The forwarding core of the queue-proxy and the activator: one client request to one upstream
// over its pool of kept-alive connections (upstream.ts), bodies streamed both ways with
// backpressure, deadlines, and a precise account of how a failure happened (so the activator
// knows when sending again is safe).
//
// Hot path: one Exchange object per forwarded request, which is itself the connection's user;
// client-side events go to module-level functions that find their Exchange through a symbol on
// the emitter, so no closure is made per request.

import type { ServerResponse } from 'node:http';
import {
  type ClientRequest,
  type ClientResponse,
  clientGone,
  closeAfterResponse,
  isHttp2Request,
  responseFinished,
  writeResponseHead,
} from './client-message.ts';
import { classifyUpstreamError, IDEMPOTENT_METHODS, type ProxyFailure, proxyFailure } from './failures.ts';
import { type BodyFraming, CHUNKED_BODY, EMPTY_BODY, NO_BODY, requestFraming } from './framing.ts';
import { takeHeldChunks } from './held-body.ts';

export { hasUnreadBody } from './framing.ts';

import { dropHopByHop } from './headers.ts';
import type { ResponseHead } from './response-parser.ts';
import type { ConnectionUser, Upstream, UpstreamConnection } from './upstream.ts';

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
  /** No byte either way on the upstream connection for this long; 0 = no limit. */
  readonly idleTimeoutMs?: number;
  /** Largest request body forwarded; beyond it 413 (or a cut connection if answering began). */
  readonly maxBodyBytes?: number;
  /** No byte of the client's body for this long while it is being forwarded: 408; 0 = no limit. */
  readonly bodyTimeoutMs?: number;
}

// Methods for which an absent body is announced as Content-Length: 0, as Node's client does.
const METHODS_WITH_IMPLICIT_BODY: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH']);
const CHUNK_END = Buffer.from('\r\n');
const LAST_CHUNK = Buffer.from('0\r\n\r\n');

const kExchange = Symbol('zeroscale.exchange');
interface Tagged {
  [kExchange]?: Exchange | undefined;
}

export class Forwarder<C> {
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
   * Forwards `req` to `upstream` with `headers` (flat, already rewritten; not modified) and
   * streams the answer to `res`. `timeoutMs` is what is left of the request's whole deadline
   * (0 = none).
   */
  forward(
    req: ClientRequest,
    res: ClientResponse,
    headers: readonly string[],
    upstream: Upstream,
    context: C,
    timeoutMs: number,
  ): void {
    // The client may have left before its turn came (an HTTP/2 stream reset as it was opened):
    // 'close' has been and gone, so nothing would ever end the exchange.
    if (clientGone(res)) {
      this.handler.forwardEnded(context, proxyFailure('CLIENT_ABORTED', 'client closed the connection'));
      return;
    }
    const exchange = new Exchange(this as Forwarder<unknown>, req, res, upstream, context);
    exchange.start(headers, timeoutMs);
  }
}

class Exchange implements ConnectionUser {
  readonly forwarder: Forwarder<unknown>;
  readonly req: ClientRequest & Tagged;
  readonly res: ClientResponse & Tagged;
  readonly upstream: Upstream;
  readonly context: unknown;
  /** The request line and headers, ready to write on any connection (again, after a retry). */
  head = '';
  framing: BodyFraming = NO_BODY;
  conn: UpstreamConnection | undefined = undefined;
  waitingForConnection = false;
  /** We started reading the client's body into the upstream connection. */
  bodyFlowing = false;
  bodyBytesSent = 0;
  /** The whole request, body included, was written upstream. */
  requestSent = false;
  /** The client's socket timeout is set to the body timeout (cleared when the body ends). */
  bodyTimerSet = false;
  responseStarted = false;
  ended = false;
  /** A kept-alive connection that the upstream had closed was replaced once already. */
  staleRetried = false;
  deadlineTimer: NodeJS.Timeout | undefined = undefined;
  startTimer: NodeJS.Timeout | undefined = undefined;

  constructor(
    forwarder: Forwarder<unknown>,
    req: ClientRequest,
    res: ClientResponse,
    upstream: Upstream,
    context: unknown,
  ) {
    this.forwarder = forwarder;
    this.req = req;
    this.res = res;
    this.upstream = upstream;
    this.context = context;
  }

  start(headers: readonly string[], timeoutMs: number): void {
    const req = this.req;
    this.framing = requestFraming(req);
    this.head = requestHead(req.method!, req.url!, headers, this.framing);
    this.res[kExchange] = this;
    this.req[kExchange] = this;
    this.res.on('close', onClientClose);
    const forwarder = this.forwarder;
    if (timeoutMs > 0) this.deadlineTimer = setTimeout(onDeadline, timeoutMs, this);
    if (forwarder.responseStartTimeoutMs > 0) {
      this.startTimer = setTimeout(onResponseStartTimeout, forwarder.responseStartTimeoutMs, this);
    }
    this.waitingForConnection = true;
    this.upstream.acquire(this);
  }

  // ---- ConnectionUser ----------------------------------------------------------------------

  onConnection(conn: UpstreamConnection): void {
    this.waitingForConnection = false;
    if (this.ended) {
      this.upstream.release(conn, true);
      return;
    }
    this.conn = conn;
    conn.begin(this.req.method!);
    if (this.forwarder.idleTimeoutMs > 0) conn.socket.setTimeout(this.forwarder.idleTimeoutMs);
    // On a new connection the head waits in the socket until the handshake; the body waits for
    // the handshake itself, so a refused connection leaves it unread for another upstream.
    conn.socket.write(this.head, 'latin1');
    if (this.framing <= EMPTY_BODY) this.requestSent = true;
    else if (conn.connected) this.startBody();
  }

  onConnected(): void {
    this.startBody();
  }

  onConnectionDrain(): void {
    if (this.bodyFlowing && !this.ended) this.req.resume();
  }

  onConnectionTimeout(): void {
    if (this.ended) return;
    this.fail(
      proxyFailure(
        'IDLE_TIMEOUT',
        `no data from upstream ${this.upstream.address} for ${this.forwarder.idleTimeoutMs} ms`,
        {
          responseStarted: this.responseStarted,
        },
      ),
    );
  }

  onConnectionError(err: Error & { code?: string }): void {
    if (this.ended) return;
    const conn = this.conn;
    if (this.responseStarted) {
      this.fail(
        proxyFailure(
          'UPSTREAM_RESPONSE_ABORTED',
          `upstream ${this.upstream.address} closed the connection in the middle of the response`,
          { responseStarted: true, cause: err },
        ),
      );
      return;
    }
    if (
      conn?.reused === true &&
      conn.responseBytes === 0 &&
      this.bodyBytesSent === 0 &&
      !this.staleRetried &&
      IDEMPOTENT_METHODS.has(this.req.method!)
    ) {
      // The classic keep-alive race: the upstream closed an idle connection as we reused it.
      // Nothing reached it, so the same request goes once more on a new connection.
      this.staleRetried = true;
      this.upstream.release(conn, false);
      this.conn = undefined;
      this.detachClientBody();
      this.requestSent = false;
      this.waitingForConnection = true;
      this.upstream.acquire(this, true);
      return;
    }
    this.fail(
      classifyUpstreamError(err, this.upstream.address, {
        connected: conn?.connected ?? false,
        bodyBytesSent: this.bodyBytesSent,
        idempotent: IDEMPOTENT_METHODS.has(this.req.method!),
      }),
    );
  }

  onResponseHead(head: ResponseHead): void {
    if (this.ended) return;
    if (this.startTimer !== undefined) {
      clearTimeout(this.startTimer);
      this.startTimer = undefined;
    }
    const res = this.res;
    // An answer before the client's whole body arrived (a 413, a redirect): the rest of that body
    // will not be forwarded, so the connection cannot carry another request; it closes after this
    // response, and what still comes of the body is read and dropped meanwhile (see onResponseEnd).
    if (!this.requestSent && !this.req.complete) closeAfterResponse(res);
    try {
      writeResponseHead(res, head.status, head.statusMessage, dropHopByHop(head.headers));
    } catch (err) {
      // Node's response writer refuses some header bytes the parser let through.
      this.fail(
        proxyFailure('UPSTREAM_PROTOCOL_ERROR', `upstream ${this.upstream.address} sent an invalid header`, {
          cause: err as Error,
        }),
      );
      return;
    }
    this.responseStarted = true;
    res.on('drain', onClientDrain);
    this.forwarder.handler.responseStarted?.(this.context);
  }

  onResponseBody(chunk: Buffer): void {
    if (this.ended) return;
    // Both responses take a Buffer; their write signatures differ only in overloads.
    if (!(this.res as ServerResponse).write(chunk)) this.conn?.socket.pause();
  }

  onResponseEnd(): void {
    if (this.ended) return;
    const conn = this.conn!;
    this.conn = undefined;
    // The connection can carry another request only once this one was sent whole; an answer
    // before the end of the body (a 413, say) leaves the rest of the body unsendable.
    if (!this.requestSent) {
      this.detachClientBody();
      // Read and drop the rest, so the client is not stuck writing into a full window while
      // the response (Connection: close) goes out; the server closes the connection after it.
      if (!this.req.readableEnded) this.req.resume();
    }
    this.upstream.release(conn, this.requestSent);
    this.res.end();
  }

  // ---- body and outcome --------------------------------------------------------------------

  /** Starts reading the client's body into the upstream connection (once connected). */
  startBody(): void {
    if (this.bodyFlowing || this.ended || this.framing <= EMPTY_BODY) return;
    this.bodyFlowing = true;
    const req = this.req;
    // What was read while the request waited for capacity goes first (see held-body.ts).
    const held = takeHeldChunks(req);
    if (held !== undefined) {
      for (const chunk of held) {
        if (!this.acceptBody(chunk)) return;
      }
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
    this.writeBody(chunk);
    return true;
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

  writeBody(chunk: Buffer): void {
    const socket = this.conn!.socket;
    let flowing: boolean;
    if (this.framing === CHUNKED_BODY) {
      socket.cork();
      socket.write(chunk.length.toString(16), 'latin1');
      socket.write(CHUNK_END);
      socket.write(chunk);
      flowing = socket.write(CHUNK_END);
      socket.uncork();
    } else {
      flowing = socket.write(chunk);
    }
    if (!flowing) this.req.pause();
  }

  endBody(): void {
    this.clearBodyTimer();
    if (this.framing === CHUNKED_BODY) this.conn?.socket.write(LAST_CHUNK);
    this.requestSent = true;
  }

  /** Ends the exchange with a failure: frees the upstream side and tells the handler. */
  fail(failure: ProxyFailure): void {
    if (this.ended) return;
    this.finish();
    if (this.conn !== undefined) {
      this.upstream.release(this.conn, false);
      this.conn = undefined;
    }
    if (this.waitingForConnection) this.upstream.cancel(this);
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
}

/** The request line and headers, with the framing header the body needs. */
function requestHead(method: string, path: string, headers: readonly string[], framing: BodyFraming): string {
  // Names and values come from Node's request parser (no CR or LF) or from us.
  let head = `${method} ${path} HTTP/1.1\r\n`;
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  // Transfer-Encoding is hop-by-hop, so the rewritten headers lack it: we chunk again ourselves.
  if (framing === CHUNKED_BODY) head += 'transfer-encoding: chunked\r\n';
  else if (framing === NO_BODY && METHODS_WITH_IMPLICIT_BODY.has(method)) head += 'content-length: 0\r\n';
  return `${head}\r\n`;
}

function onClientData(this: ClientRequest & Tagged, chunk: Buffer): void {
  const exchange = this[kExchange];
  if (exchange === undefined || exchange.conn === undefined) return;
  exchange.acceptBody(chunk);
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

function onClientEnd(this: ClientRequest & Tagged): void {
  this[kExchange]?.endBody();
}

function onClientDrain(this: ClientResponse & Tagged): void {
  this[kExchange]?.conn?.socket.resume();
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

function onDeadline(exchange: Exchange): void {
  exchange.deadlineTimer = undefined;
  if (exchange.ended) return;
  exchange.fail(
    proxyFailure('REQUEST_TIMEOUT', 'request timeout: the request took longer than allowed', {
      responseStarted: exchange.responseStarted,
    }),
  );
}

function onResponseStartTimeout(exchange: Exchange): void {
  exchange.startTimer = undefined;
  if (exchange.ended || exchange.responseStarted) return;
  exchange.fail(
    proxyFailure(
      'RESPONSE_START_TIMEOUT',
      `upstream ${exchange.upstream.address} did not start its response within ${exchange.forwarder.responseStartTimeoutMs} ms`,
    ),
  );
}
