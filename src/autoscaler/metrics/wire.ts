// Runtime validation of the stats protocol (protocol.ts): what a queue-proxy answers to a scrape
// and what an activator pushes. Unknown fields are ignored, so either side can add fields first.

import { z } from 'zod';
import { describeIssues, formatFieldPath } from '../../api/parse.ts';
import type { ActivatorReport, PodStats, Poke, ServiceLoad } from './protocol.ts';

/** A report naming more services than this is refused; 10,000 × ~100 bytes is about 1 MB. */
export const MAX_SERVICES_PER_REPORT = 10_000;

/** namespace (63) + "/" + name (63): "default/hello". */
const SERVICE_KEY = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

// zod 4 numbers are finite: NaN and ±Infinity are refused, so one bad report cannot poison a window.
const nonNegative = z.number().min(0);
const name = z.string().min(1).max(253);
const serviceKeyText = z
  .string()
  .max(127)
  .regex(SERVICE_KEY, 'must be "namespace/name" of a ServerlessService, e.g. "default/hello"');

export const PodStatsSchema = z.object({
  pod: name,
  intervalMs: nonNegative,
  averageConcurrency: nonNegative,
  averageProxiedConcurrency: nonNegative,
  requestsPerSecond: nonNegative,
  proxiedRequestsPerSecond: nonNegative,
});

export const ServiceLoadSchema = z.object({
  service: serviceKeyText,
  averageConcurrency: nonNegative,
  requestsPerSecond: nonNegative,
  queued: nonNegative,
});

export const ActivatorReportSchema = z.object({
  activator: name,
  intervalMs: nonNegative,
  services: z.array(ServiceLoadSchema).max(MAX_SERVICES_PER_REPORT),
});

export const PokeSchema = z.object({ service: serviceKeyText, activator: name });

// The schemas must produce the protocol's types with every field: a change to either side fails to
// compile. (A validated value may be mutable where the protocol says readonly; that is harmless.)
type Same<Out, Wire> = [Out] extends [Wire] ? ([keyof Wire] extends [keyof Out] ? true : false) : false;
const sameShapes: [
  Same<z.output<typeof PodStatsSchema>, PodStats>,
  Same<z.output<typeof ServiceLoadSchema>, ServiceLoad>,
  Same<z.output<typeof ActivatorReportSchema>, ActivatorReport>,
  Same<z.output<typeof PokeSchema>, Poke>,
] = [true, true, true, true];
void sameShapes;

export type WireResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly message: string };

/** Validates a parsed JSON body; the message names every bad field ("services[2].queued: …"). */
export function parseWire<T>(schema: z.ZodType<T>, input: unknown): WireResult<T> {
  const result = schema.safeParse(input);
  if (result.success) return { ok: true, value: result.data };
  const issues = result.error.issues.map((issue) => ({
    path: formatFieldPath(issue.path),
    message: issue.message,
  }));
  return { ok: false, message: describeIssues(issues) };
}
