// A request held as its bare connection. A cold service's requests can wait minutes, thousands at
// once; through Node's HTTP server each costs the activator ~14 KB (Node's parser alone ~10 KB of
// malloc), as a kept socket with its head bytes ~4 KB (measured over 10,000: +145 vs +36 MB RSS).
// So the first request of a new connection that is one
// complete bodiless head (http/request-sniff.ts) for a service with no ready pod waits here,
// before Node's parser is attached; when the Breaker gives it a slot the connection goes to Node,
// which parses the head at once, and the request takes the ordinary path holding that slot.

import type { Socket } from 'node:net';
import { HeldSignal } from '../dataplane/held.ts';
import { ZeroscaleError } from '../errors.ts';
import type { ColdStart } from './cold-start.ts';
import type { ServiceThrottler } from './service-throttler.ts';

/**
 * Bytes a kept connection may send after its head (pipelined requests) while it waits; beyond
 * them it is answered 503 pipeline-flood, as the server answers deep pipelines. Reading on, not
 * pausing, is what keeps a leaving client visible.
 */
export const MAX_PARKED_EXTRA_BYTES = 16 * 1024;

const PIPELINE_FLOOD = (): ZeroscaleError =>
  new ZeroscaleError(
    'PIPELINE_FLOOD',
    `more than ${MAX_PARKED_EXTRA_BYTES} bytes pipelined behind a request waiting for capacity`,
    { httpStatus: 503 },
  );

export class ParkedRequest extends HeldSignal {
  readonly service: ServiceThrottler;
  readonly socket: Socket;
  /** The head, then whatever the client sent after it while kept (pipelined requests). */
  bytes: Buffer;
  readonly headBytes: number;
  readonly startedAt: number;
  /** The service key its host named (a route's, for a revision picked from a split). */
  readonly hostKey: string;
  coldStart: ColdStart | undefined = undefined;

  constructor(service: ServiceThrottler, hostKey: string, socket: Socket, head: Buffer, startedAt: number) {
    super();
    this.service = service;
    this.hostKey = hostKey;
    this.socket = socket;
    this.bytes = head;
    this.headBytes = head.length;
    this.startedAt = startedAt;
  }
}

const kParked = Symbol('zeroscale.parked');
interface ParkedSocket {
  [kParked]?: ParkedRequest | undefined;
}

// Module-level: no closure per kept connection. Reading on keeps the client's leaving visible.
function onParkedBytes(this: Socket & ParkedSocket, chunk: Buffer): void {
  const parked = this[kParked];
  if (parked === undefined) return;
  parked.bytes = Buffer.concat([parked.bytes, chunk]);
  if (parked.bytes.length > parked.headBytes + MAX_PARKED_EXTRA_BYTES) parked.abort(PIPELINE_FLOOD());
}

// A client that half-closes has left, as for a parsed request (Node's server ends the connection).
function onParkedEnd(this: Socket & ParkedSocket): void {
  this[kParked]?.abort();
}

/** Keeps reading `parked`'s socket into its bytes until `stopReading`. */
export function keepReading(parked: ParkedRequest): void {
  const socket = parked.socket as Socket & ParkedSocket;
  socket[kParked] = parked;
  socket.on('data', onParkedBytes);
  socket.once('end', onParkedEnd);
  socket.resume();
}

export function stopReading(parked: ParkedRequest): void {
  const socket = parked.socket as Socket & ParkedSocket;
  socket.removeListener('data', onParkedBytes);
  socket.removeListener('end', onParkedEnd);
  socket.pause();
  socket[kParked] = undefined;
}

/**
 * Marks `socket` as resumed with a slot for `parked`, so that the request Node parses from it
 * next is known as that one (`claimParked`).
 */
export function markResumed(parked: ParkedRequest): void {
  (parked.socket as Socket & ParkedSocket)[kParked] = parked;
}

/** The parked request whose connection `socket` is, once; undefined for every other request. */
export function claimParked(socket: Socket): ParkedRequest | undefined {
  const s = socket as Socket & ParkedSocket;
  const parked = s[kParked];
  if (parked !== undefined) s[kParked] = undefined;
  return parked;
}
