// Brings the local cluster up and down, all from upstream binaries: etcd, kube-apiserver,
// kube-controller-manager and kube-scheduler, then a node of containerd + runc + CNI + kubelet,
// plus the host services of host-services.ts (LoadBalancer on 127.0.0.1, the API on the bridge).
// `up` reuses a healthy cluster; `down` stops every process it started (by pid) and leaves no pod,
// shim, mount, cgroup, network namespace, CNI state, nft table, bridge or route behind.
// Usage: node dev/cluster/cluster.ts up|down|status

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { KubeConfig, type V1Node } from '@kubernetes/client-node';
import { KubeClient } from '../../src/kube/rest.ts';
import { run } from './exec.ts';
import { assertForwardingOff, ensureClusterImages } from './images.ts';
import {
  ensureBridge,
  ensureNftTable,
  removeNetwork,
  removeNftTablesSince,
  saveNftTables,
} from './network.ts';
import {
  cleanNode,
  containerdArgs,
  ensureCgroupRoot,
  ensureCpuWeights,
  joinSystemCgroup,
  kubeletArgs,
  leftovers,
  nodeFiles,
  removeAllSandboxes,
  saveSysctls,
  writeNodeConfig,
} from './node.ts';
import {
  binary,
  type ClusterPorts,
  clusterPorts,
  network,
  nodeBinary,
  nodeName,
  paths,
  repoRoot,
} from './paths.ts';
import { adminKubeconfig, ensurePki, kubeletKubeconfig, pkiFiles } from './pki.ts';

/** Start order; stopped in reverse. */
const components = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'host-services',
  'containerd',
  'kubelet',
] as const;
type Component = (typeof components)[number];

/** The node-monitor grace period given to kube-controller-manager (kubelet's default is 40 s). */
export const nodeMonitorGraceSeconds = 40;

function say(msg: string): void {
  process.stderr.write(`cluster: ${msg}\n`);
}

function pidFile(c: Component): string {
  return path.join(paths.pids, `${c}.pid`);
}

