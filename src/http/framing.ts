// How a request's body is framed (RFC 9112 §6.3), read from Node's rawHeaders: decides how the
// body is framed upstream and whether an answer must close the connection.

import { type ClientRequest, isHttp2Request } from './client-message.ts';

/** How the client's request body is framed; decides how the upstream request is framed. */
export type BodyFraming = 0 | 1 | 2 | 3;
/** Neither Content-Length nor Transfer-Encoding: no body. */
export const NO_BODY: BodyFraming = 0;
/** Content-Length: 0. */
export const EMPTY_BODY: BodyFraming = 1;
export const LENGTH_BODY: BodyFraming = 2;
export const CHUNKED_BODY: BodyFraming = 3;

/**
 * How the body of a message is framed, from its rawHeaders: Transfer-Encoding wins over
 * Content-Length (RFC 9112 §6.3); Node's parser has already refused messages with both.
 */
export function bodyFraming(raw: readonly string[]): BodyFraming {
  let framing: BodyFraming = NO_BODY;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') return CHUNKED_BODY;
    if (name.length === 14 && name.toLowerCase() === 'content-length') {
      framing = raw[i + 1]!.trim() === '0' ? EMPTY_BODY : LENGTH_BODY;
    }
  }
  return framing;
}

/**
 * How a client's request body is framed. An HTTP/2 stream frames its body itself: one whose
 * headers ended the stream has none; one with a body and no Content-Length is sent on chunked.
 */
export function requestFraming(req: ClientRequest): BodyFraming {
  const framing = bodyFraming(req.rawHeaders);
  if (!isHttp2Request(req)) return framing;
  if (req.stream.endAfterHeaders) return NO_BODY;
  return framing === NO_BODY ? CHUNKED_BODY : framing;
}

/**
 * True when the request announced a body that has not all arrived: an answer written now should
 * close the connection (HTTP/2: the stream), or the server would read and discard a body of
 * unknown size to reuse it.
 */
export function hasUnreadBody(req: ClientRequest): boolean {
  return !req.complete && requestFraming(req) >= LENGTH_BODY;
}
