// `make bench`: runs every benchmark and writes its numbers to bench/results/.
import { benchCluster } from './cluster.ts';

await benchCluster();
