// Property-based tests of everything in the data plane that parses bytes or header text: the
// upstream response parser, request-target normalisation, traceparent, the internal headers and
// the header rewriting. Random inputs, cut at random read boundaries; fast-check shrinks any
// failure to a small case.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildUpstreamRequestHeaders,
  HOP_BY_HOP_HEADERS,
  INTERNAL_HEADER_PREFIX,
} from '../../src/http/headers.ts';
import { InternalToken, scanInternalHeaders } from '../../src/http/internal-headers.ts';
import { type ResponseHead, ResponseParseError, ResponseParser } from '../../src/http/response-parser.ts';
import { absoluteTarget } from '../../src/http/server.ts';
import { formatTraceparent, parseTraceparent } from '../../src/http/traceparent.ts';

const RUNS = { numRuns: 300 };

interface Events {
  head: ResponseHead | undefined;
  body: Buffer;
  ends: number;
  extra: number;
  error: unknown;
}

/** Feeds `wire` cut at `cuts` (offsets); `close` ends the connection afterwards. */
function feed(wire: Buffer, cuts: readonly number[], method = 'GET', close = false): Events {
  const parser = new ResponseParser({ maxHeadBytes: 8 * 1024 });
  const body: Buffer[] = [];
  const events: Events = { head: undefined, body: Buffer.alloc(0), ends: 0, extra: 0, error: undefined };
  parser.start(method, {
    onResponseHead: (h) => {
      events.head = h;
    },
    onResponseBody: (c) => body.push(Buffer.from(c)),
    onResponseEnd: () => {
      events.ends++;
    },
  });
  const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
  let from = 0;
  try {
    for (const to of [...points, wire.length]) {
      if (to <= from) continue;
      events.extra += parser.execute(wire.subarray(from, to));
      from = to;
    }
    if (close) parser.finish();
  } catch (err) {
    events.error = err;
  }
  events.body = Buffer.concat(body);
  return events;
}

const tchar = fc.constantFrom(
  ..."!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".split(''),
);
const token = fc.string({ unit: tchar, minLength: 1, maxLength: 12 });
const fieldValue = fc
  .string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 20 })
  .map((v) => v.trim());
const reason = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  maxLength: 20,
});
// Names the framing depends on are set by the generator itself.
const FRAMING_NAMES = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive']);
const extraHeaders = fc.array(
  fc.tuple(token, fieldValue).filter(([n]) => !FRAMING_NAMES.has(n.toLowerCase())),
  { maxLength: 6 },
);
const body = fc.uint8Array({ maxLength: 3000 }).map((a) => Buffer.from(a));
const cuts = fc.array(fc.nat({ max: 10_000 }), { maxLength: 8 });

