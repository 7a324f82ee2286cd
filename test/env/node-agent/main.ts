// The local node agent: the one stand-in of the test cluster, doing kubelet's job for pods bound
// to its Node with processes in network namespaces. Started by `make cluster-up`.

import { parseArgs } from 'node:util';
import { KubeConfig, type V1ConfigMap, type V1Pod, type V1Secret } from '@kubernetes/client-node';
import pino from 'pino';
import { Informer } from '../../../src/kube/informer.ts';
import { isNotFound, KubeClient } from '../../../src/kube/rest.ts';
import { nodeName as defaultNodeName, network, paths } from '../paths.ts';
import { forwardApiserver, HostPorts } from './host-ports.ts';
import { LocalLoadBalancers } from './load-balancers.ts';
import { ensureBridge, IpAllocator, sweepSandboxes } from './network.ts';
import { NodeHeartbeat } from './node.ts';
import { type AgentContext, PodWorker } from './pod-worker.ts';

const { values } = parseArgs({
  options: {
    kubeconfig: { type: 'string', default: paths.kubeconfig },
    'node-name': { type: 'string', default: defaultNodeName },
    'api-port': { type: 'string', default: '6443' },
  },
});

const log = pino({ base: { component: 'node-agent' } });
const logFn = (msg: string, fields: Record<string, unknown> = {}) => log.info(fields, msg);
const nodeName = values['node-name']!;
const apiPort = Number(values['api-port']);

const kc = new KubeConfig();
kc.loadFromFile(values.kubeconfig!);
const client = new KubeClient(kc);

async function getOrUndefined<T>(path: string): Promise<T | undefined> {
  try {
    return await client.get<T>(path);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

function recordEvent(pod: V1Pod, type: 'Normal' | 'Warning', reason: string, message: string): void {
  const md = pod.metadata ?? {};
  const now = new Date().toISOString();
  client
    .post(`/api/v1/namespaces/${md.namespace}/events`, {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { generateName: `${md.name}.`, namespace: md.namespace },
      involvedObject: { apiVersion: 'v1', kind: 'Pod', name: md.name, namespace: md.namespace, uid: md.uid },
      reason,
      message,
      type,
      source: { component: 'kubelet', host: nodeName },
      reportingComponent: 'kubelet',
      reportingInstance: nodeName,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    })
    .catch((err) => log.debug({ err: String(err) }, 'event not recorded'));
}

const hostPorts = new HostPorts();
const ctx: AgentContext = {
  client,
  nodeName,
  hostIp: network.hostIp,
  apiHost: network.hostIp,
  apiPort,
  ips: new IpAllocator(),
  podsDir: paths.pods,
  logsDir: `${paths.logs}/pods`,
  sources: {
    getConfigMap: (ns, name) => getOrUndefined<V1ConfigMap>(`/api/v1/namespaces/${ns}/configmaps/${name}`),
    getSecret: (ns, name) => getOrUndefined<V1Secret>(`/api/v1/namespaces/${ns}/secrets/${name}`),
  },
  tokens: {
    async requestToken(pod, serviceAccount, audience, expirationSeconds) {
      const md = pod.metadata ?? {};
      const res = await client.post<{ status: { token: string; expirationTimestamp: string } }>(
        `/api/v1/namespaces/${md.namespace}/serviceaccounts/${serviceAccount}/token`,
        {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenRequest',
          spec: {
            ...(audience ? { audiences: [audience] } : {}),
            expirationSeconds,
            boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: md.name, uid: md.uid },
          },
        },
      );
      return { token: res.status.token, expiresAtMs: Date.parse(res.status.expirationTimestamp) };
    },
  },
  hostPorts,
  log: logFn,
  event: recordEvent,
};

const workers = new Map<string, PodWorker>();

function isTerminal(pod: V1Pod): boolean {
  return pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
}

function onPod(event: string, pod: V1Pod): void {
  const uid = pod.metadata?.uid ?? '';
  const worker = workers.get(uid);
  if (event === 'delete') {
    if (worker) {
      workers.delete(uid);
      void worker.forget();
    }
    return;
  }
  if (worker) {
    worker.update(pod);
    return;
  }
  if (isTerminal(pod) && !pod.metadata?.deletionTimestamp) return;
  const w = new PodWorker(pod, ctx);
  workers.set(uid, w);
  if (pod.metadata?.deletionTimestamp) {
    void w.terminate().finally(() => workers.delete(uid));
    return;
  }
  log.info({ pod: `${pod.metadata?.namespace}/${pod.metadata?.name}` }, 'pod admitted');
  void w.start();
}

async function main(): Promise<void> {
  await ensureBridge();
  await sweepSandboxes(); // what an earlier agent left behind is not ours to resume
  const apiForward = await forwardApiserver(network.hostIp, apiPort, apiPort);
  const heartbeat = new NodeHeartbeat(client, nodeName, network.hostIp, logFn);
  await heartbeat.register();
  heartbeat.start();
  const informer = new Informer<V1Pod>(client, {
    path: '/api/v1/pods',
    fieldSelector: `spec.nodeName=${nodeName}`,
    resyncMs: 30_000,
    onError: (err) => log.warn({ err: String(err) }, 'pod watch failed; resuming'),
  });
  informer.on((event, pod) => {
    if (event !== 'resync') onPod(event, pod);
  });
  informer.start();
  const loadBalancers = new LocalLoadBalancers(client, logFn);
  loadBalancers.start();
  await informer.waitForSync();
  log.info({ node: nodeName }, 'node agent ready');

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'node agent stopping; killing every pod process');
    informer.stop();
    loadBalancers.stop();
    heartbeat.stop();
    apiForward.close();
    hostPorts.releaseAll();
    await Promise.allSettled([...workers.values()].map((w) => w.forget()));
    await sweepSandboxes();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err) => {
  log.fatal({ err: String(err), stack: (err as Error).stack }, 'node agent failed to start');
  process.exit(1);
});
