import { describe, expect, it } from 'vitest';
import { reconcileNeeded } from '../../src/controller/controller.ts';

const base = {
  metadata: { name: 'hello', generation: 1, uid: 'u1', labels: { a: '1' } },
  spec: { template: {} },
  status: { url: 'http://hello', autoscaler: { mode: 'proxy', desiredScale: 0 } },
};

describe('reconcileNeeded (which ServerlessService updates are reconciled)', () => {
  it.each([
    ['a new generation (spec changed)', { ...base, metadata: { ...base.metadata, generation: 2 } }, true],
    [
      'deletion begun',
      { ...base, metadata: { ...base.metadata, deletionTimestamp: '2026-12-04T00:00:00Z' } },
      true,
    ],
    ['labels changed', { ...base, metadata: { ...base.metadata, labels: { a: '2' } } }, true],
    ['annotations added', { ...base, metadata: { ...base.metadata, annotations: { x: 'y' } } }, true],
    ['recreated under the same name', { ...base, metadata: { ...base.metadata, uid: 'u2' } }, true],
    [
      'the autoscaler wants another mode',
      { ...base, status: { ...base.status, autoscaler: { mode: 'serve', desiredScale: 0 } } },
      true,
    ],
    ['only the controller’s own status', { ...base, status: { ...base.status, url: 'http://other' } }, false],
    [
      'only the autoscaler’s observations',
      { ...base, status: { ...base.status, autoscaler: { mode: 'proxy', desiredScale: 3 } } },
      false,
    ],
  ])('%s → %s', (_name, next, expected) => {
    expect(reconcileNeeded(base, next)).toBe(expected);
  });
});
