// The stats server over a real socket: what activators may send, and what is refused with which
// status and code. The sink records what got through.
import http from 'node:http';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PokeOutcome } from '../../src/autoscaler/autoscaler.ts';
import type { ActivatorReport, Poke } from '../../src/autoscaler/metrics/protocol.ts';
import { StatsServer } from '../../src/autoscaler/statserver/stats-server.ts';
import { silentLogger } from '../../src/telemetry/log.ts';

const MAX_BODY = 4_096;

class RecordingSink {
  readonly reports: ActivatorReport[] = [];
  readonly pokes: Poke[] = [];
  recordReport(report: ActivatorReport): void {
    this.reports.push(report);
  }
  poke(poke: Poke): PokeOutcome {
    this.pokes.push(poke);
    return poke.service === 'default/known' ? 'decided' : 'unknown-service';
  }
}

let sink: RecordingSink;
let registry: Registry;
let server: StatsServer;
let port: number;

beforeEach(async () => {
  sink = new RecordingSink();
  registry = new Registry();
  server = new StatsServer({ sink, logger: silentLogger(), registry, maxBodyBytes: MAX_BODY });
  port = await server.listen(0, '127.0.0.1');
});
afterEach(async () => {
  await server.close();
});

interface Answer {
  readonly status: number;
  readonly body: { code?: string; message?: string } | undefined;
  readonly headers: Headers;
}

async function send(path: string, body: string | undefined, method = 'POST'): Promise<Answer> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    ...(body === undefined ? {} : { body, headers: { 'content-type': 'application/json' } }),
  });
  const text = await res.text();
  return {
    status: res.status,
    body: text.startsWith('{') ? JSON.parse(text) : undefined,
    headers: res.headers,
  };
}

const report: ActivatorReport = {
  activator: 'activator-0',
  intervalMs: 1_000,
  services: [{ service: 'default/hello', averageConcurrency: 3, requestsPerSecond: 12, queued: 1 }],
};

describe('StatsServer', () => {
  it('accepts a report and hands it on', async () => {
    expect((await send('/v1/stats', JSON.stringify(report))).status).toBe(204);
    expect(sink.reports).toEqual([report]);
  });

  it('accepts a poke for a known service and answers 404 UNKNOWN_SERVICE for others', async () => {
    expect(
      (await send('/v1/poke', JSON.stringify({ service: 'default/known', activator: 'a' }))).status,
    ).toBe(204);
    const unknown = await send('/v1/poke', JSON.stringify({ service: 'default/other', activator: 'a' }));
    expect(unknown.status).toBe(404);
    expect(unknown.body?.code).toBe('UNKNOWN_SERVICE');
    expect(sink.pokes).toHaveLength(2);
  });

  it.each([
    { name: 'a body that is not JSON', path: '/v1/stats', body: '{"activator":' },
    {
      name: 'a report with a bad field',
      path: '/v1/stats',
      body: JSON.stringify({ ...report, intervalMs: -1 }),
    },
    {
      name: 'a report without services',
      path: '/v1/stats',
      body: JSON.stringify({ activator: 'a', intervalMs: 1000 }),
    },
    {
      name: 'a poke without a namespace',
      path: '/v1/poke',
      body: JSON.stringify({ service: 'hello', activator: 'a' }),
    },
    { name: 'an empty body', path: '/v1/poke', body: '' },
  ])('refuses $name with 400 INVALID_STATS_BODY and a message', async ({ path, body }) => {
    const answer = await send(path, body);
    expect(answer.status).toBe(400);
    expect(answer.body?.code).toBe('INVALID_STATS_BODY');
    expect(answer.body?.message).toEqual(expect.any(String));
    expect(sink.reports).toEqual([]);
  });

  it('refuses a body over the limit announced by Content-Length with 413 before reading it', async () => {
    const big = JSON.stringify({ ...report, activator: 'x'.repeat(MAX_BODY) });
    const answer = await send('/v1/stats', big);
    expect(answer.status).toBe(413);
    expect(answer.body?.code).toBe('STATS_BODY_TOO_LARGE');
    expect(answer.headers.get('connection')).toBe('close');
  });

  it('refuses a chunked body once it grows over the limit', async () => {
    const answer = await new Promise<{ status: number; code: string }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path: '/v1/stats', method: 'POST' }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, code: JSON.parse(text).code }));
      });
      req.on('error', reject);
      // No Content-Length: chunked. 8 chunks of 1 KiB, over the 4 KiB limit.
      const chunk = 'x'.repeat(1_024);
      for (let i = 0; i < 8; i++) req.write(chunk);
      req.end();
    });
    expect(answer).toEqual({ status: 413, code: 'STATS_BODY_TOO_LARGE' });
  });

  it('answers 404 for other paths and 405 for other methods', async () => {
    const missing = await send('/v1/other', '{}');
    expect(missing.status).toBe(404);
    expect(missing.body?.code).toBe('NOT_FOUND');
    const get = await send('/v1/stats', undefined, 'GET');
    expect(get.status).toBe(405);
    expect(get.body?.code).toBe('METHOD_NOT_ALLOWED');
    expect(get.headers.get('allow')).toBe('POST');
  });

  it('answers its health check', async () => {
    expect((await send('/healthz', undefined, 'GET')).status).toBe(200);
  });

  it('counts refusals by reason', async () => {
    await send('/v1/stats', 'nope');
    await send('/v1/stats', 'x'.repeat(MAX_BODY + 1));
    const text = await registry.metrics();
    expect(text).toContain('zeroscale_autoscaler_stats_requests_rejected_total{reason="invalid-body"} 1');
    expect(text).toContain('zeroscale_autoscaler_stats_requests_rejected_total{reason="too-large"} 1');
  });

  it('serves many reports on one kept-alive connection', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const sockets = new Set<unknown>();
    const body = JSON.stringify(report);
    for (let i = 0; i < 5; i++) {
      const status = await new Promise<number>((resolve, reject) => {
        const req = http.request(
          {
            host: '127.0.0.1',
            port,
            path: '/v1/stats',
            method: 'POST',
            agent,
            headers: { 'content-length': Buffer.byteLength(body) },
          },
          (res) => {
            sockets.add(req.socket);
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
      expect(status).toBe(204);
    }
    agent.destroy();
    expect(sockets.size).toBe(1);
    expect(sink.reports).toHaveLength(5);
  });
});
