// Which hosts a held-back catalog update may serve: the cluster names and default URL of each
// changed service, its published URL and tag hosts, anything after a domain change; nothing else,
// and nothing once the catalog is rebuilt.
import { describe, expect, it } from 'vitest';
import { PendingHosts } from '../../src/activator/pending-hosts.ts';

describe('PendingHosts', () => {
  const pending = () => {
    const p = new PendingHosts();
    p.addService('shop', 'cart', [
      'http://Cart.Example.COM:8080/',
      'http://beta-cart.shop.example.com',
      undefined,
    ]);
    return p;
  };

  it.each([
    ['cart.shop.svc', true],
    ['cart.shop.svc.cluster.local', true],
    ['cart.shop.example.com', true],
    ['cart.example.com', true],
    ['beta-cart.shop.example.com', true],
    ['cart.shop', true],
    ['cart', false],
    ['cart.other.svc', false],
    ['shop.cart.svc', false],
    ['made-up-1234.example.com', false],
    ['example.com', false],
  ])('%s → %s', (host, may) => {
    expect(pending().mayServe(host)).toBe(may);
  });

  it('may serve any host after a change that moves every host, and none once cleared', () => {
    const p = pending();
    p.addAll();
    expect(p.mayServe('made-up.example.com')).toBe(true);
    p.clear();
    expect(p.mayServe('made-up.example.com')).toBe(false);
    expect(p.mayServe('cart.shop.svc')).toBe(false);
  });
});
