// Revisions on the local cluster's real node: the time from a template change (`kubectl apply` of
// a new env value) to the new revision taking the traffic (the first answer through the activator
// on 127.0.0.1:8080 that comes from the new revision's pod), 10 times, beside the baseline of the
// same change made to a plain Deployment (`kubectl apply` → its new pod Ready), interleaved.
// Run with `node bench/revisions.ts` or as part of `make bench`.
import { kubeClient, kubectlOk, testNamespace, waitFor, waitServiceReady } from '../dev/cluster/kube.ts';
import { deployment, probeAppContainer, serverlessService } from '../dev/cluster/manifests.ts';
import { installZeroscale } from '../dev/cluster/zeroscale.ts';
import { request } from '../dev/load.ts';
import { summarize, writeResult } from './stats.ts';

const CHANGES = 10;

function service(version: number): string {
  return JSON.stringify(
    serverlessService('rev', {
      scaling: { stableWindow: '6s' },
      container: { env: [{ name: 'VERSION', value: String(version) }] },
    }),
  );
}

function plain(version: number): string {
  const container = probeAppContainer();
  return JSON.stringify(
    deployment('plain', 1, {
      containers: [
        { ...container, env: [...(container.env ?? []), { name: 'VERSION', value: String(version) }] },
      ],
    }),
  );
}

export async function benchRevisions(): Promise<void> {
  await installZeroscale();
  const client = kubeClient();
  const ns = await testNamespace('revbench');
  const toTraffic: number[] = [];
  const toStatus: number[] = [];
  const baseline: number[] = [];
  try {
    await kubectlOk(['apply', '-n', ns.name, '-f', '-'], service(0));
    await waitServiceReady(ns.name, 'rev');
    await kubectlOk(['apply', '-n', ns.name, '-f', '-'], plain(0));
    const host = `rev.${ns.name}.example.com`;
    for (let v = 1; v <= CHANGES; v++) {
      const revision = `rev-${v + 1}`;
      const t0 = performance.now();
      await kubectlOk(['apply', '-n', ns.name, '-f', '-'], service(v));
      let statusAt: number | undefined;
      await waitFor(
        `${revision} answering`,
        async () => {
          if (statusAt === undefined) {
            const s = JSON.parse(await kubectlOk(['get', 'ssvc', 'rev', '-n', ns.name, '-o', 'json'])) as {
              status?: { trafficSummary?: string };
            };
            if (s.status?.trafficSummary === `${revision}=100`) statusAt = performance.now();
          }
          const r = await request(host, '/');
          return r.status === 200 && r.body.startsWith(`hello from ${revision}-`) ? true : undefined;
        },
        120_000,
        50,
      );
      toTraffic.push(performance.now() - t0);
      toStatus.push((statusAt ?? performance.now()) - t0);

      // Baseline: the same change to a plain Deployment, until its new pod is Ready.
      const b0 = performance.now();
      await kubectlOk(['apply', '-n', ns.name, '-f', '-'], plain(v));
      await waitFor(
        'plain rollout done',
        async () => {
          const d = await client.get<{
            metadata: { generation?: number };
            status?: {
              observedGeneration?: number;
              updatedReplicas?: number;
              readyReplicas?: number;
              replicas?: number;
            };
          }>(`/apis/apps/v1/namespaces/${ns.name}/deployments/plain`);
          const st = d.status;
          return st?.observedGeneration === d.metadata.generation &&
            st?.updatedReplicas === 1 &&
            st.readyReplicas === 1 &&
            st.replicas === 1
            ? true
            : undefined;
        },
        120_000,
        50,
      );
      baseline.push(performance.now() - b0);
    }
  } finally {
    await ns.remove();
    client.close();
  }
  const t = summarize(toTraffic);
  const s = summarize(toStatus);
  const b = summarize(baseline);
  const ms = (n: number) => `${Math.round(n)} ms`;
  const markdown = [
    `### Revisions (\`bench/revisions.ts\`, ${new Date().toISOString().slice(0, 16).replace('T', ' ')}, real node)`,
    '',
    `Template change → the new revision taking the traffic, ${CHANGES} changes one after another, beside the same change to a plain Deployment (interleaved):`,
    '',
    '| | p50 | p95 | max |',
    '|---|---|---|---|',
    `| \`kubectl apply\` → first answer from the new revision through the activator | ${ms(t.p50)} | ${ms(t.p95)} | ${ms(t.max)} |`,
    `| \`kubectl apply\` → status.traffic on the new revision | ${ms(s.p50)} | ${ms(s.p95)} | ${ms(s.max)} |`,
    `| baseline: \`kubectl apply\` of a Deployment → its new pod Ready | ${ms(b.p50)} | ${ms(b.p95)} | ${ms(b.max)} |`,
  ].join('\n');
  writeResult(
    'revisions',
    { changes: CHANGES, toTrafficMs: toTraffic, toStatusMs: toStatus, baselineMs: baseline },
    markdown,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) await benchRevisions();
