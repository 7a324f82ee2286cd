// A pod's ServiceAccount token is a real bound token from the TokenRequest API, at the path
// in-cluster clients read it from, and it carries exactly that account's RBAC.
import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apply, httpGet, kubeClient, testNamespace, waitFor } from '../../dev/cluster/kube.ts';
import { pod, probeAppContainer } from '../../dev/cluster/manifests.ts';

const client = kubeClient();
let ns: { name: string; remove: () => Promise<void> };
beforeAll(async () => {
  ns = await testNamespace('sa');
});
afterAll(async () => {
  await ns.remove();
  client.close();
});

describe('ServiceAccount token in a pod', () => {
  it('may list pods where a Role allows it and is forbidden to list secrets', async () => {
    await apply(
      ns.name,
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'reader' } },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name: 'pod-reader' },
        rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'reader-reads-pods' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-reader' },
        subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace: ns.name }],
      },
    );
    await apply(ns.name, pod('reader', { serviceAccountName: 'reader', containers: [probeAppContainer()] }));
    const p = await waitFor('reader Ready', async () => {
      const x = await client.get<V1Pod>(`/api/v1/namespaces/${ns.name}/pods/reader`);
      return x.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? x : undefined;
    });
    // The token was injected by the ServiceAccount admission plugin as a projected volume.
    expect(p.spec?.volumes?.some((v) => v.projected?.sources?.some((s) => s.serviceAccountToken))).toBe(true);
    const res = await httpGet(`http://${p.status?.podIP}:8080/kube`, 10_000);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ pods: 200, secrets: 403 });
  });
});
