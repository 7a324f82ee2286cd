import { readFileSync } from 'node:fs';
import { load } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { buildServerlessServiceCrd, CRD_FILE, renderCrdYaml } from '../../src/api/crd.ts';
import type { JsonSchema } from '../../src/api/openapi.ts';

const crd = buildServerlessServiceCrd();
const version = crd.spec.versions[0]!;
const root = version.schema.openAPIV3Schema;

interface Node {
  readonly path: string;
  readonly schema: JsonSchema;
}

/** Every schema node with its path, as "spec.scaling.minScale" or "spec.template.spec.containers[]". */
function walk(schema: JsonSchema, path = ''): Node[] {
  const nodes: Node[] = [{ path, schema }];
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  for (const [name, child] of Object.entries(properties))
    nodes.push(...walk(child, path ? `${path}.${name}` : name));
  if (schema.items !== undefined) nodes.push(...walk(schema.items as JsonSchema, `${path}[]`));
  if (typeof schema.additionalProperties === 'object')
    nodes.push(...walk(schema.additionalProperties as JsonSchema, `${path}{}`));
  return nodes;
}

const nodes = walk(root);
const rules = nodes.flatMap(({ path, schema }) =>
  ((schema['x-kubernetes-validations'] ?? []) as { rule: string; message: string; fieldPath?: string }[]).map(
    (rule) => ({
      path,
      schema,
      ...rule,
    }),
  ),
);

describe('the ServerlessService CRD', () => {
  it('is committed as generated (run `node src/api/generate-crd.ts` after changing src/api)', () => {
    const committed = readFileSync(new URL(`../../${CRD_FILE}`, import.meta.url), 'utf8');
    expect(committed).toBe(renderCrdYaml());
  });

  it('loses nothing on its way to YAML', () => {
    expect(load(renderCrdYaml())).toEqual(JSON.parse(JSON.stringify(crd)));
  });

  it('names the resource as the API says', () => {
    expect(crd.metadata.name).toBe('serverlessservices.serving.zeroscale.dev');
    expect(crd.spec).toMatchObject({
      group: 'serving.zeroscale.dev',
      scope: 'Namespaced',
      names: { kind: 'ServerlessService', plural: 'serverlessservices', shortNames: ['ssvc'] },
    });
    expect(version).toMatchObject({ name: 'v1alpha1', served: true, storage: true });
    expect(version.subresources).toEqual({ status: {} });
  });

  it('prints URL, the latest ready revision, the split, Ready, Replicas, Mode and Age', () => {
    const columns = version.additionalPrinterColumns.filter((c) => (c.priority ?? 0) === 0);
    expect(columns.map((c) => [c.name, c.jsonPath])).toEqual([
      ['URL', '.status.url'],
      ['Latest', '.status.latestReadyRevisionName'],
      ['Traffic', '.status.trafficSummary'],
      ['Ready', '.status.conditions[?(@.type=="Ready")].status'],
      ['Replicas', '.status.replicasSummary'],
      ['Mode', '.status.mode'],
      ['Age', '.metadata.creationTimestamp'],
    ]);
  });

  it('has a structural schema: every node typed, no combinators, no refs', () => {
    for (const { path, schema } of nodes) {
      expect(typeof schema.type, path).toBe('string');
      for (const key of ['$ref', 'anyOf', 'oneOf', 'allOf', 'not', 'nullable', '$schema']) {
        expect(schema, `${path} has ${key}`).not.toHaveProperty(key);
      }
      if (schema.properties !== undefined) expect(schema, path).not.toHaveProperty('additionalProperties');
    }
  });

  it('keeps the PodSpec fields it does not model', () => {
    const podSpec = nodes.find((n) => n.path === 'spec.template.spec')!.schema;
    const container = nodes.find((n) => n.path === 'spec.template.spec.containers[]')!.schema;
    expect(podSpec['x-kubernetes-preserve-unknown-fields']).toBe(true);
    expect(container['x-kubernetes-preserve-unknown-fields']).toBe(true);
    expect(container.required).toEqual(['image']);
  });

  it('bounds what CEL rules iterate or match, so the apiserver accepts their cost', () => {
    const bounded = (path: string, key: 'maxItems' | 'maxLength') =>
      expect(nodes.find((n) => n.path === path)?.schema[key], `${path} ${key}`).toBeTypeOf('number');
    bounded('spec.template.spec.containers', 'maxItems');
    bounded('spec.template.spec.containers[].ports', 'maxItems');
    bounded('spec.template.spec.containers[].name', 'maxLength');
    for (const field of ['stableWindow', 'scaleDownDelay', 'scaleToZeroPodRetention']) {
      bounded(`spec.scaling.${field}`, 'maxLength');
    }
  });

  it('has CEL rules whose messages name a field and whose fields exist', () => {
    expect(rules.length).toBeGreaterThanOrEqual(12);
    for (const { path, schema, rule, message, fieldPath } of rules) {
      expect(message, rule).toMatch(/^(spec|metadata)\.[A-Za-z]/);
      const properties = Object.keys((schema.properties ?? {}) as JsonSchema);
      if (fieldPath !== undefined) expect(properties, `${path}: ${fieldPath}`).toContain(fieldPath.slice(1));
      // Every `self.x` and `has(self.x)` refers to a declared property of the node the rule is on.
      for (const [, name] of rule.matchAll(/self\.([A-Za-z_][A-Za-z0-9_]*)\b(?!\s*\()/g)) {
        expect(properties, `${path}: ${rule}`).toContain(name);
      }
      // Balanced parentheses and quotes: a cheap guard against typos in hand-written CEL.
      expect(rule.split('(').length, rule).toBe(rule.split(')').length);
      expect((rule.match(/'/g) ?? []).length % 2, rule).toBe(0);
    }
  });

  it('checks the cross-field rules the API promises', () => {
    const byField = (path: string) => rules.filter((r) => r.path === path).map((r) => r.rule);
    expect(byField('spec.scaling')).toContain(
      '!has(self.minScale) || !has(self.maxScale) || self.maxScale == 0 || self.minScale <= self.maxScale',
    );
    expect(byField('spec.template.spec')).toContain(
      'self.containers.filter(c, has(c.ports) && size(c.ports) > 0).size() == 1',
    );
    expect(byField('spec.template.spec.containers[].ports')).toEqual(['size(self) <= 1']);
    expect(byField('spec.scaling.stableWindow')[0]).toContain("duration(self) >= duration('6s')");
  });

  it('states simple bounds in OpenAPI', () => {
    const bounds = (path: string) => {
      const { minimum, maximum } = nodes.find((n) => n.path === path)!.schema;
      return [minimum, maximum];
    };
    expect(bounds('spec.containerConcurrency')).toEqual([0, 1000]);
    expect(bounds('spec.timeoutSeconds')).toEqual([1, 3600]);
    expect(bounds('spec.scaling.panicWindowPercentage')).toEqual([1, 100]);
    expect(bounds('spec.scaling.panicThresholdPercentage')).toEqual([110, 1000]);
    expect(bounds('spec.scaling.target')).toEqual([0.01, undefined]);
    expect(nodes.find((n) => n.path === 'metadata.name')!.schema.maxLength).toBe(55);
  });
});
