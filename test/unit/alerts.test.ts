// The chart's alerts and dashboard: promtool checks and unit-tests the rules, the chart renders them
// (PrometheusRule and dashboard ConfigMap) without changing their meaning, and every metric their
// PromQL names is one the source defines, so renaming a metric breaks this test, not an on-call night.
// promtool (Debian's prometheus package) and helm come from `make test-deps`; the test installs
// nothing and fails, naming the tool, when one is missing.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dump, load, loadAll } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const chartDir = path.join(root, 'deploy/helm/zeroscale');
const alertsFile = path.join(chartDir, 'files/alerts.yaml');
const dashboardFile = path.join(chartDir, 'files/dashboard.json');
const promtoolTests = path.join(root, 'test/promtool/alerts.test.yaml');
const helm = path.join(root, '.zeroscale/bin/helm');
/** Grafana's reference to the dashboard's datasource variable (a literal `${…}`, not a template). */
const DATASOURCE_VARIABLE = ['$', '{datasource}'].join('');

interface Rule {
  readonly alert?: string;
  readonly record?: string;
  readonly expr: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}
interface RuleFile {
  readonly groups: readonly { readonly name: string; readonly rules: readonly Rule[] }[];
}
interface AlertTest {
  readonly alertname: string;
  readonly exp_alerts?: readonly unknown[];
}
interface PromtoolTests {
  readonly tests: readonly { readonly alert_rule_test?: readonly AlertTest[] }[];
}
interface Target {
  readonly expr?: string;
  readonly datasource?: { readonly type?: string; readonly uid?: string };
}
interface Panel {
  readonly type: string;
  readonly title: string;
  readonly datasource?: { readonly type?: string; readonly uid?: string };
  readonly targets?: readonly Target[];
  readonly panels?: readonly Panel[];
}
interface Dashboard {
  readonly schemaVersion: number;
  readonly templating: {
    readonly list: readonly {
      readonly name: string;
      readonly type: string;
      readonly query: string | { readonly query: string };
    }[];
  };
  readonly panels: readonly Panel[];
}

function run(command: string, args: readonly string[], timeout = 60_000): { status: number; output: string } {
  const result = spawnSync(command, args, { cwd: root, encoding: 'utf8', timeout });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? String(result.error) : ''}`;
  return { status: result.status ?? -1, output };
}

/** Runs a command that must succeed; the assertion message carries its output. */
function mustRun(command: string, args: readonly string[], timeout = 60_000): string {
  const { status, output } = run(command, args, timeout);
  expect(status, `${path.basename(command)} ${args.join(' ')} failed:\n${output}`).toBe(0);
  return output;
}

const readYaml = <T>(file: string): T => load(fs.readFileSync(file, 'utf8')) as T;
const alertNames = (file: RuleFile): string[] =>
  file.groups.flatMap((g) => g.rules.flatMap((r) => (r.alert === undefined ? [] : [r.alert])));

/** The first candidate that answers `versionArgs`; throws naming the tool and how to install it. */
function requireTool(name: string, candidates: readonly string[], versionArgs = ['--version']): string {
  for (const candidate of candidates) if (run(candidate, versionArgs).status === 0) return candidate;
  throw new Error(`${name} not found (tried ${candidates.join(', ')}): run \`make test-deps\``);
}

let promtool = '';
let tmp = '';

beforeAll(() => {
  promtool = requireTool('promtool', ['promtool', '/usr/bin/promtool']);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'zeroscale-alerts-'));
});

afterAll(() => {
  if (tmp !== '') fs.rmSync(tmp, { recursive: true, force: true });
});

describe('alert rules (deploy/helm/zeroscale/files/alerts.yaml)', () => {
  it('pass promtool check rules', () => {
    mustRun(promtool, ['check', 'rules', alertsFile]);
  });

  it('pass their unit tests (promtool test rules)', () => {
    mustRun(promtool, ['test', 'rules', promtoolTests]);
  }, 60_000);

  it('each have a severity, summary, description and runbook_url', () => {
    const rules = readYaml<RuleFile>(alertsFile).groups.flatMap((g) => g.rules.filter((r) => r.alert));
    for (const rule of rules) {
      expect(['critical', 'warning'], rule.alert).toContain(rule.labels?.severity);
      for (const key of ['summary', 'description', 'runbook_url']) {
        expect(rule.annotations?.[key], `${rule.alert}: ${key}`).toBeTruthy();
      }
    }
  });

  it('each have a unit test where they fire and one where they must not', () => {
    const tests = readYaml<PromtoolTests>(promtoolTests).tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const name of alertNames(readYaml<RuleFile>(alertsFile))) {
      const mine = tests.filter((t) => t.alertname === name);
      expect(
        mine.some((t) => (t.exp_alerts?.length ?? 0) > 0),
        `${name}: no test case where it fires`,
      ).toBe(true);
      expect(
        mine.some((t) => (t.exp_alerts?.length ?? 0) === 0),
        `${name}: no test case where it must stay quiet (exp_alerts: [])`,
      ).toBe(true);
    }
  });

  it('are evaluated in a fixed group order by their unit tests (recording rules first)', () => {
    // Without group_eval_order promtool orders the groups at random, and a $value may be one
    // evaluation old: a flaky test.
    const order = readYaml<{ group_eval_order?: string[] }>(promtoolTests).group_eval_order;
    expect(order).toEqual(readYaml<RuleFile>(alertsFile).groups.map((g) => g.name));
  });

  it('name only metrics that the source defines', () => {
    const exprs = readYaml<RuleFile>(alertsFile).groups.flatMap((g) => g.rules.map((r) => r.expr));
    expect(undefinedMetrics(exprs)).toEqual([]);
  });
});

