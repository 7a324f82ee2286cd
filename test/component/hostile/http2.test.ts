// HTTP/2 attacks on both proxies' serving ports, with frames written by hand on a raw socket
// (no client library to smooth them): the 2023 rapid-reset flood, SETTINGS and PING floods,
// garbage after the preface, a header block over the limit, more streams than allowed. Each must
// leave the proxy serving other clients, end the attacker's connection or refuse its excess, and
// return every stream, request and connection; heap is checked at the end.

import http2 from 'node:http2';
import net from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  COLD,
  expectHealthy,
  type HostileRig,
  heapUsedAfterGc,
  hostileTargets,
  LOOPBACK,
  metricValue,
  scrape,
  type Target,
  useHostileRig,
  waitFor,
} from './rig.ts';

const suite = useHostileRig();
const crashes = suite.crashes;
let rig: HostileRig;
let baselineHeap = 0;

beforeAll(async () => {
  rig = suite.rig();
  baselineHeap = heapUsedAfterGc();
});

// ---- frames (RFC 9113 §4.1, §6) -----------------------------------------------------------------

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const HEADERS = 0x1;
const RST_STREAM = 0x3;
const SETTINGS = 0x4;
const PING = 0x6;
const GOAWAY = 0x7;
const END_STREAM = 0x1;
const END_HEADERS = 0x4;
const CANCEL = 0x8;
const REFUSED_STREAM = 0x7;

function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

/** HPACK string literal, no Huffman (RFC 7541 §5.2); lengths under 127 only. */
function hpackString(s: string): Buffer {
  const bytes = Buffer.from(s, 'latin1');
  if (bytes.length >= 127) {
    // 7-bit prefix integer continued (RFC 7541 §5.1).
    const rest: number[] = [];
    let n = bytes.length - 127;
    while (n >= 128) {
      rest.push((n % 128) + 128);
      n = Math.floor(n / 128);
    }
    rest.push(n);
    return Buffer.concat([Buffer.from([127, ...rest]), bytes]);
  }
  return Buffer.concat([Buffer.from([bytes.length]), bytes]);
}

/** A GET's header block: :method GET, :scheme http, :path / (static table), :authority literal. */
function getBlock(authority: string, extra: [string, string][] = []): Buffer {
  const parts: Buffer[] = [Buffer.from([0x82, 0x86, 0x84]), Buffer.from([0x01]), hpackString(authority)];
  // Literal header field without indexing, new name (RFC 7541 §6.2.2).
  for (const [name, value] of extra) parts.push(Buffer.from([0x00]), hpackString(name), hpackString(value));
  return Buffer.concat(parts);
}

/** Opens a raw connection, writes `bytes`, and resolves when the server closes it or after `waitMs`. */
function rawH2(port: number, bytes: Buffer, waitMs = 3_000): Promise<{ closed: boolean; received: Buffer }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, LOOPBACK);
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ closed, received: Buffer.concat(chunks) });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('connect', () => socket.write(bytes));
  });
}

/** The error codes of the frames of one type (GOAWAY: at offset 4; RST_STREAM: 0) a server sent. */
function errorCodes(received: Buffer, type: number, offset: number): number[] {
  const codes: number[] = [];
  let at = 0;
  while (at + 9 <= received.length) {
    const length = received.readUIntBE(at, 3);
    if (received[at + 3] === type && at + 9 + offset + 4 <= received.length) {
      codes.push(received.readUInt32BE(at + 9 + offset));
    }
    at += 9 + length;
  }
  return codes;
}
const goawayCodes = (received: Buffer): number[] => errorCodes(received, GOAWAY, 4);
const rstCodes = (received: Buffer): number[] => errorCodes(received, RST_STREAM, 0);

/** Streams served to a well-behaved HTTP/2 client while `during` runs: every one must succeed. */
async function servedDuring<T>(t: Target, during: Promise<T>): Promise<{ result: T; served: number }> {
  const { port, host } = t.good();
  const session = http2.connect(`http://${LOOPBACK}:${port}`);
  session.on('error', () => {});
  let served = 0;
  let failed = 0;
  let stop = false;
  const loop = (async () => {
    while (!stop) {
      await new Promise<void>((resolve) => {
        const s = session.request({ ':path': '/echo', ':authority': host });
        s.on('response', (h) => {
          if (h[':status'] === 200) served++;
          else failed++;
        });
        s.on('error', () => failed++);
        s.resume();
        s.on('close', () => resolve());
      });
    }
  })();
  const result = await during;
  stop = true;
  await loop;
  session.close();
  expect(failed, 'requests of the well-behaved client that failed').toBe(0);
  return { result, served };
}

