// HTTP/2 over cleartext (h2c, prior knowledge) on the proxies' HTTP/1.1 port. A connection whose
// first bytes are the HTTP/2 preface goes to a node:http2 server; each stream becomes a request and
// response pair (node:http2's compatibility objects) handed to the same handler as HTTP/1.1, with
// its pseudo-headers taken out of rawHeaders and `:authority` made the Host. Everything a client
// can grow is bounded: streams per connection, header list size, session memory, invalid frames
// and refused streams (the 2023 "rapid reset" class ends in GOAWAY, not in work), idle time.
// node:http2 is loaded on the first HTTP/2 connection, not at start.

import type {
  Http2Server,
  Http2ServerRequest,
  Http2ServerResponse,
  ServerHttp2Session,
  ServerHttp2Stream,
} from 'node:http2';
import type { Socket } from 'node:net';
import { CLIENT_ERROR_ANSWERS, type ClientErrorKind } from './client-errors.ts';
import { loadHttp2 } from './http2-module.ts';
import { normaliseRequest } from './request-target.ts';

export interface Http2Limits {
  /** Streams a client may have open at once on one connection; more are refused (REFUSED_STREAM). */
  readonly maxConcurrentStreams?: number;
  /** Memory one connection's HTTP/2 state may hold (HPACK tables, queued frames), in MB. */
  readonly maxSessionMemoryMb?: number;
  /** A connection with no frame either way for this long is closed gracefully (GOAWAY). */
  readonly idleTimeoutMs?: number;
  /** Flow-control window per stream, in bytes: how much of a body may be in flight unread. */
  readonly streamWindowBytes?: number;
}

export interface Http2Handlers {
  request(req: Http2ServerRequest, res: Http2ServerResponse): void;
  clientError?(kind: ClientErrorKind): void;
}

// nginx and Go's net/http2 allow 128 and 250; a gRPC client opens one stream per call.
export const DEFAULT_MAX_CONCURRENT_STREAMS = 250;
export const DEFAULT_MAX_SESSION_MEMORY_MB = 10;
// The HTTP/2 default window; a larger one lets a client park more unread body in the proxy.
export const DEFAULT_STREAM_WINDOW_BYTES = 65_535;
// The header block per stream, HPACK-decoded, as RFC 9113 §6.5.2 counts it (+32 per field).
const HEADER_FIELD_OVERHEAD = 32;

// "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n": no HTTP/1.1 request starts with the method PRI.
const PREFACE_START = Buffer.from('PRI ');

/** The connection's first bytes are (the start of) the HTTP/2 client preface. */
export function isHttp2Preface(chunk: Buffer): boolean {
  return chunk.length >= 4 && chunk.compare(PREFACE_START, 0, 4, 0, 4) === 0;
}

/** The HTTP/2 side of one serving port. */
export class Http2Front {
  readonly maxConcurrentStreams: number;
  readonly #handlers: Http2Handlers;
  readonly #limits: Http2Limits;
  readonly #maxHeaderBytes: number;
  readonly #sessions = new Set<ServerHttp2Session>();
  #server: Http2Server | undefined = undefined;
  #streams = 0;
  #closing = false;

  constructor(limits: Http2Limits, maxHeaderBytes: number, handlers: Http2Handlers) {
    this.#limits = limits;
    this.#maxHeaderBytes = maxHeaderBytes;
    this.#handlers = handlers;
    this.maxConcurrentStreams = limits.maxConcurrentStreams ?? DEFAULT_MAX_CONCURRENT_STREAMS;
  }

  /** Open HTTP/2 connections. */
  get sessions(): number {
    return this.#sessions.size;
  }
  /** Open HTTP/2 streams (requests), all connections. */
  get streams(): number {
    return this.#streams;
  }

  streamClosed(): void {
    this.#streams--;
  }

  /** Takes a connection whose first bytes (`chunk`, already read) are the HTTP/2 preface. */
  accept(socket: Socket, chunk: Buffer): void {
    if (this.#closing) {
      socket.destroy();
      return;
    }
    // node:http2 reads what is buffered in the socket before it attaches its parser.
    socket.unshift(chunk);
    this.#serverOf().emit('connection', socket);
  }