function wireOf(
  status: number,
  message: string,
  headers: readonly [string, string][],
  framing: 'length' | 'chunked',
  payload: Buffer,
  chunkSizes: readonly number[],
): Buffer {
  let head = `HTTP/1.1 ${status} ${message}\r\n`;
  for (const [n, v] of headers) head += `${n}: ${v}\r\n`;
  if (framing === 'length')
    return Buffer.concat([
      Buffer.from(`${head}content-length: ${payload.length}\r\n\r\n`, 'latin1'),
      payload,
    ]);
  const parts: Buffer[] = [Buffer.from(`${head}transfer-encoding: chunked\r\n\r\n`, 'latin1')];
  let at = 0;
  let i = 0;
  while (at < payload.length) {
    const size = Math.max(
      1,
      Math.min(payload.length - at, chunkSizes[i++ % Math.max(1, chunkSizes.length)] ?? 100),
    );
    parts.push(Buffer.from(`${size.toString(16)}\r\n`), payload.subarray(at, at + size), Buffer.from('\r\n'));
    at += size;
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

describe('ResponseParser, properties', () => {
  it('parses any well-formed response the same whatever the read boundaries', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 200, max: 599 }).filter((s) => s !== 204 && s !== 304),
        reason,
        extraHeaders,
        fc.constantFrom('length' as const, 'chunked' as const),
        body,
        fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 5 }),
        cuts,
        (status, message, headers, framing, payload, sizes, cutAt) => {
          const wire = wireOf(status, message, headers, framing, payload, sizes);
          const e = feed(wire, cutAt);
          expect(e.error).toBeUndefined();
          expect(e.head?.status).toBe(status);
          expect(e.head?.statusMessage).toBe(message);
          expect(e.head?.framing).toBe(framing);
          expect(e.head?.keepAlive).toBe(true);
          expect(e.body.equals(payload)).toBe(true);
          expect(e.ends).toBe(1);
          expect(e.extra).toBe(0);
        },
      ),
      RUNS,
    );
  });

  it('on any bytes: throws only ResponseParseError, ends at most once, emits no more body than it got', () => {
    const junk = fc.oneof(
      fc.uint8Array({ maxLength: 400 }).map((a) => Buffer.from(a)),
      // Mostly-valid heads with one random byte spliced in: where parsers go wrong.
      fc
        .tuple(fc.constantFrom(...Object.values(SAMPLES)), fc.nat(), fc.integer({ min: 0, max: 255 }))
        .map(([w, at, byte]) => {
          const b = Buffer.from(w, 'latin1');
          if (b.length > 0) b[at % b.length] = byte;
          return b;
        }),
    );
    fc.assert(
      fc.property(junk, cuts, fc.boolean(), fc.constantFrom('GET', 'HEAD'), (wire, cutAt, close, method) => {
        const e = feed(wire, cutAt, method, close);
        if (e.error !== undefined) expect(e.error).toBeInstanceOf(ResponseParseError);
        expect(e.ends).toBeLessThanOrEqual(1);
        expect(e.body.length).toBeLessThanOrEqual(wire.length);
        if (e.ends === 1) expect(e.head).toBeDefined();
      }),
      { numRuns: 2_000 },
    );
  });

  it('never accepts ambiguous framing or control bytes in the head', () => {
    const bad = fc.oneof(
      fc
        .tuple(fc.nat({ max: 99 }), fc.nat({ max: 99 }))
        .map(([a, b]) => `HTTP/1.1 200 OK\r\ncontent-length: ${a}\r\ncontent-length: ${b + 100}\r\n\r\n`),
      fc
        .nat({ max: 99 })
        .map((a) => `HTTP/1.1 200 OK\r\ncontent-length: ${a}\r\ntransfer-encoding: chunked\r\n\r\n`),
      fc
        .integer({ min: 0, max: 31 })
        .filter((c) => c !== 9)
        .map((c) => `HTTP/1.1 200 O${String.fromCharCode(c)}K\r\ncontent-length: 0\r\n\r\n`),
      fc
        .integer({ min: 0, max: 31 })
        .filter((c) => c !== 9)
        .map((c) => `HTTP/1.1 200 OK\r\nx-a: 1${String.fromCharCode(c)}2\r\ncontent-length: 0\r\n\r\n`),
      fieldValue.map((v) => `HTTP/1.1 200 OK\r\nx-a: 1\r\n ${v}\r\ncontent-length: 0\r\n\r\n`),
    );
    fc.assert(
      fc.property(bad, cuts, (text, cutAt) => {
        const e = feed(Buffer.from(text, 'latin1'), cutAt);
        expect(e.error).toBeInstanceOf(ResponseParseError);
        expect(e.head).toBeUndefined();
      }),
      RUNS,
    );
  });
});

const SAMPLES = {
  length: 'HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-a: b\r\n\r\nhello',
  chunked: 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nx-t: 1\r\n\r\n',
  interim: 'HTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n',
  close: 'HTTP/1.0 200 OK\r\n\r\nuntil close',
} as const;

