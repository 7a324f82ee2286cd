// A thin Kubernetes REST client: auth and TLS come from @kubernetes/client-node's KubeConfig, the
// requests are plain node:https so that every content type (merge, strategic, apply) and watch
// stream is available without the generated client's indirections.

import fs from 'node:fs';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { ZeroscaleError } from '../errors.ts';

export type PatchType = 'merge' | 'strategic' | 'apply' | 'json';

const patchContentTypes: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
  json: 'application/json-patch+json',
};

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  readonly query?: Query;
  readonly body?: unknown;
  readonly contentType?: string;
  readonly timeoutMs?: number;
}

/** What the apiserver answered when it did not answer 2xx; `reason` is the Status reason. */
export class KubeApiError extends ZeroscaleError {
  readonly statusCode: number;
  readonly reason: string;
  /** The types of the Status's `details.causes` (e.g. `NamespaceTerminating`), as sent in `reason`. */
  readonly causes: readonly string[];
  constructor(
    method: string,
    path: string,
    statusCode: number,
    reason: string,
    message: string,
    causes: readonly string[] = [],
  ) {
    super('KUBE_API_ERROR', `${method} ${path}: ${statusCode} ${reason}: ${message}`);
    this.statusCode = statusCode;
    this.reason = reason;
    this.causes = causes;
  }
}

export function isNotFound(err: unknown): boolean {
  return err instanceof KubeApiError && err.statusCode === 404;
}
export function isConflict(err: unknown): boolean {
  return err instanceof KubeApiError && err.statusCode === 409;
}
/** A write refused because its namespace is being deleted: retrying cannot help. */
export function isNamespaceTerminating(err: unknown): boolean {
  return err instanceof KubeApiError && err.statusCode === 403 && err.causes.includes('NamespaceTerminating');
}
export function isAlreadyExists(err: unknown): boolean {
  return err instanceof KubeApiError && err.statusCode === 409 && err.reason === 'AlreadyExists';
}

export interface WatchEvent<T> {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  readonly object: T;
}

/**
 * How long auth headers are reused before the kubeconfig's credentials are applied again: a
 * projected ServiceAccount token is rotated on disk by kubelet, and client-go re-reads it this
 * often too.
 */
const AUTH_REUSE_MS = 60_000;

export class KubeClient {
  readonly #config: KubeConfig;
  readonly #server: URL;
  readonly #agent: https.Agent;
  #httpsOptions: https.RequestOptions | undefined;
  #httpsOptionsAt = 0;
  /** A watch was refused with 401: the next request reads the token file again. */
  #tokenRejected = false;

  constructor(config: KubeConfig) {
    const cluster = config.getCurrentCluster();
    if (!cluster) throw new ZeroscaleError('KUBECONFIG_INVALID', 'kubeconfig has no current cluster');
    this.#config = config;
    this.#server = new URL(cluster.server);
    this.#agent = new https.Agent({ keepAlive: true, maxSockets: 64 });
  }

