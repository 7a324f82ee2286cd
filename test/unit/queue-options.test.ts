import { describe, expect, it } from 'vitest';
import { isZeroscaleError } from '../../src/errors.ts';
import { parseQueueProxyEnv } from '../../src/queue/options.ts';
import { parseReadinessProbe } from '../../src/queue/probe-spec.ts';

const base = {
  SERVING_SERVICE: 'hello',
  SERVING_NAMESPACE: 'default',
  SERVING_POD: 'hello-abc',
  USER_PORT: '8080',
};

describe('parseQueueProxyEnv', () => {
  const cases: readonly {
    name: string;
    env: Record<string, string>;
    expected: Record<string, unknown>;
  }[] = [
    {
      name: 'the controller contract with defaults',
      env: base,
      expected: {
        namespace: 'default',
        service: 'hello',
        pod: 'hello-abc',
        userHost: '127.0.0.1',
        userPort: 8080,
        containerConcurrency: 0,
        queueDepth: 0,
        timeoutMs: 300_000,
        // The service's own deadline, unless set shorter.
        responseStartTimeoutMs: 300_000,
        idleTimeoutMs: 300_000,
        bodyTimeoutMs: 60_000,
        internalToken: undefined,
        httpPort: 8012,
        metricsPort: 9091,
        listenHost: '0.0.0.0',
        drainMs: 5_000,
      },
    },
    {
      name: 'containerConcurrency sizes the queue at 10 per slot',
      env: { ...base, CONTAINER_CONCURRENCY: '4' },
      expected: { containerConcurrency: 4, queueDepth: 40 },
    },
    {
      name: 'explicit queue depth, timeouts and drain',
      env: {
        ...base,
        CONTAINER_CONCURRENCY: '2',
        QUEUE_DEPTH: '7',
        REQUEST_TIMEOUT_SECONDS: '30',
        REQUEST_RESPONSE_START_TIMEOUT_SECONDS: '1.5',
        REQUEST_IDLE_TIMEOUT_SECONDS: '10',
        REQUEST_BODY_TIMEOUT_SECONDS: '0',
        QUEUE_DRAIN_SECONDS: '0',
        ZEROSCALE_INTERNAL_TOKEN: ' tok ',
      },
      expected: {
        queueDepth: 7,
        timeoutMs: 30_000,
        responseStartTimeoutMs: 1_500,
        idleTimeoutMs: 10_000,
        bodyTimeoutMs: 0,
        internalToken: 'tok',
        drainMs: 0,
      },
    },
    {
      name: 'ports from the environment',
      env: { ...base, QUEUE_SERVING_PORT: '18012', QUEUE_METRICS_PORT: '0', QUEUE_LISTEN_HOST: '127.0.0.1' },
      expected: { httpPort: 18012, metricsPort: 0, listenHost: '127.0.0.1' },
    },
    {
      name: 'the pod name falls back to the service name',
      env: { SERVING_SERVICE: 'hello', SERVING_NAMESPACE: 'default', USER_PORT: '8080' },
      expected: { pod: 'hello' },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(parseQueueProxyEnv(c.env)).toMatchObject(c.expected);
    });
  }

  const bad: readonly { name: string; env: Record<string, string>; names: string }[] = [
    { name: 'no service', env: { ...base, SERVING_SERVICE: '' }, names: 'SERVING_SERVICE' },
    { name: 'no namespace', env: { SERVING_SERVICE: 'a', USER_PORT: '1' }, names: 'SERVING_NAMESPACE' },
    { name: 'no user port', env: { SERVING_SERVICE: 'a', SERVING_NAMESPACE: 'b' }, names: 'USER_PORT' },
    { name: 'user port not a number', env: { ...base, USER_PORT: 'http' }, names: 'USER_PORT' },
    { name: 'user port 0', env: { ...base, USER_PORT: '0' }, names: 'USER_PORT' },
    { name: 'port out of range', env: { ...base, QUEUE_SERVING_PORT: '70000' }, names: 'QUEUE_SERVING_PORT' },
    {
      name: 'negative concurrency',
      env: { ...base, CONTAINER_CONCURRENCY: '-1' },
      names: 'CONTAINER_CONCURRENCY',
    },
    {
      name: 'fractional concurrency',
      env: { ...base, CONTAINER_CONCURRENCY: '1.5' },
      names: 'CONTAINER_CONCURRENCY',
    },
    {
      name: 'negative timeout',
      env: { ...base, REQUEST_TIMEOUT_SECONDS: '-3' },
      names: 'REQUEST_TIMEOUT_SECONDS',
    },
    {
      name: 'probe not JSON',
      env: { ...base, SERVING_READINESS_PROBE: '{' },
      names: 'SERVING_READINESS_PROBE',
    },
  ];
  for (const c of bad) {
    it(`refuses ${c.name} with INVALID_ENV naming ${c.names}`, () => {
      let caught: unknown;
      try {
        parseQueueProxyEnv(c.env);
      } catch (err) {
        caught = err;
      }
      expect(isZeroscaleError(caught, 'INVALID_ENV')).toBe(true);
      expect((caught as Error).message).toContain(c.names);
    });
  }
});