describe('dashboard (deploy/helm/zeroscale/files/dashboard.json)', () => {
  const dashboard = JSON.parse(fs.readFileSync(dashboardFile, 'utf8')) as Dashboard;
  const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
  const exprs = [
    ...panels.flatMap((p) => (p.targets ?? []).flatMap((t) => (t.expr === undefined ? [] : [t.expr]))),
    ...dashboard.templating.list
      .filter((v) => v.type === 'query')
      .map((v) => labelValuesSelector(typeof v.query === 'string' ? v.query : v.query.query)),
  ];

  it('has the datasource, namespace and service variables and the four rows', () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    const variables = Object.fromEntries(dashboard.templating.list.map((v) => [v.name, v]));
    expect(variables.datasource?.type).toBe('datasource');
    expect(variables.datasource?.query).toBe('prometheus');
    expect(variables.namespace?.type).toBe('query');
    expect(variables.service?.type).toBe('query');
    const rows = panels.filter((p) => p.type === 'row').map((p) => p.title);
    expect(rows).toEqual(['Overview', 'On-call', 'Per-service debug ($namespace/$service)', 'Cost']);
  });

  it('queries the datasource variable in every panel and target', () => {
    for (const panel of panels.filter((p) => p.type !== 'row')) {
      expect(panel.datasource?.uid, panel.title).toBe(DATASOURCE_VARIABLE);
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      for (const target of panel.targets ?? [])
        expect(target.datasource?.uid, panel.title).toBe(DATASOURCE_VARIABLE);
    }
  });

  it('has PromQL that promtool parses', () => {
    // As recording rules, with Grafana's variables replaced by what Grafana would send.
    const rules: RuleFile = {
      groups: [
        {
          name: 'dashboard',
          rules: exprs.map((expr, i) => ({ record: `dashboard:expr_${i}`, expr: grafanaToPromQL(expr) })),
        },
      ],
    };
    const file = path.join(tmp, 'dashboard-rules.yaml');
    fs.writeFileSync(file, dump(rules));
    mustRun(promtool, ['check', 'rules', file]);
  });

  it('names only metrics that the source defines', () => {
    expect(undefinedMetrics(exprs)).toEqual([]);
  });
});

describe('chart rendering (with .zeroscale/bin/helm)', () => {
  beforeAll(() => {
    requireTool('helm', [helm], ['version', '--short']);
  });
  const flags = ['--set', 'metrics.prometheusRule.enabled=true', '--set', 'metrics.dashboard.enabled=true'];
  const render = (extra: readonly string[] = []): Record<string, unknown>[] =>
    // json: a repeated key keeps its last value, as the apiserver's decoding does (the components'
    // pod labels list app.kubernetes.io/name twice).
    loadAll(mustRun(helm, ['template', 'zs', chartDir, '--namespace', 'zs-system', ...flags, ...extra]), {
      json: true,
    }).filter((doc): doc is Record<string, unknown> => doc !== null && typeof doc === 'object');
  const byKind = (docs: Record<string, unknown>[], kind: string) => docs.filter((d) => d.kind === kind);

  it('passes helm lint with the rules and the dashboard enabled', () => {
    mustRun(helm, ['lint', chartDir, ...flags]);
  });

  it('renders the rules unchanged except for the constants, and they pass the same unit tests', () => {
    const [rule] = byKind(render(), 'PrometheusRule') as { spec: RuleFile }[];
    expect(rule).toBeDefined();
    expect(rule!.spec.groups).toEqual(readYaml<RuleFile>(alertsFile).groups);
    const rendered = path.join(tmp, 'rendered-alerts.yaml');
    fs.writeFileSync(rendered, dump({ groups: rule!.spec.groups }));
    const tests = readYaml<Record<string, unknown>>(promtoolTests);
    const testFile = path.join(tmp, 'rendered-alerts.test.yaml');
    fs.writeFileSync(testFile, dump({ ...tests, rule_files: [rendered] }));
    mustRun(promtool, ['test', 'rules', testFile]);
  }, 60_000);

  it('sets the SLO and the cold-start threshold from values', () => {
    const [rule] = byKind(
      render([
        '--set',
        'metrics.prometheusRule.successObjective=0.995',
        '--set',
        'metrics.prometheusRule.coldStartP95ThresholdSeconds=7.5',
        '--set',
        'metrics.prometheusRule.labels.release=prometheus',
      ]),
      'PrometheusRule',
    ) as { metadata: { labels: Record<string, string> }; spec: RuleFile }[];
    const records = Object.fromEntries(
      rule!.spec.groups.flatMap((g) => g.rules.flatMap((r) => (r.record ? [[r.record, r.expr]] : []))),
    );
    expect(records['zeroscale:request_success_objective:ratio']).toBe('vector(0.995)');
    expect(records['zeroscale:cold_start_p95_threshold:seconds']).toBe('vector(7.5)');
    expect(rule!.metadata.labels.release).toBe('prometheus');
  });

  it('puts the dashboard in a ConfigMap for the Grafana sidecar', () => {
    const maps = byKind(render(), 'ConfigMap') as {
      metadata: { name: string; labels: Record<string, string> };
      data: Record<string, string>;
    }[];
    const map = maps.find((m) => m.metadata.name === 'zeroscale-dashboard');
    expect(map?.metadata.labels.grafana_dashboard).toBe('1');
    expect(JSON.parse(map!.data['zeroscale.json']!)).toEqual(
      JSON.parse(fs.readFileSync(dashboardFile, 'utf8')),
    );
  });

  it('renders neither by default', () => {
    const out = mustRun(helm, ['template', 'zs', chartDir]);
    expect(out).not.toContain('kind: PrometheusRule');
    expect(out).not.toContain('zeroscale-dashboard');
  });
});

