// `make run`: the local cluster is up (the Makefile brought it up); say what is running and how
// to use it. The operator's own install joins this once the chart exists.
import { execFileSync } from 'node:child_process';
import { binary, paths } from './paths.ts';

const kubectl = (...args: string[]) =>
  execFileSync(binary('kubectl'), [`--kubeconfig=${paths.kubeconfig}`, ...args], { encoding: 'utf8' });

process.stdout.write(`zeroscale local cluster is running.

${execFileSync(process.execPath, ['test/env/cluster.ts', 'status'], { encoding: 'utf8' })}
${kubectl('version')}
${kubectl('get', 'nodes', '-o', 'wide')}
Use it:
  export KUBECONFIG=${paths.kubeconfig}
  export PATH=${paths.bin}:$PATH
  kubectl get pods -A
Logs: ${paths.logs}/ (one file per component; pods under pods/)
Stop it: make cluster-down
`);
