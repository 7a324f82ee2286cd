// An incremental HTTP/1.1 response parser for the proxies' upstream connections (RFC 9112): the
// status line and headers as Node's flat rawHeaders, then the body framed by Content-Length,
// chunked coding or the connection's close. Strict where a lenient parser would let a confused
// framing desynchronise a kept-alive connection: anything doubtful is an error, and the caller
// closes the connection. Pure: bytes in, calls on a listener out.

/** How a response body is delimited. */
export type BodyFraming = 'none' | 'length' | 'chunked' | 'close';

export interface ResponseHead {
  readonly status: number;
  readonly statusMessage: string;
  /** Flat [name, value, …] as received (values trimmed). */
  readonly headers: string[];
  readonly framing: BodyFraming;
  /** For `length`. */
  readonly contentLength: number;
  /** The connection may carry another request after this response. */
  readonly keepAlive: boolean;
  /** From `Keep-Alive: timeout=N`, in ms; undefined when not given. */
  readonly keepAliveTimeoutMs: number | undefined;
}

export interface ResponseListener {
  onResponseHead(head: ResponseHead): void;
  onResponseBody(chunk: Buffer): void;
  onResponseEnd(): void;
}

export class ResponseParseError extends Error {
  override readonly name = 'ResponseParseError';
  readonly code = 'UPSTREAM_PROTOCOL_ERROR';
}

const S = {
  HEAD: 0,
  BODY_LENGTH: 1,
  BODY_CLOSE: 2,
  CHUNK_SIZE: 3,
  CHUNK_DATA: 4,
  CHUNK_DATA_END: 5,
  TRAILERS: 6,
  DONE: 7,
} as const;
type State = (typeof S)[keyof typeof S];

const DEFAULT_MAX_HEAD_BYTES = 64 * 1024;
const MAX_CHUNK_LINE_BYTES = 4 * 1024;
const MAX_TRAILER_BYTES = 16 * 1024;
const CRLFCRLF = Buffer.from('\r\n\r\n');
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Field values: visible characters, spaces, tabs and obs-text; no CR, LF or other controls.
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const DIGITS = /^\d{1,15}$/;
const HEX = /^[0-9A-Fa-f]{1,12}$/;
// reason-phrase = *( HTAB / SP / VCHAR / obs-text ) (RFC 9112 §4): a control byte in it would
// make Node's writeHead throw after the slot was taken, so it is refused here like any bad byte.
const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: ([\t\x20-\x7e\x80-\xff]*))?$/;

export class ResponseParser {
  readonly #maxHeadBytes: number;
  #listener: ResponseListener | undefined = undefined;
  #state: State = S.DONE;
  #headRequest = false;
  /** Bytes of a head (or of a chunk-size or trailer line) that arrived split across reads. */
  #pending: Buffer | undefined = undefined;
  #line = '';
  #remaining = 0;
  #trailerBytes = 0;

  constructor(options: { maxHeadBytes?: number } = {}) {
    this.#maxHeadBytes = options.maxHeadBytes ?? DEFAULT_MAX_HEAD_BYTES;
  }

  /** True between `start` and the end of the response. */
  get busy(): boolean {
    return this.#state !== S.DONE;
  }

  /** Expects the response to a request with `method`, delivered to `listener`. */
  start(method: string, listener: ResponseListener): void {
    this.#listener = listener;
    this.#headRequest = method === 'HEAD';
    this.#state = S.HEAD;
    this.#pending = undefined;
    this.#line = '';
    this.#remaining = 0;
    this.#trailerBytes = 0;
  }

