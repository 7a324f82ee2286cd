import { describe, expect, it } from 'vitest';
import {
  describeIssues,
  type InvalidSpecError,
  parsedOnce,
  parseServerlessServiceSpec,
  safeParseServerlessService,
  safeParseServerlessServiceSpec,
} from '../../src/api/parse.ts';
import { isZeroscaleError } from '../../src/errors.ts';

const container = { name: 'app', image: 'ghcr.io/acme/hello:1.0', ports: [{ containerPort: 8080 }] };
const sidecar = { name: 'log-shipper', image: 'ghcr.io/acme/shipper:2' };

function spec(overrides: Record<string, unknown> = {}, containers: unknown[] = [container]) {
  return { template: { spec: { containers } }, ...overrides };
}
const scaling = (s: Record<string, unknown>) => spec({ scaling: s });

describe('ServerlessService spec validation: accepted', () => {
  const cases: [string, unknown][] = [
    ['the smallest spec', spec()],
    [
      'a split with tags, a named revision and a rollout',
      spec({
        template: { metadata: { name: 'hello-blue' }, spec: { containers: [container] } },
        traffic: [
          { revisionName: 'hello-1', percent: 90 },
          { latestRevision: true, percent: 10, tag: 'canary' },
          { revisionName: 'hello-2', tag: 'old' },
        ],
        rollout: { duration: '2m', steps: 4 },
      }),
    ],
    ['a serving container without a name', spec({}, [{ image: 'hello', ports: [{ containerPort: 80 }] }])],
    ['a sidecar without ports', spec({}, [container, sidecar])],
    ['a sidecar with an empty port list', spec({}, [container, { ...sidecar, ports: [] }])],
    [
      'every field set',
      spec({
        containerConcurrency: 10,
        timeoutSeconds: 600,
        scaling: {
          minScale: 1,
          maxScale: 10,
          initialScale: 2,
          activationScale: 3,
          metric: 'rps',
          target: 150,
          targetUtilizationPercentage: 80,
          stableWindow: '1m30s',
          panicWindowPercentage: 5.5,
          panicThresholdPercentage: 300,
          scaleDownDelay: '15s',
          scaleToZeroPodRetention: '1m',
          targetBurstCapacity: 0,
        },
      }),
    ],
    ['minScale above maxScale 0, which means no cap', scaling({ minScale: 5, maxScale: 0 })],
    ['minScale equal to maxScale', scaling({ minScale: 3, maxScale: 3, initialScale: 3 })],
    ['the stable window at its bounds (6s)', scaling({ stableWindow: '6s' })],
    ['the stable window at its bounds (1h)', scaling({ stableWindow: '1h' })],
    ['a zero scale-down delay written "0"', scaling({ scaleDownDelay: '0' })],
    ['a fractional duration', scaling({ scaleToZeroPodRetention: '1.5s' })],
    ['unlimited target burst capacity', scaling({ targetBurstCapacity: -1 })],
    ['initialScale 0', scaling({ initialScale: 0 })],
    ['containerConcurrency 0 (no limit)', spec({ containerConcurrency: 0 })],
  ];
  it.each(cases)('%s', (_name, input) => {
    const result = safeParseServerlessServiceSpec(input);
    expect(result.ok ? [] : result.issues).toEqual([]);
  });

  it('keeps the PodSpec fields it does not model', () => {
    const input = spec({}, [
      { ...container, env: [{ name: 'A', value: '1' }], readinessProbe: { httpGet: { path: '/ready' } } },
    ]);
    const withVolumes = {
      ...input,
      template: { spec: { ...input.template.spec, volumes: [{ name: 'v' }] } },
    };
    const parsed = parseServerlessServiceSpec(withVolumes);
    expect(parsed.template.spec.volumes).toEqual([{ name: 'v' }]);
    expect(parsed.template.spec.containers[0]).toMatchObject({
      env: [{ name: 'A', value: '1' }],
      readinessProbe: { httpGet: { path: '/ready' } },
    });
  });
});

