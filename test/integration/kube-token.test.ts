// The Kubernetes client picks up a rotated ServiceAccount token, as client-go does: a token the
// apiserver no longer accepts (401) is read again from its file, and the request goes through.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apply, kubeClient, kubectlOk, testNamespace, waitFor } from '../../dev/cluster/kube.ts';
import { paths } from '../../dev/cluster/paths.ts';
import { KubeApiError, KubeClient } from '../../src/kube/rest.ts';

const admin = kubeClient();
let ns: { name: string; remove: () => Promise<void> };
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zs-token-'));
const tokenFile = path.join(dir, 'token');

beforeAll(async () => {
  ns = await testNamespace('token');
  await apply(
    ns.name,
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'rotated' } },
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'anchor-1' }, type: 'Opaque' },
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'anchor-2' }, type: 'Opaque' },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'cm-reader' },
      rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['list'] }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'rotated-reads' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'cm-reader' },
      subjects: [{ kind: 'ServiceAccount', name: 'rotated', namespace: ns.name }],
    },
  );
});
afterAll(async () => {
  await ns.remove();
  admin.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A bound token that the apiserver stops accepting the moment its Secret is deleted. */
async function boundToken(secret: string): Promise<string> {
  const uid = JSON.parse(await kubectlOk(['get', 'secret', secret, '-n', ns.name, '-o', 'json'])).metadata
    .uid;
  const res = await admin.post<{ status: { token: string } }>(
    `/api/v1/namespaces/${ns.name}/serviceaccounts/rotated/token`,
    {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: {
        expirationSeconds: 600,
        boundObjectRef: { apiVersion: 'v1', kind: 'Secret', name: secret, uid },
      },
    },
  );
  return res.status.token;
}

/** An in-cluster-style client: the token comes from a file, as a pod's projected token does. */
function tokenFileClient(file = tokenFile): KubeClient {
  const kc = new KubeConfig();
  const from = new KubeConfig();
  from.loadFromFile(paths.kubeconfig);
  const cluster = from.getCurrentCluster()!;
  kc.loadFromOptions({
    clusters: [{ name: 'local', server: cluster.server, caData: cluster.caData }],
    users: [{ name: 'sa', authProvider: { name: 'tokenFile', config: { tokenFile: file } } }],
    contexts: [{ name: 'local', cluster: 'local', user: 'sa' }],
    currentContext: 'local',
  });
  return new KubeClient(kc);
}

describe('a rotated ServiceAccount token', () => {
  it('is read again after a 401, so the client keeps working past the old token', async () => {
    const first = await boundToken('anchor-1');
    fs.writeFileSync(tokenFile, first);
    const oldFile = path.join(dir, 'old-token');
    fs.writeFileSync(oldFile, first);
    const client = tokenFileClient();
    const oldClient = tokenFileClient(oldFile);
    try {
      const list = `/api/v1/namespaces/${ns.name}/configmaps`;
      await expect(client.get(list)).resolves.toBeDefined();
      // kubelet rotates the file; the old token dies with its bound object.
      fs.writeFileSync(tokenFile, await boundToken('anchor-2'));
      await kubectlOk(['delete', 'secret', 'anchor-1', '-n', ns.name]);
      // The old token is really dead (not just unused): a client that keeps it gets 401.
      await waitFor('the old token refused', async () => {
        const err = await oldClient.get(list).then(
          () => undefined,
          (e: unknown) => e,
        );
        return err instanceof KubeApiError && err.statusCode === 401;
      });
      await expect(client.get(list)).resolves.toBeDefined();
    } finally {
      client.close();
      oldClient.close();
    }
  });

  it('still fails clearly, with 401, when the file holds no valid token', async () => {
    fs.writeFileSync(tokenFile, 'not-a-token');
    const client = tokenFileClient();
    try {
      const err = await client.get(`/api/v1/namespaces/${ns.name}/configmaps`).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KubeApiError);
      expect((err as KubeApiError).statusCode).toBe(401);
    } finally {
      client.close();
    }
  });
});
