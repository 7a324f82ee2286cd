// The local cluster's node, from upstream parts: containerd (CRI) with Debian's runc, CNI's bridge
// and host-local plugins on the cluster bridge, and kubelet. This module writes their
// configuration, and takes the node apart again at `down`: sandboxes through the CRI (so CNI
// releases each address), then the daemons, mounts, cgroups, CNI state and the sysctls kubelet
// rewrote.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run, tryRun } from './exec.ts';
import { pauseImage } from './images.ts';
import { binary, type ClusterPorts, network, nodeName, paths } from './paths.ts';
import { pkiFiles } from './pki.ts';

export const nodeFiles = {
  containerdConfig: path.join(paths.nodeConfig, 'containerd.toml'),
  kubeletConfig: path.join(paths.nodeConfig, 'kubelet.yaml'),
  kubeletKubeconfig: path.join(paths.nodeConfig, 'kubelet.kubeconfig'),
  cniConfDir: path.join(paths.nodeConfig, 'cni'),
  cniIpamDir: path.join(paths.nodeConfig, 'cni-ipam'),
  crictlConfig: path.join(paths.nodeConfig, 'crictl.yaml'),
  registryHosts: path.join(paths.nodeConfig, 'certs.d'),
  sysctlsSaved: path.join(paths.nodeConfig, 'sysctls.json'),
  nftTablesSaved: path.join(paths.nodeConfig, 'nft-tables.json'),
} as const;

/** Where every image pull goes: nothing listens there. */
export const noRegistry = 'http://127.0.0.1:1';

/** Global sysctls that kubelet rewrites at start (container_manager_linux.go): restored at down. */
const kubeletSysctls = ['kernel/panic', 'kernel/panic_on_oops', 'vm/overcommit_memory'] as const;

function containerdConfig(): string {
  // Version 3 of the format (2.3's own default is 4; 3 is read with a deprecation note).
  return `version = 3
root = '${paths.containerdRoot}'
state = '${paths.containerdState}'

[grpc]
  address = '${paths.containerdSocket}'

[plugins.'io.containerd.cri.v1.runtime']
  # Root on this machine lacks CAP_SYS_RESOURCE: runc cannot lower the pause container's
  # oom_score_adj, and without this every sandbox fails with "can't get final child's PID".
  restrict_oom_score_adj = true

[plugins.'io.containerd.cri.v1.runtime'.containerd]
  default_runtime_name = 'runc'

[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
  runtime_type = 'io.containerd.runc.v2'
  runtime_path = '${binary('containerd-shim-runc-v2')}'

[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
  BinaryName = '/usr/sbin/runc'
  SystemdCgroup = false

[plugins.'io.containerd.cri.v1.runtime'.cni]
  bin_dirs = ['${paths.cniBin}']
  conf_dir = '${nodeFiles.cniConfDir}'

[plugins.'io.containerd.cri.v1.images'.pinned_images]
  sandbox = '${pauseImage}'

# There is no registry here, and a pull must never leave the machine: every registry resolves to
# a closed port on loopback, so a missing image fails at once with ErrImagePull.
[plugins.'io.containerd.cri.v1.images'.registry]
  config_path = '${nodeFiles.registryHosts}'

[plugins.'io.containerd.nri.v1.nri']
  disable = true
`;
}

/**
 * The bridge plugin on the existing bridge: not a gateway (it would turn on ip_forward; the
 * bridge already has 10.244.0.1), no masquerade, hairpin so a pod reaches itself through a
 * Service address. host-local hands out 10.244.1.1 and up, its state under the cluster's folder.
 */
function cniConflist(): string {
  return JSON.stringify(
    {
      cniVersion: '1.0.0',
      name: 'zeroscale',
      plugins: [
        {
          type: 'bridge',
          bridge: network.bridge,
          isGateway: false,
          isDefaultGateway: false,
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            dataDir: nodeFiles.cniIpamDir,
            ranges: [
              [
                {
                  subnet: network.podCidr,
                  rangeStart: '10.244.1.1',
                  rangeEnd: '10.244.255.254',
                  gateway: network.hostIp,
                },
              ],
            ],
            routes: [{ dst: '0.0.0.0/0', gw: network.hostIp }],
          },
        },
      ],
    },
    null,
    2,
  );
}

