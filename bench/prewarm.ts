// Predictive pre-warm on a trace (issue 16 part 2): fixed keep-alives (Knative's 60 s stable
// window, Lambda's 10 min), the hybrid histogram policy of "Serverless in the Wild" and ours,
// side by side on the same seeded trace and the same modelled cold start: the share of requests
// that hit a cold start, and idle pod time. Runs in seconds, no cluster: node bench/prewarm.ts.
import { fixedKeepAlive, hybridHistogram, type IdlePolicy, predictive } from './prewarm/policies.ts';
import { type ReplayTotals, replay } from './prewarm/replay.ts';
import { generateTrace, type Shape } from './prewarm/trace.ts';
import { writeResult } from './stats.ts';

// PREWARM_SEED picks another trace, to check that the margins were not fitted to this one.
const SEED = Number(process.env.PREWARM_SEED ?? 20_200_715);
const DAYS = 4;
const COUNTS: Record<Shape, number> = { periodic: 80, diurnal: 60, bursty: 60, rare: 80 };
const COLD_STARTS_MS = [1_000, 10_000];
const KNATIVE_KEEP_MS = 60_000;

export function benchPrewarm(): void {
  const started = performance.now();
  const trace = generateTrace({ seed: SEED, days: DAYS, counts: COUNTS });
  const requests = trace.reduce((n, s) => n + s.arrivalsMs.length, 0);
  const rows: string[] = [];
  const shapeRows: string[] = [];
  const data: Record<string, unknown>[] = [];
  for (const coldStartMs of COLD_STARTS_MS) {
    const policies: [string, () => IdlePolicy][] = [
      ['fixed keep-alive 60 s (Knative defaults)', fixedKeepAlive('knative', KNATIVE_KEEP_MS)],
      ['fixed keep-alive 10 min (AWS Lambda)', fixedKeepAlive('lambda', 10 * 60_000)],
      ['hybrid histogram (Shahrad et al. 2020)', hybridHistogram],
      ['**zeroscale Predictive**', predictive(coldStartMs, KNATIVE_KEEP_MS)],
    ];
    const results = policies.map(([name, make]) => ({ name, totals: replay(trace, make, coldStartMs) }));
    const hybrid = results[2]!.totals.all;
    for (const { name, totals } of results) {
      const { all } = totals;
      rows.push(
        `| ${coldStartMs / 1_000} s | ${name} | ${pct(all.coldStarts, all.requests)} | ${hours(all.idleMs)} | ${ratio(all.coldStarts, hybrid.coldStarts)} | ${ratio(all.idleMs, hybrid.idleMs)} |`,
      );
      if (coldStartMs === COLD_STARTS_MS[0]) {
        const cells = (['periodic', 'diurnal', 'bursty', 'rare'] as const).map((shape) => {
          const t = totals.byShape.get(shape)!;
          return `${pct(t.coldStarts, t.requests)} / ${hours(t.idleMs)}`;
        });
        shapeRows.push(`| ${name} | ${cells.join(' | ')} |`);
      }
      data.push({
        coldStartMs,
        policy: name.replaceAll('*', ''),
        ...summary(all),
        byShape: Object.fromEntries(totals.byShape),
      });
    }
  }
  const seconds = ((performance.now() - started) / 1_000).toFixed(1);
  const markdown = [
    `| pre-warm policies on one trace (seed ${SEED}: ${trace.length} services × ${DAYS} days, ${requests} requests; one pod each; replayed in ${seconds} s) | cold start | requests that hit a cold start | idle pod-hours | cold starts ÷ hybrid | idle ÷ hybrid |`,
    '|---|---|---|---|---|---|',
    ...rows,
    '',
    `| by shape, cold start 1 s: cold-start share / idle pod-hours | periodic (${COUNTS.periodic}) | diurnal (${COUNTS.diurnal}) | bursty (${COUNTS.bursty}) | rare (${COUNTS.rare}) |`,
    '|---|---|---|---|---|',
    ...shapeRows,
  ].join('\n');
  writeResult('prewarm', { seed: SEED, days: DAYS, counts: COUNTS, requests, results: data }, markdown);
}

const pct = (n: number, d: number): string => `${((100 * n) / d).toFixed(2)} %`;
const hours = (ms: number): string => (ms / 3_600_000).toFixed(0);
const ratio = (n: number, d: number): string => (d === 0 ? '–' : (n / d).toFixed(2));
const summary = (t: ReplayTotals) => ({
  ...t,
  coldStartShare: t.coldStarts / t.requests,
  idleHours: t.idleMs / 3_600_000,
});

if (import.meta.url === `file://${process.argv[1]}`) benchPrewarm();
