// The catalogue of ways a forwarded request can fail, with the status a client gets for each and
// whether the request may be sent again to another upstream.

import { STATUS_CODES } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';
import { type ClientResponse, clientGone, endWithHeadersOnly, isHttp2Response } from './client-message.ts';
import { grpcErrorHeaders, isGrpcRequest } from './grpc.ts';
import { ERROR_CODE_HEADER } from './internal-headers.ts';

export type ProxyFailureCode =
  /** Never connected (refused, unreachable, connect timeout): the upstream saw nothing. */
  | 'UPSTREAM_CONNECT_FAILED'
  /** The connection was reset or closed before a response began. */
  | 'UPSTREAM_RESET'
  /** The upstream answered with something that is not valid HTTP/1.1. */
  | 'UPSTREAM_PROTOCOL_ERROR'
  /** Any other error on the upstream connection. */
  | 'UPSTREAM_ERROR'
  /** The upstream died after the response began: only the connection to the client can be cut. */
  | 'UPSTREAM_RESPONSE_ABORTED'
  /** The whole-request deadline (timeoutSeconds) passed. */
  | 'REQUEST_TIMEOUT'
  /** The upstream took longer than the response-start timeout to begin answering. */
  | 'RESPONSE_START_TIMEOUT'
  /** No byte moved either way on the upstream connection for the idle timeout. */
  | 'IDLE_TIMEOUT'
  /** The request body grew past the configured limit. */
  | 'BODY_TOO_LARGE'
  /** The client sent no byte of its body for the body timeout. */
  | 'CLIENT_BODY_TIMEOUT'
  /** The client went away; nothing can be sent to it. */
  | 'CLIENT_ABORTED';

export interface ProxyFailure {
  readonly code: ProxyFailureCode;
  /** Status to answer with when the response has not started (499 = client gone, never sent). */
  readonly status: number;
  /** One line for the logs; it may name the upstream's address, so clients get `failureAnswer`. */
  readonly reason: string;
  /**
   * True when sending the request again cannot make the upstream act on it twice: it never
   * connected (nothing reached the wire), or the method is idempotent and no byte of the body
   * was sent (so the request can be sent whole again). A POST or PATCH whose head went out is
   * never replayed, as in Go's transport and nginx's proxy_next_upstream.
   */
  readonly retryable: boolean;
  /** True once status and headers went to the client: the failure can only cut the connection. */
  readonly responseStarted: boolean;
  readonly cause: Error | undefined;
}

const STATUS: { readonly [C in ProxyFailureCode]: number } = {
  UPSTREAM_CONNECT_FAILED: 502,
  UPSTREAM_RESET: 502,
  UPSTREAM_PROTOCOL_ERROR: 502,
  UPSTREAM_ERROR: 502,
  UPSTREAM_RESPONSE_ABORTED: 502,
  REQUEST_TIMEOUT: 504,
  RESPONSE_START_TIMEOUT: 504,
  IDLE_TIMEOUT: 504,
  BODY_TOO_LARGE: 413,
  CLIENT_BODY_TIMEOUT: 408,
  CLIENT_ABORTED: 499,
};

// What a client is told: never the upstream's address (a pod IP:port is nobody's business outside).
const PUBLIC_MESSAGES: { readonly [C in ProxyFailureCode]: string } = {
  UPSTREAM_CONNECT_FAILED: 'upstream unreachable',
  UPSTREAM_RESET: 'upstream closed the connection before responding',
  UPSTREAM_PROTOCOL_ERROR: 'upstream sent an invalid response',
  UPSTREAM_ERROR: 'error talking to upstream',
  UPSTREAM_RESPONSE_ABORTED: 'upstream closed the connection in the middle of the response',
  REQUEST_TIMEOUT: 'request timeout: the request took longer than allowed',
  RESPONSE_START_TIMEOUT: 'upstream did not start its response in time',
  IDLE_TIMEOUT: 'upstream sent nothing for too long',
  BODY_TOO_LARGE: 'request body too large',
  CLIENT_BODY_TIMEOUT: 'request body not received in time',
  CLIENT_ABORTED: 'client closed the connection',
};

/** Methods a server must tolerate receiving twice (RFC 9110 §9.2.2). */
export const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set([
  'GET',
  'HEAD',
  'OPTIONS',
  'TRACE',
  'PUT',
  'DELETE',
]);

/** How far an attempt got when its upstream connection failed. */
export interface AttemptProgress {
  /** The socket completed its TCP handshake (so the request head may have reached the upstream). */
  readonly connected: boolean;
  /** Bytes of the client's body written upstream so far. */
  readonly bodyBytesSent: number;
  /** The request's method is idempotent. */
  readonly idempotent: boolean;
}

export function proxyFailure(
  code: ProxyFailureCode,
  reason: string,
  options: { retryable?: boolean; responseStarted?: boolean; cause?: Error } = {},
): ProxyFailure {
  return {
    code,
    status: STATUS[code],
    reason,
    retryable: options.retryable ?? false,
    responseStarted: options.responseStarted ?? false,
    cause: options.cause,
  };
}

// Errors of the connect step: the TCP handshake did not complete, so no byte reached the upstream.
const CONNECT_ERRORS: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'EADDRNOTAVAIL',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
const RESET_ERRORS: ReadonlySet<string> = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

