// `make bench`: runs every benchmark and writes its numbers to bench/results/.
import { benchAutoscaler } from './autoscaler.ts';
import { benchCluster } from './cluster.ts';
import { benchProxy } from './proxy.ts';

await benchCluster();
await benchAutoscaler();
await benchProxy();
