// A request held as its bare connection. A cold service's requests can wait minutes, thousands at
// once; through Node's HTTP server each costs ~12 KB (its parser alone ~10 KB native), as a kept
// socket with its head bytes ~2.5 KB. So the first request of a new connection that is one
// complete bodiless head (http/request-sniff.ts) for a service with no ready pod waits here,
// before Node's parser is attached; when the Breaker gives it a slot the connection goes to Node,
// which parses the head at once, and the request takes the ordinary path holding that slot.

import type { Socket } from 'node:net';
import { HeldSignal } from '../dataplane/held.ts';
import type { ColdStart } from './cold-start.ts';
import type { ServiceState } from './service-state.ts';

/** Bytes a kept connection may add after its head (a pipelined request); then it is paused. */
export const MAX_PARKED_EXTRA_BYTES = 16 * 1024;

export class ParkedRequest extends HeldSignal {
  readonly service: ServiceState;
  readonly socket: Socket;
  /** The head, then whatever the client sent after it while kept (pipelined requests). */
  bytes: Buffer;
  readonly startedAt: number;
  coldStart: ColdStart | undefined = undefined;

  constructor(service: ServiceState, socket: Socket, head: Buffer, startedAt: number) {
    super();
    this.service = service;
    this.socket = socket;
    this.bytes = head;
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
  if (parked.bytes.length > MAX_PARKED_EXTRA_BYTES) this.pause();
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
