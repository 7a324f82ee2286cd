// The headers zeroscale's own components exchange: the readiness probe the activator sends to a
// queue-proxy, and the mark on requests the activator forwarded. All start with
// INTERNAL_HEADER_PREFIX, so the header rewriting strips any a client sends.

import { INTERNAL_HEADER_PREFIX } from './headers.ts';

/**
 * Asks a component about itself instead of being forwarded: `queue` to a queue-proxy (answered
 * 200 `queue` when the user container is ready), `activator` to an activator (200 `activator`).
 */
export const PROBE_HEADER = `${INTERNAL_HEADER_PREFIX}probe`;
export const PROBE_QUEUE = 'queue';
export const PROBE_ACTIVATOR = 'activator';

/**
 * Set by the activator on what it forwards, with the install's internal token as its value; the
 * queue-proxy trusts it (counts the request as proxied, keeps X-Forwarded-*) only when the value
 * is that token. Any client can send the header; only the activator knows the token.
 */
export const PROXIED_HEADER = `${INTERNAL_HEADER_PREFIX}proxied`;

/**
 * The per-install secret the activator proves itself with (env ZEROSCALE_INTERNAL_TOKEN, the
 * same on activators and queue-proxies). Without one, nothing is trusted: the safe default.
 */
export class InternalToken {
  /** The header value the activator sends; undefined when no token is configured. */
  readonly value: string | undefined;

  constructor(token: string | undefined) {
    const t = token?.trim();
    this.value = t === undefined || t === '' ? undefined : t;
  }

  /**
   * Whether `value` (from a request) is the token; constant time in the token's length: every
   * code unit is compared, whatever differs. In plain JS rather than crypto.timingSafeEqual, so
   * that the queue-proxy never loads node:crypto (1.3 MB of memory in every pod; see
   * bench/results/sidecar.md).
   */
  matches(value: string | undefined): boolean {
    const token = this.value;
    if (token === undefined || value === undefined || value.length !== token.length) return false;
    let diff = 0;
    for (let i = 0; i < token.length; i++) diff |= token.charCodeAt(i) ^ value.charCodeAt(i);
    return diff === 0;
  }
}

/**
 * Set by a Gateway's HTTPRoute on each backendRef (see controller/resources/http-route.ts): the
 * revision the gateway chose. An activator that holds such a request (a revision at zero) sends
 * it to that revision, if it is one of the service's, instead of splitting it again.
 */
export const REVISION_HEADER = `${INTERNAL_HEADER_PREFIX}revision`;

/** On error responses zeroscale writes itself: the stable error code (tests and clients match it). */
export const ERROR_CODE_HEADER = `${INTERNAL_HEADER_PREFIX}error`;

/** What a request carries of the internal headers; found in one pass over rawHeaders. */
export interface InternalMarks {
  /** Value of the probe header, or undefined. */
  probe: string | undefined;
  /** Value of the proxied header, or undefined: to check with `InternalToken.matches`. */
  proxied: string | undefined;
  /** Value of the revision header, or undefined. */
  revision?: string | undefined;
}

/**
 * Scans Node's flat rawHeaders for the internal headers. Cheap for the usual request, which has
 * none: a name is lower-cased only when it is as long as one of ours and starts with x/X.
 */
export function scanInternalHeaders(raw: readonly string[], out: InternalMarks): InternalMarks {
  out.probe = undefined;
  out.proxied = undefined;
  out.revision = undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const len = name.length;
    if (
      (len !== PROBE_HEADER.length && len !== PROXIED_HEADER.length && len !== REVISION_HEADER.length) ||
      (name[0] !== 'x' && name[0] !== 'X')
    ) {
      continue;
    }
    const lower = name.toLowerCase();
    if (lower === PROBE_HEADER) out.probe = raw[i + 1]!.trim();
    else if (lower === PROXIED_HEADER) out.proxied = raw[i + 1]!.trim();
    else if (lower === REVISION_HEADER) out.revision = raw[i + 1]!.trim();
  }
  return out;
}
