// A gRPC app for the local cluster's tests: the echo service of grpc-echo.ts served by
// @grpc/grpc-js over h2c (no TLS) on $PORT. images.ts bundles it into one CommonJS file for its
// image, which has no node_modules. HOST (default 0.0.0.0) lets a local check bind 127.0.0.1.

import type * as grpc from '@grpc/grpc-js';
import { echoServiceName } from './grpc-echo.ts';
import { startEchoServer } from './grpc-echo-server.ts';

const port = Number(process.env.PORT ?? 8080);
const host = process.env.HOST ?? '0.0.0.0';
const pod = process.env.POD_NAME ?? process.env.HOSTNAME ?? 'unknown';
const log = (msg: string) => process.stdout.write(`${new Date().toISOString()} ${msg}\n`);

startEchoServer(host, port, pod).then(
  ({ server, port: bound }) => {
    log(`gRPC ${echoServiceName} listening on ${host}:${bound} (h2c), pod ${pod}`);
    onSigterm(server);
  },
  (err: Error) => {
    log(`could not listen on ${host}:${port}: ${err.message}`);
    process.exit(1);
  },
);

// The queue-proxy has drained before SIGTERM comes (preStop); calls still open get 5 s.
function onSigterm(server: grpc.Server): void {
  process.on('SIGTERM', () => {
    log('SIGTERM received');
    const force = setTimeout(() => {
      log('calls still open after 5 s; forcing shutdown');
      server.forceShutdown();
      process.exit(0);
    }, 5_000);
    server.tryShutdown(() => {
      clearTimeout(force);
      log('shut down');
      process.exit(0);
    });
  });
}