function kubeletConfig(ports: ClusterPorts): string {
  return `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: ${network.hostIp}
port: ${ports.kubelet}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: true }
  x509: { clientCAFile: ${pkiFiles.caCert} }
authorization: { mode: Webhook }
tlsCertFile: ${pkiFiles.kubeletServingCert}
tlsPrivateKeyFile: ${pkiFiles.kubeletServingKey}
containerRuntimeEndpoint: unix://${paths.containerdSocket}
# The host is cgroup v1 (hybrid): kubelet 1.36 refuses it unless told otherwise.
cgroupDriver: cgroupfs
failCgroupV1: false
cgroupRoot: /kubelet
failSwapOn: false
# One node for everything: never evict a pod or collect an image because the disk looks full.
imageGCHighThresholdPercent: 100
evictionHard:
  nodefs.available: "0%"
  nodefs.inodesFree: "0%"
  imagefs.available: "0%"
  imagefs.inodesFree: "0%"
serializeImagePulls: false
maxPods: 250
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
rotateCertificates: false
`;
}

export function writeNodeConfig(ports: ClusterPorts): void {
  fs.mkdirSync(nodeFiles.cniConfDir, { recursive: true });
  fs.mkdirSync(paths.kubeletRoot, { recursive: true });
  fs.writeFileSync(nodeFiles.containerdConfig, containerdConfig());
  fs.mkdirSync(path.join(nodeFiles.registryHosts, '_default'), { recursive: true });
  fs.writeFileSync(
    path.join(nodeFiles.registryHosts, '_default', 'hosts.toml'),
    `server = "${noRegistry}"\n\n[host."${noRegistry}"]\n  capabilities = ["pull", "resolve"]\n`,
  );
  fs.writeFileSync(path.join(nodeFiles.cniConfDir, '10-zeroscale.conflist'), cniConflist());
  fs.writeFileSync(nodeFiles.kubeletConfig, kubeletConfig(ports));
  fs.writeFileSync(
    nodeFiles.crictlConfig,
    `runtime-endpoint: unix://${paths.containerdSocket}\nimage-endpoint: unix://${paths.containerdSocket}\ntimeout: 10\n`,
  );
}

export function kubeletArgs(): string[] {
  return [
    `--config=${nodeFiles.kubeletConfig}`,
    `--kubeconfig=${nodeFiles.kubeletKubeconfig}`,
    `--root-dir=${paths.kubeletRoot}`,
    `--cert-dir=${path.join(paths.kubeletRoot, 'pki')}`,
    `--hostname-override=${nodeName}`,
    `--node-ip=${network.hostIp}`,
    '--v=1',
  ];
}

export function containerdArgs(): string[] {
  return ['--config', nodeFiles.containerdConfig, '--log-level', 'warn'];
}

/** Records the sysctls kubelet will rewrite, once per `up` (a second `up` keeps the first record). */
export function saveSysctls(): void {
  if (fs.existsSync(nodeFiles.sysctlsSaved)) return;
  const saved: Record<string, string> = {};
  for (const s of kubeletSysctls) saved[s] = fs.readFileSync(`/proc/sys/${s}`, 'utf8').trim();
  fs.mkdirSync(paths.nodeConfig, { recursive: true });
  fs.writeFileSync(nodeFiles.sysctlsSaved, JSON.stringify(saved));
}

function restoreSysctls(): void {
  let saved: Record<string, string>;
  try {
    saved = JSON.parse(fs.readFileSync(nodeFiles.sysctlsSaved, 'utf8')) as Record<string, string>;
  } catch {
    return;
  }
  for (const [s, v] of Object.entries(saved)) fs.writeFileSync(`/proc/sys/${s}`, v);
  fs.rmSync(nodeFiles.sysctlsSaved, { force: true });
}

export function crictl(args: readonly string[], timeoutMs = 60_000) {
  return run(binary('crictl'), ['--config', nodeFiles.crictlConfig, ...args], { timeoutMs });
}

