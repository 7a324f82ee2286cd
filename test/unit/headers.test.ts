import { describe, expect, it } from 'vitest';
import {
  buildUpstreamRequestHeaders,
  type ClientConnection,
  connectionTokens,
  dropHopByHop,
  type HeaderPolicy,
  isValidRequestId,
  upgradeProtocol,
} from '../../src/http/headers.ts';

const TP = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

// Tables list headers as [name, value] pairs; the functions take and give Node's flat rawHeaders.
type Pairs = readonly (readonly [string, string])[];
const flat = (pairs: Pairs): string[] => pairs.flat();

// The activator facing clients, and a queue-proxy behind the activator.
const edge: HeaderPolicy = { trustForwarded: false, stripInternal: true, newRequestId: () => 'new-id' };
const behindActivator: HeaderPolicy = {
  trustForwarded: true,
  stripInternal: false,
  newRequestId: () => 'new-id',
};
const client: ClientConnection = { remoteAddress: '10.0.0.9', protocol: 'http' };

/** The headers every forwarded request ends with, for a client at 10.0.0.9 over http. */
function forwarded(host: string | undefined, requestId = 'new-id'): Pairs {
  return [
    ['x-forwarded-for', '10.0.0.9'],
    ['x-forwarded-proto', 'http'],
    ...(host === undefined ? [] : [['x-forwarded-host', host] as const]),
    ['x-request-id', requestId],
  ];
}

interface Case {
  readonly name: string;
  readonly raw: Pairs;
  readonly policy?: HeaderPolicy;
  readonly client?: ClientConnection;
  readonly expected: Pairs;
}

