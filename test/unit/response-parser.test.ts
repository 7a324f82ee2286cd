// The upstream response parser by table: every response is also fed split at every byte, so a
// read boundary can never change what is parsed.

import { describe, expect, it } from 'vitest';
import {
  parseHead,
  type ResponseHead,
  type ResponseListener,
  ResponseParseError,
  ResponseParser,
} from '../../src/http/response-parser.ts';

interface Parsed {
  head: Pick<ResponseHead, 'status' | 'statusMessage' | 'headers' | 'framing' | 'keepAlive'> | undefined;
  body: string;
  ended: boolean;
  extra: number;
}

class Recorder implements ResponseListener {
  head: ResponseHead | undefined;
  body = '';
  ended = false;
  onResponseHead(head: ResponseHead): void {
    this.head = head;
  }
  onResponseBody(chunk: Buffer): void {
    this.body += chunk.toString('latin1');
  }
  onResponseEnd(): void {
    this.ended = true;
  }
}

/** Feeds `wire` in pieces cut at `cuts`; `close` ends the connection afterwards. */
function parse(wire: string, options: { method?: string; cuts?: number[]; close?: boolean } = {}): Parsed {
  const parser = new ResponseParser({ maxHeadBytes: 1024 });
  const recorder = new Recorder();
  parser.start(options.method ?? 'GET', recorder);
  const bytes = Buffer.from(wire, 'latin1');
  const cuts = [0, ...(options.cuts ?? []), bytes.length];
  let extra = 0;
  for (let i = 0; i + 1 < cuts.length; i++) {
    const piece = bytes.subarray(cuts[i]!, cuts[i + 1]!);
    if (piece.length > 0) extra += parser.execute(piece);
  }
  if (options.close === true) parser.finish();
  const h = recorder.head;
  return {
    head:
      h === undefined
        ? undefined
        : {
            status: h.status,
            statusMessage: h.statusMessage,
            headers: h.headers,
            framing: h.framing,
            keepAlive: h.keepAlive,
          },
    body: recorder.body,
    ended: recorder.ended,
    extra,
  };
}

/** Parses whole, then split at every single byte and at every pair of positions near the seams. */
function parseEveryWay(wire: string, options: { method?: string; close?: boolean } = {}): Parsed {
  const whole = parse(wire, options);
  for (let cut = 1; cut < wire.length; cut++) {
    expect(parse(wire, { ...options, cuts: [cut] }), `split at ${cut}`).toEqual(whole);
  }
  const bytewise = Array.from({ length: wire.length - 1 }, (_, i) => i + 1);
  expect(parse(wire, { ...options, cuts: bytewise }), 'byte by byte').toEqual(whole);
  return whole;
}

describe('ResponseParser: framing', () => {
  const cases: readonly {
    name: string;
    wire: string;
    method?: string;
    close?: boolean;
    expected: Partial<Parsed> & { framing?: string };
  }[] = [
    {
      name: 'Content-Length body',
      wire: 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello',
      expected: { body: 'hello', ended: true, framing: 'length' },
    },
    {
      name: 'empty Content-Length body ends with the head',
      wire: 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n',
      expected: { body: '', ended: true, framing: 'length' },
    },
    {
      name: 'chunked body with extensions and trailers, decoded',
      wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nx-trailer: t\r\n\r\n',
      expected: { body: 'hello, world', ended: true, framing: 'chunked' },
    },
    {
      name: 'chunk sizes in upper case hex',
      wire: `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nA\r\n${'x'.repeat(10)}\r\n0\r\n\r\n`,
      expected: { body: 'x'.repeat(10), ended: true },
    },
    {
      name: 'HEAD: no body whatever the headers say',
      wire: 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n',
      method: 'HEAD',
      expected: { body: '', ended: true, framing: 'none' },
    },
    {
      name: '204 and 304 have no body',
      wire: 'HTTP/1.1 204 No Content\r\n\r\n',
      expected: { ended: true, framing: 'none' },
    },
    {
      name: 'interim 100 Continue and 103 Early Hints are skipped',
      wire: 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok',
      expected: { body: 'ok', ended: true, framing: 'length' },
    },
    {
      name: 'no length: the body runs to the close, and the connection is not kept',
      wire: 'HTTP/1.1 200 OK\r\n\r\nuntil close',
      close: true,
      expected: { body: 'until close', ended: true, framing: 'close' },
    },
    {
      name: 'a coding other than chunked last: read to the close',
      wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzzz',
      close: true,
      expected: { body: 'zzz', ended: true, framing: 'close' },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const parsed = parseEveryWay(c.wire, {
        ...(c.method ? { method: c.method } : {}),
        ...(c.close ? { close: true } : {}),
      });
      const { framing, ...rest } = c.expected;
      expect(parsed).toMatchObject(rest);
      if (framing !== undefined) expect(parsed.head?.framing).toBe(framing);
      expect(parsed.extra).toBe(0);
    });
  }

  it('keeps the raw header names and trimmed values in order', () => {
    const parsed = parse('HTTP/1.1 404 Not Found\r\nX-A:  1 \r\nx-b:2\r\nContent-Length: 0\r\n\r\n');
    expect(parsed.head).toEqual({
      status: 404,
      statusMessage: 'Not Found',
      headers: ['X-A', '1', 'x-b', '2', 'Content-Length', '0'],
      framing: 'length',
      keepAlive: true,
    });
  });

  it('reports bytes beyond the response as extra: the connection must not be reused', () => {
    const parsed = parse('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n\r\n');
    expect(parsed.body).toBe('ok');
    expect(parsed.extra).toBe('HTTP/1.1 200 OK\r\n\r\n'.length);
  });
});