// ---- metric names -------------------------------------------------------------------------

/** The selector inside a Grafana `label_values(selector, label)` variable query. */
function labelValuesSelector(query: string): string {
  const m = /^label_values\((.*),\s*\w+\)$/s.exec(query.trim());
  return m ? m[1]! : query;
}

/** Grafana's variables as Grafana would expand them ("All" is the variables' allValue, `.+`). */
function grafanaToPromQL(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$__interval', '30s')
    .replaceAll('$__range', '3h')
    .replaceAll(/\$\{?(namespace|service)\}?/g, '.+');
}

let sourceNames: SourceNames | undefined;

/**
 * The metric names the source defines, found by reading it as a person would: names written out
 * (`'zeroscale_reconcile_total'`), names built from a prefix argument and a suffix template
 * (`registerRequestMetrics(r, 'zeroscale_queue', …)` with `${prefix}_requests_total`), and names
 * built from a prefix template and the quoted names of the same file
 * (`zeroscale_autoscaler_${name}` with `g('desired_pods', …)`).
 */
interface SourceNames {
  readonly literal: Set<string>;
  /** Names written out as a whole string, which may be prefixes of a suffix template. */
  readonly quoted: Set<string>;
  readonly templateSuffixes: Set<string>;
  readonly prefixed: Set<string>;
}

function readSourceNames(): SourceNames {
  const literal = new Set<string>();
  const quoted = new Set<string>();
  const templateSuffixes = new Set<string>();
  const prefixed = new Set<string>();
  const files = fs.readdirSync(path.join(root, 'src'), { recursive: true, encoding: 'utf8' });
  for (const file of files.filter((f) => f.endsWith('.ts'))) {
    const text = fs.readFileSync(path.join(root, 'src', file), 'utf8');
    for (const m of text.matchAll(/zeroscale_[a-z0-9_]*[a-z0-9]/g)) literal.add(m[0]);
    for (const m of text.matchAll(/'(zeroscale_[a-z0-9_]+)'/g)) quoted.add(m[1]!);
    for (const m of text.matchAll(/\}(_[a-z0-9_]+)`/g)) templateSuffixes.add(m[1]!);
    const prefixes = [...text.matchAll(/(zeroscale_[a-z0-9_]*_)\$\{/g)].map((m) => m[1]!);
    if (prefixes.length === 0) continue;
    const words = [...text.matchAll(/'([a-z][a-z0-9_]*)'/g)].map((m) => m[1]!);
    for (const prefix of prefixes) for (const word of words) prefixed.add(prefix + word);
  }
  return { literal, quoted, templateSuffixes, prefixed };
}

function defined(name: string, source: SourceNames): boolean {
  if (source.literal.has(name) || source.prefixed.has(name)) return true;
  for (const suffix of source.templateSuffixes) {
    if (name.endsWith(suffix) && source.quoted.has(name.slice(0, -suffix.length))) return true;
  }
  return false;
}

/** Metric names in `exprs` that the source does not define (histogram series by their base name). */
function undefinedMetrics(exprs: readonly string[]): string[] {
  sourceNames ??= readSourceNames();
  const source = sourceNames;
  const names = new Set(exprs.flatMap((e) => [...e.matchAll(/\bzeroscale_[a-z0-9_]+/g)].map((m) => m[0])));
  return [...names]
    .filter((name) => {
      const base = name.replace(/_(bucket|sum|count)$/, '');
      return !defined(name, source) && !defined(base, source);
    })
    .sort();
}
