// zod → the structural OpenAPI v3 schema that a CRD requires: every node typed, no $ref or
// combinators, open objects marked x-kubernetes-preserve-unknown-fields instead of
// additionalProperties, and the CEL rules that withCelRules attached carried along as metadata.

import { z } from 'zod';

/** A JSON schema node in the wire form the apiserver reads (x-kubernetes-* keys and all). */
export type JsonSchema = { [key: string]: unknown };

/** Keys a structural schema may not contain (zod emits them only for unions, refs and the like). */
const FORBIDDEN_KEYS = ['$ref', 'anyOf', 'oneOf', 'allOf', 'not', '$defs', 'definitions', 'nullable'];

export function toStructuralSchema(schema: z.ZodType): JsonSchema {
  const json = z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input', unrepresentable: 'throw' });
  return structural(json as JsonSchema, '<root>');
}

function isSchema(value: unknown): value is JsonSchema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function structural(node: JsonSchema, path: string): JsonSchema {
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(node)) {
    if (FORBIDDEN_KEYS.includes(key)) throw new Error(`${path}: "${key}" cannot be used in a CRD schema`);
    if (key === '$schema') continue;
    out[key] = value;
  }
  if (typeof out.type !== 'string') throw new Error(`${path}: every node of a CRD schema needs a type`);
  // z.int() states the safe-integer range; in a CRD that is noise.
  if (out.type === 'integer') {
    if (out.minimum === Number.MIN_SAFE_INTEGER) delete out.minimum;
    if (out.maximum === Number.MAX_SAFE_INTEGER) delete out.maximum;
  }
  if (isSchema(out.properties)) {
    const properties: JsonSchema = {};
    for (const [name, child] of Object.entries(out.properties)) {
      if (!isSchema(child)) throw new Error(`${path}.${name}: not a schema`);
      properties[name] = structural(child, `${path}.${name}`);
    }
    out.properties = properties;
  }
  if (isSchema(out.items)) out.items = structural(out.items, `${path}[]`);
  if ('additionalProperties' in out) {
    const extra = out.additionalProperties;
    delete out.additionalProperties;
    if (isSchema(extra) && Object.keys(extra).length === 0) {
      // z.looseObject: keep what we do not model (a PodSpec's other fields) instead of pruning it.
      out['x-kubernetes-preserve-unknown-fields'] = true;
    } else if (isSchema(extra)) {
      if (out.properties !== undefined)
        throw new Error(`${path}: properties and additionalProperties both set`);
      out.additionalProperties = structural(extra, `${path}{}`);
    }
    // additionalProperties: false (strict objects) is simply dropped: the apiserver prunes instead.
  }
  return sortKeywords(out);
}

/**
 * Keywords in code-unit order, which is the order client-node's serializer writes its typed
 * models in, so that nodes it passes through untyped (array items) read the same as the rest.
 * Property names keep their declared order.
 */
function sortKeywords(node: JsonSchema): JsonSchema {
  return Object.fromEntries(Object.entries(node).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