describe('parseReadinessProbe', () => {
  const cases: readonly { name: string; json: string | undefined; expected: unknown }[] = [
    {
      name: 'absent: TCP on the user port, aggressive then every second',
      json: undefined,
      expected: {
        action: { kind: 'tcp', port: 8080 },
        periodMs: 1000,
        timeoutMs: 1000,
        successThreshold: 1,
        failureThreshold: 3,
      },
    },
    {
      name: 'tcpSocket with a named port: the user port',
      json: '{"tcpSocket":{"port":"http"},"periodSeconds":5}',
      expected: { action: { kind: 'tcp', port: 8080 }, periodMs: 5000 },
    },
    {
      name: 'httpGet with path, scheme and headers',
      json: JSON.stringify({
        httpGet: { path: 'ready', port: 8080, scheme: 'HTTPS', httpHeaders: [{ name: 'x-a', value: '1' }] },
        timeoutSeconds: 2,
        successThreshold: 2,
        failureThreshold: 5,
      }),
      expected: {
        action: {
          kind: 'http',
          port: 8080,
          path: '/ready',
          scheme: 'https',
          headers: ['x-a', '1'],
          h2c: false,
        },
        timeoutMs: 2000,
        successThreshold: 2,
        failureThreshold: 5,
      },
    },
    {
      name: 'grpc is a gRPC health check of its port',
      json: '{"grpc":{"port":9000,"service":"echo"}}',
      expected: { action: { kind: 'grpc', port: 9000, service: 'echo' } },
    },
    {
      name: 'periodSeconds 0 (Knative aggressive) keeps the default steady period',
      json: '{"tcpSocket":{"port":8080},"periodSeconds":0}',
      expected: { periodMs: 1000 },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(parseReadinessProbe(c.json, 8080)).toMatchObject(c.expected as object);
    });
  }

  it('sends the HTTP probe of an h2c app over h2c', () => {
    expect(parseReadinessProbe('{"httpGet":{"path":"/ready"}}', 8080, true).action).toMatchObject({
      kind: 'http',
      h2c: true,
    });
  });

  const bad: readonly [string, string][] = [
    ['not an object', '[1]'],
    ['bad scheme', '{"httpGet":{"scheme":"FTP"}}'],
    ['bad port', '{"tcpSocket":{"port":0}}'],
    ['negative period', '{"periodSeconds":-1}'],
    ['zero-less threshold', '{"failureThreshold":1.5}'],
    ['header without name', '{"httpGet":{"httpHeaders":[{"value":"x"}]}}'],
  ];
  for (const [name, json] of bad) {
    it(`refuses ${name}`, () => {
      expect(() => parseReadinessProbe(json, 8080)).toThrow(
        expect.objectContaining({ code: 'INVALID_READINESS_PROBE' }),
      );
    });
  }
});
