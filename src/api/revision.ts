// The Revision: an immutable snapshot of a ServerlessService's template, stamped by the controller
// on every template change (Knative's Revision). It is the unit that runs and scales: its own
// Deployment, private Service, autoscaler state and status; the service routes to revisions.

import { z } from 'zod';
import { REVISION_NUMBER_LABEL } from './labels.ts';
import {
  GROUP,
  ObjectMetaSchema,
  RevisionNameSchema,
  RevisionSpecSchema,
  VERSION,
} from './serverless-service.ts';
import { RevisionStatusSchema } from './status.ts';

/** A revision's number (the n of `<service>-<n>`) from its labels; 0 when it has none. */
export function revisionNumberOf(labels: Readonly<Record<string, string>> | undefined): number {
  const n = Number(labels?.[REVISION_NUMBER_LABEL]);
  return Number.isInteger(n) && n > 0 ? n : 0;
}

export const REVISION_KIND = 'Revision';
export const REVISION_LIST_KIND = 'RevisionList';
export const REVISION_PLURAL = 'revisions';
export const REVISION_SINGULAR = 'revision';
export const REVISION_SHORT_NAMES: readonly string[] = ['rev'];
export const REVISION_API_VERSION = `${GROUP}/${VERSION}`;

export const RevisionSchema = z.object({
  apiVersion: z.literal(REVISION_API_VERSION),
  kind: z.literal(REVISION_KIND),
  metadata: ObjectMetaSchema.extend({ name: RevisionNameSchema }),
  spec: RevisionSpecSchema,
  status: RevisionStatusSchema.optional(),
});
export type Revision = z.output<typeof RevisionSchema>;

export type RevisionParse = { ok: true; value: Revision } | { ok: false };

export function safeParseRevision(input: unknown): RevisionParse {
  const r = RevisionSchema.safeParse(input);
  return r.success ? { ok: true, value: r.data } : { ok: false };
}
