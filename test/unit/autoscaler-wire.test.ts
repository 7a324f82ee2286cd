import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { parseAddress } from '../../src/autoscaler/metrics/stats-fetcher.ts';
import {
  ActivatorReportSchema,
  PodStatsSchema,
  PokeSchema,
  parseWire,
} from '../../src/autoscaler/metrics/wire.ts';

const load = { service: 'default/hello', averageConcurrency: 2, requestsPerSecond: 10, queued: 0 };
const report = { activator: 'activator-0', intervalMs: 1_000, services: [load] };

describe('parseWire', () => {
  it.each([
    { name: 'a report', schema: ActivatorReportSchema, input: report },
    { name: 'a report with no service', schema: ActivatorReportSchema, input: { ...report, services: [] } },
    {
      name: 'a report with fields from a newer activator',
      schema: ActivatorReportSchema,
      input: { ...report, zone: 'a' },
    },
    { name: 'a poke', schema: PokeSchema, input: { service: 'ns-1/svc-2', activator: 'a' } },
    {
      name: 'pod stats',
      schema: PodStatsSchema,
      input: {
        pod: 'p',
        intervalMs: 1000,
        averageConcurrency: 1.5,
        averageProxiedConcurrency: 0.5,
        requestsPerSecond: 3,
        proxiedRequestsPerSecond: 1,
      },
    },
  ] as { name: string; schema: z.ZodType; input: unknown }[])('accepts $name', ({ schema, input }) => {
    expect(parseWire(schema, input).ok).toBe(true);
  });

  it.each([
    {
      name: 'a negative queue',
      input: { ...report, services: [{ ...load, queued: -1 }] },
      field: 'services[0].queued',
    },
    { name: 'a missing field', input: { activator: 'a', intervalMs: 1000 }, field: 'services' },
    {
      name: 'a service key without namespace',
      input: { ...report, services: [{ ...load, service: 'hello' }] },
      field: 'services[0].service',
    },
    { name: 'a string for a number', input: { ...report, intervalMs: '1000' }, field: 'intervalMs' },
    { name: 'not an object', input: [report], field: '' },
  ])('refuses $name and names the field', ({ input, field }) => {
    const result = parseWire(ActivatorReportSchema, input);
    expect(result.ok).toBe(false);
    if (!result.ok && field !== '') expect(result.message.startsWith(field)).toBe(true);
  });

  it('refuses non-finite numbers (JSON cannot carry them, but a bug in-process can)', () => {
    expect(parseWire(ActivatorReportSchema, { ...report, intervalMs: Number.POSITIVE_INFINITY }).ok).toBe(
      false,
    );
    expect(
      parseWire(ActivatorReportSchema, { ...report, services: [{ ...load, averageConcurrency: Number.NaN }] })
        .ok,
    ).toBe(false);
  });

  it('refuses a report naming more than 10,000 services', () => {
    const services = Array.from({ length: 10_001 }, () => load);
    expect(parseWire(ActivatorReportSchema, { ...report, services }).ok).toBe(false);
  });
});

describe('parseAddress', () => {
  it.each([
    ['10.244.0.7', { host: '10.244.0.7', port: 9091 }],
    ['127.0.0.1:4567', { host: '127.0.0.1', port: 4567 }],
    ['fd00::7', { host: 'fd00::7', port: 9091 }],
    ['[fd00::7]', { host: 'fd00::7', port: 9091 }],
    ['[fd00::7]:8000', { host: 'fd00::7', port: 8000 }],
    ['pod.local:80', { host: 'pod.local', port: 80 }],
  ])('%s', (address, expected) => {
    expect(parseAddress(address, 9091)).toEqual(expected);
  });
});
