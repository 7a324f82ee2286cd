// One upstream address (the user container for a queue-proxy, a pod for an activator) with its
// own pool of kept-alive connections. Requests go over raw sockets with our own lean HTTP/1.1
// client (response-parser.ts): measured at 1.75× the requests per CPU-second of node:http's
// client. Upgrades and probes use the node:http agent beside it.

import http from 'node:http';
import net from 'node:net';
import { type ResponseHead, type ResponseListener, ResponseParser } from './response-parser.ts';

export interface UpstreamOptions {
  readonly host: string;
  readonly port: number;
  /** Connections carrying a request at once; more requests wait for one. Infinity = no limit. */
  readonly maxSockets?: number;
  /** Idle connections kept for reuse. */
  readonly maxFreeSockets?: number;
  /** An idle connection is closed after this long (or sooner, when the upstream says so). */
  readonly idleTimeoutMs?: number;
}

/** What a connection tells the request using it. */
export interface ConnectionUser extends ResponseListener {
  /** The connection is assigned; it may still be connecting (`conn.connected`). */
  onConnection(conn: UpstreamConnection): void;
  /** The TCP handshake of a new connection completed. */
  onConnected(): void;
  /** Writing may go on (after `socket.write` returned false). */
  onConnectionDrain(): void;
  /** No byte either way for the socket timeout the user set. */
  onConnectionTimeout(): void;
  /** The connection failed or closed before the response ended. */
  onConnectionError(err: Error & { code?: string }): void;
}

// Idle connections kept when nothing else is said: Knative keeps 1000 towards the app when there
// is no concurrency limit, and 100 per pod in the activator.
const DEFAULT_MAX_FREE_SOCKETS = 256;
// Below the 65 s our own servers keep connections; Node apps announce 5 s, which the hint honours.
const DEFAULT_IDLE_TIMEOUT_MS = 30_000;

export class UpstreamConnection implements ResponseListener {
  readonly socket: net.Socket;
  readonly parser = new ResponseParser();
  readonly upstream: Upstream;
  user: ConnectionUser | undefined = undefined;
  connected = false;
  /** Carried a request before the current one. */
  reused = false;
  /** Bytes of the current response received (head included); 0 means the upstream sent nothing. */
  responseBytes = 0;
  closed = false;
  #ended = false;
  #keepAlive = false;
  #idleHintMs: number | undefined = undefined;

  constructor(upstream: Upstream) {
    this.upstream = upstream;
    this.socket = net.connect({ host: upstream.host, port: upstream.port, noDelay: true });
    // Handlers per connection, not per request: a connection carries many requests.
    this.socket.on('connect', () => {
      this.connected = true;
      this.user?.onConnected();
    });
    this.socket.on('data', (data: Buffer) => this.#onData(data));
    this.socket.on('drain', () => this.user?.onConnectionDrain());
    this.socket.on('timeout', () => {
      if (this.user !== undefined) this.user.onConnectionTimeout();
      else this.socket.destroy();
    });
    this.socket.on('end', () => this.#onEnd());
    this.socket.on('error', (err: Error) => this.#fail(err));
    this.socket.on('close', () => {
      this.closed = true;
      this.upstream.forget(this);
      this.#fail(Object.assign(new Error('upstream closed the connection'), { code: 'ECONNRESET' }));
    });
  }

  /** Starts a request: the parser expects its response; `responseBytes` restarts. */
  begin(method: string): void {
    this.#ended = false;
    this.#keepAlive = false;
    this.responseBytes = 0;
    this.parser.start(method, this);
  }

  onResponseHead(head: ResponseHead): void {
    this.#keepAlive = head.keepAlive;
    this.#idleHintMs = head.keepAliveTimeoutMs;
    this.user?.onResponseHead(head);
  }

  onResponseBody(chunk: Buffer): void {
    this.user?.onResponseBody(chunk);
  }

  onResponseEnd(): void {
    // Acted on after the parser returns (see #onData), never inside it: the next request must
    // not start on this connection while the parser still walks the previous one's bytes.
    this.#ended = true;
  }

  /** Whether the connection can carry another request once the current exchange is done. */
  get reusable(): boolean {
    return this.#keepAlive && !this.closed;
  }

  get idleTimeoutMs(): number {
    const hint = this.#idleHintMs;
    // One second below the upstream's own idle timeout, so it is never the one closing first.
    return hint === undefined
      ? this.upstream.idleTimeoutMs
      : Math.min(this.upstream.idleTimeoutMs, hint - 1_000);
  }

  #onData(data: Buffer): void {
    const user = this.user;
    if (user === undefined) {
      // Bytes nobody asked for: the connection's framing can no longer be trusted.
      this.socket.destroy();
      return;
    }
    this.responseBytes += data.length;
    let extra: number;
    try {
      extra = this.parser.execute(data);
    } catch (err) {
      this.#keepAlive = false;
      this.socket.destroy();
      user.onConnectionError(err as Error);
      return;
    }
    if (extra > 0) this.#keepAlive = false;
    if (this.#ended) {
      this.#ended = false;
      user.onResponseEnd();
    }
  }

  #onEnd(): void {
    const user = this.user;
    this.#keepAlive = false;
    if (user === undefined) return;
    try {
      // A close-delimited body ends here; any other response was cut short (throws).
      this.parser.finish();
    } catch (err) {
      user.onConnectionError(Object.assign(new Error((err as Error).message), { code: 'ECONNRESET' }));
      return;
    }
    if (this.#ended) {
      this.#ended = false;
      user.onResponseEnd();
    }
  }

  #fail(err: Error): void {
    this.#keepAlive = false;
    this.user?.onConnectionError(err);
  }
}

