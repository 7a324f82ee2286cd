// AutoscalerClient over the autoscaler's HTTP endpoint (src/autoscaler/metrics/protocol.ts): JSON POSTs
// on kept-alive connections. Finding the autoscaler's address is the caller's business (a fixed
// URL, or a function reading the autoscaler's EndpointSlices). Each report and poke also goes to
// the hot standbys, best effort, so that a new leader has the same history as the old one.

import http from 'node:http';
import {
  type ActivatorReport,
  AUTOSCALER_POKE_PATH,
  AUTOSCALER_STATS_PATH,
  type Poke,
} from '../autoscaler/metrics/protocol.ts';
import { ZeroscaleError } from '../errors.ts';
import type { AutoscalerClient } from './sources.ts';

export interface HttpAutoscalerClientOptions {
  /** `http://host:port` of an autoscaler, or a function giving the current one. */
  readonly baseUrl: string | (() => string | undefined);
  /** `http://host:port` of the standby autoscalers; their failures are not the caller's. */
  readonly standbyUrls?: () => readonly string[];
  /** Per call; a report is worthless a second later. */
  readonly timeoutMs?: number;
}

export class HttpAutoscalerClient implements AutoscalerClient {
  readonly #baseUrl: () => string | undefined;
  readonly #standbyUrls: () => readonly string[];
  readonly #timeoutMs: number;
  readonly #agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

  constructor(options: HttpAutoscalerClientOptions) {
    const base = options.baseUrl;
    this.#baseUrl = typeof base === 'string' ? () => base : base;
    this.#timeoutMs = options.timeoutMs ?? 2_000;
    this.#standbyUrls = options.standbyUrls ?? (() => []);
  }

  report(report: ActivatorReport): Promise<void> {
    return this.#post(AUTOSCALER_STATS_PATH, report);
  }

  poke(poke: Poke): Promise<void> {
    return this.#post(AUTOSCALER_POKE_PATH, poke);
  }

  close(): void {
    this.#agent.destroy();
  }

  #post(path: string, value: unknown): Promise<void> {
    const base = this.#baseUrl();
    if (base === undefined) {
      return Promise.reject(new ZeroscaleError('AUTOSCALER_UNKNOWN', 'no autoscaler address known yet'));
    }
    const body = JSON.stringify(value);
    for (const standby of this.#standbyUrls()) {
      if (standby !== base) this.#postTo(standby, path, body).catch(() => {});
    }
    return this.#postTo(base, path, body);
  }

  #postTo(base: string, path: string, body: string): Promise<void> {
    const url = new URL(path, base);
    return new Promise((resolve, reject) => {
      const req = http.request(url, {
        method: 'POST',
        agent: this.#agent,
        timeout: this.#timeoutMs,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      });
      req.once('response', (res) => {
        const status = res.statusCode ?? 0;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.once('end', () => {
          if (status >= 200 && status < 300) resolve();
          else {
            const text = Buffer.concat(chunks).toString('utf8').slice(0, 500);
            reject(
              new ZeroscaleError('AUTOSCALER_REFUSED', `autoscaler answered ${status} to ${path}: ${text}`),
            );
          }
        });
        res.once('error', reject);
      });
      req.once('timeout', () =>
        req.destroy(new ZeroscaleError('AUTOSCALER_TIMEOUT', `${path} took over ${this.#timeoutMs} ms`)),
      );
      req.once('error', (err) =>
        reject(
          err instanceof ZeroscaleError
            ? err
            : new ZeroscaleError('AUTOSCALER_UNREACHABLE', `${path}: ${err.message}`, { cause: err }),
        ),
      );
      req.end(body);
    });
  }
}
