// The client-facing HTTP server of the queue-proxy and the activator: Node's http server with the
// limits that give bad input a clear answer (400, 431, 408, 413) and a count, and a listen helper.
// It owns every client socket from accept on: the one 'error' listener that keeps a reset from
// crashing the process, one request at a time per connection (pipelining never fans out), the
// request target in origin form with a Host, and Expect: 100-continue answered after the size check.
// A connection that opens with the HTTP/2 preface goes to the port's HTTP/2 side (h2-server.ts),
// whose streams reach the same request handler.

import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { type MetricsRegistry, registerCollected } from '../telemetry/collected.ts';
import {
  answerClientError,
  CLIENT_ERROR_ANSWERS,
  type ClientErrorKind,
  clientErrorKind,
  writeRaw,
} from './client-errors.ts';
import type { ClientRequest, ClientResponse } from './client-message.ts';
import { Http2Front, type Http2Limits, isHttp2Preface } from './h2-server.ts';
import { upgradeProtocol } from './headers.ts';
import { declaredLength, normaliseRequest } from './request-target.ts';

export { type ClientErrorKind, clientErrorKind } from './client-errors.ts';
export { absoluteTarget, declaredLength, normaliseRequest } from './request-target.ts';

import { readUpgradeClient } from './upgrade.ts';

export interface ServerLimits {
  /** Largest request head (request line + headers); beyond it 431. Node's default is 16 KiB. */
  readonly maxHeaderBytes?: number;
  /** Time a client has to send its whole request head; then 408 and the connection closes. */
  readonly headersTimeoutMs?: number;
  /** How long an idle keep-alive connection from a client stays open. */
  readonly keepAliveTimeoutMs?: number;
  /** Requests parsed on one connection and waiting behind the one being served; more get 503. */
  readonly maxPipelinedRequests?: number;
  /** Client connections open at once; more are closed at accept (a bound on file descriptors). */
  readonly maxConnections?: number;
  /** Largest declared body; `Expect: 100-continue` with a larger Content-Length gets 413, no 100. */
  readonly maxBodyBytes?: number;
  /** HTTP/2 cleartext (prior knowledge) on the same port, with its bounds; false = HTTP/1.1 only. */
  readonly http2?: Http2Limits | false;
}

