// node:http2, loaded on first use: a queue-proxy whose app and clients speak HTTP/1.1 never
// pays for it at start (the sidecar's start is on every cold start's path).

type Http2Module = typeof import('node:http2');
let http2Module: Http2Module | undefined;

export function loadHttp2(): Http2Module {
  http2Module ??= process.getBuiltinModule('node:http2') as Http2Module;
  return http2Module;
}
