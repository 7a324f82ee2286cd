// The Node object and its heartbeat, as kubelet keeps them: register with Ready status, renew the
// Lease in kube-node-lease every few seconds, re-post the Ready condition now and then.

import os from 'node:os';
import type { V1Node } from '@kubernetes/client-node';
import { isAlreadyExists, isConflict, type KubeClient } from '../../../src/kube/rest.ts';

export const leaseDurationSeconds = 40;
const leaseRenewMs = 5_000;
const statusRenewMs = 60_000;

function nodeStatus(hostIp: string, name: string, now: Date): V1Node['status'] {
  const cond = (type: string, status: string, reason: string, message: string) => ({
    type,
    status,
    reason,
    message,
    lastHeartbeatTime: now,
    lastTransitionTime: now,
  });
  return {
    conditions: [
      cond('Ready', 'True', 'KubeletReady', 'local node agent is posting ready status'),
      cond(
        'MemoryPressure',
        'False',
        'KubeletHasSufficientMemory',
        'kubelet has sufficient memory available',
      ),
      cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
      cond('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
      cond('NetworkUnavailable', 'False', 'RouteCreated', 'pod bridge is up'),
    ],
    addresses: [
      { type: 'InternalIP', address: hostIp },
      { type: 'Hostname', address: name },
    ],
    capacity: { cpu: '32', memory: '64Gi', pods: '250', 'ephemeral-storage': '100Gi' },
    allocatable: { cpu: '32', memory: '64Gi', pods: '250', 'ephemeral-storage': '100Gi' },
    nodeInfo: {
      architecture: 'amd64',
      bootID: '',
      containerRuntimeVersion: 'zeroscale-local://0.1.0',
      kernelVersion: os.release(),
      kubeProxyVersion: '',
      kubeletVersion: 'v1.36.3',
      machineID: '',
      operatingSystem: 'linux',
      osImage: 'zeroscale local node',
      systemUUID: '',
    },
    daemonEndpoints: { kubeletEndpoint: { Port: 0 } },
  };
}

export class NodeHeartbeat {
  readonly #client: KubeClient;
  readonly #name: string;
  readonly #hostIp: string;
  readonly #log: (msg: string, f?: Record<string, unknown>) => void;
  #timers: NodeJS.Timeout[] = [];

  constructor(
    client: KubeClient,
    name: string,
    hostIp: string,
    log: (msg: string, f?: Record<string, unknown>) => void,
  ) {
    this.#client = client;
    this.#name = name;
    this.#hostIp = hostIp;
    this.#log = log;
  }

  async register(): Promise<void> {
    try {
      await this.#client.post('/api/v1/nodes', {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: {
          name: this.#name,
          labels: {
            'kubernetes.io/hostname': this.#name,
            'kubernetes.io/os': 'linux',
            'kubernetes.io/arch': 'amd64',
            'node.kubernetes.io/instance-type': 'zeroscale-local',
          },
        },
        spec: {},
      });
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
    await this.#postStatus();
    await this.#renewLease();
  }

  start(): void {
    this.#timers.push(
      setInterval(
        () => void this.#renewLease().catch((e) => this.#log('lease renewal failed', { err: String(e) })),
        leaseRenewMs,
      ),
    );
    this.#timers.push(
      setInterval(
        () =>
          void this.#postStatus().catch((e) => this.#log('node status update failed', { err: String(e) })),
        statusRenewMs,
      ),
    );
  }

  stop(): void {
    for (const t of this.#timers) clearInterval(t);
  }

  async #postStatus(): Promise<void> {
    await this.#client.patch(`/api/v1/nodes/${this.#name}/status`, 'strategic', {
      status: nodeStatus(this.#hostIp, this.#name, new Date()),
    });
  }

  async #renewLease(): Promise<void> {
    const path = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${this.#name}`;
    const renewTime = new Date().toISOString().replace('Z', '000Z'); // MicroTime: six fractional digits
    try {
      await this.#client.patch(path, 'merge', {
        spec: { renewTime, holderIdentity: this.#name, leaseDurationSeconds },
      });
    } catch (err) {
      if (!(err instanceof Error && 'statusCode' in err && err.statusCode === 404)) throw err;
      const node = await this.#client.get<V1Node>(`/api/v1/nodes/${this.#name}`);
      try {
        await this.#client.post('/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: {
            name: this.#name,
            namespace: 'kube-node-lease',
            ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: this.#name, uid: node.metadata?.uid }],
          },
          spec: { holderIdentity: this.#name, leaseDurationSeconds, renewTime },
        });
      } catch (e) {
        if (!isConflict(e)) throw e;
      }
    }
  }
}