const cases: readonly Case[] = [
  {
    name: 'a plain request gains forwarding headers and a request id',
    raw: [
      ['Host', 'a.b.svc'],
      ['Accept', '*/*'],
    ],
    expected: [['Host', 'a.b.svc'], ['Accept', '*/*'], ...forwarded('a.b.svc')],
  },
  {
    name: 'hop-by-hop headers are dropped, whatever their case',
    raw: [
      ['Host', 'h'],
      ['Connection', 'keep-alive'],
      ['Keep-Alive', 'timeout=5'],
      ['TRANSFER-ENCODING', 'chunked'],
      ['Proxy-Authorization', 'Basic eA=='],
      ['Proxy-Connection', 'keep-alive'],
      ['Trailer', 'Expires'],
      ['Upgrade', 'h2c'],
      ['TE', 'gzip'],
      ['Content-Type', 'text/plain'],
    ],
    expected: [['Host', 'h'], ['Content-Type', 'text/plain'], ...forwarded('h')],
  },
  {
    name: 'headers named in Connection are dropped, but never Host or Content-Length',
    raw: [
      ['Connection', 'close, X-Secret, host, content-length'],
      ['Connection', 'x-other'],
      ['X-Secret', '1'],
      ['X-Other', '2'],
      ['Host', 'h'],
      ['Content-Length', '3'],
    ],
    expected: [['Host', 'h'], ['Content-Length', '3'], ...forwarded('h')],
  },
  {
    name: 'TE: trailers passes through (gRPC needs it); other TE values do not',
    raw: [
      ['TE', 'gzip, trailers;q=1'],
      ['Host', 'h'],
    ],
    expected: [['Host', 'h'], ['te', 'trailers'], ...forwarded('h')],
  },
  {
    name: 'internal headers from a client are stripped at the edge',
    raw: [
      ['Host', 'h'],
      ['X-Zeroscale-Proxied', 'activator'],
      ['x-zeroscale-anything', 'x'],
      ['X-Zeroscaler', 'kept'],
    ],
    expected: [['Host', 'h'], ['X-Zeroscaler', 'kept'], ...forwarded('h')],
  },
  {
    name: 'internal headers from the activator are kept behind it',
    policy: behindActivator,
    raw: [
      ['Host', 'h'],
      ['X-Zeroscale-Proxied', 'activator'],
    ],
    expected: [['Host', 'h'], ['X-Zeroscale-Proxied', 'activator'], ...forwarded('h')],
  },
  {
    name: 'a client cannot forge X-Forwarded-* at the edge',
    raw: [
      ['Host', 'h'],
      ['X-Forwarded-For', '1.2.3.4'],
      ['X-Forwarded-Proto', 'https'],
      ['X-Forwarded-Host', 'evil.example'],
    ],
    expected: [['Host', 'h'], ...forwarded('h')],
  },
  {
    name: 'behind a trusted proxy X-Forwarded-For is appended to and -Proto/-Host are kept',
    policy: behindActivator,
    raw: [
      ['Host', 'h'],
      ['X-Forwarded-For', '1.2.3.4'],
      ['x-forwarded-for', '5.6.7.8'],
      ['X-Forwarded-Proto', 'https'],
      ['X-Forwarded-Host', 'shop.example.com'],
    ],
    expected: [
      ['Host', 'h'],
      ['x-forwarded-for', '1.2.3.4, 5.6.7.8, 10.0.0.9'],
      ['x-forwarded-proto', 'https'],
      ['x-forwarded-host', 'shop.example.com'],
      ['x-request-id', 'new-id'],
    ],
  },
  {
    name: 'behind a trusted proxy that sent no X-Forwarded-*, they are set as at the edge',
    policy: behindActivator,
    raw: [['Host', 'h']],
    expected: [['Host', 'h'], ...forwarded('h')],
  },
  {
    name: 'no peer address (socket gone): X-Forwarded-For is left out',
    client: { remoteAddress: undefined, protocol: 'https' },
    raw: [['Host', 'h']],
    expected: [
      ['Host', 'h'],
      ['x-forwarded-proto', 'https'],
      ['x-forwarded-host', 'h'],
      ['x-request-id', 'new-id'],
    ],
  },
  {
    name: 'a second Host header is dropped',
    raw: [
      ['Host', 'a.ns.svc'],
      ['Host', 'b.ns.svc'],
    ],
    expected: [['Host', 'a.ns.svc'], ...forwarded('a.ns.svc')],
  },
  {
    name: 'no Host: no X-Forwarded-Host',
    raw: [],
    expected: forwarded(undefined),
  },
  {
    name: 'a valid request id is propagated, once',
    raw: [
      ['Host', 'h'],
      ['X-Request-Id', 'bad id'],
      ['X-Request-ID', 'abc-123'],
      ['x-request-id', 'later'],
    ],
    expected: [['Host', 'h'], ...forwarded('h', 'abc-123')],
  },
  {
    name: 'an invalid request id is replaced',
    raw: [
      ['Host', 'h'],
      ['X-Request-Id', 'x'.repeat(129)],
    ],
    expected: [['Host', 'h'], ...forwarded('h')],
  },
  {
    name: 'a valid traceparent is kept with its tracestate lists joined',
    raw: [
      ['Host', 'h'],
      ['traceparent', TP],
      ['tracestate', 'a=1'],
      ['tracestate', 'b=2'],
    ],
    expected: [['Host', 'h'], ...forwarded('h'), ['traceparent', TP], ['tracestate', 'a=1,b=2']],
  },
  {
    name: 'an invalid traceparent is dropped along with tracestate',
    raw: [
      ['Host', 'h'],
      ['traceparent', TP.toUpperCase()],
      ['tracestate', 'a=1'],
    ],
    expected: [['Host', 'h'], ...forwarded('h')],
  },
  {
    name: 'two traceparent headers are invalid',
    raw: [
      ['Host', 'h'],
      ['traceparent', TP],
      ['Traceparent', TP],
    ],
    expected: [['Host', 'h'], ...forwarded('h')],
  },
  {
    name: 'a WebSocket upgrade keeps Connection: upgrade and Upgrade',
    raw: [
      ['Host', 'h'],
      ['Connection', 'Upgrade'],
      ['Upgrade', 'websocket'],
      ['Sec-WebSocket-Key', 'k'],
    ],
    expected: [
      ['Host', 'h'],
      ['Sec-WebSocket-Key', 'k'],
      ...forwarded('h'),
      ['connection', 'upgrade'],
      ['upgrade', 'websocket'],
    ],
  },
];

