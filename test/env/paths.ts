// Where the local cluster keeps its state: everything under `.zeroscale/` in the repository, the
// upstream binaries linked into `.zeroscale/bin/` from the cache outside the repository.

import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const stateRoot = process.env.ZEROSCALE_STATE_DIR ?? path.join(repoRoot, '.zeroscale');

export const paths = {
  bin: path.join(stateRoot, 'bin'),
  kubeconfig: path.join(stateRoot, 'kubeconfig'),
  pki: path.join(stateRoot, 'pki'),
  etcdData: path.join(stateRoot, 'etcd'),
  logs: path.join(stateRoot, 'logs'),
  pids: path.join(stateRoot, 'pids'),
  pods: path.join(stateRoot, 'pods'),
  clusterJson: path.join(stateRoot, 'cluster.json'),
} as const;

export function binary(name: string): string {
  return path.join(paths.bin, name);
}

/** The pinned Node 24 that the project runs on (the npm `node` package). */
export const nodeBinary = path.join(repoRoot, 'node_modules', 'node', 'bin', 'node');

/** Network of the local cluster. The service CIDR is blackholed so nothing sent there leaves. */
export const network = {
  bridge: 'zs0',
  hostIp: '10.244.0.1',
  podCidr: '10.244.0.0/16',
  serviceCidr: '10.96.0.0/24',
  netnsPrefix: 'zs-',
  vethPrefix: 'zsh',
} as const;

export interface ClusterPorts {
  readonly etcdClient: number;
  readonly etcdPeer: number;
  readonly apiserver: number;
}

export function clusterPorts(env: NodeJS.ProcessEnv = process.env): ClusterPorts {
  return {
    etcdClient: Number(env.ZEROSCALE_ETCD_PORT ?? 23790),
    etcdPeer: Number(env.ZEROSCALE_ETCD_PEER_PORT ?? 23800),
    apiserver: Number(env.ZEROSCALE_API_PORT ?? 6443),
  };
}

export const nodeName = 'zeroscale-node';
