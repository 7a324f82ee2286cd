// HTTP/2 cleartext and gRPC end to end on the local cluster, everything installed by the Helm
// chart, traffic only through the activator on 127.0.0.1:8080 with the service's host as
// :authority: all four gRPC call kinds and a failing call from zero, server streaming that arrives
// as it is sent, one client connection spread over every pod, no failed call while a loaded
// service scales down or goes to zero and back, curl over h2c and HTTP/1.1, and a crash-looping
// gRPC service answered with UNAVAILABLE naming it.
import { execFile } from 'node:child_process';
import { status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  bidi,
  clientStream,
  type EchoClient,
  echoClient,
  fail,
  serverStream,
  unary,
} from '../../dev/apps/grpc-echo.ts';
import { grpcAppImage } from '../../dev/cluster/images.ts';
import { kubeClient, kubectlOk, servingRevision, waitFor, waitServiceReady } from '../../dev/cluster/kube.ts';
import { type ServerlessServiceOptions, serverlessService } from '../../dev/cluster/manifests.ts';
import { SERVICE_LABEL } from '../../src/api/labels.ts';
import { zeroscaleNamespace } from './suite.ts';

/** The activator as the host publishes it: the only address these tests send to. */
const activatorAddress = '127.0.0.1:8080';

const client = kubeClient();
const ns = zeroscaleNamespace('grpc');
const created = ns.created;
const clients: EchoClient[] = [];

afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});
afterAll(() => client.close());

/** The gRPC app, its port named h2c: the whole path to it speaks HTTP/2 cleartext. */
const grpcApp: ServerlessServiceOptions = { portName: 'h2c', container: { image: grpcAppImage() } };

async function deploy(name: string, o: ServerlessServiceOptions): Promise<string> {
  // Short windows keep the scenarios quick; 6 s is Knative's smallest stable window.
  const manifest = serverlessService(name, {
    timeoutSeconds: 120,
    ...o,
    scaling: { stableWindow: '6s', ...o.scaling },
  });
  await kubectlOk(['apply', '-n', ns.name, '-f', '-'], JSON.stringify(manifest));
  created.push(name);
  const svc = await waitServiceReady(ns.name, name);
  return new URL(svc.status!.url!).host;
}

/** A gRPC client whose calls go to the activator on loopback with `host` as :authority. */
function connect(host: string): EchoClient {
  const c = echoClient(activatorAddress, host);
  clients.push(c);
  return c;
}

const replicas = async (name: string) =>
  (
    await client.get<V1Deployment>(
      `/apis/apps/v1/namespaces/${ns.name}/deployments/${await servingRevision(ns.name, name)}`,
    )
  ).spec?.replicas ?? -1;

/** The service's pods, terminating ones included. */
async function allPods(name: string): Promise<V1Pod[]> {
  const list = await client.get<{ items: V1Pod[] }>(`/api/v1/namespaces/${ns.name}/pods`, {
    labelSelector: `${SERVICE_LABEL}=${name}`,
  });
  return list.items;
}

/** The service's pods that are not being deleted. */
const livePods = async (name: string) =>
  (await allPods(name)).filter((p) => p.metadata?.deletionTimestamp === undefined);

const isReady = (p: V1Pod) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');

const describeError = (err: unknown) => {
  const e = err as Partial<ServiceError>;
  return e.code === undefined ? String(err) : `${GrpcStatus[e.code]} (${e.code}): ${e.details}`;
};

interface Tally {
  ok: number;
  readonly failures: string[];
}

/**
 * `inFlight` callers, each making unary calls one after another (100 ms in the app each) over the
 * given clients in turn, until `stop` resolves; every call's outcome is counted.
 */