describe('buildUpstreamRequestHeaders', () => {
  it.each(cases)('$name', (c) => {
    const result = buildUpstreamRequestHeaders(flat(c.raw), c.client ?? client, c.policy ?? edge);
    expect(result.headers).toEqual(flat(c.expected));
  });

  it.each([
    {
      name: 'plain request',
      raw: [['Host', 'h']] as Pairs,
      expected: { requestId: 'new-id', trace: undefined, upgrade: undefined },
    },
    {
      name: 'propagated id, trace and upgrade',
      raw: [
        ['X-Request-Id', 'r1'],
        ['traceparent', TP],
        ['Connection', 'upgrade'],
        ['Upgrade', 'websocket'],
      ] as Pairs,
      expected: {
        requestId: 'r1',
        trace: { traceId: '0af7651916cd43dd8448eb211c80319c', parentId: 'b7ad6b7169203331', sampled: true },
        upgrade: 'websocket',
      },
    },
  ])('reports what it found: $name', ({ raw, expected }) => {
    expect(buildUpstreamRequestHeaders(flat(raw), client, edge)).toMatchObject(expected);
  });

  const OURS = '00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01';
  it.each<{ name: string; raw: Pairs; expected: Pairs }>([
    {
      name: "the proxy's traceparent replaces the client's; its tracestate goes on",
      raw: [
        ['Host', 'h'],
        ['traceparent', TP],
        ['tracestate', 'a=1'],
      ],
      expected: [['Host', 'h'], ...forwarded('h'), ['traceparent', OURS], ['tracestate', 'a=1']],
    },
    {
      name: "the proxy's traceparent starts the trace when the client sent none",
      raw: [['Host', 'h']],
      expected: [['Host', 'h'], ...forwarded('h'), ['traceparent', OURS]],
    },
    {
      name: "an invalid client traceparent: the proxy's is sent, the client's tracestate is not",
      raw: [
        ['Host', 'h'],
        ['traceparent', 'garbage'],
        ['tracestate', 'a=1'],
      ],
      expected: [['Host', 'h'], ...forwarded('h'), ['traceparent', OURS]],
    },
  ])('with a traceparent of its own: $name', ({ raw, expected }) => {
    const result = buildUpstreamRequestHeaders(flat(raw), client, edge, OURS);
    expect(result.headers).toEqual(flat(expected));
  });

  it('does not change the input array', () => {
    const raw = ['Host', 'h', 'Connection', 'close'];
    buildUpstreamRequestHeaders(raw, client, edge);
    expect(raw).toEqual(['Host', 'h', 'Connection', 'close']);
  });
});

describe('dropHopByHop', () => {
  it.each<{ name: string; raw: Pairs; expected: Pairs }>([
    {
      name: 'response with hop-by-hop and Connection-named headers; repeated Set-Cookie kept',
      raw: [
        ['Content-Type', 'text/plain'],
        ['Connection', 'keep-alive, X-Debug'],
        ['X-Debug', '1'],
        ['Transfer-Encoding', 'chunked'],
        ['Set-Cookie', 'a=1'],
        ['Set-Cookie', 'b=2'],
      ],
      expected: [
        ['Content-Type', 'text/plain'],
        ['Set-Cookie', 'a=1'],
        ['Set-Cookie', 'b=2'],
      ],
    },
    { name: 'nothing to drop', raw: [['A', '1']], expected: [['A', '1']] },
    { name: 'empty', raw: [], expected: [] },
  ])('$name', ({ raw, expected }) => {
    expect(dropHopByHop(flat(raw))).toEqual(flat(expected));
  });
});

describe('connectionTokens and upgradeProtocol', () => {
  it.each<{ name: string; raw: Pairs; tokens: string[] | undefined; upgrade: string | undefined }>([
    { name: 'no Connection header', raw: [['Host', 'h']], tokens: undefined, upgrade: undefined },
    {
      name: 'tokens from every Connection header, lower-cased',
      raw: [
        ['Connection', 'Keep-Alive, X-A'],
        ['connection', ' ,x-b '],
      ],
      tokens: ['keep-alive', 'x-a', 'x-b'],
      upgrade: undefined,
    },
    {
      name: 'Upgrade without Connection: upgrade is no upgrade',
      raw: [['Upgrade', 'websocket']],
      tokens: undefined,
      upgrade: undefined,
    },
    {
      name: 'an upgrade request',
      raw: [
        ['Connection', 'keep-alive, Upgrade'],
        ['Upgrade', 'websocket'],
      ],
      tokens: ['keep-alive', 'upgrade'],
      upgrade: 'websocket',
    },
  ])('$name', ({ raw, tokens, upgrade }) => {
    const got = connectionTokens(flat(raw));
    expect(got === undefined ? undefined : [...got]).toEqual(tokens);
    expect(upgradeProtocol(flat(raw))).toBe(upgrade);
  });
});

describe('isValidRequestId', () => {
  it.each([
    ['3f2a9c1e-8b7d-4e2f-9a1b-0c3d5e7f9a2b', true],
    ['01HZX3K9YV5J8QW2N4R6T8V0XC', true],
    ['dGVzdA==', true],
    ['a/b:c@d.e_f~g+h', true],
    ['', false],
    ['has space', false],
    ['line\nbreak', false],
    ['quote"', false],
    ['x'.repeat(128), true],
    ['x'.repeat(129), false],
  ])('%j → %s', (id, expected) => {
    expect(isValidRequestId(id)).toBe(expected);
  });
});
