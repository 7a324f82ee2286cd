import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { OwnWrites } from '../../src/kube/own-writes.ts';

const at = (resourceVersion: string) => ({ metadata: { resourceVersion } });

describe('OwnWrites', () => {
  it('covers a cache that still shows the object before our write, or none, or our write', () => {
    const w = new OwnWrites();
    w.record('Service:ns/a', '{"x":1}', undefined, at('10'));
    expect(w.covers('Service:ns/a', '{"x":1}', undefined)).toBe(true);
    expect(w.covers('Service:ns/a', '{"x":1}', at('10'))).toBe(true);
    expect(w.result('Service:ns/a')).toEqual(at('10'));
    w.record('Service:ns/b', '{"x":1}', at('5'), at('11'));
    expect(w.covers('Service:ns/b', '{"x":1}', at('5'))).toBe(true);
    expect(w.covers('Service:ns/b', '{"x":1}', at('11'))).toBe(true);
  });

  it('does not cover another desired object, another change, or a deletion after an update', () => {
    const w = new OwnWrites();
    w.record('Service:ns/b', '{"x":1}', at('5'), at('11'));
    expect(w.covers('Service:ns/b', '{"x":2}', at('5'))).toBe(false);
    expect(w.covers('Service:ns/b', '{"x":1}', at('12'))).toBe(false);
    expect(w.covers('Service:ns/b', '{"x":1}', undefined)).toBe(false);
    expect(w.covers('Service:ns/other', '{"x":1}', undefined)).toBe(false);
  });

  it('forgets a write once the cache shows it, another change, or the deletion', () => {
    const w = new OwnWrites();
    w.record('k1', 'd', at('5'), at('11'));
    w.observed('k1', at('5')); // a resync of the old object: still in flight
    expect(w.covers('k1', 'd', at('5'))).toBe(true);
    w.observed('k1', at('11'));
    expect(w.covers('k1', 'd', at('5'))).toBe(false);
    w.record('k2', 'd', undefined, at('20'));
    w.observed('k2', undefined); // created, then deleted by someone: it must be made again
    expect(w.covers('k2', 'd', undefined)).toBe(false);
    w.record('k3', 'd', at('1'), at('2'));
    w.observed('k3', at('3'));
    expect(w.size).toBe(0);
  });

  it('is bounded, forgetting the oldest, and reports its size', async () => {
    const registry = new Registry();
    const w = new OwnWrites({ max: 2, registry });
    w.record('a', 'd', undefined, at('1'));
    w.record('b', 'd', undefined, at('2'));
    w.record('c', 'd', undefined, at('3'));
    expect(w.size).toBe(2);
    expect(w.covers('a', 'd', undefined)).toBe(false);
    expect(w.covers('c', 'd', undefined)).toBe(true);
    expect(await registry.getSingleMetricAsString('zeroscale_controller_unobserved_writes')).toContain(
      'zeroscale_controller_unobserved_writes 2',
    );
  });
});