const targets = hostileTargets(() => rig);

for (const t of targets) {
  describe(`${t.name}: HTTP/2 floods and malformed frames`, () => {
    it('survives a rapid-reset flood (HEADERS then RST_STREAM, 5,000 times) and ends the connection', async () => {
      const { port, host } = t.good();
      const frames: Buffer[] = [PREFACE, frame(SETTINGS, 0, 0)];
      const block = getBlock(host);
      for (let i = 0; i < 5_000; i++) {
        const id = 2 * i + 1;
        frames.push(frame(HEADERS, END_STREAM | END_HEADERS, id, block));
        const code = Buffer.alloc(4);
        code.writeUInt32BE(CANCEL);
        frames.push(frame(RST_STREAM, 0, id, code));
      }
      const { result, served } = await servedDuring(t, rawH2(port, Buffer.concat(frames), 10_000));
      expect(result.closed, 'the flooding connection is closed').toBe(true);
      expect(served).toBeGreaterThan(0);
      await expectHealthy(rig, t, crashes);
    });

    it('survives SETTINGS and PING floods (50,000 frames each)', async () => {
      const { port } = t.good();
      for (const type of [SETTINGS, PING]) {
        const one = type === PING ? frame(PING, 0, 0, Buffer.alloc(8)) : frame(SETTINGS, 0, 0);
        const flood = Buffer.concat([
          PREFACE,
          frame(SETTINGS, 0, 0),
          ...Array.from({ length: 50_000 }, () => one),
        ]);
        const { result } = await servedDuring(t, rawH2(port, flood, 10_000));
        // Either every frame was answered (the client read its ACKs) or the flood ended the
        // connection; what matters is that the process lives and the others were served.
        expect(result.closed || result.received.length > 0).toBe(true);
      }
      await expectHealthy(rig, t, crashes);
    });

    it('closes a connection whose preface is followed by garbage, with GOAWAY', async () => {
      const { port } = t.good();
      const result = await rawH2(
        port,
        Buffer.concat([PREFACE, Buffer.from('this is not a frame at all\r\n\r\n')]),
      );
      expect(result.closed).toBe(true);
      expect(goawayCodes(result.received).some((c) => c !== 0)).toBe(true);
      await expectHealthy(rig, t, crashes);
    });

    it('answers a header block over the limit with 431, and the connection serves on', async () => {
      const { port, host } = t.good();
      const session = http2.connect(`http://${LOOPBACK}:${port}`);
      session.on('error', () => {});
      try {
        const status = (headers: http2.OutgoingHttpHeaders): Promise<number> =>
          new Promise((resolve) => {
            const s = session.request({ ':path': '/echo', ':authority': host, ...headers });
            s.on('response', (h) => resolve(Number(h[':status'])));
            s.on('error', () => resolve(-1));
            s.resume();
          });
        expect(await status({ 'x-big': 'a'.repeat(20_000) })).toBe(431);
        expect(await status({})).toBe(200);
      } finally {
        session.close();
      }
      await expectHealthy(rig, t, crashes);
    });
  });
}

describe('activator: more streams than a connection may open', () => {
  it('holds 250 streams for a cold service on one connection and refuses the other 50', async () => {
    const port = rig.activator.activator.port;
    const socket = net.connect(port, LOOPBACK);
    socket.on('error', () => {});
    const received: Buffer[] = [];
    socket.on('data', (d: Buffer) => received.push(d));
    const block = getBlock(COLD);
    const frames: Buffer[] = [PREFACE, frame(SETTINGS, 0, 0)];
    for (let i = 0; i < 300; i++) frames.push(frame(HEADERS, END_STREAM | END_HEADERS, 2 * i + 1, block));
    socket.write(Buffer.concat(frames));
    try {
      await waitFor(
        '250 held',
        () => rig.activator.activator.service('default', 'cold')?.queued === 250 || undefined,
      );
      const refused = (): number =>
        rstCodes(Buffer.concat(received)).filter((c) => c === REFUSED_STREAM).length;
      await waitFor('50 refused', () => refused() === 50 || undefined);
      const text = await scrape(rig.activator.activator.metricsPort);
      expect(metricValue(text, 'zeroscale_activator_http2_streams')).toBe(250);
    } finally {
      socket.destroy();
    }
    await rig.settled();
  });
});

describe('after every HTTP/2 attack', () => {
  it('heap is back near its baseline and nothing crashed', async () => {
    await rig.settled();
    expect(crashes).toEqual([]);
    const grown = heapUsedAfterGc() - baselineHeap;
    expect(grown, `heap grew by ${grown} bytes`).toBeLessThan(32 * 1024 * 1024);
  });
});