  /**
   * TLS and auth for a request. `fresh` (after a 401) reads a token file again at once instead of
   * trusting a cached token: the apiserver has just said it is no longer valid.
   */
  async #options(freshToken = false): Promise<https.RequestOptions> {
    const fresh = freshToken || this.#tokenRejected;
    this.#tokenRejected = false;
    const now = Date.now();
    if (!this.#httpsOptions || fresh || now - this.#httpsOptionsAt >= AUTH_REUSE_MS) {
      const opts: https.RequestOptions = { headers: {} };
      await this.#config.applyToHTTPSOptions(opts);
      const tokenFile = this.#config.getCurrentUser()?.authProvider?.config?.tokenFile as string | undefined;
      if (fresh && tokenFile) {
        const token = fs.readFileSync(tokenFile, 'utf8').trim();
        opts.headers = { ...opts.headers, Authorization: `Bearer ${token}` };
      }
      this.#httpsOptions = opts;
      this.#httpsOptionsAt = now;
    }
    return this.#httpsOptions;
  }

  #url(path: string, query?: Query): URL {
    const url = new URL(path, this.#server);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    return url;
  }

  /** One request; a 401 is retried once with credentials read again (a rotated token). */
  async request<T = unknown>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    try {
      return await this.#requestOnce<T>(method, path, options, await this.#options());
    } catch (err) {
      if (!(err instanceof KubeApiError) || err.statusCode !== 401) throw err;
      return this.#requestOnce<T>(method, path, options, await this.#options(true));
    }
  }

  #requestOnce<T>(
    method: string,
    path: string,
    options: RequestOptions,
    base: https.RequestOptions,
  ): Promise<T> {
    const url = this.#url(path, options.query);
    const payload =
      options.body === undefined
        ? undefined
        : typeof options.body === 'string'
          ? options.body
          : JSON.stringify(options.body);
    return new Promise<T>((resolve, reject) => {
      const req = https.request(
        url,
        {
          ...base,
          agent: this.#agent,
          method,
          timeout: options.timeoutMs ?? 30_000,
          headers: {
            ...base.headers,
            accept: 'application/json',
            ...(payload === undefined
              ? {}
              : {
                  'content-type': options.contentType ?? 'application/json',
                  'content-length': Buffer.byteLength(payload),
                }),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const status = res.statusCode ?? 0;
            let parsed: unknown;
            try {
              parsed = text ? JSON.parse(text) : undefined;
            } catch {
              parsed = text;
            }
            if (status >= 200 && status < 300) return resolve(parsed as T);
            const st = (parsed ?? {}) as {
              reason?: string;
              message?: string;
              // A StatusCause's type is sent as `reason`.
              details?: { causes?: { reason?: string }[] };
            };
            const causes = (st.details?.causes ?? []).flatMap((c) => (c.reason ? [c.reason] : []));
            reject(
              new KubeApiError(
                method,
                url.pathname,
                status,
                st.reason ?? 'Unknown',
                st.message ?? text,
                causes,
              ),
            );
          });
        },
      );
      req.on('timeout', () =>
        req.destroy(new ZeroscaleError('KUBE_API_TIMEOUT', `${method} ${url.pathname} timed out`)),
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  get<T = unknown>(path: string, query?: Query): Promise<T> {
    return this.request<T>('GET', path, query ? { query } : {});
  }
  post<T = unknown>(path: string, body: unknown, query?: Query): Promise<T> {
    return this.request<T>('POST', path, { body, ...(query ? { query } : {}) });
  }
  put<T = unknown>(path: string, body: unknown, query?: Query): Promise<T> {
    return this.request<T>('PUT', path, { body, ...(query ? { query } : {}) });
  }
  delete<T = unknown>(path: string, body?: unknown, query?: Query): Promise<T> {
    return this.request<T>('DELETE', path, { body, ...(query ? { query } : {}) });
  }
  patch<T = unknown>(path: string, type: PatchType, body: unknown, query?: Query): Promise<T> {
    return this.request<T>('PATCH', path, {
      body,
      contentType: patchContentTypes[type],
      ...(query ? { query } : {}),
    });
  }
  /** Server-side apply under `fieldManager`; `force` takes over conflicting fields. */
  apply<T = unknown>(path: string, body: unknown, fieldManager: string, force = true): Promise<T> {
    return this.patch<T>(path, 'apply', body, { fieldManager, force });
  }

  /**
   * Streams watch events until the server closes the stream, `signal` aborts, or an error occurs.
   * Resolves when the stream ends normally; rejects on a transport error or a non-2xx answer.
   */
  async watch<T>(
    path: string,
    query: Query,
    onEvent: (ev: WatchEvent<T>) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const base = await this.#options();
    const url = this.#url(path, { ...query, watch: true, allowWatchBookmarks: true });
    return new Promise<void>((resolve, reject) => {
      const req = https.request(
        url,
        { ...base, method: 'GET', signal, headers: { ...base.headers, accept: 'application/json' } },
        (res) => {
          const status = res.statusCode ?? 0;
          if (status < 200 || status >= 300) {
            res.resume();
            // The next watch (the informer restarts it) reads the credentials again.
            if (status === 401) this.#tokenRejected = true;
            return reject(
              new KubeApiError('WATCH', url.pathname, status, 'WatchFailed', res.statusMessage ?? ''),
            );
          }
          let buffered = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            buffered += chunk;
            let nl = buffered.indexOf('\n');
            while (nl >= 0) {
              const line = buffered.slice(0, nl).trim();
              buffered = buffered.slice(nl + 1);
              if (line) {
                try {
                  onEvent(JSON.parse(line) as WatchEvent<T>);
                } catch (err) {
                  req.destroy(err as Error);
                  return;
                }
              }
              nl = buffered.indexOf('\n');
            }
          });
          res.on('end', () => resolve());
          res.on('error', (err) => (signal.aborted ? resolve() : reject(err)));
        },
      );
      req.on('error', (err) => (signal.aborted ? resolve() : reject(err)));
      req.end();
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}
