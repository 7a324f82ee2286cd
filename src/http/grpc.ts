// gRPC as the proxies see it: a request is gRPC by its content type; its `grpc-timeout` is a
// deadline the proxies honour as they do timeoutSeconds; and an answer the proxy itself gives (a
// cold service that cannot start, a full queue, a deadline) goes to a gRPC client as a
// trailers-only response with a gRPC status, which client libraries report with its message,
// instead of an HTTP 503 they can only call "unknown".

import { type ClientRequest, isHttp2Request } from './client-message.ts';

/** The request's content type is application/grpc (with or without +proto, +json, …). */
export function isGrpcRequest(raw: readonly string[]): boolean {
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 12 && name.toLowerCase() === 'content-type') {
      return raw[i + 1]!.slice(0, 16).toLowerCase() === 'application/grpc';
    }
  }
  return false;
}

const TIMEOUT_UNIT_MS: Readonly<Record<string, number>> = {
  H: 3_600_000,
  M: 60_000,
  S: 1_000,
  m: 1,
  u: 0.001,
  n: 0.000_001,
};

/**
 * The request's `grpc-timeout` in ms ("TimeoutValue TimeoutUnit": at most 8 digits, then one of
 * H M S m u n); undefined when absent or malformed (then only timeoutSeconds applies, as gRPC
 * servers ignore a malformed one). A positive timeout under 1 ms counts as 1 ms.
 */
export function grpcTimeoutMs(raw: readonly string[]): number | undefined {
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length !== 12 || name.toLowerCase() !== 'grpc-timeout') continue;
    const m = /^(\d{1,8})([HMSmun])$/.exec(raw[i + 1]!.trim());
    if (m === null) return undefined;
    const ms = Number(m[1]) * TIMEOUT_UNIT_MS[m[2]!]!;
    return ms === 0 ? 0 : Math.max(1, Math.ceil(ms));
  }
  return undefined;
}

/**
 * A request's whole deadline: `timeoutMs` (the service's timeoutSeconds; 0 = none), or the
 * client's grpc-timeout when that is shorter. Only HTTP/2 requests are looked at (gRPC runs on
 * nothing else), so an HTTP/1.1 request costs no second pass over its headers.
 */
export function requestTimeoutMs(timeoutMs: number, req: ClientRequest): number {
  if (!isHttp2Request(req)) return timeoutMs;
  const grpc = grpcTimeoutMs(req.rawHeaders);
  return grpc === undefined || grpc === 0 || (timeoutMs > 0 && timeoutMs <= grpc) ? timeoutMs : grpc;
}

/** gRPC status codes the proxies answer with (grpc/doc/statuscodes.md). */
export const GRPC_STATUS = {
  CANCELLED: 1,
  UNKNOWN: 2,
  DEADLINE_EXCEEDED: 4,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
  PERMISSION_DENIED: 7,
} as const;

/**
 * The gRPC status of one of the proxies' own answers: by its code where that says more than the
 * HTTP status (a deadline, a spent budget, a body too large), else by gRPC's HTTP-to-status
 * mapping (grpc/doc/http-grpc-status-mapping.md), where 502, 503 and 504 are UNAVAILABLE, which
 * clients may retry.
 */
export function grpcStatusOf(httpStatus: number, code: string): number {
  switch (code) {
    case 'DEADLINE_EXCEEDED':
    case 'REQUEST_TIMEOUT':
      return GRPC_STATUS.DEADLINE_EXCEEDED;
    case 'BUDGET_EXCEEDED':
    case 'BODY_TOO_LARGE':
    case 'HEADERS_TOO_LARGE':
      return GRPC_STATUS.RESOURCE_EXHAUSTED;
    case 'CLIENT_ABORTED':
      return GRPC_STATUS.CANCELLED;
  }
  switch (httpStatus) {
    case 400:
      return GRPC_STATUS.INTERNAL;
    case 401:
      return GRPC_STATUS.UNAUTHENTICATED;
    case 403:
      return GRPC_STATUS.PERMISSION_DENIED;
    case 404:
      return GRPC_STATUS.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return GRPC_STATUS.UNAVAILABLE;
    default:
      return GRPC_STATUS.UNKNOWN;
  }
}

/**
 * `grpc-message` is percent-encoded UTF-8: every byte outside printable ASCII, and `%` itself,
 * as %XX (grpc/doc/PROTOCOL-HTTP2.md).
 */
export function encodeGrpcMessage(message: string): string {
  let plain = true;
  for (let i = 0; i < message.length; i++) {
    const c = message.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x25) {
      plain = false;
      break;
    }
  }
  if (plain) return message;
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    out +=
      byte < 0x20 || byte > 0x7e || byte === 0x25
        ? `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
        : String.fromCharCode(byte);
  }
  return out;
}

/** Headers of a trailers-only gRPC answer (HTTP 200, the status in the one header block). */
export function grpcErrorHeaders(
  httpStatus: number,
  code: string,
  message: string,
  extra: Readonly<Record<string, string>>,
): Record<string, string> {
  return {
    'content-type': 'application/grpc',
    'grpc-status': String(grpcStatusOf(httpStatus, code)),
    'grpc-message': encodeGrpcMessage(message),
    ...extra,
  };
}