export interface ServerHandlers {
  /** Every request: an HTTP/1.1 one, or an HTTP/2 stream (node:http2's compatibility objects). */
  request(req: ClientRequest, res: ClientResponse): void;
  /** Upgrade requests (WebSocket); when absent they are refused by Node. */
  upgrade?(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Told about every request refused by the parser or the limits, for metrics. */
  clientError?(kind: ClientErrorKind): void;
  /**
   * Offered the first bytes of each new connection, before Node's HTTP parser is attached (it
   * costs ~10 KB a connection). Returns true to keep the connection as bare bytes: it then hands
   * it back with `resumeConnection`, or answers and closes it itself. The socket comes paused.
   * Without this handler connections go to Node at once.
   */
  firstBytes?(socket: Socket, chunk: Buffer): boolean;
}

export const DEFAULT_MAX_HEADER_BYTES = 16 * 1024;
export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
// Longer than the idle timeouts of common load balancers and clients (60 s), so the proxy is not
// the side that closes a connection a client is about to reuse.
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 65_000;
// Browsers do not pipeline and tools that do use depths of 16 or so; 128 waiting requests of one
// connection are ~300 KB of Node objects, and one read of 64 KB can hold ~1,600 tiny requests.
export const DEFAULT_MAX_PIPELINED_REQUESTS = 128;
// Below the usual container fd limit (1,048,576) and above the 10,000 held requests the activator
// is sized for, with room for pod and admin connections.
export const DEFAULT_MAX_CONNECTIONS = 16_384;

export function createServer(limits: ServerLimits, handlers: ServerHandlers): http.Server {
  const headersTimeout = limits.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS;
  const maxHeaderBytes = limits.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  const server = http.createServer({
    maxHeaderSize: maxHeaderBytes,
    headersTimeout,
    // The whole-request deadline is the proxies' own (timeoutSeconds, queue time included), so
    // Node's own limit on receiving the request is off: it would cut long uploads.
    requestTimeout: 0,
    keepAliveTimeout: limits.keepAliveTimeoutMs ?? DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
    // Node checks the headers timeout on this interval; a tenth of it keeps the error small.
    connectionsCheckingInterval: Math.max(10, Math.min(1_000, Math.floor(headersTimeout / 10))),
    noDelay: true,
    // `Upgrade: h2c` (dropped from HTTP/2's current RFC) is served as the HTTP/1.1 request it also
    // is; other upgrades (WebSocket) go to the upgrade handler.
    shouldUpgradeCallback: (req: IncomingMessage) => upgradeProtocol(req.rawHeaders) !== undefined,
  });
  server.maxConnections = limits.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  const onClientError = handlers.clientError;
  server.on('drop', () => onClientError?.('too-many-connections'));
  const sockets = new Set<Socket>();
  openSockets.set(server, sockets);
  // Node's own connection listener (it attaches the HTTP parser) is called by us: at once, or
  // after `firstBytes` had a look, or when a kept connection is resumed.
  const attach = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  nodeConnectionListeners.set(server, attach);
  const h2 =
    limits.http2 === false
      ? undefined
      : new Http2Front(
          // An idle HTTP/2 connection lasts as long as an idle HTTP/1.1 keep-alive one.
          { idleTimeoutMs: limits.keepAliveTimeoutMs ?? DEFAULT_KEEP_ALIVE_TIMEOUT_MS, ...limits.http2 },
          maxHeaderBytes,
          {
            request: handlers.request,
            ...(onClientError === undefined ? {} : { clientError: onClientError }),
          },
        );
  if (h2 !== undefined) http2Fronts.set(server, h2);
  const offer = firstBytesOffer(h2, handlers.firstBytes);
  const firstBytes =
    offer === undefined ? undefined : new FirstBytesWait(server, offer, headersTimeout, onClientError);
  const gate = new ConnectionGate(
    handlers,
    limits.maxPipelinedRequests ?? DEFAULT_MAX_PIPELINED_REQUESTS,
    limits.maxBodyBytes ?? Number.POSITIVE_INFINITY,
  );
  server.on('connection', (socket: Socket & Tracked) => {
    sockets.add(socket);
    socket[kSockets] = sockets;
    // The one listener that outlives Node's own: Node removes its socket error handler when it
    // hands a socket to 'upgrade', and a reset there (before the 101) would otherwise be an
    // unhandled 'error' that ends the process. What the error means is seen through 'close'.
    socket.on('error', ignoreSocketError);
    socket.once('close', forgetSocket);
    if (firstBytes === undefined) attachHttp(server, socket);
    else firstBytes.add(socket);
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => gate.request(req, res));
  // Node sends 100 Continue itself unless this listener exists: the size check comes first.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => gate.request(req, res, true));
  if (handlers.upgrade !== undefined) {
    const upgrade = handlers.upgrade;
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const problem = normaliseRequest(req);
      if (problem !== undefined) {
        onClientError?.(problem);
        writeRaw(socket, problem);
        return;
      }
      readUpgradeClient(socket);
      upgrade(req, socket, head);
    });
  }
  server.on('clientError', (err: Error & { code?: string }, socket: Socket) => {
    const kind = clientErrorKind(err);
    onClientError?.(kind);
    answerClientError(kind, socket);
  });
  return server;
}

function ignoreSocketError(): void {}

/** Who looks at a connection's first bytes: the HTTP/2 side for its preface, then `firstBytes`. */
function firstBytesOffer(
  h2: Http2Front | undefined,
  firstBytes: ServerHandlers['firstBytes'],
): ((socket: Socket, chunk: Buffer) => boolean) | undefined {
  if (h2 === undefined) return firstBytes;
  return (socket, chunk) => {
    if (isHttp2Preface(chunk)) {
      h2.accept(socket, chunk);
      return true;
    }
    return firstBytes?.(socket, chunk) ?? false;
  };
}

// The HTTP/2 side of each server made here that has one.
const http2Fronts = new WeakMap<http.Server, Http2Front>();

// Per server made here: Node's listeners for 'connection', which attach its HTTP parser.
const nodeConnectionListeners = new WeakMap<http.Server, ((socket: Socket) => void)[]>();

function attachHttp(server: http.Server, socket: Socket): void {
  for (const listener of nodeConnectionListeners.get(server) ?? []) listener.call(server, socket);
}

/**
 * Hands a connection kept by `firstBytes` to Node's HTTP server with the bytes read from it so
 * far; Node parses them at once (the request is emitted before this returns) and reads on.
 */
export function resumeConnection(server: http.Server, socket: Socket, bytes: Buffer): void {
  if (socket.destroyed) return;
  attachHttp(server, socket);
  // Node's data listener feeds its parser; what arrives from now on goes to the parser directly.
  socket.emit('data', bytes);
  socket.resume();
}

const kFirstBytes = Symbol('zeroscale.firstBytes');
interface Sniffed {
  [kFirstBytes]?: FirstBytesWait;
  /** When the connection was accepted, performance.now() ms. */
  acceptedAt?: number;
}

// Module-level: no closure per connection.
function onFirstBytes(this: Socket & Sniffed, chunk: Buffer): void {
  this[kFirstBytes]?.received(this, chunk);
}
function onClosedBeforeBytes(this: Socket & Sniffed): void {
  this[kFirstBytes]?.forget(this);
}
// A client that half-closes before sending a byte has nothing to be answered: the server's
// sockets allow half-open connections (for responses after a client's FIN), so it is closed here.
function onEndBeforeBytes(this: Socket & Sniffed): void {
  this[kFirstBytes]?.forget(this);
  this.destroy();
}