/**
 * The host pid of a container's main process, from the CRI (`containerd://<id>` as a pod's status
 * names it): what a test SIGKILLs to kill a component the hard way, as the OOM killer would.
 */
export async function containerPid(containerId: string): Promise<number> {
  const id = containerId.replace(/^containerd:\/\//, '');
  const info = JSON.parse((await crictl(['inspect', id])).stdout) as { info?: { pid?: number } };
  const pid = info.info?.pid;
  if (!pid) throw new Error(`container ${id} has no running process`);
  return pid;
}

/** Stops and removes every pod sandbox through the CRI: CNI DEL runs for each, shims exit. */
export async function removeAllSandboxes(): Promise<void> {
  if (!fs.existsSync(paths.containerdSocket)) return;
  const { stdout } = await crictl(['pods', '-q']).catch(() => ({ stdout: '' }));
  const ids = stdout.split(/\s+/).filter(Boolean);
  if (ids.length === 0) return;
  await crictl(['stopp', ...ids], 120_000).catch(() => undefined);
  await crictl(['rmp', '--force', ...ids], 120_000).catch(() => undefined);
}

/** Kills whatever containerd shim is left (a shim outlives containerd by design). */
async function killShims(): Promise<void> {
  const { stdout } = await run('pgrep', ['-f', 'containerd-shim-runc-v2']).catch(() => ({ stdout: '' }));
  for (const pid of stdout.split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

async function unmountUnder(dir: string): Promise<void> {
  const { stdout } = await run('findmnt', ['-rn', '-o', 'TARGET']).catch(() => ({ stdout: '' }));
  const targets = stdout
    .split('\n')
    .map((t) => t.replaceAll('\\x20', ' '))
    .filter((t) => t === dir || t.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const t of targets) await tryRun('umount', ['-l', t]);
}

/**
 * kubelet's cgroupRoot (/kubelet, as kind sets it: every pod under one tree that `down` removes)
 * must exist in every v1 hierarchy before kubelet starts. A new cpuset cgroup starts with no CPUs
 * and no memory nodes: it gets its parent's.
 */
export function ensureCgroupRoot(): void {
  const base = '/sys/fs/cgroup';
  for (const hierarchy of fs.readdirSync(base)) {
    if (hierarchy === 'unified') continue;
    const dir = path.join(base, hierarchy, 'kubelet');
    fs.mkdirSync(dir, { recursive: true });
    if (hierarchy === 'cpuset') {
      for (const f of ['cpuset.cpus', 'cpuset.mems'])
        fs.writeFileSync(path.join(dir, f), fs.readFileSync(path.join(base, hierarchy, f)));
    }
  }
}

/**
 * The host daemons' CPU cgroup, the stand-in for systemd's system.slice. On a real node systemd
 * puts the daemons in system.slice (cpu.shares 1,024) and kubelet's pods in kubepods (shares = its
 * allocatable CPU: 2,048 on two cores), so under contention pods get two thirds of the CPU. Here
 * there is no systemd: left in the root cgroup, every runnable daemon thread (the apiserver alone
 * has many) weighs as much as all pods together, and a burst of cold starts starved the pods so
 * far that the components' health probes timed out for a minute and kubelet restarted them.
 */
const systemCpuCgroup = '/sys/fs/cgroup/cpu/zeroscale-system';

/** Makes the host daemons' CPU cgroup and gives it and the pods' tree a real node's weights. */
export function ensureCpuWeights(): void {
  fs.mkdirSync(systemCpuCgroup, { recursive: true });
  fs.writeFileSync(path.join(systemCpuCgroup, 'cpu.shares'), '1024');
  const pods = '/sys/fs/cgroup/cpu/kubelet';
  fs.mkdirSync(pods, { recursive: true });
  fs.writeFileSync(path.join(pods, 'cpu.shares'), String(os.availableParallelism() * 1024));
}

/** Moves a host daemon (all its threads, and what it starts later) into the daemons' CPU cgroup. */
export function joinSystemCgroup(pid: number): void {
  fs.writeFileSync(path.join(systemCpuCgroup, 'cgroup.procs'), String(pid));
}

/** Removes the `kubelet` cgroup tree kubelet made under every v1 hierarchy, deepest first. */
function removeCgroups(): void {
  const base = '/sys/fs/cgroup';
  if (!fs.existsSync(base)) return;
  for (const hierarchy of fs.readdirSync(base)) {
    const root = path.join(base, hierarchy, 'kubelet');
    if (!fs.existsSync(root)) continue;
    const dirs: string[] = [];
    const walk = (d: string) => {
      let entries: fs.Dirent[];
      try {
        entries = fs.readdirSync(d, { withFileTypes: true });
      } catch {
        return; // removed meanwhile (by kubelet or the kernel as its last process left): nothing to do
      }
      for (const e of entries) if (e.isDirectory()) walk(path.join(d, e.name));
      dirs.push(d);
    };
    walk(root);
    for (const d of dirs) {
      try {
        fs.rmdirSync(d);
      } catch {
        // a cgroup with a process left in it: reported by leftovers()
      }
    }
  }
}

/** Everything of the node that must be gone after `down`: mounts, netns, cgroups, shims. */
export async function leftovers(): Promise<string[]> {
  const out: string[] = [];
  const { stdout: mounts } = await run('findmnt', ['-rn', '-o', 'TARGET']).catch(() => ({ stdout: '' }));
  for (const t of mounts.split('\n'))
    if (
      t.startsWith(paths.kubeletRoot) ||
      t.startsWith(paths.containerdRoot) ||
      t.startsWith(paths.containerdState) ||
      t.startsWith('/run/netns/cni-')
    )
      out.push(`mount ${t}`);
  if (fs.existsSync('/run/netns'))
    for (const n of fs.readdirSync('/run/netns')) if (n.startsWith('cni-')) out.push(`netns ${n}`);
  for (const h of fs.existsSync('/sys/fs/cgroup') ? fs.readdirSync('/sys/fs/cgroup') : [])
    if (fs.existsSync(`/sys/fs/cgroup/${h}/kubelet`)) out.push(`cgroup ${h}/kubelet`);
  if (fs.existsSync(systemCpuCgroup)) out.push('cgroup cpu/zeroscale-system');
  const { stdout: shims } = await run('pgrep', ['-f', 'containerd-shim-runc-v2']).catch(() => ({
    stdout: '',
  }));
  for (const p of shims.split(/\s+/).filter(Boolean)) out.push(`shim pid ${p}`);
  return out;
}

/** After kubelet and containerd have stopped: what they leave on the host goes too. */
export async function cleanNode(): Promise<void> {
  await killShims();
  await unmountUnder(paths.kubeletRoot);
  await unmountUnder(paths.containerdState);
  // The containerd root's snapshot mounts (rootfs of containers) and netns of sandboxes.
  await unmountUnder(paths.containerdRoot);
  if (fs.existsSync('/run/netns')) {
    for (const n of fs.readdirSync('/run/netns')) {
      if (!n.startsWith('cni-')) continue;
      await tryRun('umount', ['-l', `/run/netns/${n}`]);
      fs.rmSync(`/run/netns/${n}`, { force: true });
    }
  }
  removeCgroups();
  try {
    fs.rmdirSync(systemCpuCgroup);
  } catch {
    // absent, or a process left in it: reported by leftovers()
  }
  for (const p of [
    paths.kubeletRoot,
    nodeFiles.cniIpamDir,
    paths.containerdState,
    '/var/lib/kubelet/device-plugins',
    '/var/lib/kubelet/plugins_registry',
    '/var/lib/kubelet/pod-resources',
    '/var/log/pods',
    '/var/log/containers',
    '/var/lib/cni/results',
    '/run/nri',
  ])
    fs.rmSync(p, { recursive: true, force: true });
  // /var/lib/kubelet itself only if kubelet made it empty (a real kubelet of the host is never ours).
  try {
    fs.rmdirSync('/var/lib/kubelet');
  } catch {
    // not empty or not there
  }
  restoreSysctls();
}
