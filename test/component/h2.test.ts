// HTTP/2 through the data plane, in-process: h2c and HTTP/1.1 on one port of the queue-proxy and
// the activator; an h2c app reached over HTTP/2 end to end; gRPC (a real @grpc/grpc-js client and
// server) through a cold start, with its four call kinds, trailers and statuses; grpc-timeout as
// the deadline; the proxies' own answers as gRPC statuses; streams balanced per stream; GOAWAY on
// drain.

import http from 'node:http';
import http2 from 'node:http2';
import net, { type AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { bidi, clientStream, echoClient, fail, serverStream, unary } from '../../dev/apps/grpc-echo.ts';
import { startEchoServer } from '../../dev/apps/grpc-echo-server.ts';
import { MemoryServiceFailureSource } from '../../src/activator/memory-sources.ts';
import type { ActivatorService } from '../../src/activator/sources.ts';
import { isHttp2Response } from '../../src/http/client-message.ts';
import { closeServer, createServer, destroyConnections, listen } from '../../src/http/server.ts';
import {
  HELLO,
  LOOPBACK,
  startActivatorRig,
  startApp,
  startTestQueueProxy,
  waitFor,
} from './proxy-harness.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const GRPC: ActivatorService = {
  ...HELLO,
  name: 'grpc',
  url: 'http://grpc.default.example.com',
  protocol: 'h2c',
};
const GRPC_HOST = 'grpc.default.example.com';

interface H2Answer {
  readonly status: number;
  readonly headers: http2.IncomingHttpHeaders;
  readonly trailers: http2.IncomingHttpHeaders;
  readonly body: string;
}

/** One request over a fresh h2c connection (prior knowledge). */
async function h2request(port: number, headers: http2.OutgoingHttpHeaders, body?: string): Promise<H2Answer> {
  const session = http2.connect(`http://${LOOPBACK}:${port}`);
  session.on('error', () => {});
  try {
    return await new Promise<H2Answer>((resolve, reject) => {
      const stream = session.request({ ':path': '/', ...headers }, { endStream: body === undefined });
      let status = 0;
      let got: http2.IncomingHttpHeaders = {};
      let trailers: http2.IncomingHttpHeaders = {};
      let text = '';
      stream.on('response', (h) => {
        status = Number(h[':status']);
        got = h;
      });
      stream.on('trailers', (t) => {
        trailers = t;
      });
      stream.setEncoding('utf8');
      stream.on('data', (d: string) => {
        text += d;
      });
      stream.on('end', () => resolve({ status, headers: got, trailers, body: text }));
      stream.on('error', reject);
      if (body !== undefined) stream.end(body);
    });
  } finally {
    session.close();
  }
}

