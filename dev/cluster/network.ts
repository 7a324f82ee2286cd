// The host side of the local cluster's network: the bridge the CNI bridge plugin attaches pods
// to (with the host at 10.244.0.1), a blackhole route for the service CIDR, and one nft table.
// There is no kube-proxy, so a packet to a ClusterIP must never leave the machine: the table
// sends the `kubernetes` Service's address (which kubelet puts into every pod's environment) to
// the apiserver forwarder on the bridge, and drops anything from the bridge that would be routed
// elsewhere. `ip_forward` stays 0 throughout.

import fs from 'node:fs';
import { run, tryRun } from './exec.ts';
import { network } from './paths.ts';

export async function ensureBridge(): Promise<void> {
  const exists = await tryRun('ip', ['link', 'show', network.bridge]);
  if (!exists) await run('ip', ['link', 'add', network.bridge, 'type', 'bridge']);
  const addrs = (await run('ip', ['-4', '-o', 'addr', 'show', 'dev', network.bridge])).stdout;
  if (!addrs.includes(`${network.hostIp}/16`))
    await run('ip', ['addr', 'add', `${network.hostIp}/16`, 'dev', network.bridge]);
  await run('ip', ['link', 'set', network.bridge, 'up']);
  const routes = (await run('ip', ['route', 'show', network.serviceCidr])).stdout;
  if (!routes.includes('blackhole')) await run('ip', ['route', 'replace', 'blackhole', network.serviceCidr]);
}

export function nftRuleset(apiPort: number): string {
  const t = network.nftTable;
  return `table ip ${t}
delete table ip ${t}
table ip ${t} {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    iifname "${network.bridge}" ip daddr ${network.apiClusterIp} tcp dport 443 dnat to ${network.hostIp}:${apiPort}
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    iifname "${network.bridge}" oifname != "${network.bridge}" drop
  }
}
`;
}

export async function ensureNftTable(apiPort: number): Promise<void> {
  await run('nft', ['-f', '-'], { input: nftRuleset(apiPort) });
}

async function nftTables(): Promise<string[]> {
  const { stdout } = await run('nft', ['list', 'tables']).catch(() => ({ stdout: '' }));
  return stdout
    .split('\n')
    .map((l) => l.replace(/^table\s+/, '').trim())
    .filter(Boolean);
}

/**
 * Notes the nft tables there are before kubelet starts: kubelet makes its own (iptables-nft's
 * `filter`, `nat`, `mangle` with KUBE-FIREWALL and canary chains), which `down` removes again.
 */
export async function saveNftTables(file: string): Promise<void> {
  if (fs.existsSync(file)) return;
  fs.writeFileSync(file, JSON.stringify(await nftTables()));
}

export async function removeNftTablesSince(file: string): Promise<void> {
  let before: string[];
  try {
    before = JSON.parse(fs.readFileSync(file, 'utf8')) as string[];
  } catch {
    return;
  }
  for (const t of await nftTables()) {
    if (before.includes(t)) continue;
    const [family, name] = t.split(/\s+/);
    if (family && name) await tryRun('nft', ['delete', 'table', family, name]);
  }
  fs.rmSync(file, { force: true });
}

export async function removeNetwork(): Promise<void> {
  await tryRun('nft', ['delete', 'table', 'ip', network.nftTable]);
  await tryRun('ip', ['route', 'del', 'blackhole', network.serviceCidr]);
  await tryRun('ip', ['link', 'del', network.bridge]);
}

export function ipForwarding(): string {
  return fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
}
