// The Helm chart as users meet it: lint-clean, every rendered object accepted by the apiserver,
// wrong values refused with a clear message, `helm upgrade` under load without a failed request,
// and `helm uninstall` removing everything but the CRDs.
import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuiltImage } from '../../dev/cluster/images.ts';
import { kubectl, kubectlOk, testNamespace, waitFor, waitServiceReady } from '../../dev/cluster/kube.ts';
import { serverlessService } from '../../dev/cluster/manifests.ts';
import {
  chartDir,
  helm,
  installZeroscale,
  localValues,
  releaseName,
  runningComponentPods,
  systemNamespace,
} from '../../dev/cluster/zeroscale.ts';
import { runLoad } from '../../dev/load.ts';
import { componentBundles } from '../../scripts/bundle.ts';
import { QUEUE_PROXY_NODE_FLAGS } from '../../src/api/queue-proxy.ts';

let ns: { name: string; remove: () => Promise<void> };
let image: BuiltImage;
beforeAll(async () => {
  image = await installZeroscale();
  ns = await testNamespace('pkg');
}, 300_000);
afterAll(async () => {
  await ns.remove();
  await installZeroscale(); // the uninstall test leaves the cluster as the other files expect it
}, 300_000);

describe('the chart', () => {
  it('runs the image built from the Dockerfile, in a namespace that enforces Pod Security restricted', async () => {
    const namespace = JSON.parse(await kubectlOk(['get', 'namespace', systemNamespace, '-o', 'json']));
    expect(namespace.metadata.labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
    const pods = JSON.parse(await kubectlOk(['get', 'pods', '-n', systemNamespace, '-o', 'json'])) as {
      items: V1Pod[];
    };
    const running = pods.items.filter((p) => p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp);
    expect(running.map((p) => p.metadata?.labels?.['app.kubernetes.io/component']).sort()).toEqual([
      'activator',
      'activator',
      'autoscaler',
      'autoscaler',
      'controller',
      'controller',
    ]);
    for (const p of running) {
      const s = p.status?.containerStatuses?.[0];
      expect(s?.image).toBe(image.name);
      // kubelet reports the image ID containerd resolved the tag to: the one this build produced.
      expect(s?.imageID).toBe(image.id);
    }
  });

  it('starts each component from the compile cache the image was built with, as its user and with its flags', async () => {
    // Node keeps one compile cache per user id and per hash of the V8 flags: a cache warmed by root,
    // or without the queue-proxy's flags, is silently never read, and every cold start compiles
    // the queue-proxy from source.
    const pod = (await runningComponentPods('activator'))[0]!;
    for (const bundle of Object.values(componentBundles)) {
      const flags = bundle === componentBundles.queue ? QUEUE_PROXY_NODE_FLAGS : [];
      const file = `/app/dist/${bundle}.cjs`;
      const run = await kubectl([
        'exec',
        '-n',
        systemNamespace,
        pod,
        '--',
        'env',
        'NODE_DEBUG_NATIVE=COMPILE_CACHE',
        'node',
        ...flags,
        '-e',
        `require(${JSON.stringify(file)})`,
      ]);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toContain(`V8 code cache for CommonJS ${file} was accepted`);
    }
  });

  it('is lint-clean, and everything it renders passes a server-side dry run', async () => {
    const lint = await helm(['lint', chartDir, '-f', localValues]);
    expect(lint.stdout).toContain('0 chart(s) failed');
    expect(lint.stdout).not.toMatch(/\[(WARNING|ERROR)\]/);
    const rendered = await helm(['template', releaseName, chartDir, '-n', systemNamespace, '--include-crds']);
    expect(rendered.code).toBe(0);
    // Server-side apply as a dry run: the apiserver validates every object (schema, admission) as
    // it would on install, whether or not the release is already there.
    const dryRun = await kubectl(
      [
        'apply',
        '--server-side',
        '--force-conflicts',
        '--field-manager=chart-dry-run',
        '--dry-run=server',
        '-n',
        systemNamespace,
        '-f',
        '-',
      ],
      rendered.stdout,
    );
    expect(dryRun.stderr).toBe('');
    expect(dryRun.code).toBe(0);
    expect(dryRun.stdout).toMatch(
      /deployment\.apps\/zeroscale-activator serverside-applied \(server dry run\)/,
    );
  });

  it.each([
    [
      'a wrong type',
      ['--set', 'controller.replicas=two'],
      /at '\/controller\/replicas': got string, want integer/,
    ],
    [
      'an unknown key',
      ['--set', 'activator.replicaz=3'],
      /at '\/activator': additional properties 'replicaz' not allowed/,
    ],
    ['a bad enum value', ['--set', 'activator.service.type=Ingress'], /at '\/activator\/service\/type'/],
  ])('refuses %s with a message naming it', async (_name, args, message) => {
    const r = await helm([
      'upgrade',
      '--install',
      releaseName,
      chartDir,
      '-n',
      systemNamespace,
      '-f',
      localValues,
      '--dry-run=client',
      ...args,
    ]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
  });
});

describe('helm upgrade', () => {
  it('rolls every component to a changed configuration without one failed request under steady load', async () => {
    const manifest = serverlessService('steady', { scaling: { minScale: 1 } });
    await kubectlOk(['apply', '-n', ns.name, '-f', '-'], JSON.stringify(manifest));
    await waitServiceReady(ns.name, 'steady');
    const host = `steady.${ns.name}.example.com`;
    let upgrading = true;
    const load = (async () => {
      const results = [];
      // Bounded: at most 60 s of load, in 2 s rounds, until the upgrade has finished.
      for (let round = 0; round < 30 && upgrading; round++) {
        results.push(await runLoad({ host, path: '/sleep?ms=20', concurrency: 4, durationMs: 2_000 }));
      }
      return results;
    })();
    const livePods = async () => {
      const list = JSON.parse(await kubectlOk(['get', 'pods', '-n', systemNamespace, '-o', 'json'])) as {
        items: { metadata: { name: string; deletionTimestamp?: string } }[];
      };
      return list.items.filter((p) => !p.metadata.deletionTimestamp).map((p) => p.metadata.name);
    };
    const before = await livePods();
    const token = async () =>
      Buffer.from(
        JSON.parse(
          await kubectlOk(['get', 'secret', 'zeroscale-internal-token', '-n', systemNamespace, '-o', 'json']),
        ).data.token,
        'base64',
      ).toString();
    const tokenBefore = await token();
    try {
      await installZeroscale([
        '--set',
        'logLevel=debug',
        '--set',
        'config.container-concurrency-target-default=90',
      ]);
    } finally {
      upgrading = false;
    }
    const results = await load;
    const after = await livePods();
    expect(before.filter((p) => after.includes(p))).toEqual([]); // every component pod was replaced
    const failures = results.flatMap((r) => r.failures);
    expect(failures).toEqual([]);
    expect(results.reduce((n, r) => n + r.total, 0)).toBeGreaterThan(100);
    // The install's internal token is kept across the upgrade, and every queue-proxy carries it.
    expect(await token()).toBe(tokenBefore);
    expect(tokenBefore).toMatch(/^[A-Za-z0-9]{40}$/);
    const steady = JSON.parse(
      await kubectlOk(['get', 'deployment', 'steady-1', '-n', ns.name, '-o', 'json']),
    );
    const qp = steady.spec.template.spec.containers.find((c: { name: string }) => c.name === 'queue-proxy');
    expect(qp.env.find((e: { name: string }) => e.name === 'ZEROSCALE_INTERNAL_TOKEN')?.value).toBe(
      tokenBefore,
    );
    await kubectlOk(['delete', 'ssvc', 'steady', '-n', ns.name]);
  });
});

describe('helm uninstall', () => {
  it('removes everything the release made except the CRDs', async () => {
    const r = await helm(['uninstall', releaseName, '-n', systemNamespace, '--wait', '--timeout', '2m']);
    expect(r.code).toBe(0);
    await waitFor(
      'no zeroscale object left in the release namespace',
      async () => {
        const left = await kubectlOk([
          'get',
          'deployments,services,serviceaccounts,configmaps,roles,rolebindings,poddisruptionbudgets,pods',
          '-n',
          systemNamespace,
          '-l',
          'app.kubernetes.io/name=zeroscale',
          '-o',
          'name',
        ]);
        return left.trim() === '';
      },
      120_000,
    );
    const clusterWide = await kubectlOk(['get', 'clusterroles,clusterrolebindings', '-o', 'name']);
    expect(clusterWide).not.toMatch(/zeroscale/);
    const crd = await kubectl(['get', 'crd', 'serverlessservices.serving.zeroscale.dev']);
    expect(crd.code).toBe(0);
  });
});