async function unaryLoad(
  callers: readonly EchoClient[],
  inFlight: number,
  stop: Promise<unknown>,
): Promise<Tally> {
  let stopped = false;
  void stop.finally(() => {
    stopped = true;
  });
  const tally: Tally = { ok: 0, failures: [] };
  const caller = async (i: number) => {
    for (let n = 0; !stopped; n++) {
      const text = `caller ${i} call ${n}`;
      try {
        const reply = await unary(callers[i % callers.length]!, { text, delayMs: 100 }, 30_000);
        if (reply.text === text) tally.ok++;
        else tally.failures.push(`${text}: answered ${JSON.stringify(reply)}`);
      } catch (err) {
        tally.failures.push(`${text}: ${describeError(err)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: inFlight }, (_, i) => caller(i)));
  return tally;
}

const summary = (t: Tally) =>
  `${t.ok} ok, ${t.failures.length} failed${t.failures.length ? `: ${t.failures.slice(0, 5).join('; ')}` : ''}`;

describe('gRPC through the activator', () => {
  it('cold-starts on the first call and serves unary, server, client and bidi streaming, and a failure intact', async () => {
    const host = await deploy('echo', { ...grpcApp, scaling: { minScale: 0, initialScale: 0 } });
    expect(await replicas('echo')).toBe(0);
    const c = connect(host);
    const started = Date.now();
    const first = await unary(c, { text: 'first' }, 120_000);
    console.log(`gRPC cold start: first unary call answered after ${Date.now() - started} ms`);
    expect(first.text).toBe('first');
    expect(first.pod).toMatch(/^echo-/);
    expect(await replicas('echo')).toBeGreaterThanOrEqual(1);

    const streamed = await serverStream(c, { count: 3, intervalMs: 10 });
    expect(streamed.messages.map((m) => m.message.seq)).toEqual([0, 1, 2]);
    expect(await clientStream(c, ['a', 'b', 'c', 'd'])).toMatchObject({ count: 4 });
    expect((await bidi(c, ['x', 'y', 'z'])).map((r) => r.text)).toEqual(['x', 'y', 'z']);

    // grpc-status and grpc-message are trailers: both must come back as the app sent them,
    // percent-encoded non-ASCII included.
    const message = 'precondition failed: quota 0/1 for "ünïcode" 100%';
    const failed = await fail(c, { code: GrpcStatus.FAILED_PRECONDITION, message });
    expect(failed.code).toBe(GrpcStatus.FAILED_PRECONDITION);
    expect(failed.details).toBe(message);
  }, 240_000);

  it('delivers server-streamed messages as they are sent, not at the end of the stream', async () => {
    const host = await deploy('stream', { ...grpcApp, scaling: { minScale: 1 } });
    const c = connect(host);
    expect((await unary(c, { text: 'warm' }, 120_000)).text).toBe('warm');
    // Five messages 300 ms apart: the last is sent 1,200 ms after the first.
    const { messages, endedAt } = await serverStream(c, { count: 5, intervalMs: 300 });
    expect(messages.map((m) => m.message.seq)).toEqual([0, 1, 2, 3, 4]);
    const firstBeforeEnd = endedAt - messages[0]!.receivedAt;
    const arrivals = messages.map((m) => m.receivedAt - messages[0]!.receivedAt);
    expect(firstBeforeEnd, `arrivals after the first (ms): ${arrivals.join(', ')}`).toBeGreaterThanOrEqual(
      900,
    );
  }, 180_000);

  it('spreads the calls of one client connection over every pod', async () => {
    const name = 'spread';
    const host = await deploy(name, { ...grpcApp, scaling: { minScale: 3, initialScale: 3 } });
    await waitFor(
      'three ready pods',
      async () => {
        const pods = await livePods(name);
        return pods.length === 3 && pods.every(isReady) ? pods : undefined;
      },
      120_000,
    );
    // One client is one HTTP/2 connection to the activator. 60 concurrent calls of 200 ms on it:
    // balanced per stream they reach all three pods; balanced per connection, one pod only.
    // Rounds repeat until the activator has probed all three pods, a few seconds at most.
    const c = connect(host);
    const failures: string[] = [];
    const rounds: Record<string, number>[] = [];
    await waitFor(
      'one round of 60 calls reaching three pods',
      async () => {
        const byPod: Record<string, number> = {};
        await Promise.all(
          Array.from({ length: 60 }, async (_, i) => {
            try {
              const r = await unary(c, { text: `call ${i}`, delayMs: 200 }, 30_000);
              byPod[r.pod] = (byPod[r.pod] ?? 0) + 1;
            } catch (err) {
              failures.push(describeError(err));
            }
          }),
        );
        rounds.push(byPod);
        return Object.keys(byPod).length === 3 ? byPod : undefined;
      },
      30_000,
      0,
    );
    console.log(`calls per pod, by round: ${JSON.stringify(rounds)}`);
    expect(failures, `rounds: ${JSON.stringify(rounds)}`).toEqual([]);
  }, 180_000);

  it('fails no call under steady load while the service scales from 3 pods to 1', async () => {
    const name = 'shrink';
    const host = await deploy(name, { ...grpcApp, scaling: { minScale: 3, initialScale: 3 } });
    await waitFor(
      'three ready pods',
      async () => (await livePods(name)).filter(isReady).length === 3,
      120_000,
    );
    // Two clients (two connections), 20 calls in flight.
    const callers = [connect(host), connect(host)];
    const stop = Promise.withResolvers<void>();
    const load = unaryLoad(callers, 20, stop.promise);
    try {
      await new Promise((r) => setTimeout(r, 5_000));
      // 20 in flight need one pod (target 100 at 70 %): lowering the floor lets two pods go.
      await kubectlOk([
        'patch',
        'ssvc',
        name,
        '-n',
        ns.name,
        '--type=merge',
        '-p',
        '{"spec":{"scaling":{"minScale":1}}}',
      ]);
      await waitFor('two pods terminating', async () => (await livePods(name)).length === 1, 60_000);
      // The load goes on while the two pods drain and exit, and a little past that.
      await waitFor('two pods gone', async () => (await allPods(name)).length === 1, 90_000);
      await new Promise((r) => setTimeout(r, 3_000));
    } finally {
      stop.resolve();
    }
    const tally = await load;
    console.log(`gRPC load while scaling 3 -> 1: ${summary(tally)}`);
    expect(tally.failures, summary(tally)).toEqual([]);
    expect(tally.ok).toBeGreaterThan(100);
    expect(await replicas(name)).toBe(1);
  }, 300_000);

  it('goes to zero after the load stops and serves every call on the same connections when woken', async () => {
    const name = 'idle';
    const host = await deploy(name, { ...grpcApp, scaling: { minScale: 0 } });
    const callers = [connect(host), connect(host)];
    const load = await unaryLoad(callers, 20, new Promise((r) => setTimeout(r, 10_000)));
    console.log(`gRPC load before scale to zero: ${summary(load)}`);
    expect(load.failures, summary(load)).toEqual([]);
    await waitFor('zero pods', async () => (await replicas(name)) === 0, 120_000);
    await waitFor('no pod left', async () => (await allPods(name)).length === 0, 90_000);
    // The clients' connections to the activator outlive the pods: 20 calls on them wake the service.
    const tally: Tally = { ok: 0, failures: [] };
    await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        try {
          const r = await unary(callers[i % 2]!, { text: `wake ${i}` }, 120_000);
          if (r.text === `wake ${i}`) tally.ok++;
          else tally.failures.push(`wake ${i}: answered ${JSON.stringify(r)}`);
        } catch (err) {
          tally.failures.push(`wake ${i}: ${describeError(err)}`);
        }
      }),
    );
    console.log(`gRPC calls waking the service from zero: ${summary(tally)}`);
    expect(tally.failures, summary(tally)).toEqual([]);
    expect(tally.ok).toBe(20);
  }, 300_000);

  it('answers a crash-looping gRPC service with UNAVAILABLE naming the service', async () => {
    const host = await deploy('grpc-crash', {
      ...grpcApp,
      container: { image: grpcAppImage(), command: ['node', '-e', 'process.exit(3)'] },
      scaling: { minScale: 0, initialScale: 0 },
    });
    const c = connect(host);
    const started = Date.now();
    const err = await unary(c, { text: 'hello' }, 60_000).then(
      (r) => new Error(`answered ${JSON.stringify(r)}`),
      (e: unknown) => e,
    );
    const ms = Date.now() - started;
    console.log(`crash-looping gRPC service: ${describeError(err)} after ${ms} ms`);
    const e = err as ServiceError;
    expect(e.code, describeError(err)).toBe(GrpcStatus.UNAVAILABLE);
    expect(e.details).toContain(`${ns.name}/grpc-crash`);
    expect(e.details).not.toMatch(/10\.244\.\d+\.\d+/);
    expect(ms).toBeLessThan(30_000);
  }, 120_000);
});

/** curl through the activator on loopback: "<HTTP version> <status>" as curl prints them, and the body. */
function curl(host: string, http: '--http2-prior-knowledge' | '--http1.1') {
  return new Promise<{ version: string; body: string }>((resolve, reject) => {
    execFile(
      'curl',
      [
        http,
        '-s',
        '--max-time',
        '120',
        '-w',
        '\n%{http_version} %{http_code}',
        '-H',
        `Host: ${host}`,
        `http://${activatorAddress}/`,
      ],
      { timeout: 130_000 },
      (err, stdout) => {
        if (err) return reject(err);
        const cut = stdout.lastIndexOf('\n');
        resolve({ version: stdout.slice(cut + 1), body: stdout.slice(0, cut) });
      },
    );
  });
}

describe('HTTP/2 cleartext with curl', () => {
  it('answers h2c prior knowledge for an h2c service and an HTTP/1.1 service, and HTTP/1.1 for the h2c one', async () => {
    const h2cHost = await deploy('h2c-probe', {
      portName: 'h2c',
      container: { env: [{ name: 'H2C', value: '1' }] },
      scaling: { minScale: 1 },
    });
    const h1Host = await deploy('h1-probe', { scaling: { minScale: 1 } });
    const h2ToH2c = await curl(h2cHost, '--http2-prior-knowledge');
    expect(h2ToH2c.version).toBe('2 200');
    expect(h2ToH2c.body).toMatch(/^hello from h2c-probe-/);
    const h2ToH1 = await curl(h1Host, '--http2-prior-knowledge');
    expect(h2ToH1.version).toBe('2 200');
    expect(h2ToH1.body).toMatch(/^hello from h1-probe-/);
    // The app speaks only HTTP/2: an HTTP/1.1 client is served through the proxies' translation.
    const h1ToH2c = await curl(h2cHost, '--http1.1');
    expect(h1ToH2c.version).toBe('1.1 200');
    expect(h1ToH2c.body).toMatch(/^hello from h2c-probe-/);
  }, 180_000);
});
