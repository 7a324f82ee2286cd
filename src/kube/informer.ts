// A list-then-watch cache of one resource that keeps itself alive: it relists after 410 Gone,
// restarts after any error with jittered back-off, resyncs on a schedule, and says when synced.

import type { V1EndpointSlice } from '@kubernetes/client-node';
import { ENDPOINTSLICE_SERVICE_NAME_LABEL } from '../api/labels.ts';
import { kubePaths } from './paths.ts';
import type { KubeClient, Query, WatchEvent } from './rest.ts';

export interface ObjectMeta {
  readonly name?: string;
  readonly namespace?: string;
  readonly resourceVersion?: string;
  readonly uid?: string;
}
export interface KubeObject {
  readonly metadata?: ObjectMeta;
}

export type InformerEvent = 'add' | 'update' | 'delete' | 'resync';
/** `previous`: on an update, the object the cache held before it. */
export type InformerHandler<T> = (event: InformerEvent, obj: T, key: string, previous?: T) => void;

export interface InformerOptions {
  /** Collection path, e.g. /api/v1/pods or /api/v1/namespaces/ns/pods. */
  readonly path: string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  /** How often every cached object is handed to the handlers again; 0 = never. */
  readonly resyncMs?: number;
  readonly onError?: (err: unknown) => void;
}

export function objectKey(obj: KubeObject): string {
  const m = obj.metadata ?? {};
  return m.namespace ? `${m.namespace}/${m.name}` : (m.name ?? '');
}

interface ListResult<T> {
  readonly items: T[];
  readonly metadata: { readonly resourceVersion: string };
}

const minBackoffMs = 200;
const maxBackoffMs = 10_000;

export class Informer<T extends KubeObject> {
  readonly #client: KubeClient;
  readonly #options: InformerOptions;
  readonly #cache = new Map<string, T>();
  readonly #handlers: InformerHandler<T>[] = [];
  #abort = new AbortController();
  #stopped = false;
  #synced = false;
  #syncWaiters: (() => void)[] = [];
  #resyncTimer: NodeJS.Timeout | undefined;

  constructor(client: KubeClient, options: InformerOptions) {
    this.#client = client;
    this.#options = options;
  }

  on(handler: InformerHandler<T>): void {
    this.#handlers.push(handler);
  }

