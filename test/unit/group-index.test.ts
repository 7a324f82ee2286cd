import { describe, expect, it } from 'vitest';
import { GroupIndex } from '../../src/kube/informer.ts';

describe('GroupIndex', () => {
  it('keeps each object under its group, replaces it by key, and drops empty groups', () => {
    const index = new GroupIndex<string>();
    index.set('ns/a', 'ns/a-1', 'v1');
    index.set('ns/a', 'ns/a-2', 'w1');
    index.set('ns/a', 'ns/a-1', 'v2');
    index.set('ns/b', 'ns/b-1', 'x');
    expect([...index.values('ns/a')]).toEqual(['v2', 'w1']);
    expect([...index.values('ns/b')]).toEqual(['x']);
    index.set('ns/b', 'ns/b-1', undefined);
    expect([...index.values('ns/b')]).toEqual([]);
    expect([...index.values('ns/none')]).toEqual([]);
  });
});
