// Forwarding to an HTTP/2 upstream (h2c): one client request, HTTP/1.1 or an HTTP/2 stream, as one
// stream on the upstream's pool (h2-upstream.ts). Bodies stream both ways with flow control,
// trailers go through (gRPC's grpc-status lives in them), and a failure is classified as in
// proxy.ts: a stream the upstream refused (REFUSED_STREAM, or past a GOAWAY's last stream) or a
// connection that never came up reached no app, so the activator may send it again elsewhere.
//
// The same handler contract as the HTTP/1.1 Forwarder (ForwardHandler), so the activator and the
// queue-proxy pick a forwarder by the upstream's protocol and nothing else changes.

import type { ServerResponse } from 'node:http';
import type { ClientHttp2Stream, IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';
import {
  type ClientRequest,
  type ClientResponse,
  clientGone,
  endWithHeadersOnly,
  headerObject,
  isHttp2Request,
  responseFinished,
  writeResponseHead,
} from './client-message.ts';
import { IDEMPOTENT_METHODS, type ProxyFailure, proxyFailure } from './failures.ts';
import { type BodyFraming, EMPTY_BODY, NO_BODY, requestFraming } from './framing.ts';
import type { Http2Upstream, UpstreamSession } from './h2-upstream.ts';
import { takeHeldChunks } from './held-body.ts';
import type { ForwarderOptions, ForwardHandler } from './proxy.ts';

// The HEADERS frame flag that ends the stream (RFC 9113 §6.2).
const END_STREAM = 0x1;
// nghttp2's error codes (RFC 9113 §7) that matter here.
const REFUSED_STREAM = 7;
const CANCEL = 8;

// Headers HTTP/2 forbids (RFC 9113 §8.2.2), Host (it becomes :authority) and TE unless "trailers".
const NOT_FORWARDED: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
  'host',
]);

/**
 * The HTTP/2 request headers for a request whose headers the proxy already rewrote (flat, as
 * buildUpstreamRequestHeaders returns them): pseudo-headers first, names lower-cased, repeated
 * names as one list.
 */
export function http2RequestHeaders(
  method: string,
  path: string,
  headers: readonly string[],
): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = { ':method': method, ':path': path, ':scheme': 'http' };
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!.toLowerCase();
    const value = headers[i + 1]!;
    if (name === 'host') {
      out[':authority'] ??= value;
      continue;
    }
    if (NOT_FORWARDED.has(name) || name.charCodeAt(0) === 58 /* : */) continue;
    if (name === 'te' && value.trim().toLowerCase() !== 'trailers') continue;
    const prev = out[name];
    if (prev === undefined) out[name] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else out[name] = [String(prev), value];
  }
  return out;
}

/** An upstream response's headers, flat and without pseudo-headers, for the client. */
function responseHeaders(raw: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.charCodeAt(0) !== 58) out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}

const kExchange = Symbol('zeroscale.h2exchange');
interface Tagged {
  [kExchange]?: Http2Exchange | undefined;
}
const kSession = Symbol('zeroscale.h2session');
type UpstreamStream = ClientHttp2Stream & Tagged & { [kSession]?: UpstreamSession };

export class Http2Forwarder<C> {
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

  /** As Forwarder.forward, to an HTTP/2 upstream. */
  forward(
    req: ClientRequest,
    res: ClientResponse,
    headers: readonly string[],
    upstream: Http2Upstream,
    context: C,
    timeoutMs: number,
  ): void {
    // See Forwarder.forward: a client gone before its turn is never seen to leave.
    if (clientGone(res)) {
      this.handler.forwardEnded(context, proxyFailure('CLIENT_ABORTED', 'client closed the connection'));
      return;
    }
    new Http2Exchange(this as Http2Forwarder<unknown>, req, res, upstream, context).start(headers, timeoutMs);
  }
}

class Http2Exchange {
  readonly forwarder: Http2Forwarder<unknown>;
  readonly req: ClientRequest & Tagged;
  readonly res: ClientResponse & Tagged;
  readonly upstream: Http2Upstream;
  readonly context: unknown;
  framing: BodyFraming = NO_BODY;
  session: UpstreamSession | undefined = undefined;
  stream: UpstreamStream | undefined = undefined;
  bodyFlowing = false;
  bodyBytesSent = 0;
  requestSent = false;
  bodyTimerSet = false;
  responseStarted = false;
  upstreamEnded = false;
  ended = false;
  deadlineTimer: NodeJS.Timeout | undefined = undefined;
  startTimer: NodeJS.Timeout | undefined = undefined;