/** A plain h2c app: echoes method, path, authority and body length; /trailers sends a trailer. */
async function startH2App(): Promise<number> {
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    let length = 0;
    stream.on('data', (d: Buffer) => {
      length += d.length;
    });
    stream.on('end', () => {
      if (headers[':path'] === '/ready') {
        stream.respond({ ':status': 204 });
        stream.end();
        return;
      }
      if (headers[':path'] === '/trailers') {
        stream.respond({ ':status': 200 }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'x-checksum': 'abc' }));
      } else {
        stream.respond({ ':status': 200, 'content-type': 'text/plain' });
      }
      stream.end(`h2 ${headers[':method']} ${headers[':path']} ${headers[':authority']} ${length}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as AddressInfo).port;
}

async function echoServer(pod: string): Promise<number> {
  const { server, port } = await startEchoServer(LOOPBACK, 0, pod);
  cleanups.push(() => server.forceShutdown());
  return port;
}

async function grpcPod(pod: string): Promise<{ ip: string; port: number; ready: boolean; pod: string }> {
  const appPort = await echoServer(pod);
  const qp = await startTestQueueProxy(appPort, { pod, userProtocol: 'h2c' });
  cleanups.push(() => qp.close());
  await qp.whenReady();
  return { ip: LOOPBACK, port: qp.httpPort, ready: true, pod };
}

function client(port: number): ReturnType<typeof echoClient> {
  const c = echoClient(`${LOOPBACK}:${port}`, GRPC_HOST);
  cleanups.push(() => c.close());
  return c;
}

describe('queue-proxy: HTTP/1.1 and h2c on one port', () => {
  it('serves an h2c client in front of an HTTP/1.1 app, body and all, and HTTP/1.1 clients as before', async () => {
    const app = await startApp((req, res) => {
      let n = 0;
      req.on('data', (d: Buffer) => {
        n += d.length;
      });
      req.on('end', () => res.end(`h1 ${req.method} ${req.url} ${req.headers.host} ${n}`));
    });
    cleanups.push(() => app.close());
    const qp = await startTestQueueProxy(app.port);
    cleanups.push(() => qp.close());
    await qp.whenReady();
    const got = await h2request(
      qp.httpPort,
      { ':method': 'POST', ':path': '/up', ':authority': 'a.example' },
      'x'.repeat(70_000),
    );
    expect(got.status).toBe(200);
    expect(got.body).toBe('h1 POST /up a.example 70000');
    const h1 = await new Promise<string>((resolve) =>
      http.get({ host: LOOPBACK, port: qp.httpPort, path: '/one', headers: { host: 'b.example' } }, (res) => {
        let t = '';
        res.on('data', (d) => {
          t += d;
        });
        res.on('end', () => resolve(t));
      }),
    );
    expect(h1).toBe('h1 GET /one b.example 0');
  });

  it('keeps an HTTP/2 connection open when the app answers before reading the whole body', async () => {
    // An HTTP/1.1 app that answers at once, without reading the upload.
    const app = await startApp((_req, res) => res.end('early'));
    cleanups.push(() => app.close());
    const qp = await startTestQueueProxy(app.port);
    cleanups.push(() => qp.close());
    await qp.whenReady();
    const session = http2.connect(`http://${LOOPBACK}:${qp.httpPort}`);
    session.on('error', () => {});
    cleanups.push(() => session.destroy());
    let goaway = false;
    session.on('goaway', () => {
      goaway = true;
    });
    const ask = (body: Buffer | undefined): Promise<string> =>
      new Promise((resolve, reject) => {
        const s = session.request(
          { ':method': 'POST', ':path': '/', ':authority': 'e.example' },
          { endStream: body === undefined },
        );
        let text = '';
        s.setEncoding('utf8');
        s.on('data', (d: string) => {
          text += d;
        });
        s.on('end', () => resolve(text));
        s.on('error', reject);
        // More than the stream window: the rest waits for a reader that never comes.
        if (body !== undefined) s.write(body);
      });
    expect(await ask(Buffer.alloc(200_000))).toBe('early');
    expect(await ask(undefined)).toBe('early');
    expect(goaway).toBe(false);
  });

  it("sends the body of a stream opened after the app's TCP accept but before its SETTINGS", async () => {
    // The app's first bytes (its SETTINGS) reach the queue-proxy 300 ms after it accepted: the
    // first request waits for the connection, the second is opened on a connected socket whose
    // SETTINGS have not come. Both bodies must reach the app (a lost one hangs the call: found by
    // the gRPC e2e, the first calls to a fresh pod).
    const appPort = await startH2App();
    const relay = net.createServer((c) => {
      const up = net.connect(appPort, LOOPBACK);
      c.pipe(up);
      up.once('data', (first: Buffer) => {
        up.pause();
        setTimeout(() => {
          c.write(first);
          up.pipe(c);
        }, 300);
      });
      const close = () => {
        c.destroy();
        up.destroy();
      };
      c.on('error', close).on('close', close);
      up.on('error', close).on('close', close);
    });
    await new Promise<void>((resolve) => relay.listen(0, LOOPBACK, resolve));
    cleanups.push(() => new Promise<void>((resolve) => relay.close(() => resolve())));
    const relayPort = (relay.address() as AddressInfo).port;
    const qp = await startTestQueueProxy(relayPort, { userProtocol: 'h2c' });
    cleanups.push(() => qp.close());
    await qp.whenReady();
    const post = (path: string) =>
      Promise.race([
        h2request(qp.httpPort, { ':method': 'POST', ':path': path, ':authority': 'c.example' }, 'body!'),
        new Promise<H2Answer>((_, reject) =>
          setTimeout(() => reject(new Error(`${path}: no answer within 5 s`)), 5_000),
        ),
      ]);
    const first = post('/first');
    await new Promise((r) => setTimeout(r, 100));
    const second = post('/second');
    expect((await first).body).toBe('h2 POST /first c.example 5');
    expect((await second).body).toBe('h2 POST /second c.example 5');
  });

  it('speaks h2c to an h2c app, for HTTP/2 and HTTP/1.1 clients, and passes trailers on', async () => {
    const appPort = await startH2App();
    const qp = await startTestQueueProxy(appPort, { userProtocol: 'h2c' });
    cleanups.push(() => qp.close());
    await qp.whenReady();
    const got = await h2request(
      qp.httpPort,
      { ':method': 'PUT', ':path': '/p', ':authority': 'c.example' },
      'hello',
    );
    expect(got.body).toBe('h2 PUT /p c.example 5');
    const withTrailers = await h2request(qp.httpPort, { ':path': '/trailers', ':authority': 'c.example' });
    expect(withTrailers.trailers['x-checksum']).toBe('abc');
    const h1 = await new Promise<string>((resolve) =>
      http.get({ host: LOOPBACK, port: qp.httpPort, path: '/h1', headers: { host: 'd.example' } }, (res) => {
        let t = '';
        res.on('data', (d) => {
          t += d;
        });
        res.on('end', () => resolve(t));
      }),
    );
    expect(h1).toBe('h2 GET /h1 d.example 0');
  });
});

