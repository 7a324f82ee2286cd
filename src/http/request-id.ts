// Request ids (X-Request-Id) for requests that arrive without one: a random UUID v4 made from
// Math.random, not node:crypto, whose loading costs the queue-proxy 1.3 MB of memory in every pod
// (bench/results/sidecar.md). An id names a request in logs and traces and nothing trusts it, so
// it needs to be unique, which V8's generator (128 bits of state, seeded at start) gives, not
// unpredictable.

const HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => (i + 0x100).toString(16).slice(1));

const word = (): number => (Math.random() * 0x1_0000_0000) >>> 0;

function hex4(w: number): string {
  return HEX[w >>> 24]! + HEX[(w >>> 16) & 0xff]! + HEX[(w >>> 8) & 0xff]! + HEX[w & 0xff]!;
}

/** `xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`, y one of 8, 9, a, b (RFC 9562 version 4). */
export function newRequestId(): string {
  const a = word();
  const b = ((word() & 0xffff0fff) | 0x00004000) >>> 0;
  const c = ((word() & 0x3fffffff) | 0x80000000) >>> 0;
  const d = word();
  const bh = hex4(b);
  const ch = hex4(c);
  return `${hex4(a)}-${bh.slice(0, 4)}-${bh.slice(4)}-${ch.slice(0, 4)}-${ch.slice(4)}${hex4(d)}`;
}