  constructor(
    forwarder: Http2Forwarder<unknown>,
    req: ClientRequest,
    res: ClientResponse,
    upstream: Http2Upstream,
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
    this.res[kExchange] = this;
    req[kExchange] = this;
    this.res.on('close', onClientClose);
    const f = this.forwarder;
    if (timeoutMs > 0) this.deadlineTimer = setTimeout(onDeadline, timeoutMs, this);
    if (f.responseStartTimeoutMs > 0)
      this.startTimer = setTimeout(onResponseStartTimeout, f.responseStartTimeoutMs, this);
    const session = this.upstream.session();
    if (session === undefined) {
      this.fail(this.#notSent(new Error('upstream pool closed')));
      return;
    }
    this.session = session;
    let stream: UpstreamStream;
    try {
      stream = session.session.request(http2RequestHeaders(req.method!, req.url!, headers), {
        endStream: this.framing <= EMPTY_BODY,
      }) as UpstreamStream;
    } catch (err) {
      // The connection is closing or gone: nothing was sent.
      session.retired = true;
      this.fail(this.#notSent(err as Error));
      return;
    }
    session.streamOpened();
    stream[kSession] = session;
    stream[kExchange] = this;
    this.stream = stream;
    if (this.framing <= EMPTY_BODY) this.requestSent = true;
    stream.on('response', onUpstreamResponse);
    stream.on('data', onUpstreamData);
    stream.on('trailers', onUpstreamTrailers);
    stream.on('end', onUpstreamEnd);
    stream.on('drain', onUpstreamDrain);
    stream.on('error', onUpstreamError);
    stream.on('close', onUpstreamClose);
    if (f.idleTimeoutMs > 0) {
      stream.setTimeout(f.idleTimeoutMs);
      stream.on('timeout', onUpstreamTimeout);
    }
    // The body waits until the connection is up, so a refused connection leaves it unread for
    // another upstream (as proxy.ts does).
    if (this.framing > EMPTY_BODY) {
      if (session.connected) this.startBody();
      else stream.once('ready', onStreamReady);
    }
  }

  /** A failure before anything went to the upstream: always safe to send again. */
  #notSent(cause: Error): ProxyFailure {
    return proxyFailure(
      'UPSTREAM_CONNECT_FAILED',
      `could not open a stream to upstream ${this.upstream.address}`,
      {
        retryable: true,
        cause,
      },
    );
  }

  // ---- upstream side ---------------------------------------------------------------------

  responseHead(headers: IncomingHttpHeaders, flags: number, raw: readonly string[]): void {
    if (this.ended) return;
    if (this.startTimer !== undefined) {
      clearTimeout(this.startTimer);
      this.startTimer = undefined;
    }
    const status = Number(headers[':status']);
    try {
      // A header block that ends the stream (gRPC's trailers-only answer) stays one.
      if ((flags & END_STREAM) !== 0) {
        this.upstreamEnded = true;
        this.responseStarted = true;
        endWithHeadersOnly(this.res, status, headerObject(responseHeaders(raw)));
        this.forwarder.handler.responseStarted?.(this.context);
        return;
      }
      writeResponseHead(this.res, status, undefined, responseHeaders(raw));
    } catch (err) {
      this.fail(
        proxyFailure('UPSTREAM_PROTOCOL_ERROR', `upstream ${this.upstream.address} sent an invalid header`, {
          cause: err as Error,
        }),
      );
      return;
    }
    this.responseStarted = true;
    this.res.on('drain', onClientDrain);
    this.forwarder.handler.responseStarted?.(this.context);
  }

  responseBody(chunk: Buffer): void {
    if (this.ended) return;
    // Both responses take a Buffer; their write signatures differ only in overloads.
    if (!(this.res as ServerResponse).write(chunk)) this.stream?.pause();
  }

  responseTrailers(trailers: IncomingHttpHeaders): void {
    if (this.ended || !this.responseStarted) return;
    const out: Record<string, string | string[]> = {};
    for (const name of Object.keys(trailers)) {
      const value = trailers[name];
      if (value !== undefined && name.charCodeAt(0) !== 58) out[name] = value;
    }
    this.res.addTrailers(out);
  }

  responseEnd(): void {
    this.upstreamEnded = true;
    if (this.ended) return;
    if (!this.responseStarted) {
      this.upstreamClosed();
      return;
    }
    this.res.end();
  }

  /** The upstream stream closed: the exchange failed unless the response ended whole. */
  upstreamClosed(): void {
    if (this.ended || this.upstreamEnded) return;
    const stream = this.stream!;
    const session = this.session!;
    if (this.responseStarted) {
      this.fail(
        proxyFailure(
          'UPSTREAM_RESPONSE_ABORTED',
          `upstream ${this.upstream.address} reset the stream in the middle of the response (code ${stream.rstCode})`,
          { responseStarted: true },
        ),
      );
      return;
    }
    if (!session.connected) {
      this.fail(
        proxyFailure('UPSTREAM_CONNECT_FAILED', `could not connect to upstream ${this.upstream.address}`, {
          retryable: true,
        }),
      );
      return;
    }
    // Refused, or past the last stream a GOAWAY promised to process: the app never saw it.
    const refused =
      stream.rstCode === REFUSED_STREAM || (stream.id !== undefined && stream.id > session.lastStreamId);
    const replayable = this.bodyBytesSent === 0;
    this.fail(
      proxyFailure(
        'UPSTREAM_RESET',
        `upstream ${this.upstream.address} ${refused ? 'refused' : 'reset'} the stream before responding (code ${stream.rstCode})`,
        { retryable: replayable && (refused || IDEMPOTENT_METHODS.has(this.req.method!)) },
      ),
    );
  }

  // ---- client body -------------------------------------------------------------------------

  startBody(): void {
    if (this.bodyFlowing || this.ended || this.framing <= EMPTY_BODY) return;
    this.bodyFlowing = true;
    const req = this.req;
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
      this.bodyTimerSet = true;
      req.on('timeout', onClientBodyTimeout);
      if (isHttp2Request(req)) req.setTimeout(bodyTimeoutMs);
      else req.socket.setTimeout(bodyTimeoutMs);
    }
    req.resume();
  }

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
    if (this.stream?.write(chunk) === false) this.req.pause();
    return true;
  }

  endBody(): void {
    this.clearBodyTimer();
    this.requestSent = true;
    this.stream?.end();
  }

  clearBodyTimer(): void {
    if (!this.bodyTimerSet) return;
    this.bodyTimerSet = false;
    const req = this.req;
    req.removeListener('timeout', onClientBodyTimeout);
    if (isHttp2Request(req)) req.setTimeout(0);
    else req.socket?.setTimeout(0);
  }

  detachClientBody(): void {
    if (!this.bodyFlowing) return;
    this.bodyFlowing = false;
    this.clearBodyTimer();
    const req = this.req;
    req.removeListener('data', onClientData);
    req.removeListener('end', onClientEnd);
    if (!req.readableEnded) req.pause();
  }

  // ---- outcome -----------------------------------------------------------------------------

  fail(failure: ProxyFailure): void {
    if (this.ended) return;
    this.finish();
    const stream = this.stream;
    if (stream !== undefined && !stream.closed) stream.close(CANCEL);
    this.detachClientBody();
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
    if (this.stream !== undefined) this.stream[kExchange] = undefined;
  }
}

