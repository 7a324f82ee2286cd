// Header rewriting for the proxies, done in one pass over Node's flat `rawHeaders` array
// ([name, value, name, value, …]): the form node:http gives and both node:http and undici accept.

import {
  invalidTraceparent,
  parseTraceparent,
  type TraceContext,
  type TraceparentParse,
} from './traceparent.ts';

/** Headers meaningful only for one connection (RFC 9110 §7.6.1), never forwarded as they are. */
export const HOP_BY_HOP_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Headers zeroscale's own components set for each other; a client must not be able to forge them. */
export const INTERNAL_HEADER_PREFIX = 'x-zeroscale-';
export const REQUEST_ID_HEADER = 'x-request-id';

// A Connection header may not remove these: dropping Host would change routing, dropping
// Content-Length would change how the body is framed upstream.
const CONNECTION_PROTECTED: ReadonlySet<string> = new Set(['host', 'content-length']);

// Ids are logged; letters, digits and a few separators keep them safe in logs and short enough to
// index (UUIDs, ULIDs, base64 and hex ids all fit).
const REQUEST_ID_FORMAT = /^[A-Za-z0-9._~:@+/=-]{1,128}$/;

export function isValidRequestId(id: string): boolean {
  return REQUEST_ID_FORMAT.test(id);
}

/** How a listener treats what the client sent; made once per listener. */
export interface HeaderPolicy {
  /**
   * Keep the client's X-Forwarded-* (append to -For, keep -Proto and -Host): true only when the
   * client is a proxy we trust, such as the activator in front of a queue-proxy.
   */
  readonly trustForwarded: boolean;
  /** Drop `x-zeroscale-*` headers: true wherever the sender may be an outside client. */
  readonly stripInternal: boolean;
  /** Makes a request id when the client sent no valid one (e.g. `crypto.randomUUID`). */
  readonly newRequestId: () => string;
}

/** The connection a request arrived on. */
export interface ClientConnection {
  /** The peer's address (`socket.remoteAddress`); undefined once the socket is gone. */
  readonly remoteAddress: string | undefined;
  readonly protocol: 'http' | 'https';
}

export interface UpstreamRequestHeaders {
  /** Flat [name, value, …] to send upstream. */
  readonly headers: string[];
  readonly requestId: string;
  /** The client's trace context; undefined when it sent none or an invalid one. */
  readonly trace: TraceContext | undefined;
  /** The protocol asked for by `Connection: upgrade` + `Upgrade` (e.g. "websocket"). */
  readonly upgrade: string | undefined;
}

/**
 * The comma-separated tokens of every Connection header, lower-cased; undefined when there is no
 * Connection header (the common case with HTTP/1.1 keep-alive), so nothing is allocated for it.
 */
export function connectionTokens(raw: readonly string[]): ReadonlySet<string> | undefined {
  let tokens: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() !== 'connection') continue;
    tokens ??= new Set();
    for (const token of raw[i + 1]!.split(',')) {
      const t = token.trim().toLowerCase();
      if (t !== '') tokens.add(t);
    }
  }
  return tokens;
}

/**
 * The Upgrade protocol when the message asks for one the way HTTP/1.1 requires, else undefined.
 * `h2c` is not taken as an upgrade: the proxies serve such a request as plain HTTP/1.1 (a server
 * may ignore Upgrade, RFC 9110 §7.8) and speak HTTP/2 to clients that start with its preface.
 */
export function upgradeProtocol(raw: readonly string[], tokens = connectionTokens(raw)): string | undefined {
  if (tokens?.has('upgrade') !== true) return undefined;
  const protocol = firstValue(raw, 'upgrade');
  return protocol === undefined || protocol.trim().toLowerCase() === 'h2c' ? undefined : protocol;
}

/**
 * Drops hop-by-hop headers and those a Connection header names; for responses (requests get the
 * same and more from `buildUpstreamRequestHeaders`). A 101's Connection/Upgrade are the caller's.
 */
export function dropHopByHop(raw: readonly string[]): string[] {
  const tokens = connectionTokens(raw);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP_HEADERS.has(lower) || isConnectionNamed(tokens, lower)) continue;
    out.push(name, raw[i + 1]!);
  }
  return out;
}

/**
 * Builds the headers to send upstream for a client's request: drops hop-by-hop headers (keeping
 * `TE: trailers`, which gRPC needs end to end), strips internal headers per policy, sets
 * X-Forwarded-For/-Proto/-Host, one request id, and traceparent/tracestate only when valid. An
 * upgrade request gets `Connection: upgrade` and `Upgrade` back so WebSockets pass through.
 * `traceparent`, when given (the proxy traces the request), replaces the client's: it names the
 * proxy's span as the parent; the client's tracestate goes on with it when the client's
 * traceparent was valid (the proxy's span then continues that trace).
 */