/**
 * Connections waiting for their first bytes, for `firstBytes`. The headers timeout applies from
 * accept, as in Node: one sweep timer for all of them answers the silent ones 408.
 */
class FirstBytesWait {
  readonly #server: http.Server;
  readonly #offer: (socket: Socket, chunk: Buffer) => boolean;
  readonly #timeoutMs: number;
  readonly #onClientError: ((kind: ClientErrorKind) => void) | undefined;
  readonly #waiting = new Set<Socket & Sniffed>();
  #timer: NodeJS.Timeout | undefined = undefined;

  constructor(
    server: http.Server,
    offer: (socket: Socket, chunk: Buffer) => boolean,
    timeoutMs: number,
    onClientError: ((kind: ClientErrorKind) => void) | undefined,
  ) {
    this.#server = server;
    this.#offer = offer;
    this.#timeoutMs = timeoutMs;
    this.#onClientError = onClientError;
  }

  add(socket: Socket & Sniffed): void {
    socket[kFirstBytes] = this;
    socket.acceptedAt = performance.now();
    this.#waiting.add(socket);
    socket.once('data', onFirstBytes);
    socket.once('close', onClosedBeforeBytes);
    socket.once('end', onEndBeforeBytes);
    if (this.#timer === undefined && this.#timeoutMs > 0) {
      this.#timer = setInterval(() => this.#sweep(), Math.max(10, Math.min(1_000, this.#timeoutMs / 10)));
      this.#timer.unref();
    }
  }

  received(socket: Socket & Sniffed, chunk: Buffer): void {
    // Paused before anything else: a flowing socket without a data listener drops what it reads.
    socket.pause();
    this.forget(socket);
    socket.removeListener('close', onClosedBeforeBytes);
    socket.removeListener('end', onEndBeforeBytes);
    if (!this.#offer(socket, chunk)) resumeConnection(this.#server, socket, chunk);
  }

  forget(socket: Socket & Sniffed): void {
    socket[kFirstBytes] = undefined;
    this.#waiting.delete(socket);
    if (this.#waiting.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  #sweep(): void {
    const expired = performance.now() - this.#timeoutMs;
    for (const socket of this.#waiting) {
      if (socket.acceptedAt! > expired) break; // accept order is deadline order
      socket.removeListener('data', onFirstBytes);
      socket.removeListener('end', onEndBeforeBytes);
      this.forget(socket);
      this.#onClientError?.('headers-timeout');
      answerClientError('headers-timeout', socket);
    }
  }
}

// Module-level: a closure per request would be garbage on the hot path.
function onTurnClose(this: ServerResponse): void {
  const socket = this.req.socket as Socket & Gated;
  const turn = socket[kGate];
  turn?.gate.turnEnded(socket, turn, this);
}

const kGate = Symbol('zeroscale.gate');
/** Per connection: the response being served and the pipelined requests behind it. */
interface ConnectionTurn {
  readonly gate: ConnectionGate;
  active: ServerResponse | undefined;
  readonly waiting: [IncomingMessage, ServerResponse, boolean][];
}
interface Gated {
  [kGate]?: ConnectionTurn;
}

/**
 * Hands requests to the handler one connection at a time. Node parses pipelined requests and
 * emits them all at once (writing their responses in order); a proxy that forwarded them as they
 * came would turn one client connection into as many concurrent upstream requests.
 */
class ConnectionGate {
  readonly #handlers: ServerHandlers;
  readonly #maxPipelined: number;
  readonly #maxBodyBytes: number;

  constructor(handlers: ServerHandlers, maxPipelined: number, maxBodyBytes: number) {
    this.#handlers = handlers;
    this.#maxPipelined = maxPipelined;
    this.#maxBodyBytes = maxBodyBytes;
  }

  request(req: IncomingMessage, res: ServerResponse, expectContinue = false): void {
    const socket = req.socket as Socket & Gated;
    let turn = socket[kGate];
    if (turn === undefined) {
      turn = { gate: this, active: undefined, waiting: [] };
      socket[kGate] = turn;
    }
    if (turn.active !== undefined) {
      if (turn.waiting.length >= this.#maxPipelined) {
        // Answered in its turn by Node (responses go out in order), and the connection closes.
        this.#refuse(res, 'pipeline-flood');
        return;
      }
      turn.waiting.push([req, res, expectContinue]);
      return;
    }
    this.#serve(turn, req, res, expectContinue);
  }

  #serve(turn: ConnectionTurn, req: IncomingMessage, res: ServerResponse, expectContinue: boolean): void {
    turn.active = res;
    // on, not once: once wraps the listener in a closure per request.
    res.on('close', onTurnClose);
    const problem = normaliseRequest(req) ?? (expectContinue ? this.#checkContinue(req) : undefined);
    if (problem !== undefined) {
      this.#refuse(res, problem);
      return;
    }
    if (expectContinue) res.writeContinue();
    this.#handlers.request(req, res);
  }

  #checkContinue(req: IncomingMessage): ClientErrorKind | undefined {
    const length = declaredLength(req.rawHeaders);
    return length > this.#maxBodyBytes ? 'expect-too-large' : undefined;
  }

  #refuse(res: ServerResponse, kind: ClientErrorKind): void {
    this.#handlers.clientError?.(kind);
    const answer = CLIENT_ERROR_ANSWERS[kind];
    if (answer === undefined || res.headersSent) {
      res.destroy();
      return;
    }
    res.writeHead(answer.status, [
      'content-type',
      'text/plain; charset=utf-8',
      'content-length',
      String(Buffer.byteLength(answer.body)),
      'x-zeroscale-error',
      answer.code,
      'connection',
      'close',
    ]);
    res.end(answer.body);
  }