  /** Every connection gets a GOAWAY: streams in flight finish, no new ones are taken. */
  closeGracefully(): void {
    this.#closing = true;
    for (const session of this.#sessions) if (!session.closed) session.close();
  }

  /** Cuts every HTTP/2 connection at once. */
  destroy(): void {
    this.#closing = true;
    for (const session of this.#sessions) session.destroy();
  }

  #serverOf(): Http2Server {
    if (this.#server !== undefined) return this.#server;
    const http2 = loadHttp2();
    const server = http2.createServer({
      settings: {
        maxConcurrentStreams: this.maxConcurrentStreams,
        maxHeaderListSize: this.#maxHeaderBytes,
        initialWindowSize: this.#limits.streamWindowBytes ?? DEFAULT_STREAM_WINDOW_BYTES,
        enablePush: false,
      },
      maxSessionMemory: this.#limits.maxSessionMemoryMb ?? DEFAULT_MAX_SESSION_MEMORY_MB,
      // Node's defaults, named: a client that sends 1,000 invalid frames or has 100 streams refused
      // (streams opened beyond the limit, or reset faster than it is served) gets GOAWAY.
      maxSessionInvalidFrames: 1_000,
      maxSessionRejectedStreams: 100,
    });
    server.on('session', (session: ServerHttp2Session) => this.#onSession(session));
    server.on('request', (req: Http2ServerRequest, res: Http2ServerResponse) => this.#onRequest(req, res));
    // A session that ends in a protocol error (a flood, a malformed frame) is counted, not thrown.
    server.on('sessionError', () => this.#handlers.clientError?.('http2-protocol-error'));
    this.#server = server;
    return server;
  }

  #onSession(session: ServerHttp2Session): void {
    this.#sessions.add(session);
    session.once('close', () => this.#sessions.delete(session));
    const idleMs = this.#limits.idleTimeoutMs ?? 0;
    if (idleMs > 0) {
      session.setTimeout(idleMs, () => {
        if (!session.closed) session.close();
      });
    }
    if (this.#closing) session.close();
  }

  #onRequest(req: Http2ServerRequest, res: Http2ServerResponse): void {
    this.#streams++;
    // on, not once, and a module-level listener: no closure per stream.
    (res.stream as ServerHttp2Stream & Counted)[kFront] = this;
    res.stream.on('close', onStreamClosed);
    const problem = normaliseHttp2Request(req, this.#maxHeaderBytes);
    if (problem !== undefined) {
      this.#handlers.clientError?.(problem);
      refuseStream(res, problem);
      return;
    }
    this.#handlers.request(req, res);
  }
}

const kFront = Symbol('zeroscale.h2front');
interface Counted {
  [kFront]?: Http2Front;
}

function onStreamClosed(this: ServerHttp2Stream & Counted): void {
  this[kFront]?.streamClosed();
}

/**
 * Makes an HTTP/2 request look like an HTTP/1.1 one to the proxies: pseudo-headers leave rawHeaders
 * and `:authority` becomes the Host (a Host that differs from it is refused, RFC 9113 §8.3.1), the
 * header list is held to `maxHeaderBytes`, then the HTTP/1.1 checks run on the result. CONNECT
 * (tunnels, WebSockets over HTTP/2) is not offered.
 */
export function normaliseHttp2Request(
  req: { url: string; method: string; readonly rawHeaders: string[] },
  maxHeaderBytes: number,
): ClientErrorKind | undefined {
  if (req.method === 'CONNECT') return 'bad-target';
  const raw = req.rawHeaders;
  let authority: string | undefined;
  let host: string | undefined;
  let size = 0;
  let out = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    size += name.length + value.length + HEADER_FIELD_OVERHEAD;
    if (name.charCodeAt(0) === 58 /* : */) {
      if (name === ':authority') authority = value;
      continue;
    }
    if (name === 'host') host ??= value;
    raw[out++] = name;
    raw[out++] = value;
  }
  raw.length = out;
  if (size > maxHeaderBytes) return 'headers-too-large';
  if (authority !== undefined) {
    if (host === undefined) raw.push('host', authority);
    else if (host !== authority) return 'bad-host';
  }
  return normaliseRequest(req);
}

function refuseStream(res: Http2ServerResponse, kind: ClientErrorKind): void {
  const answer = CLIENT_ERROR_ANSWERS[kind];
  if (answer === undefined || res.headersSent) {
    res.stream.close(loadHttp2().constants.NGHTTP2_PROTOCOL_ERROR);
    return;
  }
  res.writeHead(answer.status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': String(Buffer.byteLength(answer.body)),
    'x-zeroscale-error': answer.code,
  });
  res.end(answer.body);
}