export function buildUpstreamRequestHeaders(
  raw: readonly string[],
  client: ClientConnection,
  policy: HeaderPolicy,
  traceparent?: string,
): UpstreamRequestHeaders {
  const tokens = connectionTokens(raw);
  const out: string[] = [];
  let host: string | undefined;
  let forwardedFor: string | undefined;
  let forwardedProto: string | undefined;
  let forwardedHost: string | undefined;
  let requestId: string | undefined;
  let clientTraceparent: string | undefined;
  let traceparentCount = 0;
  let tracestate: string | undefined;
  let teTrailers = false;

  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP_HEADERS.has(lower)) {
      if (lower === 'te' && hasToken(value, 'trailers')) teTrailers = true;
      continue;
    }
    if (isConnectionNamed(tokens, lower)) continue;
    if (policy.stripInternal && lower.startsWith(INTERNAL_HEADER_PREFIX)) continue;
    switch (lower) {
      // The proxy's own server answered it (100 or 413) before reading the body: the app gets
      // the body as it comes, without waiting on an expectation of its own.
      case 'expect':
        break;
      // Only the first Host goes on, so the app cannot route by a different one than we did.
      case 'host':
        if (host === undefined) {
          host = value;
          out.push(name, value);
        }
        break;
      // Repeated X-Forwarded-For headers are one list, as if joined by commas.
      case 'x-forwarded-for':
        forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
        break;
      case 'x-forwarded-proto':
        forwardedProto ??= value;
        break;
      case 'x-forwarded-host':
        forwardedHost ??= value;
        break;
      case REQUEST_ID_HEADER:
        if (requestId === undefined && isValidRequestId(value)) requestId = value;
        break;
      case 'traceparent':
        clientTraceparent = value;
        traceparentCount++;
        break;
      // Repeated tracestate headers are one list (W3C Trace Context §3.3).
      case 'tracestate':
        tracestate = tracestate === undefined ? value : `${tracestate},${value}`;
        break;
      default:
        out.push(name, value);
    }
  }

  if (teTrailers) out.push('te', 'trailers');
  const xff = policy.trustForwarded
    ? appendForwardedFor(forwardedFor, client.remoteAddress)
    : client.remoteAddress;
  if (xff !== undefined) out.push('x-forwarded-for', xff);
  out.push('x-forwarded-proto', (policy.trustForwarded ? forwardedProto : undefined) ?? client.protocol);
  const xfh = (policy.trustForwarded ? forwardedHost : undefined) ?? host;
  if (xfh !== undefined) out.push('x-forwarded-host', xfh);

  const id = requestId ?? policy.newRequestId();
  out.push(REQUEST_ID_HEADER, id);

  const trace = traceparentOf(clientTraceparent, traceparentCount);
  if (traceparent !== undefined) out.push('traceparent', traceparent);
  else if (trace.valid) out.push('traceparent', clientTraceparent!.trim());
  // tracestate means nothing without a valid traceparent, so it is dropped with it.
  if (trace.valid && tracestate !== undefined) out.push('tracestate', tracestate);

  const upgrade = upgradeProtocol(raw, tokens);
  if (upgrade !== undefined) out.push('connection', 'upgrade', 'upgrade', upgrade);

  return { headers: out, requestId: id, trace: trace.valid ? trace.context : undefined, upgrade };
}

/** Parses the traceparent headers of a request; more than one is invalid (W3C §3.2). */
function traceparentOf(value: string | undefined, count: number): TraceparentParse {
  if (value === undefined || count === 0) return invalidTraceparent('absent');
  if (count > 1) return invalidTraceparent('multiple-headers');
  return parseTraceparent(value);
}

function appendForwardedFor(existing: string | undefined, remote: string | undefined): string | undefined {
  if (existing === undefined || existing.trim() === '') return remote;
  return remote === undefined ? existing : `${existing}, ${remote}`;
}

function isConnectionNamed(tokens: ReadonlySet<string> | undefined, lower: string): boolean {
  return tokens?.has(lower) === true && !CONNECTION_PROTECTED.has(lower);
}

function hasToken(value: string, token: string): boolean {
  for (const part of value.split(',')) {
    // Parameters after ";" (e.g. "trailers;q=1") are not part of the token.
    if (part.split(';', 1)[0]!.trim().toLowerCase() === token) return true;
  }
  return false;
}

/** The first value of a header in a flat [name, value, …] array; `lowerName` in lower case. */
export function firstValue(raw: readonly string[], lowerName: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() === lowerName) return raw[i + 1];
  }
  return undefined;
}
