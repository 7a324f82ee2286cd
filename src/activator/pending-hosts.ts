// Which Host headers a catalog update not yet made may add. Catalog updates are coalesced during
// a burst of changes, so a request can arrive for a service the informers have but the catalog
// does not yet; the activator then flushes the pending update rather than answer 404. A flush
// rebuilds the whole catalog (~20 ms at 1,000 services), so it is taken only for a host this says
// the pending changes may serve: a flood of requests for made-up hosts during a burst costs a set
// lookup each, not a rebuild each.

import { normalizeHost } from './hosts.ts';

export class PendingHosts {
  /** `status.url` and traffic tag hosts of the changed services. */
  readonly #exact = new Set<string>();
  /**
   * `<name>.<namespace>` of the changed services: the first two labels of their cluster names
   * (`<name>.<namespace>.svc…`) and of the URL a service gets before its status is written.
   */
  readonly #names = new Set<string>();
  /** A change that may move any host (the cluster's domain settings). */
  #any = false;

  /** A service changed (or one of its revisions did): the hosts it may be reached by. */
  addService(namespace: string, name: string, urls: Iterable<string | undefined>): void {
    this.#names.add(`${name}.${namespace}`.toLowerCase());
    for (const url of urls) {
      const host = url === undefined ? undefined : URL.parse(url)?.hostname;
      if (host) this.#exact.add(normalizeHost(host));
    }
  }

  /** A change that may move every host: any request not in the catalog may be in the update. */
  addAll(): void {
    this.#any = true;
  }

  /** Whether the pending changes may serve `host` (normalised: see `normalizeHost`). */
  mayServe(host: string): boolean {
    if (this.#any || this.#exact.has(host)) return true;
    const first = host.indexOf('.');
    const second = first < 0 ? -1 : host.indexOf('.', first + 1);
    return this.#names.has(second < 0 ? host : host.slice(0, second));
  }

  /** The catalog was rebuilt: nothing is pending. */
  clear(): void {
    this.#exact.clear();
    this.#names.clear();
    this.#any = false;
  }
}