describe('ResponseParser: keep-alive', () => {
  const cases: readonly [string, string, boolean, number | undefined][] = [
    ['HTTP/1.1 keeps by default', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', true, undefined],
    [
      'Connection: close',
      'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n',
      false,
      undefined,
    ],
    ['HTTP/1.0 closes by default', 'HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n', false, undefined],
    [
      'HTTP/1.0 with keep-alive',
      'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n',
      true,
      undefined,
    ],
    [
      'Keep-Alive timeout hint',
      'HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\nContent-Length: 0\r\n\r\n',
      true,
      5000,
    ],
  ];
  for (const [name, wire, keepAlive, hint] of cases) {
    it(name, () => {
      const head = parseHead(wire.slice(0, wire.indexOf('\r\n\r\n')), false)!;
      expect(head.keepAlive).toBe(keepAlive);
      expect(head.keepAliveTimeoutMs).toBe(hint);
    });
  }
});

describe('ResponseParser: refuses what could desynchronise a connection', () => {
  const cases: readonly [string, string, { close?: boolean }?][] = [
    ['a status line that is not HTTP/1.x', 'HTTP/2 200 OK\r\n\r\n'],
    ['a garbage status line', 'hello\r\n\r\n'],
    ['a two-digit status', 'HTTP/1.1 20 OK\r\n\r\n'],
    [
      'Transfer-Encoding and Content-Length together',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n',
    ],
    ['two Content-Length headers', 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc'],
    ['a Content-Length that is not a number', 'HTTP/1.1 200 OK\r\nContent-Length: 3x\r\n\r\nabc'],
    ['a negative Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n'],
    ['a folded header line', 'HTTP/1.1 200 OK\r\nX-A: 1\r\n  continued\r\nContent-Length: 0\r\n\r\n'],
    ['a space before the colon', 'HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n'],
    ['a header without a colon', 'HTTP/1.1 200 OK\r\nnonsense\r\n\r\n'],
    ['a control character in a value', 'HTTP/1.1 200 OK\r\nX-A: a\u0001b\r\nContent-Length: 0\r\n\r\n'],
    ['a bare LF inside a value', 'HTTP/1.1 200 OK\r\nX-A: a\nb\r\nContent-Length: 0\r\n\r\n'],
    ['an invalid chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'],
    ['a chunk not followed by CRLF', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n'],
    ['101 to a request that did not ask for an upgrade', 'HTTP/1.1 101 Switching Protocols\r\n\r\n'],
    ['a head larger than the limit', `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(2000)}\r\n\r\n`],
    [
      'a close before the Content-Length is complete',
      'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc',
      { close: true },
    ],
    [
      'a close in the middle of a chunked body',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab',
      { close: true },
    ],
    ['a close before any head', 'HTTP/1.1 200 O', { close: true }],
  ];
  for (const [name, wire, options] of cases) {
    it(name, () => {
      expect(() => parse(wire, options ?? {})).toThrow(ResponseParseError);
    });
  }
});
