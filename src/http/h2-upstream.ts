// One upstream address spoken to over HTTP/2 cleartext (an h2c app for a queue-proxy, an h2c
// service's pod for an activator): a few long-lived connections, each carrying many streams.
// A stream goes on the least busy connection that has room under the peer's
// SETTINGS_MAX_CONCURRENT_STREAMS; a new connection is opened only when all are full. Connections
// that fail, get a GOAWAY or idle too long are dropped and replaced on demand.

import type { ClientHttp2Session } from 'node:http2';
import { loadHttp2 } from './http2-module.ts';

export interface Http2UpstreamOptions {
  readonly host: string;
  readonly port: number;
  /** Connections opened at most; past it streams queue on the least busy one. */
  readonly maxConnections?: number;
  /** A connection with no stream for this long is closed. */
  readonly idleTimeoutMs?: number;
}

// Streams assumed allowed before the peer's SETTINGS arrive (RFC 9113 recommends ≥ 100).
const ASSUMED_MAX_STREAMS = 100;
const DEFAULT_MAX_CONNECTIONS = 4;
const DEFAULT_IDLE_TIMEOUT_MS = 30_000;

/** One connection to the upstream and what the pool knows of it. */
export class UpstreamSession {
  readonly session: ClientHttp2Session;
  /**
   * The peer's SETTINGS arrived: the connection is up at the HTTP/2 level, and a stream that fails
   * now may have reached the app. Before it, nothing was processed (a socket accepted by a server
   * that is closing, say).
   */
  connected = false;
  /** Got a GOAWAY or failed: takes no new stream. */
  retired = false;
  /** Streams opened on it and not yet closed. */
  streams = 0;
  /** The highest stream id the peer said it will process after a GOAWAY (Infinity before one). */
  lastStreamId = Number.POSITIVE_INFINITY;

  constructor(pool: Http2Upstream) {
    const session = loadHttp2().connect(`http://${pool.address}`, {
      // Our request headers are bounded by the client side; the peer's answers by Node's default.
      peerMaxConcurrentStreams: ASSUMED_MAX_STREAMS,
    });
    this.session = session;
    session.once('remoteSettings', () => {
      this.connected = true;
    });
    session.on('goaway', (_code: number, lastStreamId: number) => {
      this.retired = true;
      this.lastStreamId = lastStreamId;
      pool.forget(this);
    });
    // Errors reach the streams; the session's own 'error' must not end the process.
    session.on('error', () => {
      this.retired = true;
    });
    session.on('close', () => {
      this.retired = true;
      pool.forget(this);
    });
    session.setTimeout(pool.idleTimeoutMs, () => {
      if (this.streams === 0) session.close();
    });
    session.unref();
  }

  get room(): number {
    const max = this.session.remoteSettings?.maxConcurrentStreams ?? ASSUMED_MAX_STREAMS;
    return Math.min(max, 2 ** 31) - this.streams;
  }

  streamOpened(): void {
    this.streams++;
    if (this.streams === 1) this.session.ref();
  }

  streamClosed(): void {
    this.streams--;
    if (this.streams === 0) this.session.unref();
  }
}

export class Http2Upstream {
  readonly host: string;
  readonly port: number;
  /** `host:port`, for logs and error bodies. */
  readonly address: string;
  readonly idleTimeoutMs: number;
  readonly #maxConnections: number;
  readonly #sessions: UpstreamSession[] = [];
  #destroyed = false;

  constructor(options: Http2UpstreamOptions) {
    this.host = options.host;
    this.port = options.port;
    this.address = options.host.includes(':')
      ? `[${options.host}]:${options.port}`
      : `${options.host}:${options.port}`;
    this.#maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    this.idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  }

  get destroyed(): boolean {
    return this.#destroyed;
  }

  /** Open connections. */
  get connections(): number {
    return this.#sessions.length;
  }

  /** The connection the next stream should go on; undefined once destroyed. */
  session(): UpstreamSession | undefined {
    if (this.#destroyed) return undefined;
    let best: UpstreamSession | undefined;
    for (const s of this.#sessions) {
      if (s.retired || s.session.destroyed) continue;
      if (best === undefined || s.room > best.room) best = s;
    }
    if (best !== undefined && (best.room > 0 || this.#sessions.length >= this.#maxConnections)) return best;
    const fresh = new UpstreamSession(this);
    this.#sessions.push(fresh);
    return fresh;
  }

  /** A connection is done (closed, or went away): no new stream goes on it. */
  forget(s: UpstreamSession): void {
    const i = this.#sessions.indexOf(s);
    if (i >= 0) this.#sessions.splice(i, 1);
  }

  /** Closes every connection; streams still open are cut. */
  destroy(): void {
    this.#destroyed = true;
    for (const s of this.#sessions.splice(0)) s.session.destroy();
  }
}
