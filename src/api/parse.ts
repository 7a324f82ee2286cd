// Runtime validation of ServerlessServices with errors that name the field, in the same
// "spec.scaling.minScale" form that the apiserver uses, so the controller can report them as a
// Ready=False condition without crashing.

import type { z } from 'zod';
import { ZeroscaleError } from '../errors.ts';
import { perObject } from '../memo.ts';
import {
  type ServerlessService,
  ServerlessServiceSchema,
  type ServerlessServiceSpec,
  ServerlessServiceSpecSchema,
} from './serverless-service.ts';

export const INVALID_SPEC = 'INVALID_SPEC';

export interface FieldIssue {
  /** Path from the resource root, e.g. "spec.template.spec.containers[0].image". */
  readonly path: string;
  readonly message: string;
}

export type ParseResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly issues: readonly FieldIssue[] };

/** ["spec", "containers", 0, "image"] → "spec.containers[0].image". */
export function formatFieldPath(path: readonly PropertyKey[]): string {
  let text = '';
  for (const key of path) {
    if (typeof key === 'number') text += `[${key}]`;
    else text += text === '' ? String(key) : `.${String(key)}`;
  }
  return text;
}

function toResult<T>(result: z.ZodSafeParseResult<T>, root: readonly string[]): ParseResult<T> {
  if (result.success) return { ok: true, value: result.data };
  return {
    ok: false,
    issues: result.error.issues.map((issue) => ({
      path: formatFieldPath([...root, ...issue.path]),
      message: issue.message,
    })),
  };
}

/** One line per issue; the path is left out where the message already starts with it. */
export function describeIssues(issues: readonly FieldIssue[]): string {
  return issues
    .map(({ path, message }) => (path === '' || message.startsWith(path) ? message : `${path}: ${message}`))
    .join('; ');
}

export function safeParseServerlessServiceSpec(input: unknown): ParseResult<ServerlessServiceSpec> {
  return toResult(ServerlessServiceSpecSchema.safeParse(input), ['spec']);
}

export function safeParseServerlessService(input: unknown): ParseResult<ServerlessService> {
  return toResult(ServerlessServiceSchema.safeParse(input), []);
}

/**
 * `parse`, remembered per input object. An informer replaces its object when the object changes
 * and never edits it, so a controller that reconciles a service many times parses each version
 * once (at 1,000 services, parsing on every reconcile was a sixth of the controller's CPU). The
 * result is shared: callers must not change it.
 */
export function parsedOnce<R>(parse: (input: unknown) => R): (input: unknown) => R {
  const once = perObject<object, R>(parse);
  return (input) => (typeof input === 'object' && input !== null ? once(input) : parse(input));
}

/** Throws a ZeroscaleError with code INVALID_SPEC listing every issue. */
export function parseServerlessServiceSpec(input: unknown): ServerlessServiceSpec {
  const result = safeParseServerlessServiceSpec(input);
  if (result.ok) return result.value;
  throw new InvalidSpecError(result.issues);
}

export class InvalidSpecError extends ZeroscaleError {
  readonly issues: readonly FieldIssue[];
  constructor(issues: readonly FieldIssue[]) {
    super(INVALID_SPEC, `invalid ServerlessService: ${describeIssues(issues)}`);
    this.name = 'InvalidSpecError';
    this.issues = issues;
  }
}
