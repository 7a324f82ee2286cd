// The activator's routing table from a request's Host header to the service it names. Built once
// whenever services change, so a request costs one normalisation and one map lookup.

import { serviceKey } from '../api/names.ts';
import { perObjectIn } from '../memo.ts';

/** What the table needs to know of a ServerlessService. */
export interface RoutableService {
  readonly namespace: string;
  readonly name: string;
  /** `status.url`, when the controller has published one. */
  readonly url?: string | undefined;
  /** Extra hosts, each for the service `namespace/name` given (a traffic tag's revision). */
  readonly tags?: readonly { readonly host: string; readonly name: string }[] | undefined;
  /** Reached only through another entry's hosts (a revision): none of its own. */
  readonly routeOnly?: boolean | undefined;
}

export interface HostTableOptions {
  /** The cluster's DNS domain. */
  readonly clusterDomain?: string;
}

/** Why a host was left out of the table or given to another service; for logs and status. */
export type HostTableProblem =
  | { readonly kind: 'invalid-url'; readonly service: string; readonly url: string }
  | {
      readonly kind: 'host-conflict';
      readonly host: string;
      readonly service: string;
      readonly winner: string;
    };

export interface HostTable {
  /** The service key `namespace/name` for a Host header value, or undefined. */
  lookup(hostHeader: string): string | undefined;
  /** Number of hosts in the table. */
  readonly size: number;
  readonly problems: readonly HostTableProblem[];
}

const DEFAULT_CLUSTER_DOMAIN = 'cluster.local';

/** What the table needs of one service. */
interface HostFacts {
  readonly key: string;
  /** `<name>.<namespace>.svc` and the same with the cluster domain. */
  readonly short: string;
  readonly full: string;
  readonly url: string | undefined;
  /** The host of `url`: undefined without a url, null when the url is invalid. */
  readonly urlHost: string | null | undefined;
}

/**
 * Facts by service object and domain. The activator keeps a service's object while it does not
 * change, so a rebuild of the table at 1,000 services parses no URL and builds no key it built
 * before.
 */
const factsOf = perObjectIn((svc: RoutableService, domain: string): HostFacts => {
  const short = `${svc.name}.${svc.namespace}.svc`.toLowerCase();
  const url = svc.url === '' ? undefined : svc.url;
  return {
    key: serviceKey(svc.namespace, svc.name),
    short,
    full: `${short}.${domain}`,
    url,
    urlHost: url === undefined ? undefined : (urlHost(url) ?? null),
  };
});

/**
 * Builds the table. Cluster names (`<name>.<namespace>.svc[.<domain>]`) cannot collide and always
 * win over a `status.url` host; when two services publish the same URL host, the smaller key wins
 * so the result does not depend on the order services were listed in, and the loser is reported.
 * Linear in the services: no sort, as it runs on every catalogue change.
 */
export function buildHostTable(
  services: Iterable<RoutableService>,
  options: HostTableOptions = {},
): HostTable {
  const domain = (options.clusterDomain ?? DEFAULT_CLUSTER_DOMAIN).toLowerCase();
  const hosts = new Map<string, string>();
  const withUrl: HostFacts[] = [];
  const tagged: RoutableService[] = [];
  for (const svc of services) {
    if (svc.routeOnly === true) continue;
    if (svc.tags !== undefined && svc.tags.length > 0) tagged.push(svc);
    const facts = factsOf(svc, domain);
    hosts.set(facts.short, facts.key);
    hosts.set(facts.full, facts.key);
    if (facts.url !== undefined) withUrl.push(facts);
  }
  // URL hosts go in after every cluster name; among services with one URL host, the smallest key.
  const urlOwners = new Map<string, string>();
  for (const f of withUrl) {
    if (typeof f.urlHost !== 'string' || hosts.has(f.urlHost)) continue;
    const owner = urlOwners.get(f.urlHost);
    if (owner === undefined || f.key < owner) urlOwners.set(f.urlHost, f.key);
  }
  const problems: HostTableProblem[] = [];
  for (const f of withUrl) {
    if (typeof f.urlHost !== 'string') {
      problems.push({ kind: 'invalid-url', service: f.key, url: f.url ?? '' });
      continue;
    }
    const owner = hosts.get(f.urlHost) ?? urlOwners.get(f.urlHost);
    if (owner !== undefined && owner !== f.key)
      problems.push({ kind: 'host-conflict', host: f.urlHost, service: f.key, winner: owner });
  }
  // In key order, as the services may be listed in any.
  if (problems.length > 1) problems.sort((a, b) => compareKeys(a.service, b.service));
  for (const [host, key] of urlOwners) hosts.set(host, key);
  // Tag hosts last: a service's own name or URL is never taken by another's tag.
  for (const svc of tagged) {
    for (const tag of svc.tags ?? []) {
      const host = normalizeHost(tag.host);
      const owner = hosts.get(host);
      const key = serviceKey(svc.namespace, tag.name);
      if (owner === undefined) hosts.set(host, key);
      else if (owner !== key)
        problems.push({
          kind: 'host-conflict',
          host,
          service: serviceKey(svc.namespace, svc.name),
          winner: owner,
        });
    }
  }
  return new MapHostTable(hosts, problems);
}

class MapHostTable implements HostTable {
  readonly #hosts: ReadonlyMap<string, string>;
  readonly problems: readonly HostTableProblem[];

  constructor(hosts: ReadonlyMap<string, string>, problems: readonly HostTableProblem[]) {
    this.#hosts = hosts;
    this.problems = problems;
  }

  get size(): number {
    return this.#hosts.size;
  }

  lookup(hostHeader: string): string | undefined {
    // Most clients send the host exactly as the table holds it; try that before allocating.
    return this.#hosts.get(hostHeader) ?? this.#hosts.get(normalizeHost(hostHeader));
  }
}

/**
 * The host part of a Host header, lower-cased, without port or trailing dot:
 * `Foo.Example.COM:8080` → `foo.example.com`, `[::1]:80` → `[::1]`.
 */
export function normalizeHost(hostHeader: string): string {
  let host = hostHeader.trim();
  const bracket = host.lastIndexOf(']');
  const colon = host.lastIndexOf(':');
  if (colon > bracket) host = host.slice(0, colon);
  if (host.endsWith('.')) host = host.slice(0, -1);
  return host.toLowerCase();
}

function urlHost(url: string): string | undefined {
  // URL.parse gives the hostname lower-cased and punycoded, without the port; null when invalid.
  const hostname = URL.parse(url)?.hostname;
  return hostname === undefined || hostname === '' ? undefined : normalizeHost(hostname);
}

function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
