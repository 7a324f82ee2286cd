// Identity of the ServerlessService for its children: namespace, and the ownerReference through
// which garbage collection removes them with it.

import type { V1OwnerReference } from '@kubernetes/client-node';
import { API_VERSION, KIND, type ServerlessService } from '../../api/serverless-service.ts';
import { ZeroscaleError } from '../../errors.ts';

/** A ServerlessService as read from the apiserver lacks neither; one built by hand might. */
export const INCOMPLETE_OBJECT = 'INCOMPLETE_OBJECT';

export function namespaceOf(svc: ServerlessService): string {
  const { namespace, name } = svc.metadata;
  if (namespace === undefined || namespace === '') {
    throw new ZeroscaleError(INCOMPLETE_OBJECT, `ServerlessService ${name} has no namespace`);
  }
  return namespace;
}

/** The owner of a child: a ServerlessService, or a Revision run through the same builders. */
export function ownerReference(owner: {
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly uid?: string | undefined };
}): V1OwnerReference {
  const { uid, name } = owner.metadata;
  const kind = owner.kind || KIND;
  if (uid === undefined || uid === '') {
    throw new ZeroscaleError(INCOMPLETE_OBJECT, `${kind} ${name} has no uid`);
  }
  return { apiVersion: API_VERSION, kind, name, uid, controller: true, blockOwnerDeletion: true };
}
