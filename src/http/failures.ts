// The catalogue of ways a forwarded request can fail, with the status a client gets for each and
// whether the request may be sent again to another upstream.

import type { ServerResponse } from 'node:http';
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
  /** The client went away; nothing can be sent to it. */
  | 'CLIENT_ABORTED';

export interface ProxyFailure {
  readonly code: ProxyFailureCode;
  /** Status to answer with when the response has not started (499 = client gone, never sent). */
  readonly status: number;
  /** One line for the response body and the logs. */
  readonly reason: string;
  /**
   * True when the upstream cannot have acted on the request: it never connected, or the
   * connection was reset before any byte of the request body was sent and before any response.
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
  CLIENT_ABORTED: 499,
};

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

/**
 * Classifies an error of the upstream request. `connected`: the socket completed its handshake;
 * `bodyBytesSent`: bytes of the client's body written upstream so far.
 */
export function classifyUpstreamError(
  err: Error & { code?: string },
  upstream: string,
  connected: boolean,
  bodyBytesSent: number,
): ProxyFailure {
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
      { retryable: bodyBytesSent === 0, cause: err },
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
 * the response has begun or the client is gone. Returns whether it wrote.
 */
export function writeErrorAnswer(
  res: ServerResponse,
  answer: ErrorAnswer,
  options: ErrorAnswerOptions = {},
): boolean {
  if (res.headersSent || res.destroyed) return false;
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
  if (options.retryAfterSeconds !== undefined) headers.push('retry-after', String(options.retryAfterSeconds));
  if (options.close === true) headers.push('connection', 'close');
  res.writeHead(answer.status, headers);
  res.end(body);
  return true;
}

/** The answer for a proxy failure: `502 upstream … (ECONNREFUSED)`. */
export function failureAnswer(failure: ProxyFailure): ErrorAnswer {
  return { status: failure.status, code: failure.code, message: failure.reason };
}