describe('gRPC through the activator and the queue-proxy', () => {
  it('serves all four call kinds to a service at zero once its pod is ready, statuses and streams intact', async () => {
    const rig = await startActivatorRig([GRPC]);
    cleanups.push(() => rig.close());
    const c = client(rig.activator.port);
    const first = unary(c, { text: 'cold' }, 10_000);
    await waitFor('poke', () => rig.autoscaler.pokes.length > 0 || undefined);
    rig.endpoints.set('default', 'grpc', [await grpcPod('grpc-1')]);
    expect(await first).toEqual({ text: 'cold', pod: 'grpc-1' });

    const stream = await serverStream(c, { count: 4, intervalMs: 250 });
    expect(stream.messages.map((m) => m.message.seq)).toEqual([0, 1, 2, 3]);
    // Incremental: the first message came a stream's length before the end, not with it.
    expect(stream.endedAt - stream.messages[0]!.receivedAt).toBeGreaterThanOrEqual(600);
    expect((await clientStream(c, ['a', 'b', 'c'])).count).toBe(3);
    expect((await bidi(c, ['x', 'y'])).map((r) => r.text)).toEqual(['x', 'y']);
    const err = await fail(c, { code: grpc.status.FAILED_PRECONDITION, message: 'not yet: %ü' });
    expect(err.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(err.details).toBe('not yet: %ü');
  });

  it('sends a request again, body and all, when an HTTP/2 pod refuses its stream unprocessed', async () => {
    // A pod that speaks both protocols on one port, as a queue-proxy does (the activator probes it
    // over HTTP/1.1): it refuses its first HTTP/2 stream with REFUSED_STREAM once the body is in,
    // as one going away does, then serves.
    let refused = 0;
    const pod = createServer(
      {},
      {
        request(req, res) {
          if (req.headers['x-zeroscale-probe'] === 'queue') {
            res.end('queue');
            return;
          }
          const chunks: Buffer[] = [];
          req.on('data', (d: Buffer) => chunks.push(d));
          req.on('end', () => {
            if (refused === 0 && isHttp2Response(res)) {
              refused++;
              res.stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
              return;
            }
            const body = Buffer.concat(chunks);
            res.end(`${body.length} ${body.subarray(0, 4).toString()} ${body.subarray(-4).toString()}`);
          });
        },
      },
    );
    const podPort = await listen(pod, 0, LOOPBACK);
    cleanups.push(() => {
      destroyConnections(pod);
      return closeServer(pod);
    });
    const rig = await startActivatorRig([GRPC]);
    cleanups.push(() => rig.close());
    rig.endpoints.set('default', 'grpc', [{ ip: LOOPBACK, port: podPort, ready: true, pod: 'p' }]);
    await waitFor(
      'pod probed',
      () => rig.activator.service('default', 'grpc')?.healthyPods === 1 || undefined,
    );
    const body = `head${'x'.repeat(40_000)}tail`;
    const got = await h2request(
      rig.activator.port,
      { ':method': 'POST', ':path': '/up', ':authority': GRPC_HOST },
      body,
    );
    expect(refused).toBe(1);
    expect(got.status).toBe(200);
    expect(got.body).toBe(`${body.length} head tail`);
  });

  it('counts a long stream as one request in flight while it runs', async () => {
    const rig = await startActivatorRig([GRPC]);
    cleanups.push(() => rig.close());
    rig.endpoints.set('default', 'grpc', [await grpcPod('grpc-1')]);
    const c = client(rig.activator.port);
    await unary(c, { text: 'warm' });
    const running = serverStream(c, { count: 6, intervalMs: 200 });
    await waitFor(
      'stream in flight',
      () => rig.activator.service('default', 'grpc')?.active === 1 || undefined,
    );
    await running;
    await waitFor('stream over', () => rig.activator.service('default', 'grpc')?.active === 0 || undefined);
  });

  it('balances the streams of one connection over the pods', async () => {
    const rig = await startActivatorRig([GRPC]);
    cleanups.push(() => rig.close());
    rig.endpoints.set('default', 'grpc', [await grpcPod('grpc-1'), await grpcPod('grpc-2')]);
    await waitFor(
      'both pods probed',
      () => rig.activator.service('default', 'grpc')?.healthyPods === 2 || undefined,
    );
    const c = client(rig.activator.port);
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) => unary(c, { text: `${i}`, delayMs: 50 })),
    );
    expect(new Set(replies.map((r) => r.pod))).toEqual(new Set(['grpc-1', 'grpc-2']));
  });

  it("answers gRPC clients with gRPC statuses: an unknown service, and the client's grpc-timeout as the deadline", async () => {
    const rig = await startActivatorRig([GRPC]);
    cleanups.push(() => rig.close());
    const grpcHeaders = { ':method': 'POST', 'content-type': 'application/grpc', te: 'trailers' };
    const unknown = await h2request(rig.activator.port, {
      ...grpcHeaders,
      ':path': '/x.Y/Z',
      ':authority': 'nope.default.example.com',
    });
    expect(unknown.status).toBe(200);
    expect(unknown.headers['grpc-status']).toBe(String(grpc.status.UNIMPLEMENTED));
    expect(decodeURIComponent(String(unknown.headers['grpc-message']))).toContain('nope.default.example.com');

    // Cold, nothing starts it: the client's 300 ms deadline ends the wait, not the service's 30 s.
    const startedAt = performance.now();
    const timedOut = await h2request(rig.activator.port, {
      ...grpcHeaders,
      ':path': '/zeroscale.test.Echo/Unary',
      ':authority': GRPC_HOST,
      'grpc-timeout': '300m',
    });
    const took = performance.now() - startedAt;
    expect(timedOut.headers['grpc-status']).toBe(String(grpc.status.DEADLINE_EXCEEDED));
    expect(took).toBeLessThan(5_000);
  });

  it('gives a gRPC client UNAVAILABLE with the reason when every pod of the service is failing', async () => {
    const failures = new MemoryServiceFailureSource();
    const rig = await startActivatorRig([GRPC], {}, { failures });
    cleanups.push(() => rig.close());
    failures.set('default', 'grpc', {
      reason: 'CrashLoopBackOff',
      message: 'container app exited with code 3',
    });
    const c = client(rig.activator.port);
    const err = await unary(c, { text: 'x' }, 10_000).then(
      () => undefined,
      (e: grpc.ServiceError) => e,
    );
    expect(err?.code).toBe(grpc.status.UNAVAILABLE);
    expect(err?.details).toContain('default/grpc');
    expect(err?.details).toContain('exited with code 3');
  });
});

