// `make bench`: runs every benchmark and writes its numbers to bench/results/. With
// `--kube-client` (node bench/run.ts --kube-client) it also compares our Kubernetes REST client
// with @kubernetes/client-node (bench/kube-client.ts).
import path from 'node:path';
import { bundle } from '../scripts/bundle.ts';
import { benchAutoscaler } from './autoscaler.ts';
import { benchCluster } from './cluster.ts';
import { benchColdStart } from './coldstart.ts';
import { benchH2 } from './h2.ts';
import { benchKubeClient } from './kube-client.ts';
import { benchPrewarm } from './prewarm.ts';
import { benchProxy } from './proxy.ts';
import { benchRevisions } from './revisions.ts';
import { benchScale } from './scale.ts';
import { benchSidecar } from './sidecar.ts';

// The data-plane benchmarks run the bundles the image ships.
await bundle(path.join(import.meta.dirname, '..', 'dist'));
await benchCluster();
await benchColdStart();
await benchAutoscaler();
benchPrewarm();
await benchScale();
await benchRevisions();
await benchProxy();
await benchSidecar();
await benchH2();
if (process.argv.includes('--kube-client')) await benchKubeClient();