describe('ServerlessService spec validation: refused, naming the field', () => {
  const cases: [string, unknown, string][] = [
    ['negative containerConcurrency', spec({ containerConcurrency: -1 }), 'spec.containerConcurrency'],
    ['containerConcurrency above 1000', spec({ containerConcurrency: 1001 }), 'spec.containerConcurrency'],
    ['fractional containerConcurrency', spec({ containerConcurrency: 1.5 }), 'spec.containerConcurrency'],
    ['timeoutSeconds 0', spec({ timeoutSeconds: 0 }), 'spec.timeoutSeconds'],
    ['minScale above maxScale', scaling({ minScale: 5, maxScale: 2 }), 'spec.scaling.minScale'],
    ['negative minScale', scaling({ minScale: -1 }), 'spec.scaling.minScale'],
    ['initialScale above maxScale', scaling({ initialScale: 5, maxScale: 2 }), 'spec.scaling.initialScale'],
    ['initialScale below minScale', scaling({ initialScale: 1, minScale: 2 }), 'spec.scaling.initialScale'],
    [
      'activationScale above maxScale',
      scaling({ activationScale: 4, maxScale: 3 }),
      'spec.scaling.activationScale',
    ],
    ['activationScale 0', scaling({ activationScale: 0 }), 'spec.scaling.activationScale'],
    ['an unknown metric', scaling({ metric: 'cpu' }), 'spec.scaling.metric'],
    ['target 0', scaling({ target: 0 }), 'spec.scaling.target'],
    [
      'targetUtilizationPercentage above 100',
      scaling({ targetUtilizationPercentage: 101 }),
      'spec.scaling.targetUtilizationPercentage',
    ],
    ['a stable window below 6s', scaling({ stableWindow: '5s' }), 'spec.scaling.stableWindow'],
    ['a stable window above 1h', scaling({ stableWindow: '61m' }), 'spec.scaling.stableWindow'],
    [
      'a duration that is no duration',
      scaling({ stableWindow: 'sixty seconds' }),
      'spec.scaling.stableWindow',
    ],
    ['a duration without a unit', scaling({ stableWindow: '60' }), 'spec.scaling.stableWindow'],
    ['a negative duration', scaling({ scaleDownDelay: '-1s' }), 'spec.scaling.scaleDownDelay'],
    [
      'a retention above 1h',
      scaling({ scaleToZeroPodRetention: '2h' }),
      'spec.scaling.scaleToZeroPodRetention',
    ],
    ['panicWindowPercentage 0', scaling({ panicWindowPercentage: 0 }), 'spec.scaling.panicWindowPercentage'],
    [
      'panicThresholdPercentage 100',
      scaling({ panicThresholdPercentage: 100 }),
      'spec.scaling.panicThresholdPercentage',
    ],
    [
      'panicThresholdPercentage 1001',
      scaling({ panicThresholdPercentage: 1001 }),
      'spec.scaling.panicThresholdPercentage',
    ],
    [
      'targetBurstCapacity between -1 and 0',
      scaling({ targetBurstCapacity: -0.5 }),
      'spec.scaling.targetBurstCapacity',
    ],
    ['no template', {}, 'spec.template'],
    ['no containers', spec({}, []), 'spec.template.spec.containers'],
    [
      'a container without an image',
      spec({}, [{ name: 'app', ports: [{ containerPort: 80 }] }]),
      'spec.template.spec.containers[0].image',
    ],
    ['no container with a port', spec({}, [sidecar]), 'spec.template.spec.containers'],
    [
      'two containers with ports',
      spec({}, [container, { ...sidecar, ports: [{ containerPort: 9000 }] }]),
      'spec.template.spec.containers',
    ],
    [
      'two serving ports',
      spec({}, [{ ...container, ports: [{ containerPort: 8080 }, { containerPort: 8081 }] }]),
      'spec.template.spec.containers[0].ports',
    ],
    [
      'a port the queue-proxy uses',
      spec({}, [{ ...container, ports: [{ containerPort: 8012 }] }]),
      'spec.template.spec.containers[0].ports[0].containerPort',
    ],
    [
      'a port out of range',
      spec({}, [{ ...container, ports: [{ containerPort: 70000 }] }]),
      'spec.template.spec.containers[0].ports[0].containerPort',
    ],
    [
      'a UDP serving port',
      spec({}, [{ ...container, ports: [{ containerPort: 53, protocol: 'UDP' }] }]),
      'spec.template.spec.containers[0].ports[0].protocol',
    ],
    [
      'a container named like the sidecar',
      spec({}, [{ ...container, name: 'queue-proxy' }]),
      'spec.template.spec.containers[0].name',
    ],
    ['an unnamed sidecar', spec({}, [container, { image: 'shipper' }]), 'spec.template.spec.containers'],
    [
      'a container name with capitals',
      spec({}, [{ ...container, name: 'App' }]),
      'spec.template.spec.containers[0].name',
    ],
    [
      'too many containers',
      spec(
        {},
        Array.from({ length: 17 }, (_, i) => ({ ...sidecar, name: `c${i}` })),
      ),
      'spec.template.spec.containers',
    ],
    // spec.traffic: what the CRD's schema and CEL refuse, the same in TypeScript.
    [
      'traffic percents that do not sum to 100',
      spec({
        traffic: [
          { revisionName: 'a-1', percent: 50 },
          { latestRevision: true, percent: 40 },
        ],
      }),
      'spec.traffic',
    ],
    [
      'a negative traffic percent',
      spec({ traffic: [{ latestRevision: true, percent: -10 }] }),
      'spec.traffic[0].percent',
    ],
    [
      'duplicate tags',
      spec({
        traffic: [
          { revisionName: 'a-1', percent: 50, tag: 'x' },
          { latestRevision: true, percent: 50, tag: 'x' },
        ],
      }),
      'spec.traffic',
    ],
    [
      'a tag that is not a DNS label',
      spec({ traffic: [{ latestRevision: true, percent: 100, tag: 'Canary_1' }] }),
      'spec.traffic[0].tag',
    ],
    [
      'both revisionName and latestRevision',
      spec({ traffic: [{ revisionName: 'a-1', latestRevision: true, percent: 100 }] }),
      'spec.traffic[0].latestRevision',
    ],
    ['a target naming no revision', spec({ traffic: [{ percent: 100 }] }), 'spec.traffic[0].revisionName'],
    [
      'a revision name that is not a DNS label',
      spec({ template: { metadata: { name: 'Blue' }, spec: { containers: [container] } } }),
      'spec.template.metadata.name',
    ],
    ['a rollout duration above 24h', spec({ rollout: { duration: '25h' } }), 'spec.rollout.duration'],
  ];

  it.each(cases)('%s', (_name, input, field) => {
    const result = safeParseServerlessServiceSpec(input);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues.map((issue) => issue.path)).toContain(field);
    expect(describeIssues(result.issues)).toContain(field);
  });

  it('throws an INVALID_SPEC error carrying the issues', () => {
    let caught: unknown;
    try {
      parseServerlessServiceSpec(scaling({ minScale: 5, maxScale: 2 }));
    } catch (err) {
      caught = err;
    }
    expect(isZeroscaleError(caught, 'INVALID_SPEC')).toBe(true);
    expect((caught as InvalidSpecError).issues).toEqual([
      { path: 'spec.scaling.minScale', message: 'spec.scaling.minScale must be <= spec.scaling.maxScale' },
    ]);
  });
});

