// A look at the first bytes of a connection, before Node's HTTP parser is attached: is this one
// complete, bodiless HTTP/1.1 request head, and for which Host? Only to decide whether the
// activator may hold the connection as bare bytes (see activator/parked.ts); Node parses the bytes
// for real when the connection is handed over. So the rule is "when in doubt, say no": anything
// unusual (a body, an upgrade, Expect, internal headers, obs-fold, a lone CR or LF, bytes after the
// head, a second Host) gets `undefined` and takes the ordinary path, where Node's parser and the
// server's limits give it its answer.

import { INTERNAL_HEADER_PREFIX } from './headers.ts';

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HT = 0x09;
const COLON = 0x3a;

/** The version every parkable request line ends with: ` HTTP/1.1`. */
const VERSION = Buffer.from(' HTTP/1.1');

/** Longest head considered; longer ones take the ordinary path (Node's limit is 16 KiB). */
export const MAX_SNIFFED_HEAD_BYTES = 8 * 1024;

/**
 * The Host of `chunk` when it is exactly one complete HTTP/1.1 request head that carries no body
 * and nothing after it; else undefined. Never throws.
 */
export function sniffParkableHost(chunk: Uint8Array): string | undefined {
  const length = chunk.length;
  if (length < 18 || length > MAX_SNIFFED_HEAD_BYTES) return undefined;
  // The head must end the chunk: a body or a pipelined request after it is not parkable.
  if (
    chunk[length - 4] !== CR ||
    chunk[length - 3] !== LF ||
    chunk[length - 2] !== CR ||
    chunk[length - 1] !== LF
  )
    return undefined;
  const lineEnd = lineEndAt(chunk, 0, length);
  if (lineEnd < 0 || !isRequestLine(chunk, lineEnd)) return undefined;
  let host: string | undefined;
  let sawLength = false;
  let at = lineEnd + 2;
  // Header lines up to the empty line that ends the head.
  while (at < length - 2) {
    const end = lineEndAt(chunk, at, length);
    if (end <= at) return undefined;
    const first = chunk[at]!;
    // obs-fold (a line starting with SP/HT) is refused by Node; no guessing here.
    if (first === SP || first === HT) return undefined;
    const colon = chunk.indexOf(COLON, at);
    if (colon <= at || colon >= end) return undefined;
    for (let i = at; i < colon; i++) if (!isTokenByte(chunk[i]!)) return undefined;
    const nameLength = colon - at;
    const kind = headerKind(chunk, at, nameLength);
    if (kind === 'refuse') return undefined;
    const value = trimmedValue(chunk, colon + 1, end);
    if (value === undefined) return undefined;
    if (kind === 'host') {
      if (host !== undefined || value.length === 0) return undefined;
      host = value;
    } else if (kind === 'content-length') {
      // Two Content-Length lines, even both 0, are Node's to refuse (llhttp does), not ours to hold.
      if (value !== '0' || sawLength) return undefined;
      sawLength = true;
    }
    at = end + 2;
  }
  return host;
}

/** Index of the CR of the CRLF ending the line at `from`, or -1; a lone CR or LF is -1. */
function lineEndAt(chunk: Uint8Array, from: number, length: number): number {
  for (let i = from; i < length; i++) {
    const c = chunk[i]!;
    if (c === CR) return i + 1 < length && chunk[i + 1] === LF ? i : -1;
    if (c === LF) return -1;
  }
  return -1;
}

/** `METHOD SP /target SP HTTP/1.1`: the method a token, the target visible ASCII. */
function isRequestLine(chunk: Uint8Array, end: number): boolean {
  let i = 0;
  while (i < end && isTokenByte(chunk[i]!)) i++;
  if (i === 0 || i >= end || chunk[i] !== SP) return false;
  i++;
  // Origin form only: CONNECT's authority form, absolute form and `*` take the ordinary path.
  if (chunk[i] !== 0x2f) return false;
  const targetStart = i;
  while (i < end && chunk[i]! > SP && chunk[i]! < 0x7f) i++;
  if (i === targetStart || end - i !== VERSION.length) return false;
  for (let k = 0; k < VERSION.length; k++) if (chunk[i + k] !== VERSION[k]) return false;
  return true;
}

type HeaderKind = 'host' | 'content-length' | 'refuse' | 'other';

// Headers that bring a body or change what follows the head (an upgrade, a 100 Continue).
const REFUSED = new Set(['transfer-encoding', 'upgrade', 'expect']);

function headerKind(chunk: Uint8Array, at: number, length: number): HeaderKind {
  // Only the first bytes matter: the longest name compared is 17 bytes, the internal prefix 12.
  const name = Buffer.from(chunk.buffer, chunk.byteOffset + at, Math.min(length, 32))
    .toString('latin1')
    .toLowerCase();
  if (name.startsWith(INTERNAL_HEADER_PREFIX)) return 'refuse';
  if (length > 17) return 'other';
  if (name === 'host') return 'host';
  if (name === 'content-length') return 'content-length';
  if (REFUSED.has(name)) return 'refuse';
  return 'other';
}

/** The value between `from` and `end` without surrounding SP/HT; undefined if it holds a control byte. */
function trimmedValue(chunk: Uint8Array, from: number, end: number): string | undefined {
  let start = from;
  let stop = end;
  while (start < stop && (chunk[start] === SP || chunk[start] === HT)) start++;
  while (stop > start && (chunk[stop - 1] === SP || chunk[stop - 1] === HT)) stop--;
  for (let i = start; i < stop; i++) {
    const c = chunk[i]!;
    if ((c < SP && c !== HT) || c === 0x7f) return undefined;
  }
  return Buffer.from(chunk.buffer, chunk.byteOffset + start, stop - start).toString('latin1');
}

// RFC 9110 §5.6.2 tchar.
const TOKEN = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TOKEN[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TOKEN[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TOKEN[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TOKEN[c] = 1;

function isTokenByte(c: number): boolean {
  return TOKEN[c] === 1;
}
