// Brings the local cluster up and down: etcd, kube-apiserver, kube-controller-manager and
// kube-scheduler from the upstream binaries, then the local node agent. `up` reuses a healthy
// cluster; `down` stops every process it started (by pid) and removes every namespace, veth,
// bridge and route it made. Usage: node test/env/cluster.ts up|down|status

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { KubeConfig, type V1Node } from '@kubernetes/client-node';
import { KubeClient } from '../../src/kube/rest.ts';
import { ensureBridge, removeBridge, sweepSandboxes } from './node-agent/network.ts';
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
import { adminKubeconfig, ensurePki, pkiFiles } from './pki.ts';

/** Start order; stopped in reverse. */
const components = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'node-agent',
] as const;
type Component = (typeof components)[number];

/** The node-monitor grace period given to kube-controller-manager (the agent renews every 5 s). */
export const nodeMonitorGraceSeconds = 30;

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
          '--profiling=false',
          '--v=1',
        ],
      ];
    case 'kube-controller-manager':
      return [
        binary('kube-controller-manager'),
        [
          `--kubeconfig=${kubeconfig}`,
          `--authentication-kubeconfig=${kubeconfig}`,
          `--authorization-kubeconfig=${kubeconfig}`,
          '--leader-elect=false',
          '--bind-address=127.0.0.1',
          '--secure-port=0',
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
      return [
        binary('kube-scheduler'),
        [
          `--kubeconfig=${kubeconfig}`,
          `--authentication-kubeconfig=${kubeconfig}`,
          `--authorization-kubeconfig=${kubeconfig}`,
          '--leader-elect=false',
          '--bind-address=127.0.0.1',
          '--secure-port=0',
          '--v=1',
        ],
      ];
    case 'node-agent':
      return [
        nodeBinary,
        [
          path.join(repoRoot, 'test/env/node-agent/main.ts'),
          `--kubeconfig=${kubeconfig}`,
          `--api-port=${ports.apiserver}`,
          `--node-name=${nodeName}`,
        ],
      ];
  }
}

function startDetached(c: Component, ports: ClusterPorts): void {
  const [cmd, args] = commandLine(c, ports);
  if (!fs.existsSync(cmd))
    throw new Error(`${cmd} is missing: run 'make binaries' (scripts/build-binaries.sh) first`);
  const log = fs.openSync(path.join(paths.logs, `${c}.log`), 'a');
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', log, log], cwd: repoRoot });
  fs.closeSync(log);
  if (child.pid === undefined) throw new Error(`${c} did not start`);
  fs.writeFileSync(pidFile(c), String(child.pid));
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
    throw new Error('the local cluster needs root: it makes network namespaces and a bridge');
  const started = Date.now();
  const ports = clusterPorts();
  for (const dir of [paths.logs, paths.pids, paths.pods]) fs.mkdirSync(dir, { recursive: true });
  if (await healthy(ports)) {
    say(`reusing the running cluster (kubeconfig ${paths.kubeconfig})`);
    return;
  }
  await down({ quiet: true });
  for (const [name, port] of Object.entries(ports)) {
    if (!(await portFree(port))) {
      throw new Error(
        `port ${port} on 127.0.0.1 (${name}) is already in use by another process; stop it or choose another port with ZEROSCALE_${name === 'apiserver' ? 'API' : name === 'etcdClient' ? 'ETCD' : 'ETCD_PEER'}_PORT`,
      );
    }
  }
  for (const dir of [paths.logs, paths.pids, paths.pods]) fs.mkdirSync(dir, { recursive: true });
  await ensureBridge();
  await ensurePki();

  startDetached('etcd', ports);
  await waitFor('etcd /health', 'etcd', 30_000, async () => {
    const res = await fetch(`http://127.0.0.1:${ports.etcdClient}/health`);
    return res.ok;
  });
  startDetached('kube-apiserver', ports);
  await waitFor('kube-apiserver /readyz', 'kube-apiserver', 90_000, () =>
    httpsGetOk(`https://127.0.0.1:${ports.apiserver}/readyz`),
  );
  fs.writeFileSync(paths.kubeconfig, adminKubeconfig(ports.apiserver), { mode: 0o600 });
  startDetached('kube-controller-manager', ports);
  startDetached('kube-scheduler', ports);
  startDetached('node-agent', ports);

  const client = kubeClient();
  try {
    await waitFor(`node ${nodeName} Ready`, 'node-agent', 60_000, async () => {
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
    const deadline = Date.now() + (c === 'node-agent' ? 20_000 : 10_000);
    while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    if (alive(pid)) process.kill(pid!, 'SIGKILL');
  }
  fs.rmSync(pidFile(c), { force: true });
}

export async function down(options: { quiet?: boolean } = {}): Promise<void> {
  const quiet = options.quiet ?? false;
  for (const c of [...components].reverse()) await stopPid(c, quiet);
  await sweepSandboxes();
  await removeBridge();
  // The store and the pods' files go with the cluster: the next `up` starts clean.
  for (const p of [paths.etcdData, paths.pods, paths.clusterJson, paths.kubeconfig])
    fs.rmSync(p, { recursive: true, force: true });
  if (!quiet) say('down: no process, namespace, veth, bridge or route of the local cluster is left');
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
    process.stderr.write('usage: node test/env/cluster.ts up|down|status\n');
    process.exit(2);
  }
  action().catch((err: unknown) => {
    say(`failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
