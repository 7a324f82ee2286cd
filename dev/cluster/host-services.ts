// The local cluster's host-side services, the one process of ours on the node (kubelet does
// neither job): `type: LoadBalancer` Services published on 127.0.0.1 as cloud-provider-kind does
// for kind, and the apiserver (bound to 127.0.0.1) forwarded to the bridge address, where the nft
// rule of network.ts sends the pods' traffic for the `kubernetes` Service's ClusterIP.
// Started by `make cluster-up`.

import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import pino from 'pino';
import { KubeClient } from '../../src/kube/rest.ts';
import { forwardApiserver } from './host-ports.ts';
import { LocalLoadBalancers } from './load-balancers.ts';
import { network, paths } from './paths.ts';

const { values } = parseArgs({
  options: {
    kubeconfig: { type: 'string', default: paths.kubeconfig },
    'api-port': { type: 'string', default: '6443' },
  },
});

const log = pino({ base: { component: 'host-services' } });
const logFn = (msg: string, fields: Record<string, unknown> = {}) => log.info(fields, msg);
const apiPort = Number(values['api-port']);

const kc = new KubeConfig();
kc.loadFromFile(values.kubeconfig!);
const client = new KubeClient(kc);

async function main(): Promise<void> {
  const apiForward = await forwardApiserver(network.hostIp, apiPort, apiPort);
  const loadBalancers = new LocalLoadBalancers(client, logFn);
  loadBalancers.start();
  log.info({ api: `${network.hostIp}:${apiPort}` }, 'host services ready');
  const shutdown = (signal: string) => {
    log.info({ signal }, 'host services stopping');
    loadBalancers.stop();
    apiForward.close();
    client.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err) => {
  log.fatal({ err: String(err) }, 'host services failed to start');
  process.exit(1);
});
