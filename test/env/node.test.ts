// The local cluster is the real upstream one, control plane and node alike (kubelet v1.36.3 on
// containerd 2.3.7), and its node stays healthy.
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeMonitorGraceSeconds } from '../../dev/cluster/cluster.ts';
import { apply, kubeClient, kubectlOk, testNamespace, waitFor } from '../../dev/cluster/kube.ts';
import { pod, probeAppContainer } from '../../dev/cluster/manifests.ts';
import { nodeName } from '../../dev/cluster/paths.ts';

describe('local cluster control plane', () => {
  const client = kubeClient();
  let ns: { name: string; remove: () => Promise<void> };
  beforeAll(async () => {
    ns = await testNamespace('node');
  });
  afterAll(async () => {
    await ns.remove();
    client.close();
  });

  it('kubectl version reports client and server v1.36.3', async () => {
    const out = JSON.parse(await kubectlOk(['version', '-o', 'json']));
    expect(out.clientVersion.gitVersion).toBe('v1.36.3');
    expect(out.serverVersion.gitVersion).toBe('v1.36.3');
  });

  it('runs kubelet v1.36.3 on containerd 2.3.7, as kubectl get node -o wide shows', async () => {
    const wide = await kubectlOk(['get', 'node', nodeName, '-o', 'wide']);
    const [header, row] = wide.trim().split('\n');
    const columns = header!.split(/\s{2,}/);
    const values = row!.split(/\s{2,}/);
    const col = (name: string) => values[columns.indexOf(name)];
    expect(col('STATUS')).toBe('Ready');
    expect(col('VERSION')).toBe('v1.36.3');
    expect(col('CONTAINER-RUNTIME')).toBe('containerd://2.3.7');
    expect(col('INTERNAL-IP')).toBe('10.244.0.1');
  });

  it('keeps the node Ready, untainted and its pods unevicted for longer than the node-monitor grace period', async () => {
    await apply(ns.name, pod('sentinel', { containers: [probeAppContainer()] }));
    const sentinel = await waitFor('sentinel pod Ready', async () => {
      const p = await client.get<V1Pod>(`/api/v1/namespaces/${ns.name}/pods/sentinel`);
      return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? p : undefined;
    });
    const watchUntil = Date.now() + (nodeMonitorGraceSeconds + 5) * 1000;
    let samples = 0;
    while (Date.now() < watchUntil) {
      const node = await client.get<V1Node>(`/api/v1/nodes/${nodeName}`);
      const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
      expect(ready?.status, `node Ready at sample ${samples}`).toBe('True');
      expect(node.spec?.taints ?? []).toEqual([]);
      samples++;
      await new Promise((r) => setTimeout(r, 1_000));
    }
    expect(samples).toBeGreaterThan(nodeMonitorGraceSeconds);
    const after = await client.get<V1Pod>(`/api/v1/namespaces/${ns.name}/pods/sentinel`);
    expect(after.metadata?.uid).toBe(sentinel.metadata?.uid);
    expect(after.metadata?.deletionTimestamp).toBeUndefined();
    expect(after.status?.phase).toBe('Running');
  });
});
