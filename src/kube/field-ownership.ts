// Field ownership of an object the controller created with POST and then keeps with server-side
// apply. Server-side apply removes a field the applier stops sending only if that applier owned
// it; the fields of a POST belong to the creating manager's Update entry instead. So a Deployment
// created by POST (to set its first replicas once, under a manager of its own) kept, for ever,
// any field a later template dropped: a removed `command` or env var stayed in the pods.
//
// The fix is the one client-go's csaupgrade makes for `kubectl apply --server-side` after
// client-side apply: the creation entry's fields are handed to the applier's Apply entry, except
// those the creator must keep (spec.replicas, which the autoscaler owns from then on). Pure.

import type { V1ManagedFieldsEntry } from '@kubernetes/client-node';

/** A FieldsV1 tree: `f:<name>`, `k:<key>`, `v:<value>` and `.` keys down to `{}` leaves. */
type FieldSet = { [key: string]: FieldSet };

function union(a: FieldSet, b: FieldSet): FieldSet {
  const out: FieldSet = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = k in out ? union(out[k]!, v) : v;
  return out;
}

/** `set` without the path (each step a key), and whether it was there. */
function without(set: FieldSet, path: readonly string[]): { rest: FieldSet; had: boolean } {
  const [head, ...tail] = path;
  if (head === undefined || !(head in set)) return { rest: set, had: false };
  const out: FieldSet = { ...set };
  if (tail.length === 0) {
    delete out[head];
    return { rest: out, had: true };
  }
  const inner = without(set[head]!, tail);
  if (Object.keys(inner.rest).length === 0) delete out[head];
  else out[head] = inner.rest;
  return { rest: out, had: inner.had };
}

function nest(path: readonly string[]): FieldSet {
  let out: FieldSet = {};
  for (let i = path.length - 1; i >= 0; i--) out = { [path[i]!]: out };
  return out;
}

/**
 * managedFields with the creating manager's fields, except `keep` (a path of FieldsV1 keys such
 * as ['f:spec', 'f:replicas']), moved into `applier`'s Apply entry; the creator keeps only `keep`,
 * or disappears if it did not own it. Undefined when there is nothing to hand over.
 */
export function handOverCreatedFields(
  entries: readonly V1ManagedFieldsEntry[] | undefined,
  creator: string,
  applier: string,
  keep: readonly string[],
): V1ManagedFieldsEntry[] | undefined {
  const created = entries?.find((e) => e.manager === creator && e.operation === 'Update' && !e.subresource);
  if (entries === undefined || created === undefined) return undefined;
  const { rest, had } = without((created.fieldsV1 ?? {}) as FieldSet, keep);
  if (Object.keys(rest).length === 0) return undefined;
  const applied = entries.find((e) => e.manager === applier && e.operation === 'Apply' && !e.subresource);
  const handed: V1ManagedFieldsEntry = {
    manager: applier,
    operation: 'Apply',
    apiVersion: applied?.apiVersion ?? created.apiVersion,
    fieldsType: 'FieldsV1',
    fieldsV1: union((applied?.fieldsV1 ?? {}) as FieldSet, rest),
    ...(created.time === undefined ? {} : { time: created.time }),
  };
  const out: V1ManagedFieldsEntry[] = [];
  for (const e of entries) {
    if (e === created) {
      if (had) out.push({ ...created, fieldsV1: nest(keep) });
      if (applied === undefined) out.push(handed);
    } else if (e === applied) {
      out.push(handed);
    } else {
      out.push(e);
    }
  }
  return out;
}
