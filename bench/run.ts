// `make bench`: runs every benchmark and writes its numbers to bench/results/.
import { benchAutoscaler } from './autoscaler.ts';
import { benchCluster } from './cluster.ts';
import { benchColdStart } from './coldstart.ts';
import { benchProxy } from './proxy.ts';

await benchCluster();
await benchColdStart();
await benchAutoscaler();
await benchProxy();
