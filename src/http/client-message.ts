// A client's request and response as the proxies handle them: node:http's objects for HTTP/1.1,
// node:http2's compatibility objects for an HTTP/2 stream (h2-server.ts). Both carry the same
// rawHeaders shape (HTTP/2's pseudo-headers are taken out and Host put in at accept), so routing,
// header rewriting and the request's life in the activator and queue-proxy are one code path; the
// few places where the protocols differ ask the helpers below. node:http2 itself is only a type
// here: a queue-proxy that never sees HTTP/2 never loads it.

import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';

export type ClientRequest = IncomingMessage | Http2ServerRequest;
export type ClientResponse = ServerResponse | Http2ServerResponse;

/** The response belongs to an HTTP/2 stream (only node:http2's compatibility response has one). */
export function isHttp2Response(res: ClientResponse): res is Http2ServerResponse {
  return (res as Partial<Http2ServerResponse>).stream !== undefined;
}

export function isHttp2Request(req: ClientRequest): req is Http2ServerRequest {
  return (req as Partial<Http2ServerRequest>).stream !== undefined;
}

/** The client can no longer get an answer: its connection (HTTP/1.1) or its stream (HTTP/2) is gone. */
export function clientGone(res: ClientResponse): boolean {
  return isHttp2Response(res) ? res.stream.destroyed : res.destroyed;
}

/**
 * The whole response went out. For HTTP/2 the stream's own state says so: the compatibility
 * response calls itself finished once its stream closed, a client's RST_STREAM included.
 */
export function responseFinished(res: ClientResponse): boolean {
  return isHttp2Response(res) ? res.stream.writableFinished : res.writableFinished;
}

/**
 * Writes the status line and headers: HTTP/1.1 with the reason phrase, HTTP/2 without one (it has
 * none). Throws what node throws for a header it refuses.
 */
export function writeResponseHead(
  res: ClientResponse,
  status: number,
  reason: string | undefined,
  headers: readonly string[] | OutgoingHttpHeaders,
): void {
  if (isHttp2Response(res)) {
    res.writeHead(status, headers as OutgoingHttpHeaders);
    return;
  }
  if (reason === undefined) res.writeHead(status, headers as OutgoingHttpHeaders);
  else res.writeHead(status, reason, headers as OutgoingHttpHeaders);
}

/**
 * A response that is only a header block: for HTTP/2 one HEADERS frame that ends the stream, the
 * shape gRPC calls trailers-only (a status in the headers is read as final only with END_STREAM);
 * for HTTP/1.1 the head and an empty body.
 */
export function endWithHeadersOnly(res: ClientResponse, status: number, headers: OutgoingHttpHeaders): void {
  if (isHttp2Response(res)) res.stream.respond({ ...headers, ':status': status }, { endStream: true });
  else {
    res.writeHead(status, headers);
    res.end();
  }
}

/** Flat [name, value, …] as a header object, repeated names as one list. */
export function headerObject(flat: readonly string[]): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (let i = 0; i < flat.length; i += 2) appendHeader(out, flat[i]!.toLowerCase(), flat[i + 1]!);
  return out;
}

/** Adds a header (its name lower-cased) to an object: a repeated name becomes a list. */
export function appendHeader(out: OutgoingHttpHeaders, name: string, value: string): void {
  const prev = out[name];
  if (prev === undefined) out[name] = value;
  else if (Array.isArray(prev)) prev.push(value);
  else out[name] = [String(prev), value];
}

/**
 * No further request after this one on the client's connection: `Connection: close` for HTTP/1.1;
 * for HTTP/2 a GOAWAY, so the client opens new streams elsewhere while this one (and any other in
 * flight) finishes.
 */
export function closeAfterResponse(res: ClientResponse): void {
  if (isHttp2Response(res)) {
    const session = res.stream.session;
    if (session !== undefined && !session.closed) session.close();
  } else {
    res.shouldKeepAlive = false;
  }
}
