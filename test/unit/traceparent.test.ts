import { describe, expect, it } from 'vitest';
import { formatTraceparent, parseTraceparent } from '../../src/http/traceparent.ts';

const TRACE = '0af7651916cd43dd8448eb211c80319c';
const PARENT = 'b7ad6b7169203331';

describe('parseTraceparent', () => {
  it.each([
    {
      name: 'sampled',
      header: `00-${TRACE}-${PARENT}-01`,
      expected: {
        valid: true,
        context: { version: '00', traceId: TRACE, parentId: PARENT, flags: 1, sampled: true },
      },
    },
    {
      name: 'not sampled',
      header: `00-${TRACE}-${PARENT}-00`,
      expected: { valid: true, context: { flags: 0, sampled: false } },
    },
    {
      name: 'unknown flags kept',
      header: `00-${TRACE}-${PARENT}-ff`,
      expected: { valid: true, context: { flags: 255, sampled: true } },
    },
    {
      name: 'surrounding whitespace',
      header: ` 00-${TRACE}-${PARENT}-01\t`,
      expected: { valid: true, context: { traceId: TRACE } },
    },
    {
      name: 'a later version with an extra field',
      header: `cc-${TRACE}-${PARENT}-01-what-the-future-holds`,
      expected: { valid: true, context: { version: 'cc', traceId: TRACE, parentId: PARENT, sampled: true } },
    },
    {
      name: 'a later version without extra fields',
      header: `01-${TRACE}-${PARENT}-00`,
      expected: { valid: true, context: { version: '01', sampled: false } },
    },
    {
      name: 'version 00 with an extra field',
      header: `00-${TRACE}-${PARENT}-01-x`,
      expected: bad('malformed'),
    },
    {
      name: 'later version, junk right after flags',
      header: `cc-${TRACE}-${PARENT}-01x`,
      expected: bad('malformed'),
    },
    { name: 'version ff', header: `ff-${TRACE}-${PARENT}-01`, expected: bad('version-forbidden') },
    { name: 'upper-case hex', header: `00-${TRACE.toUpperCase()}-${PARENT}-01`, expected: bad('malformed') },
    { name: 'non-hex digit', header: `00-${TRACE.slice(0, -1)}g-${PARENT}-01`, expected: bad('malformed') },
    { name: 'short trace id', header: `00-${TRACE.slice(1)}-${PARENT}-01`, expected: bad('malformed') },
    { name: 'short parent id', header: `00-${TRACE}-${PARENT.slice(1)}-01`, expected: bad('malformed') },
    { name: 'one-digit flags', header: `00-${TRACE}-${PARENT}-1`, expected: bad('malformed') },
    { name: 'zero trace id', header: `00-${'0'.repeat(32)}-${PARENT}-01`, expected: bad('trace-id-zero') },
    { name: 'zero parent id', header: `00-${TRACE}-${'0'.repeat(16)}-01`, expected: bad('parent-id-zero') },
    { name: 'empty', header: '', expected: bad('malformed') },
    { name: 'wrong separators', header: `00_${TRACE}_${PARENT}_01`, expected: bad('malformed') },
  ])('$name', ({ header, expected }) => {
    expect(parseTraceparent(header)).toMatchObject(expected);
  });
});

describe('formatTraceparent', () => {
  it.each([
    {
      name: 'version 00 round trip',
      header: `00-${TRACE}-${PARENT}-03`,
      expected: `00-${TRACE}-${PARENT}-03`,
    },
    {
      name: 'a later version is written as 00 with only the sampled flag',
      header: `cc-${TRACE}-${PARENT}-ff-extra`,
      expected: `00-${TRACE}-${PARENT}-01`,
    },
  ])('$name', ({ header, expected }) => {
    const parsed = parseTraceparent(header);
    if (!parsed.valid) throw new Error('test header must be valid');
    expect(formatTraceparent(parsed.context)).toBe(expected);
  });
});

function bad(reason: string) {
  return { valid: false, reason };
}