/** Classifies an error of the upstream request, given how far the attempt got. */
export function classifyUpstreamError(
  err: Error & { code?: string },
  upstream: string,
  progress: AttemptProgress,
): ProxyFailure {
  const { connected, bodyBytesSent, idempotent } = progress;
  const code = err.code ?? '';
  if (!connected && (CONNECT_ERRORS.has(code) || RESET_ERRORS.has(code))) {
    return proxyFailure('UPSTREAM_CONNECT_FAILED', `could not connect to upstream ${upstream} (${code})`, {
      retryable: true,
      cause: err,
    });
  }
  if (RESET_ERRORS.has(code)) {
    const sent = bodyBytesSent === 0 ? 'before any body byte was sent' : `after ${bodyBytesSent} body bytes`;
    return proxyFailure(
      'UPSTREAM_RESET',
      `upstream ${upstream} closed the connection before responding, ${sent} (${code})`,
      { retryable: idempotent && bodyBytesSent === 0, cause: err },
    );
  }
  if (code.startsWith('HPE_') || code === 'UPSTREAM_PROTOCOL_ERROR') {
    return proxyFailure(
      'UPSTREAM_PROTOCOL_ERROR',
      `upstream ${upstream} sent an invalid response (${code === 'UPSTREAM_PROTOCOL_ERROR' ? err.message : code})`,
      {
        cause: err,
      },
    );
  }
  return proxyFailure('UPSTREAM_ERROR', `error talking to upstream ${upstream} (${code || err.message})`, {
    cause: err,
  });
}

/** What an error response says; the HTTP status comes with it. */
export interface ErrorAnswer {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  /** Seconds for Retry-After, when this answer knows better than the server's default. */
  readonly retryAfterSeconds?: number;
}

export interface ErrorAnswerOptions {
  /** Seconds for Retry-After (503). */
  readonly retryAfterSeconds?: number;
  /**
   * Close the connection after the answer: set when the request body was not read, so that the
   * server does not read (and discard) a body of unknown size to keep the connection alive.
   */
  readonly close?: boolean;
}

/**
 * Answers with `status`, a one-line text body and the stable code in a header; does nothing when
 * the response has begun or the client is gone. Returns whether it wrote. A gRPC request (always
 * HTTP/2) gets a trailers-only gRPC answer with the status gRPC clients understand, the message
 * and code the same.
 */
export function writeErrorAnswer(
  res: ClientResponse,
  answer: ErrorAnswer,
  options: ErrorAnswerOptions = {},
): boolean {
  if (res.headersSent || clientGone(res)) return false;
  if (isHttp2Response(res)) return writeHttp2ErrorAnswer(res, answer, options);
  const body = `${answer.message}\n`;
  const headers = [
    'content-type',
    'text/plain; charset=utf-8',
    'content-length',
    String(Buffer.byteLength(body)),
    'cache-control',
    'no-store',
    ERROR_CODE_HEADER,
    answer.code,
  ];
  const retryAfter = options.retryAfterSeconds ?? answer.retryAfterSeconds;
  if (retryAfter !== undefined) headers.push('retry-after', String(retryAfter));
  if (options.close === true) headers.push('connection', 'close');
  try {
    // The reason phrase is given: a bad one an upstream sent may still sit in res.statusMessage.
    res.writeHead(answer.status, STATUS_CODES[answer.status] ?? '', headers);
  } catch {
    res.destroy();
    return false;
  }
  res.end(body);
  return true;
}

function writeHttp2ErrorAnswer(
  res: Http2ServerResponse,
  answer: ErrorAnswer,
  options: ErrorAnswerOptions,
): boolean {
  const extra: Record<string, string> = { 'cache-control': 'no-store', [ERROR_CODE_HEADER]: answer.code };
  const retryAfter = options.retryAfterSeconds ?? answer.retryAfterSeconds;
  if (retryAfter !== undefined) extra['retry-after'] = String(retryAfter);
  const stream = res.stream;
  // A body the client is still sending is not read: once the answer is out the stream is closed
  // (RST_STREAM NO_ERROR, RFC 9113 §8.1), where HTTP/1.1 closes the connection.
  const done = options.close === true ? () => closeStream(stream) : undefined;
  try {
    if (isGrpcRequest(res.req.rawHeaders)) {
      // Trailers-only: the gRPC status in the one header block that ends the stream.
      endWithHeadersOnly(res, 200, grpcErrorHeaders(answer.status, answer.code, answer.message, extra));
      if (done !== undefined) stream.once('finish', done);
      return true;
    }
    const body = `${answer.message}\n`;
    res.writeHead(answer.status, {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': String(Buffer.byteLength(body)),
      ...extra,
    });
    res.end(body, done);
    return true;
  } catch {
    res.destroy();
    return false;
  }
}

function closeStream(stream: Http2ServerResponse['stream']): void {
  if (!stream.closed) stream.close();
}

/** The answer for a proxy failure: `502 upstream unreachable`, with the code in a header. */
export function failureAnswer(failure: ProxyFailure): ErrorAnswer {
  return { status: failure.status, code: failure.code, message: PUBLIC_MESSAGES[failure.code] };
}
