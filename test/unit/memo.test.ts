import { describe, expect, it } from 'vitest';
import { perObject, perObjectIn } from '../../src/memo.ts';

describe('results kept per object', () => {
  it('computes once per object, and again for a new object', () => {
    let calls = 0;
    const size = perObject((o: { items: number[] }) => {
      calls++;
      return o.items.length;
    });
    const a = { items: [1, 2] };
    expect([size(a), size(a), size({ items: [1] })]).toEqual([2, 2, 1]);
    expect(calls).toBe(2);
  });

  it('keeps an undefined result too', () => {
    let calls = 0;
    const none = perObject((_o: object) => {
      calls++;
      return undefined;
    });
    const a = {};
    none(a);
    none(a);
    expect(calls).toBe(1);
  });

  it('computes again when the context changes', () => {
    let calls = 0;
    const host = perObjectIn((o: { name: string }, domain: string) => {
      calls++;
      return `${o.name}.${domain}`;
    });
    const a = { name: 'a' };
    expect([host(a, 'x'), host(a, 'x'), host(a, 'y')]).toEqual(['a.x', 'a.x', 'a.y']);
    expect(calls).toBe(2);
  });
});
