// Parsing and validation of the W3C Trace Context `traceparent` header, so the proxies forward a
// trace only when it is well formed (https://www.w3.org/TR/trace-context/#traceparent-header).

export interface TraceContext {
  /** Two lower-case hex digits; "00" today. */
  readonly version: string;
  /** 32 lower-case hex digits, not all zero. */
  readonly traceId: string;
  /** 16 lower-case hex digits, not all zero: the caller's span. */
  readonly parentId: string;
  /** The trace-flags byte; bit 0 is "sampled". */
  readonly flags: number;
  readonly sampled: boolean;
}

export type TraceparentInvalidReason =
  | 'absent'
  | 'malformed'
  | 'version-forbidden'
  | 'trace-id-zero'
  | 'parent-id-zero'
  | 'multiple-headers';

export type TraceparentParse =
  | { readonly valid: true; readonly context: TraceContext }
  | { readonly valid: false; readonly reason: TraceparentInvalidReason };

// version "-" trace-id "-" parent-id "-" flags: 2 + 1 + 32 + 1 + 16 + 1 + 2.
const VERSION_00_LENGTH = 55;
const FORMAT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZERO_TRACE_ID = '0'.repeat(32);
const ZERO_PARENT_ID = '0'.repeat(16);

export function parseTraceparent(header: string): TraceparentParse {
  // HTTP allows optional whitespace around a field value.
  const value = header.trim();
  // A later version may append fields after a "-"; its first four fields keep version 00's shape.
  const head =
    value.length > VERSION_00_LENGTH && value[VERSION_00_LENGTH] === '-'
      ? value.slice(0, VERSION_00_LENGTH)
      : value;
  const match = FORMAT.exec(head);
  if (match === null) return invalidTraceparent('malformed');
  const [, version, traceId, parentId, flagsHex] = match as unknown as [
    string,
    string,
    string,
    string,
    string,
  ];
  if (version === 'ff') return invalidTraceparent('version-forbidden');
  // Version 00 has exactly four fields; only a later version may carry more.
  if (version === '00' && head.length !== value.length) return invalidTraceparent('malformed');
  if (traceId === ZERO_TRACE_ID) return invalidTraceparent('trace-id-zero');
  if (parentId === ZERO_PARENT_ID) return invalidTraceparent('parent-id-zero');
  const flags = Number.parseInt(flagsHex, 16);
  return { valid: true, context: { version, traceId, parentId, flags, sampled: (flags & 1) === 1 } };
}

/**
 * Formats a context as a version 00 header. A context parsed from a later version is written as
 * 00 with only the sampled flag, since the meaning of its other flags is unknown to us.
 */
export function formatTraceparent(context: TraceContext): string {
  const flags = context.version === '00' ? context.flags : context.flags & 1;
  return `00-${context.traceId}-${context.parentId}-${flags.toString(16).padStart(2, '0')}`;
}

// Invalid results are constants: a bad header from a client costs no allocation.
const INVALID: { readonly [R in TraceparentInvalidReason]: TraceparentParse } = {
  absent: { valid: false, reason: 'absent' },
  malformed: { valid: false, reason: 'malformed' },
  'version-forbidden': { valid: false, reason: 'version-forbidden' },
  'trace-id-zero': { valid: false, reason: 'trace-id-zero' },
  'parent-id-zero': { valid: false, reason: 'parent-id-zero' },
  'multiple-headers': { valid: false, reason: 'multiple-headers' },
};

export function invalidTraceparent(reason: TraceparentInvalidReason): TraceparentParse {
  return INVALID[reason];
}
