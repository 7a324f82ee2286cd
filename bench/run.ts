// `make bench`: runs every benchmark and writes its numbers to bench/results/.
import { benchAutoscaler } from './autoscaler.ts';
import { benchCluster } from './cluster.ts';

await benchCluster();
await benchAutoscaler();
