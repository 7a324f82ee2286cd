// The queue-proxy's own metrics text (telemetry/text-registry.ts): what prom-client would write
// for the same metrics, checked by promtool, with the escapes the text format asks for.

import { spawnSync } from 'node:child_process';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { registerRequestMetrics, ServiceRequestMetrics } from '../../src/http/request-metrics.ts';
import { Collected, registerCollected } from '../../src/telemetry/collected.ts';
import { createTextRegistry, formatValue, TextRegistry } from '../../src/telemetry/text-registry.ts';

function promtoolCheck(text: string): { status: number | null; output: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (r.error) throw new Error(`promtool not found (${r.error.message}): run \`make test-deps\``);
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** The same metrics in a TextRegistry and in prom-client's Registry. */
async function both(register: (r: TextRegistry | Registry) => void): Promise<[string, string]> {
  const text = new TextRegistry();
  const prom = new Registry();
  register(text);
  register(prom);
  return [await text.metrics(), await prom.metrics()];
}

describe('TextRegistry', () => {
  it('writes request metrics exactly as prom-client does', async () => {
    const m = new ServiceRequestMetrics({ namespace: 'default', service: 'hello' });
    m.observe(200, 0.004);
    m.observe(503, 2);
    m.observe(0, 700);
    m.reject('queue-full');
    m.inFlight = () => 3;
    const [ours, theirs] = await both((r) => registerRequestMetrics(r, 'zeroscale_queue', () => [m]));
    expect(ours).toBe(theirs);
    expect(ours).toContain(
      'zeroscale_queue_requests_total{namespace="default",service="hello",code="200",code_class="2xx"} 1',
    );
    expect(ours).toContain(
      'zeroscale_queue_request_duration_seconds_bucket{namespace="default",service="hello",le="+Inf"} 3',
    );
  });

  it('escapes label values and help as the text format asks, and promtool accepts the result', async () => {
    const [ours, theirs] = await both((r) =>
      registerCollected(r, 'odd_labels', 'Help with a \\ backslash\nand a newline.', 'gauge', () => [
        { value: 1, labels: { v: 'quote " backslash \\ newline \n end' } },
        { value: Number.NaN, labels: { v: 'nan' } },
        { value: Number.POSITIVE_INFINITY, labels: { v: 'inf' } },
        { value: Number.NEGATIVE_INFINITY, labels: { v: '-inf' } },
      ]),
    );
    // prom-client writes NaN as `Nan`; the format (and Go's parser) spell it NaN.
    expect(ours).toBe(theirs.replace(' Nan\n', ' NaN\n'));
    expect(ours).toContain('odd_labels{v="quote \\" backslash \\\\ newline \\n end"} 1');
    const check = promtoolCheck(ours);
    expect(check.output).not.toMatch(/error/i);
    expect(check.status).toBe(0);
  });

  it('holds the build info and the process metrics under prom-client’s names', async () => {
    const text = await createTextRegistry('queue-proxy').metrics();
    expect(text).toMatch(
      /^zeroscale_build_info\{component="queue-proxy",version="[^"]+",node_version="[^"]+"\} 1$/m,
    );
    for (const name of [
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_heap_size_used_bytes',
    ])
      expect(text).toMatch(new RegExp(`^${name} [0-9.e+]+$`, 'm'));
    const check = promtoolCheck(text);
    expect(check.status, check.output).toBe(0);
  });

  it('refuses a second metric of the same name, and metrics it cannot read', () => {
    const r = new TextRegistry();
    registerCollected(r, 'twice', 'Once.', 'counter', () => []);
    expect(() => registerCollected(r, 'twice', 'Again.', 'counter', () => [])).toThrow(
      /twice.*already registered/,
    );
    expect(() => r.registerMetric({ name: 'x' } as never)).toThrow(/only Collected/);
    r.add(new Collected('empty', 'No samples yet.', 'gauge', () => []));
    expect(r.text()).toContain('# TYPE empty gauge\n');
  });

  it('writes special values as Prometheus spells them', () => {
    expect(
      [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0.25, 1e21].map(formatValue),
    ).toEqual(['NaN', '+Inf', '-Inf', '0.25', '1e+21']);
  });
});