  turnEnded(socket: Socket & Gated, turn: ConnectionTurn, res: ServerResponse): void {
    if (turn.active !== res) return;
    turn.active = undefined;
    for (;;) {
      const next = turn.waiting.shift();
      if (next === undefined) return;
      const [req, nextRes, expectContinue] = next;
      // The client left while this one waited: Node has already ended it.
      if (nextRes.destroyed || socket.destroyed) continue;
      this.#serve(turn, req, nextRes, expectContinue);
      return;
    }
  }
}

// Every connection of each server made here, upgraded ones included (Node's closeAllConnections
// does not know those), so that a hard stop can cut them all.
const openSockets = new WeakMap<http.Server, Set<Socket>>();

const kSockets = Symbol('zeroscale.sockets');
interface Tracked {
  [kSockets]?: Set<Socket>;
}

// Module-level so that a held connection costs no closure of its own.
function forgetSocket(this: Socket & Tracked): void {
  this[kSockets]?.delete(this);
}

/** Client connections open now on a server made by `createServer`, upgraded ones included. */
export function openConnections(server: http.Server): number {
  return openSockets.get(server)?.size ?? 0;
}

/** `<prefix>_open_connections` and `…_limit`: how close the server is to its connection bound. */
export function registerConnectionMetrics(
  registry: MetricsRegistry,
  prefix: string,
  server: http.Server,
): void {
  registerCollected(
    registry,
    `${prefix}_open_connections`,
    'Client connections open now, upgraded ones included.',
    'gauge',
    () => [{ value: openConnections(server), labels: {} }],
  );
  registerCollected(
    registry,
    `${prefix}_open_connections_limit`,
    'Most client connections open at once; more are closed at accept (reason too-many-connections).',
    'gauge',
    () => [{ value: server.maxConnections, labels: {} }],
  );
  const h2 = http2Fronts.get(server);
  if (h2 === undefined) return;
  registerCollected(
    registry,
    `${prefix}_http2_connections`,
    'Client connections speaking HTTP/2 (h2c), of the open connections.',
    'gauge',
    () => [{ value: h2.sessions, labels: {} }],
  );
  registerCollected(
    registry,
    `${prefix}_http2_streams`,
    'HTTP/2 streams (requests) open now, all connections.',
    'gauge',
    () => [{ value: h2.streams, labels: {} }],
  );
  registerCollected(
    registry,
    `${prefix}_http2_max_concurrent_streams`,
    'Streams a client may have open at once on one HTTP/2 connection; more are refused (REFUSED_STREAM).',
    'gauge',
    () => [{ value: h2.maxConcurrentStreams, labels: {} }],
  );
}

/** Cuts every connection of a server made by `createServer`, upgraded ones included. */
export function destroyConnections(server: http.Server): void {
  http2Fronts.get(server)?.destroy();
  server.closeAllConnections();
  for (const socket of openSockets.get(server) ?? []) socket.destroy();
}

/** Listens on host:port (port 0 picks a free one) and resolves with the port. */
export function listen(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    // Every address: no host, so Node binds :: (IPv4 too) at once. With a host, even an IP
    // literal, Node resolves it through dns.lookup first, which on a queue-proxy's start costs
    // ~8 ms (the dns module, and the IPv6 regex its result filter compiles).
    const all = host === '0.0.0.0' || host === '::';
    server.listen(all ? { port } : { port, host }, () => {
      server.removeListener('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Stops accepting connections and resolves once every connection has closed. */
export function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
    server.closeIdleConnections();
    // HTTP/2 connections get a GOAWAY: their streams finish, then they close.
    http2Fronts.get(server)?.closeGracefully();
  });
}
