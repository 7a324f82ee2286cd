// Where the local cluster keeps its state: everything under `.zeroscale/` in the repository, the
// upstream binaries linked into `.zeroscale/bin/` from the cache outside the repository, and what
// is slow to rebuild (built images, containerd's image store) in that cache.

import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const stateRoot = process.env.ZEROSCALE_STATE_DIR ?? path.join(repoRoot, '.zeroscale');
export const cacheRoot =
  process.env.ZEROSCALE_CACHE ??
  path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'zeroscale');

export const paths = {
  bin: path.join(stateRoot, 'bin'),
  cniBin: path.join(stateRoot, 'cni-bin'),
  pauseBinary: path.join(stateRoot, 'pause'),
  kubeconfig: path.join(stateRoot, 'kubeconfig'),
  pki: path.join(stateRoot, 'pki'),
  etcdData: path.join(stateRoot, 'etcd'),
  logs: path.join(stateRoot, 'logs'),
  pids: path.join(stateRoot, 'pids'),
  clusterJson: path.join(stateRoot, 'cluster.json'),
  /** The node's own configuration files (containerd, kubelet, CNI), written at every `up`. */
  nodeConfig: path.join(stateRoot, 'node'),
  kubeletRoot: path.join(stateRoot, 'kubelet'),
  /** containerd's store: kept across `down` so that images are imported once per content. */
  containerdRoot: path.join(cacheRoot, 'containerd'),
  containerdState: '/run/containerd',
  containerdSocket: '/run/containerd/containerd.sock',
  /** buildah's image store (base, pause, product and test app images). */
  buildahRoot: path.join(cacheRoot, 'buildah'),
  buildahRunRoot: '/run/zeroscale-buildah',
  /** What was built and imported, by image: its content key and digest. */
  images: path.join(cacheRoot, 'images'),
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
  // kind's and kubeadm's default: room for thousands of services (a /24 held 250).
  serviceCidr: '10.96.0.0/16',
  /** The `kubernetes` Service's ClusterIP, which kubelet puts in every pod's environment. */
  apiClusterIp: '10.96.0.1',
  nftTable: 'zeroscale',
} as const;

export interface ClusterPorts {
  readonly etcdClient: number;
  readonly etcdPeer: number;
  readonly apiserver: number;
  readonly kubelet: number;
}

export function clusterPorts(env: NodeJS.ProcessEnv = process.env): ClusterPorts {
  return {
    etcdClient: Number(env.ZEROSCALE_ETCD_PORT ?? 23790),
    etcdPeer: Number(env.ZEROSCALE_ETCD_PEER_PORT ?? 23800),
    apiserver: Number(env.ZEROSCALE_API_PORT ?? 6443),
    kubelet: Number(env.ZEROSCALE_KUBELET_PORT ?? 10250),
  };
}

export const nodeName = 'zeroscale-node';