export class Upstream {
  readonly host: string;
  readonly port: number;
  /** `host:port`, for logs and error bodies. */
  readonly address: string;
  /** For upgrades and probes, which go through node:http. */
  readonly agent: http.Agent;
  readonly idleTimeoutMs: number;
  readonly #maxSockets: number;
  readonly #maxFreeSockets: number;
  /** Idle connections, most recently used last (reused first: the warmest). */
  readonly #free: UpstreamConnection[] = [];
  /** Users waiting for a connection because maxSockets are busy. */
  #waiting: ConnectionUser[] = [];
  #busy = 0;
  #destroyed = false;

  constructor(options: UpstreamOptions) {
    this.host = options.host;
    this.port = options.port;
    this.address = options.host.includes(':')
      ? `[${options.host}]:${options.port}`
      : `${options.host}:${options.port}`;
    this.#maxSockets = options.maxSockets ?? Number.POSITIVE_INFINITY;
    this.#maxFreeSockets = options.maxFreeSockets ?? DEFAULT_MAX_FREE_SOCKETS;
    this.idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    this.agent = new http.Agent({
      keepAlive: true,
      scheduling: 'lifo',
      maxSockets: this.#maxSockets,
      maxFreeSockets: Math.min(this.#maxFreeSockets, 16),
      noDelay: true,
    } as http.AgentOptions);
  }

  /** Connections carrying a request now. */
  get busy(): number {
    return this.#busy;
  }
  /** Idle connections kept. */
  get idle(): number {
    return this.#free.length;
  }
  /** Requests waiting for a connection. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /**
   * Gives `user` a connection (calling its `onConnection`, possibly at once): an idle one unless
   * `fresh`, else a new one, else when one frees up.
   */
  acquire(user: ConnectionUser, fresh = false): void {
    if (this.#destroyed) {
      user.onConnectionError(Object.assign(new Error('upstream pool closed'), { code: 'ECONNREFUSED' }));
      return;
    }
    if (!fresh) {
      const conn = this.#free.pop();
      if (conn !== undefined) {
        conn.reused = true;
        this.#assign(conn, user);
        return;
      }
    }
    if (this.#busy < this.#maxSockets) {
      this.#assign(new UpstreamConnection(this), user);
      return;
    }
    this.#waiting.push(user);
  }

  /** Withdraws a user still waiting for a connection (its client left, its deadline passed). */
  cancel(user: ConnectionUser): void {
    const i = this.#waiting.indexOf(user);
    if (i >= 0) this.#waiting.splice(i, 1);
  }

  /** Takes a connection back after an exchange: kept when `reuse`, else closed. */
  release(conn: UpstreamConnection, reuse: boolean): void {
    if (conn.user === undefined) return;
    conn.user = undefined;
    this.#busy--;
    // The last write to a slow client may have paused it: a pooled connection must see its
    // upstream's bytes and close at once.
    conn.socket.resume();
    if (!reuse || !conn.reusable || this.#destroyed || conn.idleTimeoutMs <= 0) {
      conn.socket.destroy();
      this.#next();
      return;
    }
    const next = this.#waiting.shift();
    if (next !== undefined) {
      conn.reused = true;
      this.#assign(conn, next);
      return;
    }
    if (this.#free.length >= this.#maxFreeSockets) {
      conn.socket.destroy();
      return;
    }
    conn.socket.setTimeout(conn.idleTimeoutMs);
    this.#free.push(conn);
  }

  /** A connection closed: drop it from the idle list. */
  forget(conn: UpstreamConnection): void {
    const i = this.#free.indexOf(conn);
    if (i >= 0) this.#free.splice(i, 1);
  }

  /** Closes every connection, in use or idle; call when nothing is in flight any more. */
  destroy(): void {
    this.#destroyed = true;
    for (const conn of this.#free.splice(0)) conn.socket.destroy();
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const user of waiting) {
      user.onConnectionError(Object.assign(new Error('upstream pool closed'), { code: 'ECONNREFUSED' }));
    }
    this.agent.destroy();
  }

  #assign(conn: UpstreamConnection, user: ConnectionUser): void {
    this.#busy++;
    conn.user = user;
    conn.socket.setTimeout(0);
    user.onConnection(conn);
  }

  /** A busy slot freed without a connection to hand over: open one for the next waiter. */
  #next(): void {
    const next = this.#waiting.shift();
    if (next !== undefined) this.acquire(next, true);
  }
}
