// Cross-field rules written once: each rule carries its CEL expression (checked by the apiserver
// through the CRD's x-kubernetes-validations) and the same check in TypeScript (run by zod), with
// one message that names the field, so `kubectl apply` and the controller refuse alike.

import type { z } from 'zod';

/** Reasons the apiserver accepts on a validation rule; each maps to an HTTP 422 cause type. */
export type CelRuleReason =
  | 'FieldValueInvalid'
  | 'FieldValueForbidden'
  | 'FieldValueRequired'
  | 'FieldValueDuplicate';

/** The wire form of one entry of `x-kubernetes-validations`. */
export interface KubernetesValidationRule {
  readonly rule: string;
  readonly message: string;
  readonly fieldPath?: string;
  readonly reason?: CelRuleReason;
}

export interface CelRule<T> {
  /** CEL expression, `self` bound to the value the rule is attached to. Optional fields need has(). */
  readonly rule: string;
  /** Names the field in full from the resource root, e.g. "spec.scaling.minScale must be …". */
  readonly message: string;
  /**
   * Where the apiserver reports the error, relative to `self` (".minScale"); also the path of the
   * zod issue. Only dotted property names, as the apiserver allows no list indexes here.
   */
  readonly fieldPath?: `.${string}`;
  readonly reason?: CelRuleReason;
  /** The same rule in TypeScript. Runs only when the value has no other issue, as its type is then sure. */
  readonly holds: (value: T) => boolean;
}

/** Wire form of the rules, as they go into the CRD. */
export function toValidationRules<T>(rules: readonly CelRule<T>[]): KubernetesValidationRule[] {
  // Keys in the order client-node's serializer writes them, so the generated YAML reads alike everywhere.
  return rules.map(({ rule, message, fieldPath, reason }) => ({
    ...(fieldPath === undefined ? {} : { fieldPath }),
    message,
    ...(reason === undefined ? {} : { reason }),
    rule,
  }));
}

/**
 * Attaches rules to a schema: as zod refinements for runtime validation and as
 * `x-kubernetes-validations` metadata that the CRD generator copies into the OpenAPI schema.
 * Call it once per schema: a later call would replace the earlier rules in the CRD.
 */
export function withCelRules<S extends z.ZodType>(schema: S, rules: readonly CelRule<z.output<S>>[]): S {
  let refined = schema;
  for (const rule of rules) {
    refined = refined.refine(rule.holds, {
      message: rule.message,
      path: rule.fieldPath === undefined ? [] : rule.fieldPath.slice(1).split('.'),
      when: (payload) => payload.issues.length === 0,
    });
  }
  return refined.meta({ 'x-kubernetes-validations': toValidationRules(rules) });
}