describe('absoluteTarget, properties', () => {
  // A fragment ('#') is never part of a request target.
  const pchar = tchar.filter((c) => c !== '#');
  const path = fc
    .array(fc.string({ unit: pchar, maxLength: 8 }), { maxLength: 4 })
    .map((segments) => `/${segments.join('/')}`);
  const query = fc.option(
    fc.string({ unit: pchar, maxLength: 10 }).map((q) => `?${q}`),
    { nil: '' },
  );
  const authority = fc
    .tuple(
      fc.stringMatching(/^[a-z][a-z0-9-]{0,15}(\.[a-z][a-z0-9-]{0,10}){0,3}$/),
      fc.option(fc.integer({ min: 1, max: 65535 })),
    )
    .map(([h, p]) => (p === null ? h : `${h}:${p}`));

  it('splits http(s) URLs into their authority and an origin-form path', () => {
    fc.assert(
      fc.property(fc.constantFrom('http', 'https', 'HTTP'), authority, path, query, (scheme, host, p, q) => {
        expect(absoluteTarget(`${scheme}://${host}${p}${q}`)).toEqual({ authority: host, path: `${p}${q}` });
        // No path at all is "/".
        expect(absoluteTarget(`${scheme}://${host}${q}`)).toEqual({ authority: host, path: `/${q}` });
      }),
      RUNS,
    );
  });

  it('refuses anything else, and never yields a path that is not origin-form', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (text) => {
        const t = absoluteTarget(text);
        if (t === undefined) return;
        expect(t.path.startsWith('/')).toBe(true);
        expect(t.authority).not.toMatch(/[\s/@?#]/);
        expect(text.toLowerCase().startsWith('http')).toBe(true);
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('traceparent, properties', () => {
  const hex = (n: number) =>
    fc.string({ unit: fc.constantFrom(...'0123456789abcdef'.split('')), minLength: n, maxLength: n });
  it('round-trips every valid context and never throws on any text', () => {
    fc.assert(
      fc.property(hex(32), hex(16), fc.boolean(), (traceId, spanId, sampled) => {
        fc.pre(!/^0+$/.test(traceId) && !/^0+$/.test(spanId));
        const header = `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`;
        const parsed = parseTraceparent(header);
        expect(parsed.valid).toBe(true);
        if (parsed.valid) expect(formatTraceparent(parsed.context)).toBe(header);
      }),
      RUNS,
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (text) => {
        expect(() => parseTraceparent(text)).not.toThrow();
      }),
      { numRuns: 1_000 },
    );
  });
});

describe('internal headers and header rewriting, properties', () => {
  const name = fc.oneof(
    token,
    fc.constantFrom(
      ...HOP_BY_HOP_HEADERS,
      'X-Zeroscale-Proxied',
      'x-zeroscale-probe',
      'Host',
      'x-forwarded-for',
    ),
  );
  const raw = fc.array(fc.tuple(name, fieldValue), { maxLength: 12 }).map((pairs) => pairs.flat());

  it('only the exact token is trusted', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 40 }),
        fc.string({ maxLength: 40 }),
        (secret, other) => {
          const token = new InternalToken(secret);
          fc.pre(secret.trim() !== '');
          expect(token.matches(secret.trim())).toBe(true);
          if (other !== secret.trim()) expect(token.matches(other)).toBe(false);
        },
      ),
      RUNS,
    );
  });

  it('never forwards hop-by-hop or client-sent internal headers, and keeps one Host', () => {
    fc.assert(
      fc.property(raw, (headers) => {
        const scanned = scanInternalHeaders(headers, { probe: undefined, proxied: undefined });
        expect(scanned).toBeDefined();
        const out = buildUpstreamRequestHeaders(
          headers,
          { remoteAddress: '127.0.0.1', protocol: 'http' },
          { trustForwarded: false, stripInternal: true, newRequestId: () => 'id' },
        ).headers;
        const names = out.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
        const upgrade = out.includes('upgrade');
        for (const n of names) {
          expect(n.startsWith(INTERNAL_HEADER_PREFIX)).toBe(false);
          if (HOP_BY_HOP_HEADERS.has(n))
            expect(['te', 'connection', 'upgrade'].includes(n) && (n === 'te' || upgrade)).toBe(true);
        }
        expect(names.filter((n) => n === 'host').length).toBeLessThanOrEqual(1);
        expect(names.filter((n) => n === 'x-forwarded-for').length).toBe(1);
        expect(out[names.indexOf('x-forwarded-for') * 2 + 1]).toBe('127.0.0.1');
      }),
      { numRuns: 1_000 },
    );
  });
});
