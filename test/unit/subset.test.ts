import { describe, expect, it } from 'vitest';
import { containsDesired } from '../../src/kube/subset.ts';

describe('containsDesired', () => {
  it.each([
    ['equal primitives', 1, 1, true],
    ['different primitives', 'a', 'b', false],
    ['extra fields on the live object are ignored', { a: 1 }, { a: 1, b: 2 }, true],
    ['a missing field is a difference', { a: 1, b: 2 }, { a: 1 }, false],
    ['nested difference', { spec: { image: 'x:1' } }, { spec: { image: 'x:2', replicas: 3 } }, false],
    ['arrays compare element-wise and by length', [{ a: 1 }], [{ a: 1, b: 2 }], true],
    ['a longer live array differs', [{ a: 1 }], [{ a: 1 }, { a: 2 }], false],
    ['undefined desired fields are skipped', { a: undefined, b: 1 }, { b: 1 }, true],
    ['object against array differs', { a: 1 }, [1], false],
  ])('%s', (_name, desired, actual, expected) => {
    expect(containsDesired(desired, actual)).toBe(expected);
  });
});