describe('HTTP/2 drain', () => {
  it('sends GOAWAY on drain: the stream in flight finishes, the connection takes no new one', async () => {
    const rig = await startActivatorRig([GRPC], { drainMs: 200, shutdownGraceMs: 5_000 });
    cleanups.push(() => rig.close());
    rig.endpoints.set('default', 'grpc', [await grpcPod('grpc-1')]);
    const c = client(rig.activator.port);
    await unary(c, { text: 'warm' });
    const session = http2.connect(`http://${LOOPBACK}:${rig.activator.port}`);
    session.on('error', () => {});
    cleanups.push(() => session.destroy());
    let goaway = false;
    session.on('goaway', () => {
      goaway = true;
    });
    await new Promise((resolve) => session.once('connect', resolve));
    const long = unary(c, { text: 'long', delayMs: 800 });
    await waitFor('in flight', () => rig.activator.service('default', 'grpc')?.active === 1 || undefined);
    const drained = rig.activator.drain();
    // A request during the drain is served, and its connection is told to go away.
    const during = await new Promise<number>((resolve, reject) => {
      const s = session.request({ ':path': '/', ':authority': GRPC_HOST });
      s.on('response', (h) => resolve(Number(h[':status'])));
      s.on('error', reject);
      s.resume();
      s.end();
    });
    expect(during).toBeGreaterThan(0);
    await waitFor('GOAWAY', () => goaway || undefined);
    expect((await long).text).toBe('long');
    await drained;
  });
});