  get(key: string): T | undefined {
    return this.#cache.get(key);
  }
  list(): T[] {
    return [...this.#cache.values()];
  }
  get synced(): boolean {
    return this.#synced;
  }

  /** Resolves once the first list has been delivered to the handlers. */
  waitForSync(): Promise<void> {
    if (this.#synced) return Promise.resolve();
    return new Promise((resolve) => this.#syncWaiters.push(resolve));
  }

  start(): void {
    void this.#run();
    const resync = this.#options.resyncMs ?? 0;
    if (resync > 0) {
      this.#resyncTimer = setInterval(() => {
        for (const [key, obj] of this.#cache) this.#emit('resync', obj, key);
      }, resync);
      this.#resyncTimer.unref();
    }
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#resyncTimer);
    this.#abort.abort();
  }

  #query(): Query {
    return { labelSelector: this.#options.labelSelector, fieldSelector: this.#options.fieldSelector };
  }

  #emit(event: InformerEvent, obj: T, key: string, previous?: T): void {
    for (const h of this.#handlers) {
      try {
        h(event, obj, key, previous);
      } catch (err) {
        this.#options.onError?.(err);
      }
    }
  }

  async #run(): Promise<void> {
    let backoff = minBackoffMs;
    let resourceVersion: string | undefined;
    while (!this.#stopped) {
      try {
        if (resourceVersion === undefined) resourceVersion = await this.#relist();
        const gone = await this.#watch(resourceVersion, (rv) => {
          resourceVersion = rv;
          backoff = minBackoffMs;
        });
        if (gone) resourceVersion = undefined;
        continue; // a watch that ended cleanly is resumed from the last resourceVersion at once
      } catch (err) {
        if (this.#stopped) return;
        this.#options.onError?.(err);
      }
      const jittered = backoff * (0.5 + Math.random());
      await new Promise((r) => setTimeout(r, jittered).unref());
      backoff = Math.min(maxBackoffMs, backoff * 2);
    }
  }

  /** Lists the collection and reconciles the cache with it: adds, updates and deletes as needed. */
  async #relist(): Promise<string> {
    const list = await this.#client.get<ListResult<T>>(this.#options.path, this.#query());
    const seen = new Set<string>();
    for (const obj of list.items) {
      const key = objectKey(obj);
      seen.add(key);
      const old = this.#cache.get(key);
      this.#cache.set(key, obj);
      if (!old) this.#emit('add', obj, key);
      else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion)
        this.#emit('update', obj, key, old);
    }
    for (const [key, obj] of this.#cache) {
      if (!seen.has(key)) {
        this.#cache.delete(key);
        this.#emit('delete', obj, key);
      }
    }
    if (!this.#synced) {
      this.#synced = true;
      for (const w of this.#syncWaiters.splice(0)) w();
    }
    return list.metadata.resourceVersion;
  }

  /** Watches from `rv`; resolves true when the server said 410 Gone (a relist is needed). */
  async #watch(rv: string, onProgress: (rv: string) => void): Promise<boolean> {
    this.#abort = new AbortController();
    let gone = false;
    const handle = (ev: WatchEvent<T>): void => {
      if (ev.type === 'ERROR') {
        const status = ev.object as { code?: number };
        if (status.code === 410) gone = true;
        this.#abort.abort();
        return;
      }
      const newRv = ev.object.metadata?.resourceVersion;
      if (newRv) onProgress(newRv);
      if (ev.type === 'BOOKMARK') return;
      const key = objectKey(ev.object);
      if (ev.type === 'DELETED') {
        this.#cache.delete(key);
        this.#emit('delete', ev.object, key);
      } else {
        const previous = this.#cache.get(key);
        this.#cache.set(key, ev.object);
        if (previous === undefined) this.#emit('add', ev.object, key);
        else this.#emit('update', ev.object, key, previous);
      }
    };
    await this.#client.watch<T>(
      this.#options.path,
      { ...this.#query(), resourceVersion: rv, timeoutSeconds: 240 + Math.floor(Math.random() * 60) },
      handle,
      this.#abort.signal,
    );
    if (this.#stopped) return false;
    return gone;
  }
}

/** The error handler every component gives its informers: a warning, the informer resumes itself. */
export function logWatchErrors(
  log: { warn(obj: object, msg: string): void },
  what: string,
): (err: unknown) => void {
  return (err) => log.warn({ err: String(err) }, `${what} watch failed; resuming`);
}

/** ServerlessServices and the EndpointSlices of every Service, as autoscaler and activator watch them. */
export function servingInformers(
  client: KubeClient,
  log: { warn(obj: object, msg: string): void },
): { services: Informer<KubeObject>; revisions: Informer<KubeObject>; slices: Informer<V1EndpointSlice> } {
  return {
    services: new Informer<KubeObject>(client, {
      path: kubePaths.serverlessServices(),
      resyncMs: 5 * 60_000,
      onError: logWatchErrors(log, 'ServerlessService'),
    }),
    revisions: new Informer<KubeObject>(client, {
      path: kubePaths.revisions(),
      resyncMs: 5 * 60_000,
      onError: logWatchErrors(log, 'Revision'),
    }),
    slices: new Informer<V1EndpointSlice>(client, {
      path: kubePaths.endpointSlices(),
      labelSelector: ENDPOINTSLICE_SERVICE_NAME_LABEL,
      onError: logWatchErrors(log, 'EndpointSlice'),
    }),
  };
}

/**
 * Objects of an informer grouped by a key of their own (e.g. EndpointSlices by their Service), so
 * a reader gets its group without scanning the cache. Feed it from the informer's handler.
 */
export class GroupIndex<T> {
  readonly #groups = new Map<string, Map<string, T>>();

  /** Records `obj` under `group` (undefined: the object with `key` was deleted). */
  set(group: string, key: string, obj: T | undefined): void {
    const entry = this.#groups.get(group) ?? new Map<string, T>();
    if (obj === undefined) entry.delete(key);
    else entry.set(key, obj);
    if (entry.size === 0) this.#groups.delete(group);
    else this.#groups.set(group, entry);
  }

  /** The group's objects; empty when there are none. */
  values(group: string): Iterable<T> {
    return this.#groups.get(group)?.values() ?? [];
  }
}
