// `make run`: the local cluster is up (the Makefile brought it up). Install zeroscale with its Helm
// chart, apply examples/hello.yaml, call it once through the activator, and say how to use it.
import { execFileSync } from 'node:child_process';
import { kubectlOk, waitFor } from './cluster/kube.ts';
import { binary, paths, repoRoot } from './cluster/paths.ts';
import { installZeroscale, systemNamespace } from './cluster/zeroscale.ts';
import { request } from './load.ts';

const say = (s: string) => process.stdout.write(`${s}\n`);

say('installing zeroscale with helm (chart deploy/helm/zeroscale) ...');
await installZeroscale();
say(await kubectlOk(['get', 'pods', '-n', systemNamespace, '-o', 'wide']));

await kubectlOk(['apply', '-f', `${repoRoot}/examples/hello.yaml`]);
await waitFor(
  'hello Ready',
  async () => {
    const s = JSON.parse(await kubectlOk(['get', 'ssvc', 'hello', '-o', 'json']));
    return s.status?.conditions?.some(
      (c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True',
    );
  },
  120_000,
);
const host = 'hello.default.example.com';
// node:http, not fetch: fetch does not let a caller set the Host header.
const res = await waitFor(
  'hello answers through the activator',
  async () => {
    const r = await request(host, '/', undefined, 30_000);
    if (r.status !== 200) throw new Error(`answered ${r.status}: ${r.body.slice(0, 200)}`);
    return r;
  },
  60_000,
);

for (const kind of ['ssvc', 'revisions'])
  say(
    execFileSync(binary('kubectl'), [`--kubeconfig=${paths.kubeconfig}`, 'get', kind], { encoding: 'utf8' }),
  );
say(`zeroscale is running on the local cluster, and the example answered: ${res.status} ${res.body.trim()}

Call it (the activator is published on 127.0.0.1:8080):
  curl -H 'Host: ${host}' http://127.0.0.1:8080/

Watch it scale (to zero after a minute without traffic, back up on the next request):
  KUBECONFIG=${paths.kubeconfig} ${paths.bin}/kubectl get ssvc -w

Deploy your own: kubectl apply -f examples/  (see the README for the API; examples/canary.yaml
rolls each template change out gradually: change it, apply it and watch kubectl get ssvc -w)
Stop everything: make cluster-down`);
