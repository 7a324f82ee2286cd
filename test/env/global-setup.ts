// Brings the local cluster up before the cluster tests (reusing one that is already running).
import { up } from '../../dev/cluster/cluster.ts';

export default async function setup(): Promise<void> {
  await up();
}
