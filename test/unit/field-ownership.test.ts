// Handing a POST-created object's fields to the controller's Apply entry, so that server-side
// apply can later remove what the template no longer has — except the first replicas.
import type { V1ManagedFieldsEntry } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { handOverCreatedFields } from '../../src/kube/field-ownership.ts';

const KEEP = ['f:spec', 'f:replicas'];
const container = { 'k:{"name":"app"}': { '.': {}, 'f:command': {}, 'f:image': {} } };
const created: V1ManagedFieldsEntry = {
  manager: 'zeroscale-controller-create',
  operation: 'Update',
  apiVersion: 'apps/v1',
  fieldsType: 'FieldsV1',
  time: new Date('2026-12-03T08:00:00Z'),
  fieldsV1: {
    'f:metadata': { 'f:labels': { 'f:app': {} } },
    'f:spec': { 'f:replicas': {}, 'f:template': { 'f:spec': { 'f:containers': container } } },
  },
};
const kcm: V1ManagedFieldsEntry = {
  manager: 'kube-controller-manager',
  operation: 'Update',
  apiVersion: 'apps/v1',
  subresource: 'status',
  fieldsType: 'FieldsV1',
  fieldsV1: { 'f:status': { 'f:replicas': {} } },
};

describe('handOverCreatedFields', () => {
  it('moves every created field but spec.replicas to a new Apply entry of the applier', () => {
    const out = handOverCreatedFields([created, kcm], created.manager!, 'zeroscale-controller', KEEP);
    expect(out).toEqual([
      { ...created, fieldsV1: { 'f:spec': { 'f:replicas': {} } } },
      {
        manager: 'zeroscale-controller',
        operation: 'Apply',
        apiVersion: 'apps/v1',
        fieldsType: 'FieldsV1',
        time: created.time,
        fieldsV1: {
          'f:metadata': { 'f:labels': { 'f:app': {} } },
          'f:spec': { 'f:template': { 'f:spec': { 'f:containers': container } } },
        },
      },
      kcm,
    ]);
  });

  it('merges into an Apply entry the applier already has', () => {
    const applied: V1ManagedFieldsEntry = {
      manager: 'zeroscale-controller',
      operation: 'Apply',
      apiVersion: 'apps/v1',
      fieldsType: 'FieldsV1',
      fieldsV1: { 'f:metadata': { 'f:annotations': { 'f:x': {} } } },
    };
    const out = handOverCreatedFields([created, applied], created.manager!, 'zeroscale-controller', KEEP)!;
    expect(out).toHaveLength(2);
    expect(out[1]!.fieldsV1).toEqual({
      'f:metadata': { 'f:annotations': { 'f:x': {} }, 'f:labels': { 'f:app': {} } },
      'f:spec': { 'f:template': { 'f:spec': { 'f:containers': container } } },
    });
  });

  it('has nothing to do once the creator owns only the replicas, or when there is no creator', () => {
    const done = { ...created, fieldsV1: { 'f:spec': { 'f:replicas': {} } } };
    expect(
      handOverCreatedFields([done, kcm], created.manager!, 'zeroscale-controller', KEEP),
    ).toBeUndefined();
    expect(handOverCreatedFields([kcm], created.manager!, 'zeroscale-controller', KEEP)).toBeUndefined();
    expect(handOverCreatedFields(undefined, created.manager!, 'zeroscale-controller', KEEP)).toBeUndefined();
  });

  it('drops a creator that did not own the replicas', () => {
    const noReplicas = { ...created, fieldsV1: { 'f:metadata': { 'f:labels': { 'f:app': {} } } } };
    const out = handOverCreatedFields([noReplicas], created.manager!, 'zeroscale-controller', KEEP)!;
    expect(out.map((e) => e.manager)).toEqual(['zeroscale-controller']);
  });
});
