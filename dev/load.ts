// A bounded load generator for the end-to-end tests: N workers, each sending requests one after
// another through the activator on 127.0.0.1:8080 with a Host header, until a deadline or a count.
// It never sends anywhere but loopback.

import http from 'node:http';

export interface LoadOptions {
  readonly host: string;
  readonly path?: string;
  readonly concurrency: number;
  /** Stop starting requests after this long. */
  readonly durationMs?: number;
  /** Or after this many requests in all. */
  readonly requests?: number;
  readonly timeoutMs?: number;
  readonly port?: number;
}

export interface LoadResult {
  readonly total: number;
  readonly byStatus: Record<string, number>;
  /** Transport errors and non-200 answers, with what happened. */
  readonly failures: string[];
}

export function request(
  host: string,
  path = '/',
  agent?: http.Agent,
  timeoutMs = 120_000,
  port = 8080,
): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path, headers: { host }, agent, timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            headers: res.headers,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.concurrency });
  const deadline = o.durationMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + o.durationMs;
  let started = 0;
  const byStatus: Record<string, number> = {};
  const failures: string[] = [];
  const worker = async () => {
    while (Date.now() < deadline && (o.requests === undefined || started < o.requests)) {
      started++;
      try {
        const r = await request(o.host, o.path ?? '/', agent, o.timeoutMs, o.port);
        byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
        if (r.status !== 200) failures.push(`${r.status}: ${r.body.slice(0, 200)}`);
      } catch (err) {
        byStatus.error = (byStatus.error ?? 0) + 1;
        failures.push(String(err));
      }
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  agent.destroy();
  return { total: started, byStatus, failures };
}
