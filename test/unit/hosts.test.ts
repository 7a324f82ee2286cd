import { describe, expect, it } from 'vitest';
import { buildHostTable, normalizeHost, type RoutableService } from '../../src/activator/hosts.ts';

const services: readonly RoutableService[] = [
  { namespace: 'shop', name: 'cart', url: 'http://cart.shop.example.com' },
  { namespace: 'shop', name: 'checkout' },
  { namespace: 'team-a', name: 'api', url: 'https://API.Team-A.example.com:8443/v1' },
];

describe('buildHostTable lookup', () => {
  const table = buildHostTable(services);

  it.each([
    { name: 'short cluster name', host: 'cart.shop.svc', expected: 'shop/cart' },
    { name: 'full cluster name', host: 'cart.shop.svc.cluster.local', expected: 'shop/cart' },
    { name: 'cluster name with port', host: 'checkout.shop.svc.cluster.local:80', expected: 'shop/checkout' },
    { name: 'upper case', host: 'CheckOut.Shop.SVC', expected: 'shop/checkout' },
    { name: 'status.url host', host: 'cart.shop.example.com', expected: 'shop/cart' },
    { name: 'status.url host with a port', host: 'cart.shop.example.com:8080', expected: 'shop/cart' },
    { name: 'status.url host written in upper case', host: 'api.team-a.example.com', expected: 'team-a/api' },
    {
      name: 'fully qualified with trailing dot',
      host: 'cart.shop.svc.cluster.local.',
      expected: 'shop/cart',
    },
    { name: 'surrounding whitespace', host: ' cart.shop.svc ', expected: 'shop/cart' },
    { name: 'unknown service', host: 'nope.shop.svc', expected: undefined },
    { name: 'name without .svc is not routed', host: 'cart.shop', expected: undefined },
    {
      name: 'a service with no url has no external host',
      host: 'checkout.shop.example.com',
      expected: undefined,
    },
    { name: 'empty host', host: '', expected: undefined },
    { name: 'ip address', host: '127.0.0.1:8080', expected: undefined },
  ])('$name: $host', ({ host, expected }) => {
    expect(table.lookup(host)).toBe(expected);
  });

  it('holds two cluster names per service plus each url host', () => {
    expect(table.size).toBe(3 * 2 + 2);
    expect(table.problems).toEqual([]);
  });
});

describe('buildHostTable options and problems', () => {
  it.each([
    {
      name: 'another cluster domain',
      services: [{ namespace: 'ns', name: 's' }],
      options: { clusterDomain: 'corp.internal' },
      lookups: { 's.ns.svc.corp.internal': 'ns/s', 's.ns.svc.cluster.local': undefined },
      problems: [],
    },
    {
      name: 'two services with one url host: the smaller key wins whatever the order',
      services: [
        { namespace: 'b', name: 'x', url: 'http://same.example.com' },
        { namespace: 'a', name: 'y', url: 'http://same.example.com' },
      ],
      options: {},
      lookups: { 'same.example.com': 'a/y' },
      problems: [{ kind: 'host-conflict', host: 'same.example.com', service: 'b/x', winner: 'a/y' }],
    },
    {
      name: 'a url may not take over another service cluster name',
      services: [
        { namespace: 'ns', name: 'real' },
        { namespace: 'evil', name: 'x', url: 'http://real.ns.svc.cluster.local' },
      ],
      options: {},
      lookups: { 'real.ns.svc.cluster.local': 'ns/real' },
      problems: [
        { kind: 'host-conflict', host: 'real.ns.svc.cluster.local', service: 'evil/x', winner: 'ns/real' },
      ],
    },
    {
      name: 'a url equal to its own cluster name is no conflict',
      services: [{ namespace: 'ns', name: 's', url: 'http://s.ns.svc.cluster.local' }],
      options: {},
      lookups: { 's.ns.svc.cluster.local': 'ns/s' },
      problems: [],
    },
    {
      name: 'an invalid url is reported and the cluster names still work',
      services: [{ namespace: 'ns', name: 's', url: 'not a url' }],
      options: {},
      lookups: { 's.ns.svc': 'ns/s' },
      problems: [{ kind: 'invalid-url', service: 'ns/s', url: 'not a url' }],
    },
    {
      name: 'an ipv6 url host',
      services: [{ namespace: 'ns', name: 's', url: 'http://[::1]:8080/' }],
      options: {},
      lookups: { '[::1]:8080': 'ns/s', '[::1]': 'ns/s' },
      problems: [],
    },
  ])('$name', ({ services, options, lookups, problems }) => {
    const table = buildHostTable(services, options);
    for (const [host, key] of Object.entries(lookups)) expect(table.lookup(host), host).toBe(key);
    expect(table.problems).toEqual(problems);
  });

  it('is rebuilt from scratch: a deleted service is gone from the new table', () => {
    const before = buildHostTable(services);
    const after = buildHostTable(services.filter((s) => s.name !== 'cart'));
    expect(before.lookup('cart.shop.svc')).toBe('shop/cart');
    expect(after.lookup('cart.shop.svc')).toBeUndefined();
    expect(after.lookup('cart.shop.example.com')).toBeUndefined();
  });
});

describe('normalizeHost', () => {
  it.each([
    ['Foo.Example.COM', 'foo.example.com'],
    ['foo.example.com:8080', 'foo.example.com'],
    ['foo.example.com.', 'foo.example.com'],
    ['foo.example.com.:80', 'foo.example.com'],
    ['[::1]:80', '[::1]'],
    ['[::1]', '[::1]'],
    ['', ''],
  ])('%s → %s', (input, expected) => {
    expect(normalizeHost(input)).toBe(expected);
  });
});
