// The Revision a ServerlessService's template stamps (pure): its name, labels, frozen template and
// the fields that follow the service; and the view of a Revision that the builders of a
// Deployment and a private Service take (they were written for a service, and a revision runs the
// same way).

import { createHash } from 'node:crypto';
import {
  LAST_ROUTED_ANNOTATION,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  REVISION_LABEL,
  REVISION_NUMBER_LABEL,
  ROUTING_STATE_LABEL,
  type RoutingState,
  SERVICE_LABEL,
  TEMPLATE_HASH_ANNOTATION,
} from '../../api/labels.ts';
import { numberedRevisionName } from '../../api/names.ts';
import { REVISION_API_VERSION, REVISION_KIND, type Revision, revisionNumberOf } from '../../api/revision.ts';
import type { PodTemplate, RevisionSpec, ServerlessService } from '../../api/serverless-service.ts';
import { namespaceOf, ownerReference } from './owner.ts';

/**
 * A hash of a template: equal templates give equal hashes whatever the order of their keys (the
 * apiserver gives them back sorted, the schema in its own order).
 */
export function templateHash(template: PodTemplate): string {
  return createHash('sha256').update(canonicalJson(template)).digest('hex').slice(0, 16);
}

/** JSON with every object's keys sorted: equal for equal data, however it was built or read. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The spec of a revision of `svc` with `template` frozen in it; the other fields follow the service. */
export function revisionSpec(svc: ServerlessService, template: PodTemplate): RevisionSpec {
  const { traffic: _traffic, rollout: _rollout, template: _template, ...rest } = svc.spec;
  return { template, ...rest };
}

/** The name the service's current template asks for: its metadata.name, or the next number. */
export function nextRevisionName(svc: ServerlessService, highestNumber: number): string {
  return svc.spec.template.metadata?.name ?? numberedRevisionName(svc.metadata.name, highestNumber + 1);
}

export interface RevisionIdentity {
  readonly name: string;
  /** The hash stamped at creation; kept as it is afterwards (the template never changes). */
  readonly templateHash?: string | undefined;
  readonly number: number;
  readonly routing: RoutingState;
  /** When traffic last stopped reaching it, ISO; undefined while it never did. */
  readonly lastRouted?: string | undefined;
}

/** The Revision as the controller applies it. */
export function buildRevision(svc: ServerlessService, template: PodTemplate, id: RevisionIdentity): Revision {
  return {
    apiVersion: REVISION_API_VERSION,
    kind: REVISION_KIND,
    metadata: {
      name: id.name,
      namespace: namespaceOf(svc),
      labels: {
        [SERVICE_LABEL]: svc.metadata.name,
        [REVISION_LABEL]: id.name,
        [REVISION_NUMBER_LABEL]: String(id.number),
        [ROUTING_STATE_LABEL]: id.routing,
        [MANAGED_BY_LABEL]: MANAGED_BY,
      },
      annotations: {
        [TEMPLATE_HASH_ANNOTATION]: id.templateHash ?? templateHash(template),
        ...(id.lastRouted === undefined ? {} : { [LAST_ROUTED_ANNOTATION]: id.lastRouted }),
      },
      ownerReferences: [ownerReference(svc)],
    },
    spec: revisionSpec(svc, template),
  };
}

/** A revision seen through the service-shaped builders: its name, uid and labels, its spec. */
export function revisionAsService(rev: Revision): ServerlessService {
  return { ...rev, kind: rev.kind as unknown as ServerlessService['kind'] } as unknown as ServerlessService;
}

export function revisionNumber(rev: Revision): number {
  return revisionNumberOf(rev.metadata.labels);
}
