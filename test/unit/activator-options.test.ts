import { describe, expect, it } from 'vitest';
import { parseActivatorEnv } from '../../src/activator/options.ts';
import { parseStaticConfig, staticSources } from '../../src/activator/static-config.ts';

describe('parseActivatorEnv', () => {
  const cases: readonly { name: string; env: Record<string, string>; expected: Record<string, unknown> }[] = [
    {
      name: 'defaults',
      env: {},
      expected: {
        name: 'host-1',
        host: '0.0.0.0',
        port: 8080,
        metricsPort: 9090,
        clusterDomain: 'cluster.local',
        queueDepth: 10_000,
        maxQueued: 10_000,
        maxBodyBytes: 100 * 1024 * 1024,
        drainMs: 5_000,
        shutdownGraceMs: 30_000,
        // A stalled pod is cut at its service's own deadline; a dripping client after a minute.
        responseStartTimeoutMs: 0,
        idleTimeoutMs: 0,
        bodyTimeoutMs: 60_000,
        internalToken: undefined,
      },
    },
    {
      name: 'timeouts and the internal token',
      env: {
        ACTIVATOR_RESPONSE_START_TIMEOUT_SECONDS: '0',
        ACTIVATOR_IDLE_TIMEOUT_SECONDS: '120',
        ACTIVATOR_BODY_TIMEOUT_SECONDS: '2.5',
        ZEROSCALE_INTERNAL_TOKEN: ' s3cret ',
      },
      expected: {
        responseStartTimeoutMs: 0,
        idleTimeoutMs: 120_000,
        bodyTimeoutMs: 2_500,
        internalToken: 's3cret',
      },
    },
    {
      name: 'the pod name names the replica',
      env: { POD_NAME: 'activator-x' },
      expected: { name: 'activator-x' },
    },
    {
      name: 'ACTIVATOR_NAME wins over the pod name',
      env: { POD_NAME: 'p', ACTIVATOR_NAME: 'a' },
      expected: { name: 'a' },
    },
    {
      name: 'limits and sizes',
      env: {
        ACTIVATOR_PORT: '0',
        ACTIVATOR_QUEUE_DEPTH: '5',
        ACTIVATOR_MAX_QUEUED: '50',
        ACTIVATOR_MAX_BODY_BYTES: '1024',
        ACTIVATOR_MAX_HEADER_BYTES: '4096',
        ACTIVATOR_HEADERS_TIMEOUT_MS: '500',
        ACTIVATOR_DRAIN_SECONDS: '1.5',
        CLUSTER_DOMAIN: 'example.internal',
      },
      expected: {
        port: 0,
        queueDepth: 5,
        maxQueued: 50,
        maxBodyBytes: 1024,
        limits: { maxHeaderBytes: 4096, headersTimeoutMs: 500 },
        drainMs: 1_500,
        clusterDomain: 'example.internal',
      },
    },
    {
      name: 'body limit 0 means none',
      env: { ACTIVATOR_MAX_BODY_BYTES: '0' },
      expected: { maxBodyBytes: Number.POSITIVE_INFINITY },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(parseActivatorEnv(c.env, 'host-1')).toMatchObject(c.expected);
    });
  }

  const bad: readonly [string, Record<string, string>][] = [
    ['ACTIVATOR_PORT', { ACTIVATOR_PORT: '99999' }],
    ['ACTIVATOR_QUEUE_DEPTH', { ACTIVATOR_QUEUE_DEPTH: 'many' }],
    ['ACTIVATOR_MAX_HEADER_BYTES', { ACTIVATOR_MAX_HEADER_BYTES: '10' }],
    ['ACTIVATOR_DRAIN_SECONDS', { ACTIVATOR_DRAIN_SECONDS: '-1' }],
  ];
  for (const [name, env] of bad) {
    it(`refuses a bad ${name} with INVALID_ENV naming it`, () => {
      expect(() => parseActivatorEnv(env, 'h')).toThrow(
        expect.objectContaining({ code: 'INVALID_ENV', message: expect.stringContaining(name) }),
      );
    });
  }
});

describe('parseStaticConfig', () => {
  it('fills defaults and feeds in-memory sources', () => {
    const config = parseStaticConfig(
      JSON.stringify({
        services: [{ namespace: 'default', name: 'hello', pods: [{ ip: '127.0.0.1', port: 8012 }] }],
      }),
    );
    expect(config.services[0]).toMatchObject({
      containerConcurrency: 0,
      timeoutSeconds: 300,
      protocol: 'http1',
    });
    const { catalog, endpoints } = staticSources(config);
    expect(catalog.list()).toEqual([
      {
        namespace: 'default',
        name: 'hello',
        containerConcurrency: 0,
        timeoutSeconds: 300,
        protocol: 'http1',
      },
    ]);
    expect(endpoints.get('default', 'hello')).toEqual([{ ip: '127.0.0.1', port: 8012, ready: true }]);
  });

  const bad: readonly [string, string, string][] = [
    ['not JSON', '{', 'not JSON'],
    ['no services', '{}', 'services'],
    [
      'a pod without a port',
      '{"services":[{"namespace":"a","name":"b","pods":[{"ip":"127.0.0.1"}]}]}',
      'services.0.pods.0.port',
    ],
    [
      'an unknown protocol',
      '{"services":[{"namespace":"a","name":"b","protocol":"h3"}]}',
      'services.0.protocol',
    ],
    [
      'negative concurrency',
      '{"services":[{"namespace":"a","name":"b","containerConcurrency":-1}]}',
      'containerConcurrency',
    ],
  ];
  for (const [name, text, field] of bad) {
    it(`refuses ${name}, naming ${field}`, () => {
      expect(() => parseStaticConfig(text)).toThrow(
        expect.objectContaining({ code: 'INVALID_STATIC_CONFIG', message: expect.stringContaining(field) }),
      );
    });
  }
});
