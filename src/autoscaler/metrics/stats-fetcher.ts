// Fetches one pod's stats from its queue-proxy (GET http://<podIP>:9091/stats): keep-alive
// connections, a short timeout, a bound on requests in flight and on requests waiting for one.

import http from 'node:http';
import { QUEUE_PROXY_METRICS_PORT } from '../../api/queue-proxy.ts';
import { ZeroscaleError } from '../../errors.ts';
import type { PodStats } from './protocol.ts';
import { QUEUE_STATS_PATH } from './protocol.ts';
import { PodStatsSchema, parseWire } from './wire.ts';

/** The scraper's one dependency: production uses HTTP, benchmarks an in-process fake. */
export interface StatsFetcher {
  /** Resolves with the pod's last interval, or rejects (with a ZeroscaleError code) on any failure. */
  fetchStats(address: string): Promise<PodStats>;
  /** Closes idle connections. */
  close(): void;
}

export type ScrapeErrorCode =
  | 'SCRAPE_TIMEOUT'
  | 'SCRAPE_FAILED'
  | 'SCRAPE_BAD_STATUS'
  | 'SCRAPE_INVALID_BODY'
  | 'SCRAPE_QUEUE_FULL';

export interface HttpStatsFetcherOptions {
  /** Port for addresses given as a bare IP. Default 9091, the queue-proxy's metrics port. */
  readonly port?: number;
  /** Per request, from the moment it is sent. Default 1 s: a tick; Knative waits 3 s. */
  readonly timeoutMs?: number;
  /** Requests in flight at once, over all pods. Default 128. */
  readonly maxConcurrent?: number;
  /** Requests waiting for a slot; beyond it a request fails with SCRAPE_QUEUE_FULL. Default 20,000. */
  readonly maxQueued?: number;
  /** A stats body is ~200 bytes; anything past this is refused. Default 16 KiB. */
  readonly maxBodyBytes?: number;
}

/**
 * "10.244.0.7" → 10.244.0.7:defaultPort; "127.0.0.1:4567" → as given; "[fd00::7]:9091" → fd00::7
 * port 9091; "fd00::7" (two or more colons, no brackets) → an IPv6 address on defaultPort.
 */
export function parseAddress(address: string, defaultPort: number): { host: string; port: number } {
  if (address.startsWith('[')) {
    const end = address.indexOf(']');
    const host = address.slice(1, end);
    const port = address.slice(end + 1).startsWith(':') ? Number(address.slice(end + 2)) : defaultPort;
    return { host, port };
  }
  const colon = address.indexOf(':');
  if (colon === -1 || colon !== address.lastIndexOf(':')) return { host: address, port: defaultPort };
  return { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) };
}

export class HttpStatsFetcher implements StatsFetcher {
  readonly #agent: http.Agent;
  readonly #port: number;
  readonly #timeoutMs: number;
  readonly #maxConcurrent: number;
  readonly #maxQueued: number;
  readonly #maxBodyBytes: number;
  #active = 0;
  /** FIFO of requests waiting for a slot: `#waiting[#head…]`; compacted when it empties. */
  #waiting: (() => void)[] = [];
  #head = 0;

  constructor(options: HttpStatsFetcherOptions = {}) {
    this.#port = options.port ?? QUEUE_PROXY_METRICS_PORT;
    this.#timeoutMs = options.timeoutMs ?? 1_000;
    this.#maxConcurrent = options.maxConcurrent ?? 128;
    this.#maxQueued = options.maxQueued ?? 20_000;
    this.#maxBodyBytes = options.maxBodyBytes ?? 16 * 1024;
    for (const [key, value] of Object.entries({
      timeoutMs: this.#timeoutMs,
      maxConcurrent: this.#maxConcurrent,
      maxQueued: this.#maxQueued,
      maxBodyBytes: this.#maxBodyBytes,
    })) {
      if (!(value > 0))
        throw new ZeroscaleError('INVALID_AUTOSCALER_CONFIG', `${key} must be > 0, got ${value}`);
    }
    // One idle connection per pod is enough for one scrape a second; a pod left out of the sample
    // for a few seconds has its connection closed by the agent's idle timeout.
    this.#agent = new http.Agent({ keepAlive: true, maxFreeSockets: 1, timeout: 5_000 });
  }

  /** Requests waiting for a slot now. */
  get queued(): number {
    return this.#waiting.length - this.#head;
  }

  async fetchStats(address: string): Promise<PodStats> {
    if (this.#active >= this.#maxConcurrent) {
      if (this.queued >= this.#maxQueued) {
        throw new ZeroscaleError('SCRAPE_QUEUE_FULL', `scrape queue full (${this.#maxQueued} waiting)`);
      }
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#active++;
    }
    try {
      return await this.#get(address);
    } finally {
      this.#release();
    }
  }

  close(): void {
    this.#agent.destroy();
  }

  /** Hands the slot to the next waiter, or frees it. */
  #release(): void {
    if (this.#head < this.#waiting.length) {
      const next = this.#waiting[this.#head]!;
      this.#waiting[this.#head++] = noop;
      if (this.#head === this.#waiting.length) {
        this.#waiting = [];
        this.#head = 0;
      }
      next();
    } else {
      this.#active--;
    }
  }

  #get(address: string): Promise<PodStats> {
    const { host, port } = parseAddress(address, this.#port);
    return new Promise<PodStats>((resolve, reject) => {
      const req = http.request(
        { host, port, path: QUEUE_STATS_PATH, method: 'GET', agent: this.#agent, headers: ACCEPT_JSON },
        (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            reject(new ZeroscaleError('SCRAPE_BAD_STATUS', `${address} answered ${res.statusCode}`));
            return;
          }
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > this.#maxBodyBytes) {
              // Settle first, then drop the connection: the errors that follow find the promise settled.
              reject(
                new ZeroscaleError(
                  'SCRAPE_INVALID_BODY',
                  `${address}: body over ${this.#maxBodyBytes} bytes`,
                ),
              );
              res.removeAllListeners('data');
              req.destroy();
              return;
            }
            chunks.push(chunk);
          });
          res.on('end', () => {
            let body: unknown;
            try {
              body = JSON.parse(Buffer.concat(chunks, size).toString('utf8'));
            } catch (err) {
              reject(new ZeroscaleError('SCRAPE_INVALID_BODY', `${address}: not JSON`, { cause: err }));
              return;
            }
            const parsed = parseWire(PodStatsSchema, body);
            if (parsed.ok) resolve(parsed.value);
            else reject(new ZeroscaleError('SCRAPE_INVALID_BODY', `${address}: ${parsed.message}`));
          });
          res.on('error', (err) => reject(asScrapeError(address, err)));
        },
      );
      req.setTimeout(this.#timeoutMs, () => {
        req.destroy(new ZeroscaleError('SCRAPE_TIMEOUT', `${address}: no answer in ${this.#timeoutMs} ms`));
      });
      req.on('error', (err) => reject(asScrapeError(address, err)));
      req.end();
    });
  }
}

const ACCEPT_JSON = { accept: 'application/json' } as const;

function noop(): void {}

function asScrapeError(address: string, err: Error): ZeroscaleError {
  if (err instanceof ZeroscaleError) return err;
  return new ZeroscaleError('SCRAPE_FAILED', `${address}: ${err.message}`, { cause: err });
}