function readPid(c: Component): number | undefined {
  try {
    const pid = Number(fs.readFileSync(pidFile(c), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** What kube-controller-manager and kube-scheduler share: the admin kubeconfig, one replica, no port. */
function controlPlaneClientArgs(kubeconfig: string): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    '--leader-elect=false',
    '--bind-address=127.0.0.1',
    '--secure-port=0',
  ];
}

function commandLine(c: Component, ports: ClusterPorts): [string, string[]] {
  const kubeconfig = paths.kubeconfig;
  switch (c) {
    case 'etcd':
      return [
        binary('etcd'),
        [
          '--name=n0',
          `--data-dir=${paths.etcdData}`,
          '--unsafe-no-fsync=true',
          '--auto-compaction-retention=1',
          `--listen-client-urls=http://127.0.0.1:${ports.etcdClient}`,
          `--advertise-client-urls=http://127.0.0.1:${ports.etcdClient}`,
          `--listen-peer-urls=http://127.0.0.1:${ports.etcdPeer}`,
          `--initial-advertise-peer-urls=http://127.0.0.1:${ports.etcdPeer}`,
          `--initial-cluster=n0=http://127.0.0.1:${ports.etcdPeer}`,
          '--listen-metrics-urls=',
          '--log-level=warn',
        ],
      ];
    case 'kube-apiserver':
      return [
        binary('kube-apiserver'),
        [
          `--etcd-servers=http://127.0.0.1:${ports.etcdClient}`,
          '--bind-address=127.0.0.1',
          `--secure-port=${ports.apiserver}`,
          `--advertise-address=${network.hostIp}`,
          '--endpoint-reconciler-type=none',
          `--tls-cert-file=${pkiFiles.apiCert}`,
          `--tls-private-key-file=${pkiFiles.apiKey}`,
          `--client-ca-file=${pkiFiles.caCert}`,
          '--authorization-mode=Node,RBAC',
          '--allow-privileged=true',
          `--service-cluster-ip-range=${network.serviceCidr}`,
          '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
          `--service-account-key-file=${pkiFiles.saPub}`,
          `--service-account-signing-key-file=${pkiFiles.saKey}`,
          '--enable-aggregator-routing=true',
          // kubelet's API for kubectl logs, exec and port-forward; the node's name is in no DNS.
          `--kubelet-client-certificate=${pkiFiles.apiserverKubeletClientCert}`,
          `--kubelet-client-key=${pkiFiles.apiserverKubeletClientKey}`,
          '--kubelet-preferred-address-types=InternalIP',
          '--profiling=false',
          '--v=1',
        ],
      ];
    case 'kube-controller-manager':
      return [
        binary('kube-controller-manager'),
        [
          ...controlPlaneClientArgs(kubeconfig),
          `--service-account-private-key-file=${pkiFiles.saKey}`,
          `--root-ca-file=${pkiFiles.caCert}`,
          '--use-service-account-credentials=true',
          '--node-monitor-period=5s',
          `--node-monitor-grace-period=${nodeMonitorGraceSeconds}s`,
          `--service-cluster-ip-range=${network.serviceCidr}`,
          '--v=1',
        ],
      ];
    case 'kube-scheduler':
      return [binary('kube-scheduler'), [...controlPlaneClientArgs(kubeconfig), '--v=1']];
    case 'host-services':
      return [
        nodeBinary,
        [
          path.join(repoRoot, 'dev/cluster/host-services.ts'),
          `--kubeconfig=${kubeconfig}`,
          `--api-port=${ports.apiserver}`,
        ],
      ];
    case 'containerd':
      return [binary('containerd'), containerdArgs()];
    case 'kubelet':
      return [binary('kubelet'), kubeletArgs()];
  }
}

function startDetached(c: Component, ports: ClusterPorts): void {
  const [cmd, args] = commandLine(c, ports);
  if (!fs.existsSync(cmd))
    throw new Error(`${cmd} is missing: run 'make binaries' (scripts/build-binaries.sh) first`);
  const log = fs.openSync(path.join(paths.logs, `${c}.log`), 'a');
  // containerd finds runc through its config; the shim and kubelet look for mount/umount/nsenter
  // on PATH, which must have the sbin folders.
  const env = {
    ...process.env,
    PATH: `${paths.bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
  };
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', log, log], cwd: repoRoot, env });
  fs.closeSync(log);
  if (child.pid === undefined) throw new Error(`${c} did not start`);
  fs.writeFileSync(pidFile(c), String(child.pid));
  // Before it starts threads or children (containerd's shims) that would stay behind in root.
  joinSystemCgroup(child.pid);
  child.unref();
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen({ host: '127.0.0.1', port }, () => s.close(() => resolve(true)));
  });
}

async function waitFor(
  what: string,
  c: Component | undefined,
  timeoutMs: number,
  check: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (c && !alive(readPid(c))) {
      throw new Error(`${c} exited while waiting for ${what}; see ${path.join(paths.logs, `${c}.log`)}`);
    }
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
}

function httpsGetOk(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = https.get(
      url,
      {
        ca: fs.readFileSync(pkiFiles.caCert),
        cert: fs.readFileSync(pkiFiles.adminCert),
        key: fs.readFileSync(pkiFiles.adminKey),
        timeout: 2_000,
      },
      (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      },
    );
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
  });
}

async function healthy(ports: ClusterPorts): Promise<boolean> {
  return (
    components.every((c) => alive(readPid(c))) &&
    (await httpsGetOk(`https://127.0.0.1:${ports.apiserver}/readyz`))
  );
}

function kubeClient(): KubeClient {
  const kc = new KubeConfig();
  kc.loadFromFile(paths.kubeconfig);
  return new KubeClient(kc);
}

export async function up(): Promise<void> {
  if (process.getuid?.() !== 0)
    throw new Error('the local cluster needs root: it runs kubelet, containerd and a bridge');
  const started = Date.now();
  const ports = clusterPorts();
  for (const dir of [paths.logs, paths.pids]) fs.mkdirSync(dir, { recursive: true });
  if (await healthy(ports)) {
    say(`reusing the running cluster (kubeconfig ${paths.kubeconfig})`);
    return;
  }
  await down({ quiet: true });
  const envNames: Record<keyof ClusterPorts, string> = {
    apiserver: 'ZEROSCALE_API_PORT',
    etcdClient: 'ZEROSCALE_ETCD_PORT',
    etcdPeer: 'ZEROSCALE_ETCD_PEER_PORT',
    kubelet: 'ZEROSCALE_KUBELET_PORT',
  };
  for (const [name, port] of Object.entries(ports) as [keyof ClusterPorts, number][]) {
    // kubelet's port is on the bridge address, which exists only once the cluster is up.
    if (name === 'kubelet' || (await portFree(port))) continue;
    throw new Error(
      `port ${port} on 127.0.0.1 (${name}) is already in use by another process; stop it or choose another port with ${envNames[name]}`,
    );
  }
  await ensureBridge();
  await ensureNftTable(ports.apiserver);
  await ensurePki();
  writeNodeConfig(ports);
  ensureCpuWeights();
  fs.writeFileSync(nodeFiles.kubeletKubeconfig, kubeletKubeconfig(ports.apiserver), { mode: 0o600 });

  startDetached('etcd', ports);
  // containerd does not need the API: it starts beside the control plane, and the images are
  // imported while the apiserver comes up.
  startDetached('containerd', ports);
  await waitFor('etcd /health', 'etcd', 30_000, async () => {
    const res = await fetch(`http://127.0.0.1:${ports.etcdClient}/health`);
    return res.ok;
  });
  startDetached('kube-apiserver', ports);
  await waitFor('containerd', 'containerd', 30_000, async () => {
    await run(binary('ctr'), ['--address', paths.containerdSocket, 'version']);
    return true;
  });
  await ensureClusterImages();
  await waitFor('kube-apiserver /readyz', 'kube-apiserver', 90_000, () =>
    httpsGetOk(`https://127.0.0.1:${ports.apiserver}/readyz`),
  );
  fs.writeFileSync(paths.kubeconfig, adminKubeconfig(ports.apiserver), { mode: 0o600 });
  startDetached('kube-controller-manager', ports);
  startDetached('kube-scheduler', ports);
  startDetached('host-services', ports);
  saveSysctls();
  await saveNftTables(nodeFiles.nftTablesSaved);
  ensureCgroupRoot();
  startDetached('kubelet', ports);

  const client = kubeClient();
  try {
    await waitFor(`node ${nodeName} Ready`, 'kubelet', 90_000, async () => {
      const node = await client.get<V1Node>(`/api/v1/nodes/${nodeName}`);
      return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
    });
    // Pods can only be created once the serviceaccount controller has made `default`.
    await waitFor('the default ServiceAccount', 'kube-controller-manager', 60_000, async () => {
      await client.get('/api/v1/namespaces/default/serviceaccounts/default');
      return true;
    });
  } finally {
    client.close();
  }
  await assertForwardingOff('cluster up');
  fs.writeFileSync(
    paths.clusterJson,
    JSON.stringify({ ports, startedAt: new Date().toISOString() }, null, 2),
  );
  say(`up in ${((Date.now() - started) / 1000).toFixed(1)} s; kubeconfig ${paths.kubeconfig}`);
}

async function stopPid(c: Component, quiet: boolean): Promise<void> {
  const pid = readPid(c);
  if (alive(pid)) {
    if (!quiet) say(`stopping ${c} (pid ${pid})`);
    process.kill(pid!, 'SIGTERM');
    const deadline = Date.now() + 15_000;
    while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    if (alive(pid)) process.kill(pid!, 'SIGKILL');
  }
  fs.rmSync(pidFile(c), { force: true });
}

/** The parts of the running cluster a fault test may stop and start again. */
export type RestartableComponent = 'etcd' | 'kube-apiserver' | 'kubelet';

/** Stops one component of the running cluster, as `down` does (SIGTERM, SIGKILL after 15 s). */
export async function stopComponent(c: RestartableComponent): Promise<void> {
  await stopPid(c, false);
}

/** Starts a stopped component again with the cluster's ports; waits until it answers. */
export async function startComponent(c: RestartableComponent): Promise<void> {
  const ports = clusterPorts();
  say(`starting ${c} again`);
  startDetached(c, ports);
  if (c === 'etcd') {
    await waitFor('etcd /health', 'etcd', 30_000, async () => {
      const res = await fetch(`http://127.0.0.1:${ports.etcdClient}/health`);
      return res.ok;
    });
  } else if (c === 'kube-apiserver') {
    await waitFor('kube-apiserver /readyz', 'kube-apiserver', 90_000, () =>
      httpsGetOk(`https://127.0.0.1:${ports.apiserver}/readyz`),
    );
  }
}

export async function down(options: { quiet?: boolean } = {}): Promise<void> {
  const quiet = options.quiet ?? false;
  // kubelet first, so that it does not restart what the CRI clean-up removes; then every sandbox
  // through containerd (CNI releases the addresses), then containerd and the control plane.
  await stopPid('kubelet', quiet);
  if (alive(readPid('containerd'))) await removeAllSandboxes();
  for (const c of [...components].reverse()) if (c !== 'kubelet') await stopPid(c, quiet);
  await cleanNode();
  await removeNftTablesSince(nodeFiles.nftTablesSaved);
  await removeNetwork();
  // The store and the node's state go with the cluster: the next `up` starts clean. Images stay
  // in the cache (keyed by content), so they are not imported again.
  for (const p of [paths.etcdData, paths.clusterJson, paths.kubeconfig])
    fs.rmSync(p, { recursive: true, force: true });
  const left = await leftovers();
  if (left.length > 0) throw new Error(`down left behind: ${left.join(', ')}`);
  if (!quiet)
    say(
      'down: no process, pod, mount, cgroup, namespace, CNI state, nft table, bridge or route of the local cluster is left',
    );
}

async function status(): Promise<void> {
  const ports = clusterPorts();
  for (const c of components) {
    const pid = readPid(c);
    process.stdout.write(`${c.padEnd(24)} ${alive(pid) ? `running (pid ${pid})` : 'stopped'}\n`);
  }
  process.stdout.write(
    `apiserver /readyz         ${(await httpsGetOk(`https://127.0.0.1:${ports.apiserver}/readyz`)) ? 'ok' : 'unreachable'}\n`,
  );
  process.stdout.write(`kubeconfig                ${paths.kubeconfig}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const cmd = process.argv[2];
  const action = cmd === 'up' ? up : cmd === 'down' ? down : cmd === 'status' ? status : undefined;
  if (!action) {
    process.stderr.write('usage: node dev/cluster/cluster.ts up|down|status\n');
    process.exit(2);
  }
  action().catch((err: unknown) => {
    say(`failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