  /**
   * Parses `data`. Returns the number of bytes after the end of the response (0 normally; more
   * means the upstream sent something unasked, and the connection must not be reused). Throws
   * ResponseParseError on malformed input.
   */
  execute(data: Buffer): number {
    let offset = 0;
    while (offset < data.length) {
      switch (this.#state) {
        case S.HEAD:
          offset = this.#head(data, offset);
          break;
        case S.BODY_LENGTH: {
          const n = Math.min(this.#remaining, data.length - offset);
          this.#remaining -= n;
          this.#emit(data, offset, offset + n);
          offset += n;
          if (this.#remaining === 0) this.#end();
          break;
        }
        case S.BODY_CLOSE:
          this.#emit(data, offset, data.length);
          offset = data.length;
          break;
        case S.CHUNK_SIZE:
          offset = this.#chunkSize(data, offset);
          break;
        case S.CHUNK_DATA: {
          const n = Math.min(this.#remaining, data.length - offset);
          this.#remaining -= n;
          this.#emit(data, offset, offset + n);
          offset += n;
          if (this.#remaining === 0) {
            this.#state = S.CHUNK_DATA_END;
            this.#line = '';
          }
          break;
        }
        case S.CHUNK_DATA_END:
          offset = this.#chunkDataEnd(data, offset);
          break;
        case S.TRAILERS:
          offset = this.#trailers(data, offset);
          break;
        case S.DONE:
          return data.length - offset;
      }
    }
    return 0;
  }

  /**
   * The connection closed. A close-delimited body ends here; any other unfinished response was
   * cut short: throws ResponseParseError.
   */
  finish(): void {
    if (this.#state === S.BODY_CLOSE) {
      this.#end();
      return;
    }
    if (this.#state !== S.DONE) throw new ResponseParseError('upstream closed the connection mid-response');
  }

  #emit(data: Buffer, from: number, to: number): void {
    if (to > from)
      this.#listener!.onResponseBody(from === 0 && to === data.length ? data : data.subarray(from, to));
  }

  #end(): void {
    this.#state = S.DONE;
    const listener = this.#listener!;
    this.#listener = undefined;
    listener.onResponseEnd();
  }

  #head(data: Buffer, offset: number): number {
    let buf = data;
    let from = offset;
    let searchFrom = offset;
    if (this.#pending !== undefined) {
      // Rare: a head split across reads. Join and search again from just before the seam.
      searchFrom = Math.max(0, this.#pending.length - 3);
      buf = Buffer.concat([this.#pending, data.subarray(offset)]);
      from = 0;
    }
    const end = buf.indexOf(CRLFCRLF, searchFrom);
    if (end < 0) {
      if (buf.length - from > this.#maxHeadBytes) throw new ResponseParseError('response head too large');
      // A head with bare LFs never ends in CRLFCRLF: refused now rather than waited on.
      if (hasBareLf(buf, Math.max(from, searchFrom)))
        throw new ResponseParseError('bare LF in response head');
      this.#pending = from === 0 && buf !== data ? buf : Buffer.from(buf.subarray(from));
      return data.length;
    }
    if (end - from > this.#maxHeadBytes) throw new ResponseParseError('response head too large');
    const consumedFromBuf = end + 4;
    // Bytes of `data` used: when joined, the pending part came first.
    const consumed =
      this.#pending === undefined ? consumedFromBuf : consumedFromBuf - this.#pending.length + offset;
    this.#pending = undefined;
    const head = parseHead(buf.toString('latin1', from, end), this.#headRequest);
    if (head === undefined) return consumed; // 1xx interim response: the real one follows.
    this.#listener!.onResponseHead(head);
    switch (head.framing) {
      case 'none':
        this.#end();
        break;
      case 'length':
        if (head.contentLength === 0) this.#end();
        else {
          this.#state = S.BODY_LENGTH;
          this.#remaining = head.contentLength;
        }
        break;
      case 'chunked':
        this.#state = S.CHUNK_SIZE;
        this.#line = '';
        break;
      case 'close':
        this.#state = S.BODY_CLOSE;
        break;
    }
    return consumed;
  }

  /** Reads up to a CRLF into #line; returns the new offset, or -1 when the line is not complete. */
  #readLine(data: Buffer, offset: number, limit: number): number {
    const lf = data.indexOf(10, offset);
    const to = lf < 0 ? data.length : lf;
    this.#line += data.toString('latin1', offset, to);
    if (this.#line.length > limit) throw new ResponseParseError('chunk or trailer line too long');
    return lf < 0 ? -1 : lf + 1;
  }

  #chunkSize(data: Buffer, offset: number): number {
    const next = this.#readLine(data, offset, MAX_CHUNK_LINE_BYTES);
    if (next < 0) return data.length;
    const line = this.#line;
    this.#line = '';
    if (!line.endsWith('\r')) throw new ResponseParseError('chunk size line not ended by CRLF');
    const semicolon = line.indexOf(';');
    const sizeText = (semicolon < 0 ? line.slice(0, -1) : line.slice(0, semicolon)).trim();
    if (!HEX.test(sizeText)) throw new ResponseParseError('invalid chunk size');
    const size = Number.parseInt(sizeText, 16);
    if (size === 0) {
      this.#state = S.TRAILERS;
      this.#trailerBytes = 0;
    } else {
      this.#state = S.CHUNK_DATA;
      this.#remaining = size;
    }
    return next;
  }

  #chunkDataEnd(data: Buffer, offset: number): number {
    let i = offset;
    while (i < data.length && this.#line.length < 2) {
      this.#line += String.fromCharCode(data[i]!);
      i++;
    }
    if (this.#line.length < 2) return i;
    if (this.#line !== '\r\n') throw new ResponseParseError('chunk data not followed by CRLF');
    this.#line = '';
    this.#state = S.CHUNK_SIZE;
    return i;
  }

  #trailers(data: Buffer, offset: number): number {
    const next = this.#readLine(data, offset, MAX_TRAILER_BYTES);
    if (next < 0) return data.length;
    const line = this.#line;
    this.#line = '';
    this.#trailerBytes += line.length + 1;
    if (this.#trailerBytes > MAX_TRAILER_BYTES) throw new ResponseParseError('trailers too large');
    if (!line.endsWith('\r')) throw new ResponseParseError('trailer line not ended by CRLF');
    // Trailers are dropped: Node's response writer would need them declared up front.
    if (line === '\r') this.#end();
    return next;
  }
}

/** Parses a response head (without its final CRLFCRLF); undefined for a 1xx interim response. */
export function parseHead(text: string, headRequest: boolean): ResponseHead | undefined {
  const lines = text.split('\r\n');
  const statusLine = STATUS_LINE.exec(lines[0]!);
  if (statusLine === null) throw new ResponseParseError('invalid status line');
  const http10 = statusLine[1] === '0';
  const status = Number(statusLine[2]);
  const statusMessage = statusLine[3] ?? '';
  if (status < 100) throw new ResponseParseError('invalid status code');
  const headers: string[] = [];
  let contentLength: string | undefined;
  let transferEncoding: string | undefined;
  let connection = '';
  let keepAliveTimeoutMs: number | undefined;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new ResponseParseError('invalid header line');
    const name = line.slice(0, colon);
    // Also refuses obs-fold (a line starting with whitespace) and spaces before the colon.
    if (!TOKEN.test(name)) throw new ResponseParseError('invalid header name');
    const value = line.slice(colon + 1).trim();
    if (!FIELD_VALUE.test(value)) throw new ResponseParseError('invalid header value');
    headers.push(name, value);
    switch (name.length) {
      case 14:
        if (name.toLowerCase() === 'content-length') {
          if (contentLength !== undefined) throw new ResponseParseError('more than one Content-Length');
          contentLength = value;
        }
        break;
      case 17:
        if (name.toLowerCase() === 'transfer-encoding') {
          transferEncoding = transferEncoding === undefined ? value : `${transferEncoding}, ${value}`;
        }
        break;
      case 10: {
        const lower = name.toLowerCase();
        if (lower === 'connection') connection += `,${value.toLowerCase()}`;
        else if (lower === 'keep-alive') keepAliveTimeoutMs = keepAliveTimeout(value);
        break;
      }
    }
  }
  if (status < 200) {
    if (status === 101) throw new ResponseParseError('unexpected 101 Switching Protocols');
    return undefined;
  }
  const tokens = connection.split(',').map((t) => t.trim());
  let keepAlive = http10 ? tokens.includes('keep-alive') : !tokens.includes('close');
  let framing: BodyFraming;
  let length = 0;
  if (headRequest || status === 204 || status === 304) {
    framing = 'none';
  } else if (transferEncoding !== undefined) {
    // Both is how response smuggling starts; Node's parser refuses it too.
    if (contentLength !== undefined)
      throw new ResponseParseError('both Transfer-Encoding and Content-Length');
    const codings = transferEncoding.toLowerCase().split(',');
    if (codings[codings.length - 1]!.trim() === 'chunked' && !http10) framing = 'chunked';
    else {
      framing = 'close';
      keepAlive = false;
    }
  } else if (contentLength !== undefined) {
    if (!DIGITS.test(contentLength)) throw new ResponseParseError('invalid Content-Length');
    framing = 'length';
    length = Number(contentLength);
  } else {
    framing = 'close';
    keepAlive = false;
  }
  return { status, statusMessage, headers, framing, contentLength: length, keepAlive, keepAliveTimeoutMs };
}

function hasBareLf(buf: Buffer, from: number): boolean {
  for (let i = buf.indexOf(10, from); i >= 0; i = buf.indexOf(10, i + 1)) {
    if (i === 0 || buf[i - 1] !== 13) return true;
  }
  return false;
}

function keepAliveTimeout(value: string): number | undefined {
  const m = /(?:^|[,\s])timeout=(\d+)/i.exec(value);
  return m === null ? undefined : Number(m[1]) * 1000;
}
