// The forwarding core of the queue-proxy and the activator: one client request to one upstream
// over its pool of kept-alive HTTP/1.1 connections (upstream.ts), bodies streamed both ways with
// backpressure, deadlines, and a precise account of how a failure happened (so the activator
// knows when sending again is safe). The client's side is exchange.ts, shared with h2-proxy.ts.
//
// Hot path: one Exchange object per forwarded request, which is itself the connection's user.

import type { ServerResponse } from 'node:http';
import {
  type ClientRequest,
  type ClientResponse,
  closeAfterResponse,
  isHttp2Response,
  writeResponseHead,
} from './client-message.ts';
import { ClientExchange, ForwarderBase } from './exchange.ts';
import { classifyUpstreamError, IDEMPOTENT_METHODS, proxyFailure } from './failures.ts';
import { type BodyFraming, CHUNKED_BODY, EMPTY_BODY, NO_BODY, requestFraming } from './framing.ts';
import { dropHopByHop } from './headers.ts';
import type { ResponseHead } from './response-parser.ts';
import type { ConnectionUser, Upstream, UpstreamConnection } from './upstream.ts';

export type { ForwarderOptions, ForwardHandler } from './exchange.ts';
export { hasUnreadBody } from './framing.ts';

// Methods for which an absent body is announced as Content-Length: 0, as Node's client does.
const METHODS_WITH_IMPLICIT_BODY: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH']);
const CHUNK_END = Buffer.from('\r\n');
const LAST_CHUNK = Buffer.from('0\r\n\r\n');

export class Forwarder<C> extends ForwarderBase<C> {
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
    if (this.clientLeft(res, context)) return;
    const exchange = new Exchange(this as ForwarderBase<unknown>, req, res, upstream, context);
    exchange.start(headers, timeoutMs);
  }
}

class Exchange extends ClientExchange implements ConnectionUser {
  readonly upstream: Upstream;
  /** The request line and headers, ready to write on any connection (again, after a retry). */
  head = '';
  conn: UpstreamConnection | undefined = undefined;
  waitingForConnection = false;
  /** A kept-alive connection that the upstream had closed was replaced once already. */
  staleRetried = false;

  constructor(
    forwarder: ForwarderBase<unknown>,
    req: ClientRequest,
    res: ClientResponse,
    upstream: Upstream,
    context: unknown,
  ) {
    super(forwarder, req, res, upstream.address, context);
    this.upstream = upstream;
  }

  start(headers: readonly string[], timeoutMs: number): void {
    const req = this.req;
    this.framing = requestFraming(req);
    this.head = requestHead(req.method!, req.url!, headers, this.framing);
    this.watchClient(timeoutMs);
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
        `no data from upstream ${this.address} for ${this.forwarder.idleTimeoutMs} ms`,
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
          `upstream ${this.address} closed the connection in the middle of the response`,
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
      classifyUpstreamError(err, this.address, {
        connected: conn?.connected ?? false,
        bodyBytesSent: this.bodyBytesSent,
        idempotent: IDEMPOTENT_METHODS.has(this.req.method!),
      }),
    );
  }

  onResponseHead(head: ResponseHead): void {
    if (this.ended) return;
    this.responseBegan();
    const res = this.res;
    // An answer before the client's whole body arrived (a 413, a redirect): the rest of that body
    // will not be forwarded, so an HTTP/1.1 connection cannot carry another request; it closes
    // after this response, and what still comes of the body is read and dropped meanwhile (see
    // onResponseEnd). An HTTP/2 stream frames its own body: the connection's other streams and
    // its next ones are not concerned.
    if (!this.requestSent && !this.req.complete && !isHttp2Response(res)) closeAfterResponse(res);
    try {
      writeResponseHead(res, head.status, head.statusMessage, dropHopByHop(head.headers));
    } catch (err) {
      this.failInvalidHeader(err);
      return;
    }
    this.responseHeadSent();
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

  // ---- the upstream side of ClientExchange -------------------------------------------------

  protected override upstreamWritable(): boolean {
    return this.conn !== undefined;
  }

  protected writeUpstream(chunk: Buffer): boolean {
    const socket = this.conn!.socket;
    if (this.framing !== CHUNKED_BODY) return socket.write(chunk);
    socket.cork();
    socket.write(chunk.length.toString(16), 'latin1');
    socket.write(CHUNK_END);
    socket.write(chunk);
    const flowing = socket.write(CHUNK_END);
    socket.uncork();
    return flowing;
  }

  protected endUpstream(): void {
    if (this.framing === CHUNKED_BODY) this.conn?.socket.write(LAST_CHUNK);
  }

  protected releaseUpstream(): void {
    if (this.conn !== undefined) {
      this.upstream.release(this.conn, false);
      this.conn = undefined;
    }
    if (this.waitingForConnection) this.upstream.cancel(this);
  }

  resumeUpstream(): void {
    this.conn?.socket.resume();
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
