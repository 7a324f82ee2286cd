// The local cluster's control plane is the real upstream one, and its node stays healthy.
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeMonitorGraceSeconds } from './cluster.ts';
import { apply, kubeClient, kubectlOk, testNamespace, waitFor } from './kube.ts';
import { pod, probeAppContainer } from './manifests.ts';
import { nodeName } from './paths.ts';

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
