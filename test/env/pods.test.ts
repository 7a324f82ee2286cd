// Pods run for real: a Deployment behind a Service gets distinct ready pod addresses that answer
// HTTP, containers of one pod share localhost, downward-API env and the API by ClusterIP work, and
// kubectl logs, exec and port-forward reach the container through kubelet.
import { spawn } from 'node:child_process';
import type { V1EndpointSlice, V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apply, httpGet, kubeClient, kubectlOk, testNamespace, waitFor } from '../../dev/cluster/kube.ts';
import { deployment, pod, probeAppContainer } from '../../dev/cluster/manifests.ts';
import { binary, paths } from '../../dev/cluster/paths.ts';

const client = kubeClient();
let ns: { name: string; remove: () => Promise<void> };
beforeAll(async () => {
  ns = await testNamespace('pods');
});
afterAll(async () => {
  await ns.remove();
  client.close();
});

function isReady(p: V1Pod): boolean {
  return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

async function readyPod(namespace: string, name: string): Promise<V1Pod> {
  return waitFor(`pod ${name} Ready`, async () => {
    const p = await client.get<V1Pod>(`/api/v1/namespaces/${namespace}/pods/${name}`);
    return isReady(p) ? p : undefined;
  });
}

describe('a Deployment of a Node HTTP app behind a Service', () => {
  it('has 3 ready pods whose distinct pod addresses are in the EndpointSlice and answer HTTP', async () => {
    await apply(ns.name, deployment('web', 3, { containers: [probeAppContainer()] }), {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web' },
      spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 'http' }] },
    });
    const slice = await waitFor('EndpointSlice with 3 ready endpoints', async () => {
      const list = await client.get<{ items: V1EndpointSlice[] }>(
        `/apis/discovery.k8s.io/v1/namespaces/${ns.name}/endpointslices`,
        { labelSelector: 'kubernetes.io/service-name=web' },
      );
      const ready = list.items.flatMap((s) => (s.endpoints ?? []).filter((e) => e.conditions?.ready));
      return ready.length === 3 ? ready : undefined;
    });
    const addresses = slice.flatMap((e) => e.addresses);
    expect(new Set(addresses).size).toBe(3);
    for (const ip of addresses) expect(ip).toMatch(/^10\.244\.\d+\.\d+$/);

    const pods = await client.get<{ items: V1Pod[] }>(`/api/v1/namespaces/${ns.name}/pods`, {
      labelSelector: 'app=web',
    });
    expect(pods.items.filter(isReady)).toHaveLength(3);
    const names = new Set<string>();
    for (const ip of addresses) {
      const res = await httpGet(`http://${ip}:8080/`);
      expect(res.status).toBe(200);
      names.add(res.body.replace('hello from ', ''));
    }
    expect(names).toEqual(new Set(pods.items.map((p) => p.metadata?.name)));
  });

  it('lets two containers of one pod reach each other on localhost', async () => {
    await apply(
      ns.name,
      pod('duo', {
        containers: [
          probeAppContainer({ name: 'first' }, 8080),
          probeAppContainer(
            {
              name: 'second',
              env: [
                { name: 'PORT', value: '8081' },
                { name: 'POD_NAME', value: 'second-container' },
              ],
            },
            8081,
          ),
        ],
      }),
    );
    const p = await readyPod(ns.name, 'duo');
    const viaFirst = await httpGet(`http://${p.status?.podIP}:8080/localhost?port=8081`);
    expect(viaFirst).toEqual({ status: 200, body: 'hello from second-container' });
    const viaSecond = await httpGet(`http://${p.status?.podIP}:8081/localhost?port=8080`);
    expect(viaSecond).toEqual({ status: 200, body: 'hello from duo' });
  });
});

describe('pod networking, environment and the kubelet API', () => {
  it('gives pod name, namespace and IP through the downward API, and reaches the API at the kubernetes ClusterIP', async () => {
    await apply(ns.name, pod('envpod', { containers: [probeAppContainer()] }));
    const p = await readyPod(ns.name, 'envpod');
    const res = await httpGet(`http://${p.status?.podIP}:8080/env`);
    const env = JSON.parse(res.body) as Record<string, string>;
    expect(env.POD_NAME).toBe('envpod');
    expect(env.POD_NAMESPACE).toBe(ns.name);
    expect(env.POD_IP).toBe(p.status?.podIP);
    // kubelet injects the `kubernetes` Service; the local cluster's nft rule takes it to the
    // apiserver (the default ServiceAccount may not list pods: 403, from the apiserver itself).
    expect(env.KUBERNETES_SERVICE_HOST).toBe('10.96.0.1');
    const kube = await httpGet(`http://${p.status?.podIP}:8080/kube`, 10_000);
    expect(JSON.parse(kube.body)).toEqual({ pods: 403, secrets: 403 });
  });

  it('serves kubectl logs, exec and port-forward through kubelet', async () => {
    await readyPod(ns.name, 'envpod');
    expect(await kubectlOk(['logs', 'envpod', '-n', ns.name])).toContain('listening on 8080');
    const out = await kubectlOk([
      'exec',
      'envpod',
      '-n',
      ns.name,
      '--',
      'node',
      '-p',
      'process.env.POD_NAME',
    ]);
    expect(out.trim()).toBe('envpod');
    const port = 18_100 + (process.pid % 500);
    const forward = spawn(
      binary('kubectl'),
      [`--kubeconfig=${paths.kubeconfig}`, 'port-forward', '-n', ns.name, 'pod/envpod', `${port}:8080`],
      { stdio: 'ignore' },
    );
    try {
      const res = await waitFor(
        'port-forward answers',
        async () => {
          const r = await httpGet(`http://127.0.0.1:${port}/`).catch(() => undefined);
          return r?.status === 200 ? r : undefined;
        },
        20_000,
      );
      expect(res.body).toBe('hello from envpod');
    } finally {
      forward.kill('SIGTERM');
    }
  });
});
