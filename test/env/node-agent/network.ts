// Pod networking as a CNI bridge plugin would do it: one network namespace per pod, a veth pair
// whose host end sits on the cluster bridge, an address from the pod CIDR, a default route via
// the host. Names derive from the pod UID so that clean-up can find them after a crash.

import fs from 'node:fs';
import { network } from '../paths.ts';
import { run, tryRun } from './exec.ts';

export async function ensureBridge(): Promise<void> {
  const exists = await tryRun('ip', ['link', 'show', network.bridge]);
  if (!exists) await run('ip', ['link', 'add', network.bridge, 'type', 'bridge']);
  const addrs = (await run('ip', ['-4', '-o', 'addr', 'show', 'dev', network.bridge])).stdout;
  if (!addrs.includes(`${network.hostIp}/16`))
    await run('ip', ['addr', 'add', `${network.hostIp}/16`, 'dev', network.bridge]);
  await run('ip', ['link', 'set', network.bridge, 'up']);
  // A packet to a ClusterIP must never leave the machine: there is no kube-proxy to translate it.
  const routes = (await run('ip', ['route', 'show', network.serviceCidr])).stdout;
  if (!routes.includes('blackhole')) await run('ip', ['route', 'replace', 'blackhole', network.serviceCidr]);
}

export async function removeBridge(): Promise<void> {
  await tryRun('ip', ['route', 'del', 'blackhole', network.serviceCidr]);
  await tryRun('ip', ['link', 'del', network.bridge]);
}

export function sandboxNames(podUid: string): { netns: string; hostVeth: string; podVeth: string } {
  const id = podUid.replaceAll('-', '').slice(0, 10);
  return {
    netns: `${network.netnsPrefix}${id}`,
    hostVeth: `${network.vethPrefix}${id}`,
    podVeth: `zsp${id}`,
  };
}

/** Hands out pod addresses in 10.244.1.1 – 10.244.255.254, never one that is in use. */
export class IpAllocator {
  readonly #used = new Set<string>();
  #next = 256 + 1;

  allocate(): string {
    for (let tries = 0; tries < 65_000; tries++) {
      const n = this.#next;
      this.#next = n >= 65_534 ? 257 : n + 1;
      const third = n >> 8;
      const fourth = n & 0xff;
      if (fourth === 0 || fourth === 255) continue;
      const ip = `10.244.${third}.${fourth}`;
      if (!this.#used.has(ip)) {
        this.#used.add(ip);
        return ip;
      }
    }
    throw new Error('pod CIDR 10.244.0.0/16 is exhausted');
  }

  release(ip: string): void {
    this.#used.delete(ip);
  }
}

export async function createSandbox(podUid: string, ip: string): Promise<string> {
  const { netns, hostVeth, podVeth } = sandboxNames(podUid);
  // A half-made sandbox from an earlier attempt is replaced whole.
  if (fs.existsSync(`/run/netns/${netns}`)) await deleteSandbox(podUid);
  // Three processes instead of ten: pod start-up is on the cold-start path.
  await run('ip', ['netns', 'add', netns]);
  await run('ip', ['-batch', '-'], {
    input: [
      `link add ${hostVeth} type veth peer name ${podVeth}`,
      `link set ${podVeth} netns ${netns}`,
      `link set ${hostVeth} master ${network.bridge}`,
      `link set ${hostVeth} up`,
    ].join('\n'),
  });
  await run('ip', ['-n', netns, '-batch', '-'], {
    input: [
      'link set lo up',
      `link set ${podVeth} name eth0`,
      `addr add ${ip}/16 dev eth0`,
      'link set eth0 up',
      `route add default via ${network.hostIp}`,
    ].join('\n'),
  });
  return netns;
}

export async function deleteSandbox(podUid: string): Promise<void> {
  const { netns, hostVeth } = sandboxNames(podUid);
  await killNetnsProcesses(netns);
  await tryRun('ip', ['netns', 'del', netns]);
  await tryRun('ip', ['link', 'del', hostVeth]);
}

async function killNetnsProcesses(netns: string): Promise<void> {
  let pids: string[] = [];
  try {
    pids = (await run('ip', ['netns', 'pids', netns])).stdout.split(/\s+/).filter(Boolean);
  } catch {
    return;
  }
  for (const pid of pids) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Removes every namespace and veth that carries our prefixes: crash recovery and cluster-down. */
export async function sweepSandboxes(): Promise<void> {
  const { stdout } = await run('ip', ['netns', 'list']);
  for (const line of stdout.split('\n')) {
    const name = line.split(' ')[0];
    if (name?.startsWith(network.netnsPrefix)) {
      await killNetnsProcesses(name);
      await tryRun('ip', ['netns', 'del', name]);
    }
  }
  const links = (await run('ip', ['-o', 'link', 'show'])).stdout;
  for (const m of links.matchAll(new RegExp(`^\\d+: (${network.vethPrefix}[0-9a-f]+)@`, 'gm'))) {
    await tryRun('ip', ['link', 'del', m[1]!]);
  }
}
