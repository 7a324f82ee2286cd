// What a client is told when its request is refused before any handler sees it: a reason per
// kind (counted as a rejection), and a fixed answer with a stable code in x-zeroscale-error.

import http from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/** Why a connection was answered before any request reached the handler. */
export type ClientErrorKind =
  | 'bad-request'
  | 'headers-too-large'
  | 'headers-timeout'
  | 'connection-error'
  /** No Host header (an HTTP/1.0 request; Node refuses HTTP/1.1 ones itself), or an empty one. */
  | 'missing-host'
  /** More than one Host header, or one that is not a host[:port] (RFC 9112 §3.2: 400). */
  | 'bad-host'
  /** A Transfer-Encoding other than chunked (RFC 9112 §6.1: the length cannot be known: 400). */
  | 'bad-transfer-encoding'
  /** A request target that is neither origin-form (`/path`), absolute-form (`http://h/p`) nor `*`. */
  | 'bad-target'
  /** More pipelined requests waiting on one connection than `maxPipelinedRequests`. */
  | 'pipeline-flood'
  /** `Expect: 100-continue` with a declared body over `maxBodyBytes`. */
  | 'expect-too-large'
  /** A connection beyond `maxConnections`. */
  | 'too-many-connections'
  /** An HTTP/2 connection ended in a protocol error: a malformed frame, a flood of frames or resets. */
  | 'http2-protocol-error';

export function clientErrorKind(err: { code?: string }): ClientErrorKind {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return 'headers-too-large';
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return 'headers-timeout';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'connection-error';
    default:
      return 'bad-request';
  }
}

interface ClientErrorAnswer {
  readonly status: number;
  readonly code: string;
  readonly body: string;
}

export const CLIENT_ERROR_ANSWERS: { readonly [K in ClientErrorKind]: ClientErrorAnswer | undefined } = {
  'bad-request': { status: 400, code: 'BAD_REQUEST', body: 'malformed request\n' },
  'headers-too-large': { status: 431, code: 'HEADERS_TOO_LARGE', body: 'request headers too large\n' },
  'headers-timeout': { status: 408, code: 'HEADERS_TIMEOUT', body: 'request headers not received in time\n' },
  'missing-host': { status: 400, code: 'MISSING_HOST', body: 'request has no Host header\n' },
  'bad-host': { status: 400, code: 'BAD_HOST', body: 'request has more than one Host, or an invalid one\n' },
  'bad-transfer-encoding': {
    status: 400,
    code: 'BAD_TRANSFER_ENCODING',
    body: 'only the chunked transfer coding is accepted\n',
  },
  'bad-target': { status: 400, code: 'BAD_TARGET', body: 'request target is not a path or an http URL\n' },
  'pipeline-flood': {
    status: 503,
    code: 'PIPELINE_FLOOD',
    body: 'too many pipelined requests on one connection\n',
  },
  'expect-too-large': { status: 413, code: 'BODY_TOO_LARGE', body: 'request body too large\n' },
  'connection-error': undefined,
  'too-many-connections': undefined,
  'http2-protocol-error': undefined,
};

const CLIENT_ERROR_RESPONSES: { readonly [K in ClientErrorKind]: string | undefined } = Object.fromEntries(
  Object.entries(CLIENT_ERROR_ANSWERS).map(([kind, a]) => [
    kind,
    a === undefined ? undefined : rawResponse(a),
  ]),
) as { readonly [K in ClientErrorKind]: string | undefined };

function rawResponse(a: ClientErrorAnswer): string {
  return (
    `HTTP/1.1 ${a.status} ${http.STATUS_CODES[a.status]}\r\ncontent-type: text/plain; charset=utf-8\r\n` +
    `content-length: ${Buffer.byteLength(a.body)}\r\nx-zeroscale-error: ${a.code}\r\nconnection: close\r\n\r\n${a.body}`
  );
}

/** Answers a refused upgrade request on its raw socket and closes it. */
export function writeRaw(socket: Duplex, kind: ClientErrorKind): void {
  const answer = CLIENT_ERROR_RESPONSES[kind];
  if (answer !== undefined && socket.writable) socket.end(answer);
  else socket.destroy();
}

export function answerClientError(kind: ClientErrorKind, socket: Socket): void {
  const answer = CLIENT_ERROR_RESPONSES[kind];
  // Node's own rule: write only if no response of this connection has begun.
  const inProgress = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (answer !== undefined && socket.writable && (inProgress === undefined || !inProgress.headersSent)) {
    socket.end(answer);
  } else {
    socket.destroy();
  }
}
