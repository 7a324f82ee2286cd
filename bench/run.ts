// `make bench`: runs every benchmark and writes its numbers to bench/results/. With
// `--kube-client` (node bench/run.ts --kube-client) it also compares our Kubernetes REST client
// with @kubernetes/client-node (bench/kube-client.ts).
import { benchAutoscaler } from './autoscaler.ts';
import { benchCluster } from './cluster.ts';
import { benchColdStart } from './coldstart.ts';
import { benchKubeClient } from './kube-client.ts';
import { benchProxy } from './proxy.ts';

await benchCluster();
await benchColdStart();
await benchAutoscaler();
await benchProxy();
if (process.argv.includes('--kube-client')) await benchKubeClient();
