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
  appendHeader,
  type ClientRequest,
  type ClientResponse,
  endWithHeadersOnly,
  headerObject,
  writeResponseHead,
} from './client-message.ts';
import { ClientExchange, ForwarderBase } from './exchange.ts';
import { IDEMPOTENT_METHODS, type ProxyFailure, proxyFailure } from './failures.ts';
import { EMPTY_BODY, requestFraming } from './framing.ts';
import type { Http2Upstream, UpstreamSession } from './h2-upstream.ts';
import { restoreHeldChunks } from './held-body.ts';

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
    appendHeader(out, name, value);
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
const kSession = Symbol('zeroscale.h2session');
type UpstreamStream = ClientHttp2Stream & { [kExchange]?: Http2Exchange; [kSession]?: UpstreamSession };

export class Http2Forwarder<C> extends ForwarderBase<C> {
  /** As Forwarder.forward, to an HTTP/2 upstream. */
  forward(
    req: ClientRequest,
    res: ClientResponse,
    headers: readonly string[],
    upstream: Http2Upstream,
    context: C,
    timeoutMs: number,
  ): void {
    if (this.clientLeft(res, context)) return;
    new Http2Exchange(this as ForwarderBase<unknown>, req, res, upstream, context).start(headers, timeoutMs);
  }
}

// Body bytes kept per request until its response starts, so that a stream the upstream refused
// can be sent again whole (a gRPC unary request is usually well under this); past it, not kept.
const MAX_REPLAY_BYTES = 64 * 1024;

class Http2Exchange extends ClientExchange {
  readonly upstream: Http2Upstream;
  session: UpstreamSession | undefined = undefined;
  stream: UpstreamStream | undefined = undefined;
  upstreamEnded = false;
  /** The body sent so far, while it may still have to be sent again; undefined once it cannot. */
  replay: Buffer[] | undefined = [];
  replayBytes = 0;

  constructor(
    forwarder: ForwarderBase<unknown>,
    req: ClientRequest,
    res: ClientResponse,
    upstream: Http2Upstream,
    context: unknown,
  ) {
    super(forwarder, req, res, upstream.address, context);
    this.upstream = upstream;
  }

  start(headers: readonly string[], timeoutMs: number): void {
    const req = this.req;
    this.framing = requestFraming(req);
    this.watchClient(timeoutMs);
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
    const idleMs = this.forwarder.idleTimeoutMs;
    if (idleMs > 0) {
      stream.setTimeout(idleMs);
      stream.on('timeout', onUpstreamTimeout);
    }
    // The body waits until the stream has its id (the socket is connected), so a refused
    // connection leaves it unread for another upstream (as proxy.ts does). Not until the peer's
    // SETTINGS: a stream opened on a connected socket got its id, and 'ready', inside request(),
    // so waiting for a 'ready' then would hold the body forever. What is sent before the
    // SETTINGS is kept (`replay`) and sent again if the connection never comes up.
    if (this.framing > EMPTY_BODY) {
      if (stream.pending) stream.once('ready', onStreamReady);
      else this.startBody();
    }
  }

  /** A failure before anything went to the upstream: always safe to send again. */
  #notSent(cause: Error): ProxyFailure {
    return proxyFailure('UPSTREAM_CONNECT_FAILED', `could not open a stream to upstream ${this.address}`, {
      retryable: true,
      cause,
    });
  }

  // ---- upstream side ---------------------------------------------------------------------

  responseHead(headers: IncomingHttpHeaders, flags: number, raw: readonly string[]): void {
    if (this.ended) return;
    this.responseBegan();
    this.replay = undefined;
    const status = Number(headers[':status']);
    try {
      // A header block that ends the stream (gRPC's trailers-only answer) stays one.
      if ((flags & END_STREAM) !== 0) {
        this.upstreamEnded = true;
        endWithHeadersOnly(this.res, status, headerObject(responseHeaders(raw)));
      } else {
        writeResponseHead(this.res, status, undefined, responseHeaders(raw));
      }
    } catch (err) {
      this.failInvalidHeader(err);
      return;
    }
    this.responseHeadSent();
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
          `upstream ${this.address} reset the stream in the middle of the response (code ${stream.rstCode})`,
          { responseStarted: true },
        ),
      );
      return;
    }
    // The connection never came up at the HTTP/2 level: nothing was processed.
    if (!session.connected && this.#putBackBody()) {
      this.fail(
        proxyFailure('UPSTREAM_CONNECT_FAILED', `could not connect to upstream ${this.address}`, {
          retryable: true,
        }),
      );
      return;
    }
    // Refused, or past the last stream a GOAWAY promised to process: the app never saw it, and
    // the request can go again whole if its body so far was kept.
    const refused =
      stream.rstCode === REFUSED_STREAM || (stream.id !== undefined && stream.id > session.lastStreamId);
    if (refused && this.#putBackBody()) {
      this.fail(
        proxyFailure(
          'UPSTREAM_RESET',
          `upstream ${this.address} refused the stream (code ${stream.rstCode})`,
          {
            retryable: true,
          },
        ),
      );
      return;
    }
    const replayable = this.bodyBytesSent === 0;
    this.fail(
      proxyFailure(
        'UPSTREAM_RESET',
        `upstream ${this.address} ${refused ? 'refused' : 'reset'} the stream before responding (code ${stream.rstCode})`,
        { retryable: replayable && (refused || IDEMPOTENT_METHODS.has(this.req.method!)) },
      ),
    );
  }

  // ---- the upstream side of ClientExchange -------------------------------------------------

  protected writeUpstream(chunk: Buffer): boolean {
    if (this.replay !== undefined) {
      this.replayBytes += chunk.length;
      if (this.replayBytes <= MAX_REPLAY_BYTES) this.replay.push(chunk);
      else this.replay = undefined;
    }
    return this.stream?.write(chunk) !== false;
  }

  /**
   * Makes the request sendable again: the body sent so far goes back in front of the rest.
   * False when part of it was not kept.
   */
  #putBackBody(): boolean {
    if (this.bodyBytesSent === 0) return true;
    const replay = this.replay;
    if (replay === undefined) return false;
    this.detachClientBody();
    restoreHeldChunks(this.req, replay);
    this.replay = undefined;
    this.bodyBytesSent = 0;
    this.requestSent = false;
    return true;
  }

  protected endUpstream(): void {
    this.stream?.end();
  }

  protected releaseUpstream(): void {
    const stream = this.stream;
    if (stream !== undefined && !stream.closed) stream.close(CANCEL);
  }

  resumeUpstream(): void {
    this.stream?.resume();
  }

  override finish(): void {
    super.finish();
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
      `no data from upstream ${exchange.address} for ${exchange.forwarder.idleTimeoutMs} ms`,
      {
        responseStarted: exchange.responseStarted,
      },
    ),
  );
}
