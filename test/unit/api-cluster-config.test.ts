import { describe, expect, it } from 'vitest';
import { parseClusterConfig, unknownConfigKeys } from '../../src/api/cluster-config.ts';
import { BUILTIN_SERVING_DEFAULTS } from '../../src/api/defaults.ts';
import { isZeroscaleError, type ZeroscaleError } from '../../src/errors.ts';

const options = { imageTag: 'v0.1.0' };

describe('parseClusterConfig', () => {
  it('has the built-in defaults for an empty or missing ConfigMap', () => {
    const expected = {
      domainSuffix: 'example.com',
      clusterDomain: 'cluster.local',
      queueProxy: {
        image: 'ghcr.io/zeroscale/zeroscale:v0.1.0',
        resources: { requests: { cpu: '25m', memory: '64Mi' } },
      },
      defaults: BUILTIN_SERVING_DEFAULTS,
      revisionRetention: { keepCount: 5, retainForMs: 15 * 3_600_000 },
    };
    expect(parseClusterConfig({}, options)).toEqual(expected);
    expect(parseClusterConfig(undefined, options)).toEqual(expected);
  });

  it('reads every key', () => {
    const config = parseClusterConfig(
      {
        'domain-suffix': 'apps.acme.dev',
        'cluster-domain': 'cluster.internal',
        'image-tag': 'v0.2.0',
        'queue-proxy-cpu-request': '50m',
        'queue-proxy-memory-request': '32Mi',
        'queue-proxy-memory-limit': '128Mi',
        'container-concurrency': '10',
        'timeout-seconds': '60',
        'min-scale': '1',
        'max-scale': '50',
        'initial-scale': '2',
        'activation-scale': '3',
        metric: 'rps',
        'container-concurrency-target-default': '80',
        'requests-per-second-target-default': '150.5',
        'target-utilization-percentage': '60',
        'stable-window': '2m',
        'panic-window-percentage': '5',
        'panic-threshold-percentage': '300',
        'scale-down-delay': '30s',
        'scale-to-zero-pod-retention': '1m',
        'target-burst-capacity': '-1',
        'revision-retain-count': '2',
        'revision-retain-for': '30m',
      },
      options,
    );
    expect(config).toEqual({
      revisionRetention: { keepCount: 2, retainForMs: 1_800_000 },
      domainSuffix: 'apps.acme.dev',
      clusterDomain: 'cluster.internal',
      queueProxy: {
        image: 'ghcr.io/zeroscale/zeroscale:v0.2.0',
        resources: { requests: { cpu: '50m', memory: '32Mi' }, limits: { memory: '128Mi' } },
      },
      defaults: {
        containerConcurrency: 10,
        timeoutSeconds: 60,
        scaling: {
          minScale: 1,
          maxScale: 50,
          initialScale: 2,
          activationScale: 3,
          metric: 'rps',
          concurrencyTarget: 80,
          rpsTarget: 150.5,
          targetUtilizationPercentage: 60,
          stableWindow: '2m',
          panicWindowPercentage: 5,
          panicThresholdPercentage: 300,
          scaleDownDelay: '30s',
          scaleToZeroPodRetention: '1m',
          targetBurstCapacity: -1,
        },
      },
    });
  });

  const bad: [string, Record<string, string>, string][] = [
    ['a domain that is no DNS name', { 'domain-suffix': 'Example Com' }, 'domain-suffix'],
    ['a number that is no number', { 'max-scale': 'ten' }, 'max-scale'],
    ['a fractional pod count', { 'min-scale': '1.5' }, 'min-scale'],
    ['a stable window out of range', { 'stable-window': '2s' }, 'stable-window'],
    ['a duration that is no duration', { 'scale-down-delay': '10 seconds' }, 'scale-down-delay'],
    ['an unknown metric', { metric: 'cpu' }, 'metric'],
    ['a panic threshold out of range', { 'panic-threshold-percentage': '50' }, 'panic-threshold-percentage'],
    ['a bad quantity', { 'queue-proxy-cpu-request': 'lots' }, 'queue-proxy-cpu-request'],
    ['min above max', { 'min-scale': '5', 'max-scale': '2' }, 'min-scale'],
    ['a bad image tag', { 'image-tag': 'v1 beta' }, 'image-tag'],
  ];
  it.each(bad)('refuses %s, naming the key', (_name, data, key) => {
    let caught: unknown;
    try {
      parseClusterConfig(data, options);
    } catch (err) {
      caught = err;
    }
    expect(isZeroscaleError(caught, 'INVALID_CONFIG')).toBe(true);
    expect((caught as ZeroscaleError).message).toContain(key);
  });

  it('reads the prices, a missing one as 0, and none as no prices', () => {
    expect(parseClusterConfig({}, options).defaults.prices).toBeUndefined();
    expect(parseClusterConfig({ 'price-per-vcpu-second': '0.0000240' }, options).defaults.prices).toEqual({
      vcpuSecond: 0.000024,
      gibSecond: 0,
    });
    expect(() => parseClusterConfig({ 'price-per-gib-second': '-1' }, options)).toThrow(
      /price-per-gib-second/,
    );
  });

  it('ignores unknown keys but can list them', () => {
    const data = { 'stabel-window': '10s', 'max-scale': '3' };
    expect(parseClusterConfig(data, options).defaults.scaling.maxScale).toBe(3);
    expect(unknownConfigKeys(data)).toEqual(['stabel-window']);
  });
});
