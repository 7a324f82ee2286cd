// Pass-through of HTTP/1.1 upgrades (WebSocket): the upgrade request goes upstream, and once the
// upstream answers 101 the two sockets are spliced together until either side closes. Upgrades
// are rare and long-lived, so this path favours plainness over the allocation care of proxy.ts.

import http, { type IncomingMessage, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { classifyUpstreamError, type ErrorAnswer, type ProxyFailure, proxyFailure } from './failures.ts';
import { dropHopByHop } from './headers.ts';
import { ERROR_CODE_HEADER } from './internal-headers.ts';
import type { ForwardHandler } from './proxy.ts';
import type { Upstream } from './upstream.ts';

// Bytes a client may send after its upgrade request and before the 101 (a WebSocket client may
// send its first frames at once); beyond, reading pauses until the upstream answers.
const MAX_EARLY_BYTES = 64 * 1024;
const kEarly = Symbol('zeroscale.earlyBytes');
interface EarlyBytes {
  chunks: Buffer[];
  bytes: number;
}
interface WithEarly {
  [kEarly]?: EarlyBytes | undefined;
}

function onEarlyData(this: Duplex & WithEarly, chunk: Buffer): void {
  const early = this[kEarly];
  if (early === undefined) return;
  early.chunks.push(chunk);
  early.bytes += chunk.length;
  if (early.bytes > MAX_EARLY_BYTES) this.pause();
}

// HTTP servers allow half-open sockets: a client's FIN alone would not close the socket, and a
// pending upgrade (and its upstream request) would stay. Before the 101 a FIN means "gone".
function onEarlyEnd(this: Duplex): void {
  this.destroy();
}

/**
 * Starts reading an upgrade request's socket at once. Node hands it over unread, and an unread
 * socket never shows that its client left (neither FIN nor reset is seen): a held or pending
 * upgrade would stay, and its upstream request with it. What arrives is kept for the upstream.
 */
export function readUpgradeClient(socket: Duplex): void {
  const s = socket as Duplex & WithEarly;
  if (s[kEarly] !== undefined) return;
  s[kEarly] = { chunks: [], bytes: 0 };
  s.on('data', onEarlyData);
  s.once('end', onEarlyEnd);
  s.resume();
}

/** Stops the early reading and returns what it read (once). */
function takeEarlyBytes(socket: Duplex): Buffer[] {
  const s = socket as Duplex & WithEarly;
  const early = s[kEarly];
  if (early === undefined) return [];
  s[kEarly] = undefined;
  s.removeListener('data', onEarlyData);
  s.removeListener('end', onEarlyEnd);
  s.pause();
  return early.chunks;
}

export class UpgradeForwarder<C> {
  readonly #handler: ForwardHandler<C>;

  constructor(handler: ForwardHandler<C>) {
    this.#handler = handler;
  }

  /**
   * Forwards an upgrade request; `headers` must carry `Connection: upgrade` and `Upgrade` (as
   * `buildUpstreamRequestHeaders` leaves them). `timeoutMs` bounds the wait for the upstream's
   * answer (0 = none); an established upgrade has no deadline. The handler's `forwardEnded` runs
   * once: when both sockets closed, or with a failure before anything was written to the client
   * (then the handler answers with `writeRawErrorAnswer` or forwards again).
   */
  forward(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    headers: string[],
    upstream: Upstream,
    context: C,
    timeoutMs: number,
  ): void {
    const handler = this.#handler;
    let ended = false;
    let answered = false;
    let connected = false;
    const end = (failure: ProxyFailure | undefined): void => {
      if (ended) return;
      ended = true;
      if (timer !== undefined) clearTimeout(timer);
      socket.removeListener('close', onClientClose);
      handler.forwardEnded(context, failure);
    };
    const proxyReq = http.request({
      // Never a pooled connection: a declined upgrade (a plain response to a request that may
      // announce a body it never sends) would leave a kept-alive connection expecting that body,
      // and the next client's request would become it. One connection per upgrade, closed after.
      agent: false,
      host: upstream.host,
      port: upstream.port,
      method: req.method,
      path: req.url,
      headers,
      setHost: false,
    });
    const onClientClose = (): void => {
      if (!proxyReq.destroyed) proxyReq.destroy();
      end(proxyFailure('CLIENT_ABORTED', 'client closed the connection', { responseStarted: answered }));
    };
    socket.on('close', onClientClose);
    const timer =
      timeoutMs > 0
        ? setTimeout(() => {
            proxyReq.destroy();
            end(proxyFailure('REQUEST_TIMEOUT', 'request timeout: the upgrade was not answered in time'));
          }, timeoutMs)
        : undefined;

    proxyReq.on('socket', (s) => {
      if (s.connecting) s.once('connect', () => (connected = true));
      else connected = true;
    });
    proxyReq.on('error', (err) => {
      if (ended || answered) return;
      // Not idempotent: once the upgrade request went out, only the app knows what it did.
      end(classifyUpstreamError(err, upstream.address, { connected, bodyBytesSent: 0, idempotent: false }));
    });
    proxyReq.on('upgrade', (proxyRes: IncomingMessage, upstreamSocket: Duplex, upstreamHead: Buffer) => {
      if (ended) {
        upstreamSocket.destroy();
        return;
      }
      answered = true;
      if (timer !== undefined) clearTimeout(timer);
      socket.removeListener('close', onClientClose);
      // A 101 keeps its Connection and Upgrade headers: they are what the client waits for.
      socket.write(responseHead(proxyRes.statusCode!, proxyRes.statusMessage, proxyRes.rawHeaders));
      handler.responseStarted?.(context);
      if (upstreamHead.length > 0) socket.write(upstreamHead);
      if (head.length > 0) upstreamSocket.write(head);
      for (const chunk of takeEarlyBytes(socket)) upstreamSocket.write(chunk);
      splice(socket, upstreamSocket, () => end(undefined));
    });
    proxyReq.on('response', (proxyRes: IncomingMessage) => {
      if (ended) {
        proxyRes.resume();
        return;
      }
      // The upstream declined the upgrade: relay its answer, delimited by closing the connection.
      answered = true;
      takeEarlyBytes(socket);
      // Read and drop what else the client sends, so that its close stays visible.
      socket.resume();
      if (timer !== undefined) clearTimeout(timer);
      socket.removeListener('close', onClientClose);
      socket.on('close', () => {
        // The declined answer's connection is ours alone: it goes with the client's.
        proxyReq.destroy();
        end(undefined);
      });
      const rawHeaders = dropHopByHop(proxyRes.rawHeaders);
      rawHeaders.push('connection', 'close');
      socket.write(responseHead(proxyRes.statusCode!, proxyRes.statusMessage, rawHeaders));
      handler.responseStarted?.(context);
      proxyRes.pipe(socket);
      proxyRes.on('error', () => socket.destroy());
    });
    proxyReq.end();
  }
}

/**
 * Joins two sockets both ways; `onClosed` runs once when both are closed. A WebSocket has no use
 * for half-open connections, so an end from either side ends both, and a close closes both.
 */
function splice(a: Duplex, b: Duplex, onClosed: () => void): void {
  let open = 2;
  const closed = (): void => {
    if (--open === 0) onClosed();
  };
  const destroyBoth = (): void => {
    a.destroy();
    b.destroy();
  };
  const endBoth = (): void => {
    a.end();
    b.end();
  };
  a.on('error', destroyBoth);
  b.on('error', destroyBoth);
  a.on('end', endBoth);
  b.on('end', endBoth);
  a.on('close', () => {
    b.destroy();
    closed();
  });
  b.on('close', () => {
    a.destroy();
    closed();
  });
  a.pipe(b, { end: false });
  b.pipe(a, { end: false });
}

function responseHead(status: number, message: string | undefined, rawHeaders: readonly string[]): string {
  let head = `HTTP/1.1 ${status} ${message || STATUS_CODES[status] || ''}\r\n`;
  for (let i = 0; i < rawHeaders.length; i += 2) head += `${rawHeaders[i]}: ${rawHeaders[i + 1]}\r\n`;
  return `${head}\r\n`;
}

/** Writes an error answer on a raw socket (an upgrade request has no ServerResponse) and closes it. */
export function writeRawErrorAnswer(socket: Duplex, answer: ErrorAnswer, retryAfterSeconds?: number): void {
  if (socket.destroyed || !socket.writable) return;
  const body = `${answer.message}\n`;
  const headers = [
    'content-type',
    'text/plain; charset=utf-8',
    'content-length',
    String(Buffer.byteLength(body)),
    ERROR_CODE_HEADER,
    answer.code,
    'connection',
    'close',
  ];
  if (retryAfterSeconds !== undefined) headers.push('retry-after', String(retryAfterSeconds));
  socket.end(responseHead(answer.status, undefined, headers) + body);
}
