// The node enforces what a pod asks for, as any real cluster does: Pod Security admission,
// a read-only root filesystem, runAsNonRoot against the image's user, memory limits through the
// cgroup (OOMKilled), and an image that is not on the node with pull policy Never.
import type { V1ContainerStatus, V1Pod, V1SecurityContext } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseImage } from '../../dev/cluster/images.ts';
import {
  apply,
  httpGet,
  kubeClient,
  kubectl,
  kubectlOk,
  testNamespace,
  waitFor,
} from '../../dev/cluster/kube.ts';
import { pod, probeAppContainer } from '../../dev/cluster/manifests.ts';

const client = kubeClient();
let ns: { name: string; remove: () => Promise<void> };
beforeAll(async () => {
  ns = await testNamespace('enforce');
});
afterAll(async () => {
  await ns.remove();
  client.close();
});

const restricted: V1SecurityContext = {
  allowPrivilegeEscalation: false,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

const getPod = (name: string) => client.get<V1Pod>(`/api/v1/namespaces/${ns.name}/pods/${name}`);
const isReady = (p: V1Pod) =>
  p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
async function status(name: string): Promise<V1ContainerStatus | undefined> {
  return (await getPod(name)).status?.containerStatuses?.[0];
}

describe('Pod Security admission', () => {
  it('refuses a pod that breaks `restricted` in an enforcing namespace and runs one that keeps it', async () => {
    await kubectlOk(['label', 'namespace', ns.name, 'pod-security.kubernetes.io/enforce=restricted']);
    try {
      const bare = await kubectl(
        ['apply', '-n', ns.name, '-f', '-'],
        JSON.stringify(pod('bare', { containers: [probeAppContainer()] })),
      );
      expect(bare.code).not.toBe(0);
      expect(bare.stderr).toContain('violates PodSecurity "restricted:latest"');
      expect(bare.stderr).toContain('allowPrivilegeEscalation != false');
      await apply(ns.name, pod('kept', { containers: [probeAppContainer({ securityContext: restricted })] }));
      const p = await waitFor('kept Ready', async () => {
        const x = await getPod('kept');
        return isReady(x) ? x : undefined;
      });
      const who = await httpGet(`http://${p.status?.podIP}:8080/whoami`);
      expect(JSON.parse(who.body)).toEqual({ uid: 1000, gid: 1000 });
    } finally {
      await kubectlOk(['label', 'namespace', ns.name, 'pod-security.kubernetes.io/enforce-']);
    }
  });
});

describe('the container runtime', () => {
  it('makes a read-only root filesystem read-only: a write fails with EROFS', async () => {
    await apply(
      ns.name,
      pod('readonly', {
        containers: [probeAppContainer({ securityContext: { ...restricted, readOnlyRootFilesystem: true } })],
      }),
    );
    const p = await waitFor('readonly Ready', async () => {
      const x = await getPod('readonly');
      return isReady(x) ? x : undefined;
    });
    for (const file of ['/app/written', '/tmp/written', '/written']) {
      const res = await httpGet(`http://${p.status?.podIP}:8080/write?path=${file}`);
      expect({ file, ...res }).toEqual({ file, status: 500, body: 'EROFS' });
    }
  });

  it('refuses to start a runAsNonRoot container whose image runs as root, with the reason in status', async () => {
    await apply(
      ns.name,
      pod('asroot', {
        containers: [
          {
            name: 'app',
            image: baseImage,
            command: ['node', '-e', 'setInterval(() => {}, 1e6)'],
            securityContext: { runAsNonRoot: true },
          },
        ],
      }),
    );
    const waiting = await waitFor('CreateContainerConfigError', async () => {
      const w = (await status('asroot'))?.state?.waiting;
      return w?.reason === 'CreateContainerConfigError' ? w : undefined;
    });
    expect(waiting.message).toContain('runAsNonRoot and image will run as root');
  });

  it('kills a container that exceeds its memory limit, and reports OOMKilled', async () => {
    await apply(
      ns.name,
      pod('hungry', {
        restartPolicy: 'Never',
        containers: [
          probeAppContainer({ resources: { limits: { memory: '96Mi' }, requests: { memory: '96Mi' } } }),
        ],
      }),
    );
    const p = await waitFor('hungry Ready', async () => {
      const x = await getPod('hungry');
      return isReady(x) ? x : undefined;
    });
    await httpGet(`http://${p.status?.podIP}:8080/alloc?mb=256`, 10_000).catch(() => undefined);
    const terminated = await waitFor('OOMKilled', async () => {
      const t = (await status('hungry'))?.state?.terminated;
      return t ? t : undefined;
    });
    expect(terminated.reason).toBe('OOMKilled');
    expect(terminated.exitCode).toBe(137);
  });

  it('answers ErrImageNeverPull for an image that is not on the node with pull policy Never', async () => {
    await apply(
      ns.name,
      pod('absent', {
        containers: [{ name: 'app', image: 'zeroscale.local/not-built:1', imagePullPolicy: 'Never' }],
      }),
    );
    const waiting = await waitFor('ErrImageNeverPull', async () => {
      const w = (await status('absent'))?.state?.waiting;
      return w?.reason === 'ErrImageNeverPull' ? w : undefined;
    });
    expect(waiting.message).toContain('zeroscale.local/not-built:1');
  });
});
