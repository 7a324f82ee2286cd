// The first-bytes sniffer that decides whether the activator may hold a connection as bare bytes:
// what it accepts (one complete bodiless HTTP/1.1 head, and its Host) and everything it must send
// the ordinary way. Random bytes never make it throw or accept a head Node would read otherwise
// (test/component/request-sniff.test.ts checks agreement with Node's own parser).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_SNIFFED_HEAD_BYTES, sniffParkableHost } from '../../src/http/request-sniff.ts';

const sniff = (text: string): string | undefined => sniffParkableHost(Buffer.from(text, 'latin1'));

describe('sniffParkableHost', () => {
  it.each([
    ['a plain GET', 'GET / HTTP/1.1\r\nHost: a.b\r\n\r\n', 'a.b'],
    [
      'a path, query, port and other headers',
      'HEAD /x?y=1 HTTP/1.1\r\nhost:  a.b:8080 \r\nAccept: */*\r\n\r\n',
      'a.b:8080',
    ],
    ['Content-Length: 0', 'DELETE /k HTTP/1.1\r\nContent-Length: 0\r\nHost: a\r\n\r\n', 'a'],
    ['Connection: keep-alive (browsers)', 'GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n', 'a'],
    ['an empty header value', 'GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\n\r\n', 'a'],
  ])('accepts %s', (_name, head, host) => {
    expect(sniff(head)).toBe(host);
  });

  it.each([
    ['no Host', 'GET / HTTP/1.1\r\nAccept: */*\r\n\r\n'],
    ['two Hosts', 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'],
    ['an empty Host', 'GET / HTTP/1.1\r\nHost: \r\n\r\n'],
    ['a body length', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n'],
    [
      'two Content-Length lines, both 0',
      'HEAD /p HTTP/1.1\r\nHost: a\r\nContent-Length:\t0\t\r\nContent-Length: 0\r\n\r\n',
    ],
    ['chunked', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n'],
    ['an upgrade', 'GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'],
    ['Expect', 'PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n'],
    ['an internal header', 'GET / HTTP/1.1\r\nHost: a\r\nX-Zeroscale-Probe: activator\r\n\r\n'],
    ['a long internal header', 'GET / HTTP/1.1\r\nHost: a\r\nX-Zeroscale-Proxied: forged\r\n\r\n'],
    ['bytes after the head', 'GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['an incomplete head', 'GET / HTTP/1.1\r\nHost: a\r\n'],
    ['HTTP/1.0', 'GET / HTTP/1.0\r\nHost: a\r\n\r\n'],
    ['HTTP/2 preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'],
    ['absolute form', 'GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['CONNECT', 'CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n'],
    ['asterisk form', 'OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['obs-fold', 'GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n'],
    ['a bare LF', 'GET / HTTP/1.1\nHost: a\r\n\r\n'],
    ['a bare CR in a value', 'GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n'],
    ['a control byte in a value', 'GET / HTTP/1.1\r\nHost: a\u0001\r\n\r\n'],
    ['a space before the colon', 'GET / HTTP/1.1\r\nHost : a\r\n\r\n'],
    ['a header without a colon', 'GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n'],
    ['two spaces in the request line', 'GET  / HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['a non-token method', 'G(T / HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['a space in the target', 'GET /a b HTTP/1.1\r\nHost: a\r\n\r\n'],
  ])('sends %s the ordinary way', (_name, head) => {
    expect(sniff(head)).toBeUndefined();
  });

  it('sends a head longer than its limit the ordinary way', () => {
    const head = (pad: number): string => `GET / HTTP/1.1\r\nHost: a\r\nX-Pad: ${'p'.repeat(pad)}\r\n\r\n`;
    const fits = MAX_SNIFFED_HEAD_BYTES - head(0).length;
    expect(sniff(head(fits))).toBe('a');
    expect(sniff(head(fits + 1))).toBeUndefined();
  });

  it('never throws, and accepts only one complete head ending the bytes, with one Host line', () => {
    const byte = fc.constantFrom(...'GET /HTTP1.\r\n :Hostabc\t\u0000\u007fxX-Content-Length0'.split(''));
    fc.assert(
      fc.property(fc.array(byte, { maxLength: 120 }), fc.boolean(), (chars, prefixed) => {
        const text = (prefixed ? 'GET / HTTP/1.1\r\nHost: h\r\n' : '') + chars.join('');
        const host = sniff(text);
        if (host === undefined) return;
        expect(text.endsWith('\r\n\r\n')).toBe(true);
        expect(text.indexOf('\r\n\r\n')).toBe(text.length - 4);
        expect(text.match(/\r\nhost:/gi)).toHaveLength(1);
        expect(text.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
      }),
      { numRuns: 2_000 },
    );
  });
});