// Module-level listeners: no closure per request; each finds its exchange through a symbol.

function onStreamReady(this: UpstreamStream): void {
  this[kExchange]?.startBody();
}

function onUpstreamResponse(
  this: UpstreamStream,
  headers: IncomingHttpHeaders,
  flags: number,
  raw: readonly string[],
): void {
  this[kExchange]?.responseHead(headers, flags, raw);
}

function onUpstreamData(this: UpstreamStream, chunk: Buffer): void {
  this[kExchange]?.responseBody(chunk);
}

function onUpstreamTrailers(this: UpstreamStream, trailers: IncomingHttpHeaders): void {
  this[kExchange]?.responseTrailers(trailers);
}

function onUpstreamEnd(this: UpstreamStream): void {
  this[kExchange]?.responseEnd();
}

function onUpstreamDrain(this: UpstreamStream): void {
  const exchange = this[kExchange];
  if (exchange?.bodyFlowing && !exchange.ended) exchange.req.resume();
}

// The stream's error is seen through 'close' (rstCode, session state); this keeps it from throwing.
function onUpstreamError(): void {}

function onUpstreamClose(this: UpstreamStream): void {
  this[kSession]?.streamClosed();
  this[kSession] = undefined;
  this[kExchange]?.upstreamClosed();
}

function onUpstreamTimeout(this: UpstreamStream): void {
  const exchange = this[kExchange];
  if (exchange === undefined || exchange.ended) return;
  exchange.fail(
    proxyFailure(
      'IDLE_TIMEOUT',
      `no data from upstream ${exchange.upstream.address} for ${exchange.forwarder.idleTimeoutMs} ms`,
      { responseStarted: exchange.responseStarted },
    ),
  );
}

function onClientData(this: ClientRequest & Tagged, chunk: Buffer): void {
  const exchange = this[kExchange];
  if (exchange !== undefined && !exchange.ended) exchange.acceptBody(chunk);
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
  this[kExchange]?.stream?.resume();
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

function onDeadline(exchange: Http2Exchange): void {
  exchange.deadlineTimer = undefined;
  if (exchange.ended) return;
  exchange.fail(
    proxyFailure('REQUEST_TIMEOUT', 'request timeout: the request took longer than allowed', {
      responseStarted: exchange.responseStarted,
    }),
  );
}

function onResponseStartTimeout(exchange: Http2Exchange): void {
  exchange.startTimer = undefined;
  if (exchange.ended || exchange.responseStarted) return;
  exchange.fail(
    proxyFailure(
      'RESPONSE_START_TIMEOUT',
      `upstream ${exchange.upstream.address} did not start its response within ${exchange.forwarder.responseStartTimeoutMs} ms`,
    ),
  );
}
