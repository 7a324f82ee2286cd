// The client-facing HTTP server of the queue-proxy and the activator: Node's http server with the
// limits that give bad input a clear answer (400, 431, 408) and a count, and a listen helper.

import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';

export interface ServerLimits {
  /** Largest request head (request line + headers); beyond it 431. Node's default is 16 KiB. */
  readonly maxHeaderBytes?: number;
  /** Time a client has to send its whole request head; then 408 and the connection closes. */
  readonly headersTimeoutMs?: number;
  /** How long an idle keep-alive connection from a client stays open. */
  readonly keepAliveTimeoutMs?: number;
}

/** Why a connection was answered before any request reached the handler. */
export type ClientErrorKind = 'bad-request' | 'headers-too-large' | 'headers-timeout' | 'connection-error';

export interface ServerHandlers {
  request(req: IncomingMessage, res: ServerResponse): void;
  /** Upgrade requests (WebSocket); when absent they are refused by Node. */
  upgrade?(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Told about every request refused by the parser or the limits, for metrics. */
  clientError?(kind: ClientErrorKind): void;
}

export const DEFAULT_MAX_HEADER_BYTES = 16 * 1024;
export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
// Longer than the idle timeouts of common load balancers and clients (60 s), so the proxy is not
// the side that closes a connection a client is about to reuse.
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 65_000;

export function createServer(limits: ServerLimits, handlers: ServerHandlers): http.Server {
  const headersTimeout = limits.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS;
  const server = http.createServer({
    maxHeaderSize: limits.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES,
    headersTimeout,
    // The whole-request deadline is the proxies' own (timeoutSeconds, queue time included), so
    // Node's own limit on receiving the request is off: it would cut long uploads.
    requestTimeout: 0,
    keepAliveTimeout: limits.keepAliveTimeoutMs ?? DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
    // Node checks the headers timeout on this interval; a tenth of it keeps the error small.
    connectionsCheckingInterval: Math.max(10, Math.min(1_000, Math.floor(headersTimeout / 10))),
    noDelay: true,
  });
  const sockets = new Set<Socket>();
  openSockets.set(server, sockets);
  server.on('connection', (socket: Socket & Tracked) => {
    sockets.add(socket);
    socket[kSockets] = sockets;
    socket.once('close', forgetSocket);
  });
  server.on('request', handlers.request);
  if (handlers.upgrade !== undefined) server.on('upgrade', handlers.upgrade);
  const onClientError = handlers.clientError;
  server.on('clientError', (err: Error & { code?: string }, socket: Socket) => {
    const kind = clientErrorKind(err);
    onClientError?.(kind);
    answerClientError(kind, socket);
  });
  return server;
}

export function clientErrorKind(err: { code?: string }): ClientErrorKind {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return 'headers-too-large';
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return 'headers-timeout';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'connection-error';
    default:
      return 'bad-request';
  }
}

const CLIENT_ERROR_RESPONSES: { readonly [K in ClientErrorKind]: string | undefined } = {
  'bad-request': response(400, 'Bad Request', 'BAD_REQUEST', 'malformed request'),
  'headers-too-large': response(
    431,
    'Request Header Fields Too Large',
    'HEADERS_TOO_LARGE',
    'request headers too large',
  ),
  'headers-timeout': response(
    408,
    'Request Timeout',
    'HEADERS_TIMEOUT',
    'request headers not received in time',
  ),
  'connection-error': undefined,
};

function response(status: number, text: string, code: string, message: string): string {
  const body = `${message}\n`;
  return (
    `HTTP/1.1 ${status} ${text}\r\ncontent-type: text/plain; charset=utf-8\r\n` +
    `content-length: ${Buffer.byteLength(body)}\r\nx-zeroscale-error: ${code}\r\nconnection: close\r\n\r\n${body}`
  );
}

function answerClientError(kind: ClientErrorKind, socket: Socket): void {
  const answer = CLIENT_ERROR_RESPONSES[kind];
  // Node's own rule: write only if no response of this connection has begun.
  const inProgress = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (answer !== undefined && socket.writable && (inProgress === undefined || !inProgress.headersSent)) {
    socket.end(answer);
  } else {
    socket.destroy();
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

/** Cuts every connection of a server made by `createServer`, upgraded ones included. */
export function destroyConnections(server: http.Server): void {
  server.closeAllConnections();
  for (const socket of openSockets.get(server) ?? []) socket.destroy();
}

/** Listens on host:port (port 0 picks a free one) and resolves with the port. */
export function listen(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen({ port, host }, () => {
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
  });
}
