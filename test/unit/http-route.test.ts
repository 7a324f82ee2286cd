// The Gateway API HTTPRoutes of a service (pure): a weighted backendRef per revision with a share,
// one route per tag, each backendRef naming its revision in the header the activator follows.
import { describe, expect, it } from 'vitest';
import { parseServerlessServiceSpec } from '../../src/api/parse.ts';
import type { ServerlessService } from '../../src/api/serverless-service.ts';
import { buildHttpRoutes } from '../../src/controller/resources/http-route.ts';

const svc: ServerlessService = {
  apiVersion: 'serving.zeroscale.dev/v1alpha1',
  kind: 'ServerlessService',
  metadata: { name: 'hello', namespace: 'shop', uid: 'u-1' },
  spec: parseServerlessServiceSpec({
    template: { spec: { containers: [{ name: 'app', image: 'a:1', ports: [{ containerPort: 8080 }] }] } },
  }),
};

describe('buildHttpRoutes', () => {
  const routes = buildHttpRoutes(
    svc,
    [
      { revisionName: 'hello-1', percent: 70 },
      { revisionName: 'hello-1', percent: 10, latestRevision: true },
      { revisionName: 'hello-2', percent: 20, latestRevision: true, tag: 'canary' },
      { revisionName: 'hello-3', percent: 0, tag: 'next' },
    ],
    { namespace: 'gateways', name: 'public' },
    'example.com',
  );

  it('routes the service host by weight, one backendRef per revision with a share', () => {
    const main = routes[0]!;
    expect(main.metadata).toMatchObject({ name: 'hello', namespace: 'shop' });
    expect(main.metadata.ownerReferences[0]).toMatchObject({
      kind: 'ServerlessService',
      name: 'hello',
      uid: 'u-1',
    });
    expect(main.spec.parentRefs).toEqual([
      { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'gateways', name: 'public' },
    ]);
    expect(main.spec.hostnames).toEqual(['hello.shop.example.com']);
    const refs = main.spec.rules[0]!.backendRefs;
    expect(refs.map((r) => [r.name, r.port, r.weight])).toEqual([
      ['hello-1', 80, 80],
      ['hello-2', 80, 20],
    ]);
    expect(refs[1]!.filters).toEqual([
      {
        type: 'RequestHeaderModifier',
        requestHeaderModifier: { set: [{ name: 'x-zeroscale-revision', value: 'hello-2' }] },
      },
    ]);
  });

  it('gives each tag its own route to its revision, a 0 % one included', () => {
    expect(
      routes
        .slice(1)
        .map((r) => [r.metadata.name, r.spec.hostnames[0], r.spec.rules[0]!.backendRefs.map((b) => b.name)]),
    ).toEqual([
      ['hello-canary', 'canary-hello.shop.example.com', ['hello-2']],
      ['hello-next', 'next-hello.shop.example.com', ['hello-3']],
    ]);
  });
});