describe('ServerlessService resource validation', () => {
  const resource = (name: string) => ({
    apiVersion: 'serving.zeroscale.dev/v1alpha1',
    kind: 'ServerlessService',
    metadata: {
      name,
      namespace: 'default',
      uid: 'u-1',
      generation: 3,
      creationTimestamp: '2026-01-01T00:00:00Z',
    },
    spec: spec(),
  });

  it('accepts a resource and keeps its metadata', () => {
    const result = safeParseServerlessService(resource('hello'));
    expect(result.ok && result.value.metadata).toMatchObject({
      name: 'hello',
      creationTimestamp: '2026-01-01T00:00:00Z',
    });
  });

  it('parses each version of an object once, and a new version again', () => {
    let parses = 0;
    const parse = parsedOnce((input: unknown) => {
      parses++;
      return safeParseServerlessService(input);
    });
    const v1 = resource('hello');
    const first = parse(v1);
    expect(parse(v1)).toBe(first);
    const v2 = { ...v1, metadata: { ...v1.metadata, generation: 4 } };
    const second = parse(v2);
    expect(second.ok && second.value.metadata.generation).toBe(4);
    expect(parses).toBe(2);
  });

  const bad: [string, unknown, string][] = [
    ['a name too long for "<name>-private"', resource('a'.repeat(56)), 'metadata.name'],
    ['a name that is no DNS-1035 label', resource('1hello'), 'metadata.name'],
    ['another kind', { ...resource('hello'), kind: 'Service' }, 'kind'],
  ];
  it.each(bad)('refuses %s', (_name, input, field) => {
    const result = safeParseServerlessService(input);
    expect(result.ok ? [] : result.issues.map((i) => i.path)).toContain(field);
  });
});
