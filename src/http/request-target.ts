// A request as a proxy must pass it on (RFC 9112 §3.2): the target in origin form, exactly one
// valid Host (an absolute-form target's authority replaces it), and no body framing the
// upstream could read otherwise than we did. Pure functions of the parsed request.

import type { ClientErrorKind } from './client-errors.ts';

/**
 * Puts the request target in origin form and makes sure there is a Host, as a proxy must
 * (RFC 9112 §3.2): an absolute-form target's authority replaces the Host header. Returns the
 * reason to refuse the request, if any. Only rawHeaders (what the proxies read) are rewritten.
 */
export function normaliseRequest(req: {
  url?: string | undefined;
  readonly rawHeaders: string[];
}): ClientErrorKind | undefined {
  const url = req.url ?? '';
  const raw = req.rawHeaders;
  if (url.charCodeAt(0) !== 47 /* / */ && url !== '*') {
    const target = absoluteTarget(url);
    if (target === undefined) return 'bad-target';
    req.url = target.path;
    setHost(raw, target.authority);
  }
  let hosts = 0;
  let host = '';
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && name.toLowerCase() === 'host') {
      hosts++;
      host = raw[i + 1]!;
    } else if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') {
      // Node takes codings it does not decode for a body of unknown length; the upstream might
      // frame it otherwise. Only chunked (which the proxy itself re-frames) goes on.
      if (raw[i + 1]!.trim().toLowerCase() !== 'chunked') return 'bad-transfer-encoding';
    }
  }
  if (hosts === 0 || host.trim() === '') return 'missing-host';
  if (hosts > 1 || !HOST_VALUE.test(host)) return 'bad-host';
  return undefined;
}

// uri-host [ ":" port ]: reg-name, IPv4 or a bracketed IPv6 literal.
const HOST_VALUE = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=%]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

const ABSOLUTE_TARGET = /^https?:\/\/([^/?#\s@]+)([^#\s]*)$/i;

/** `http://host:port/path?q` → authority and origin-form path; undefined when not of that form. */
export function absoluteTarget(url: string): { authority: string; path: string } | undefined {
  const m = ABSOLUTE_TARGET.exec(url);
  if (m === null) return undefined;
  const rest = m[2]!;
  const path = rest === '' ? '/' : rest.charCodeAt(0) === 63 /* ? */ ? `/${rest}` : rest;
  if (path.charCodeAt(0) !== 47) return undefined;
  return { authority: m[1]!, path };
}

function headerIndex(raw: readonly string[], lowerName: string): number {
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) return i;
  }
  return -1;
}

/** Replaces every Host header by one with `value` (first position kept). */
function setHost(raw: string[], value: string): void {
  const first = headerIndex(raw, 'host');
  if (first < 0) {
    raw.push('Host', value);
    return;
  }
  raw[first + 1] = value;
  for (let i = raw.length - 2; i > first; i -= 2) {
    if (raw[i]!.length === 4 && raw[i]!.toLowerCase() === 'host') raw.splice(i, 2);
  }
}

/** Content-Length as declared, or 0 (no header, or chunked). */
export function declaredLength(raw: readonly string[]): number {
  const i = headerIndex(raw, 'content-length');
  return i < 0 ? 0 : Number(raw[i + 1]);
}