describe('queue-proxy: readiness of an HTTP/2 app', () => {
  it('sends an HTTP probe over h2c to an app that speaks only HTTP/2', async () => {
    const appPort = await startH2App();
    const { parseReadinessProbe } = await import('../../src/queue/probe-spec.ts');
    const qp = await startTestQueueProxy(appPort, {
      userProtocol: 'h2c',
      readinessProbe: {
        ...parseReadinessProbe('{"httpGet":{"path":"/ready"}}', appPort, true),
        periodMs: 50,
      },
    });
    cleanups.push(() => qp.close());
    await qp.whenReady();
    expect(qp.ready).toBe(true);
  });

  it('runs a gRPC health check: ready on SERVING, not ready on NOT_SERVING', async () => {
    const { parseReadinessProbe } = await import('../../src/queue/probe-spec.ts');
    let serving = false;
    let checks = 0;
    const health = new grpc.Server();
    health.addService(
      {
        Check: {
          path: '/grpc.health.v1.Health/Check',
          requestStream: false,
          responseStream: false,
          requestSerialize: (b: Buffer) => b,
          requestDeserialize: (b: Buffer) => b,
          // HealthCheckResponse{status}: SERVING = 1, NOT_SERVING = 2.
          responseSerialize: (status: number) => Buffer.from([0x08, status]),
          responseDeserialize: (b: Buffer) => b[1]!,
        },
      },
      {
        Check: (_call: unknown, callback: (e: null, s: number) => void) => {
          checks++;
          callback(null, serving ? 1 : 2);
        },
      },
    );
    const port = await new Promise<number>((resolve, reject) =>
      health.bindAsync(`${LOOPBACK}:0`, grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    cleanups.push(() => health.forceShutdown());
    const probe = { ...parseReadinessProbe('{"grpc":{}}', port, true), periodMs: 50, failureThreshold: 1 };
    const qp = await startTestQueueProxy(port, { userProtocol: 'h2c', readinessProbe: probe });
    cleanups.push(() => qp.close());
    await waitFor('a few probes', () => checks >= 3 || undefined);
    expect(qp.ready).toBe(false);
    serving = true;
    await qp.whenReady();
    serving = false;
    await waitFor('not ready once NOT_SERVING', () => !qp.ready || undefined);
  });
});
