// The CRD refuses bad manifests at `kubectl apply` itself, with a message that names the field:
// OpenAPI bounds and CEL rules, enforced by the real apiserver.
import { beforeAll, describe, expect, it } from 'vitest';
import { kubectl, kubectlOk } from '../../dev/cluster/kube.ts';
import { repoRoot } from '../../dev/cluster/paths.ts';

type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: Record<string, unknown> & {
    template: { spec: { containers: Record<string, unknown>[] } };
    scaling?: Record<string, unknown>;
  };
};

function valid(): Manifest {
  return {
    apiVersion: 'serving.zeroscale.dev/v1alpha1',
    kind: 'ServerlessService',
    metadata: { name: 'bad' },
    spec: {
      template: {
        spec: { containers: [{ name: 'app', image: 'node:24', ports: [{ containerPort: 8080 }] }] },
      },
    },
  };
}

const badManifests: [string, (m: Manifest) => void, RegExp][] = [
  [
    'negative concurrency',
    (m) => {
      m.spec.containerConcurrency = -1;
    },
    /spec\.containerConcurrency/,
  ],
  [
    'minScale above maxScale',
    (m) => {
      m.spec.scaling = { minScale: 5, maxScale: 2 };
    },
    /spec\.scaling\.minScale must be <= spec\.scaling\.maxScale/,
  ],
  [
    'no container',
    (m) => {
      m.spec.template.spec.containers = [];
    },
    /spec\.template\.spec\.containers/,
  ],
  [
    'two serving ports',
    (m) => {
      (m.spec.template.spec.containers[0]!.ports as object[]).push({ containerPort: 9000 });
    },
    /ports must list exactly one port/,
  ],
  [
    'two containers with ports',
    (m) => {
      m.spec.template.spec.containers.push({ name: 'b', image: 'node:24', ports: [{ containerPort: 9000 }] });
    },
    /exactly one container with ports/,
  ],
  [
    'a malformed duration',
    (m) => {
      m.spec.scaling = { stableWindow: 'soon' };
    },
    /spec\.scaling\.stableWindow/,
  ],
  [
    'a stable window outside Knative range',
    (m) => {
      m.spec.scaling = { stableWindow: '2h' };
    },
    /spec\.scaling\.stableWindow must be a duration between 6s and 1h/,
  ],
  [
    'a warm window with six cron fields',
    (m) => {
      m.spec.scaling = { schedules: [{ cron: '0 30 8 * * 1-5', duration: '1h', minScale: 2 }] };
    },
    /spec\.scaling\.schedules\[0\]\.cron/,
  ],
  [
    'a warm window of no pods',
    (m) => {
      m.spec.scaling = { schedules: [{ cron: '30 8 * * 1-5', duration: '1h', minScale: 0 }] };
    },
    /spec\.scaling\.schedules\[0\]\.minScale/,
  ],
  [
    'a warm window longer than a week',
    (m) => {
      m.spec.scaling = { schedules: [{ cron: '30 8 * * 1-5', duration: '200h', minScale: 1 }] };
    },
    /spec\.scaling\.schedules\[\]\.duration must be a duration between 1s and 168h/,
  ],
  [
    'a budget with both replicaSeconds and cost',
    (m) => {
      m.spec.budget = { window: '1h', replicaSeconds: 3600, cost: 5 };
    },
    /spec\.budget must set exactly one of replicaSeconds and cost/,
  ],
  [
    'a budget with neither replicaSeconds nor cost',
    (m) => {
      m.spec.budget = { window: '1h' };
    },
    /spec\.budget must set exactly one of replicaSeconds and cost/,
  ],
  [
    'a budget window of 10 seconds',
    (m) => {
      m.spec.budget = { window: '10s', replicaSeconds: 60 };
    },
    /spec\.budget\.window must be a duration between 1m and 744h/,
  ],
  [
    'a budget maxScale with action Reject',
    (m) => {
      m.spec.budget = { window: '1h', replicaSeconds: 60, action: 'Reject', maxScale: 2 };
    },
    /spec\.budget\.maxScale applies to action Cap only/,
  ],
  [
    'an idle policy that does not exist',
    (m) => {
      m.spec.scaling = { idlePolicy: 'Sometimes' };
    },
    /spec\.scaling\.idlePolicy: Unsupported value: "Sometimes"/,
  ],
  [
    'target 0',
    (m) => {
      m.spec.scaling = { target: 0 };
    },
    /spec\.scaling\.target must be > 0/,
  ],
  [
    'panic window over 100%',
    (m) => {
      m.spec.scaling = { panicWindowPercentage: 150 };
    },
    /spec\.scaling\.panicWindowPercentage/,
  ],
  [
    'panic threshold under 110%',
    (m) => {
      m.spec.scaling = { panicThresholdPercentage: 50 };
    },
    /spec\.scaling\.panicThresholdPercentage/,
  ],
  [
    'timeout 0',
    (m) => {
      m.spec.timeoutSeconds = 0;
    },
    /spec\.timeoutSeconds/,
  ],
  [
    'initialScale above maxScale',
    (m) => {
      m.spec.scaling = { initialScale: 5, maxScale: 2 };
    },
    /spec\.scaling\.initialScale must be <= spec\.scaling\.maxScale/,
  ],
  [
    'an unknown metric',
    (m) => {
      m.spec.scaling = { metric: 'cpu' };
    },
    /spec\.scaling\.metric: Unsupported value: "cpu"/,
  ],
  [
    'a container named queue-proxy',
    (m) => {
      m.spec.template.spec.containers[0]!.name = 'queue-proxy';
    },
    /containers\[0\]\.name/,
  ],
  [
    'a reserved port',
    (m) => {
      (m.spec.template.spec.containers[0]!.ports as { containerPort: number }[])[0]!.containerPort = 8012;
    },
    /containerPort must not be one of 8012/,
  ],
  [
    'no image',
    (m) => {
      delete m.spec.template.spec.containers[0]!.image;
    },
    /spec\.template\.spec\.containers\[0\]\.image: Required value/,
  ],
];

describe('kubectl apply of a bad ServerlessService', () => {
  beforeAll(async () => {
    await kubectlOk(['apply', '-f', `${repoRoot}/crds/`]);
    await kubectlOk([
      'wait',
      '--for=condition=Established',
      'crd/serverlessservices.serving.zeroscale.dev',
      '--timeout=60s',
    ]);
  });

  it('accepts the valid manifest the bad ones are made from', async () => {
    const r = await kubectl(['apply', '--dry-run=server', '-f', '-'], JSON.stringify(valid()));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it.each(badManifests)('refuses %s, naming the field', async (_name, spoil, message) => {
    const m = valid();
    spoil(m);
    const r = await kubectl(['apply', '-f', '-'], JSON.stringify(m));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
  });
});
