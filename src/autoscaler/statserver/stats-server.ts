// The autoscaler's HTTP endpoint for activators (port 8080): POST /v1/stats with an
// ActivatorReport every second, POST /v1/poke when a request waits for a service with no pod.
// Bodies are JSON, bounded in size (413) and validated (400 with a message naming the field).

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, type Registry } from 'prom-client';
import type { Logger } from '../../telemetry/log.ts';
import type { PokeOutcome } from '../autoscaler.ts';
import {
  type ActivatorReport,
  AUTOSCALER_POKE_PATH,
  AUTOSCALER_STATS_PATH,
  type Poke,
} from '../metrics/protocol.ts';
import { ActivatorReportSchema, PokeSchema, parseWire } from '../metrics/wire.ts';

/** Where the server sends what it received: the Autoscaler. */
export interface StatsSink {
  recordReport(report: ActivatorReport): void;
  poke(poke: Poke): PokeOutcome;
}

export interface StatsServerOptions {
  readonly sink: StatsSink;
  readonly logger: Logger;
  readonly registry: Registry;
  /** Largest body accepted; 1 MiB holds a report of ~10,000 services. */
  readonly maxBodyBytes?: number;
}

/** Error codes in the JSON body of a refused request ({ code, message }). */
export type StatsServerErrorCode =
  | 'INVALID_STATS_BODY'
  | 'STATS_BODY_TOO_LARGE'
  | 'UNKNOWN_SERVICE'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED';

type RejectReason = 'invalid-body' | 'too-large' | 'not-found' | 'method-not-allowed' | 'unknown-service';

const REJECTED_METRIC = 'zeroscale_autoscaler_stats_requests_rejected_total';
export const HEALTH_PATH = '/healthz';
const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

export class StatsServer {
  readonly #sink: StatsSink;
  readonly #log: Logger;
  readonly #maxBodyBytes: number;
  readonly #rejected: Counter<'reason'>;
  readonly #registry: Registry;
  readonly #server: http.Server;

  constructor(options: StatsServerOptions) {
    this.#sink = options.sink;
    this.#log = options.logger;
    this.#maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.#registry = options.registry;
    this.#rejected = new Counter({
      name: REJECTED_METRIC,
      help: 'Requests to the autoscaler stats server refused, by reason.',
      labelNames: ['reason'],
      registers: [options.registry],
    });
    // Activators push every second on kept-alive connections; a client that stalls is cut off.
    this.#server = http.createServer(
      { keepAliveTimeout: 30_000, requestTimeout: 10_000, headersTimeout: 5_000 },
      (req, res) => this.#handle(req, res),
    );
  }

  /** Listens and resolves with the bound port (useful with port 0). */
  listen(port: number, host?: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => {
        this.#server.off('error', reject);
        resolve((this.#server.address() as AddressInfo).port);
      });
    });
  }

  /**
   * Stops listening, closes every connection (a report lost now is sent again in a second) and
   * removes the server's metric from the registry.
   */
  close(): Promise<void> {
    this.#registry.removeSingleMetric(REJECTED_METRIC);
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    if (path === HEALTH_PATH && (req.method === 'GET' || req.method === 'HEAD')) {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      return;
    }
    if (path !== AUTOSCALER_STATS_PATH && path !== AUTOSCALER_POKE_PATH) {
      this.#refuse(res, 404, 'not-found', 'NOT_FOUND', `no such path: ${path}`);
      return;
    }
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      this.#refuse(res, 405, 'method-not-allowed', 'METHOD_NOT_ALLOWED', `${path} takes POST`);
      return;
    }
    const length = Number(req.headers['content-length']);
    if (length > this.#maxBodyBytes) {
      this.#tooLarge(res);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on('data', (chunk: Buffer) => {
      if (refused) return;
      size += chunk.length;
      if (size > this.#maxBodyBytes) {
        refused = true;
        this.#tooLarge(res);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!refused) this.#receive(path, Buffer.concat(chunks, size), res);
    });
    req.on('error', () => {
      // The client went away mid-body; there is no one to answer.
    });
  }

  #receive(path: string, body: Buffer, res: http.ServerResponse): void {
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      this.#refuse(res, 400, 'invalid-body', 'INVALID_STATS_BODY', 'body is not JSON');
      return;
    }
    if (path === AUTOSCALER_STATS_PATH) {
      const report = parseWire(ActivatorReportSchema, json);
      if (!report.ok) {
        this.#refuse(
          res,
          400,
          'invalid-body',
          'INVALID_STATS_BODY',
          `invalid ActivatorReport: ${report.message}`,
        );
        return;
      }
      this.#sink.recordReport(report.value);
      res.writeHead(204).end();
      return;
    }
    const poke = parseWire(PokeSchema, json);
    if (!poke.ok) {
      this.#refuse(res, 400, 'invalid-body', 'INVALID_STATS_BODY', `invalid Poke: ${poke.message}`);
      return;
    }
    if (this.#sink.poke(poke.value) === 'unknown-service') {
      this.#refuse(
        res,
        404,
        'unknown-service',
        'UNKNOWN_SERVICE',
        `no autoscaled service ${poke.value.service}`,
      );
      return;
    }
    res.writeHead(204).end();
  }

  /** 413 and close: the rest of the body is not read, so the connection cannot be reused. */
  #tooLarge(res: http.ServerResponse): void {
    res.setHeader('connection', 'close');
    this.#refuse(res, 413, 'too-large', 'STATS_BODY_TOO_LARGE', `body over ${this.#maxBodyBytes} bytes`);
  }

  #refuse(
    res: http.ServerResponse,
    status: number,
    reason: RejectReason,
    code: StatsServerErrorCode,
    message: string,
  ): void {
    this.#rejected.inc({ reason });
    if (this.#log.isLevelEnabled('debug'))
      this.#log.debug({ status, code }, `refused a stats request: ${message}`);
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ code, message }));
  }
}
