// A small HTTP app for the local cluster's tests. Each endpoint makes one kubelet behaviour
// observable from outside the pod. Plain JavaScript: it runs as a container's command.
// H2C=1 serves the same routes over HTTP/2 cleartext with prior knowledge only (node:http2's
// compatibility API), so a proxy that spoke HTTP/1.1 to it would fail.
import fs from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';

const port = Number(process.env.PORT ?? 8080);
let ready = true;
let live = true;
const log = (msg) => process.stdout.write(`${new Date().toISOString()} ${msg}\n`);

function kubeGet(path) {
  const dir = '/var/run/secrets/kubernetes.io/serviceaccount';
  const token = fs.readFileSync(`${dir}/token`, 'utf8');
  const ca = fs.readFileSync(`${dir}/ca.crt`);
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const p = process.env.KUBERNETES_SERVICE_PORT;
  return new Promise((resolve) => {
    https
      .get({ host, port: p, path, ca, headers: { authorization: `Bearer ${token}` } }, (res) => {
        res.resume();
        resolve(res.statusCode);
      })
      .on('error', (err) => resolve(`error: ${err.message}`));
  });
}

const routes = {
  '/': (_q, s) => s.end(`hello from ${process.env.POD_NAME ?? process.env.HOSTNAME ?? 'unknown'}`),
  '/sleep': (q, s) => {
    const ms = Number(new URL(q.url, 'http://x').searchParams.get('ms') ?? 100);
    setTimeout(() => s.end(`slept ${ms} ms in ${process.env.HOSTNAME}`), ms);
  },
  '/env': (_q, s) => s.end(JSON.stringify(process.env)),
  '/ready': (_q, s) => {
    s.statusCode = ready ? 200 : 503;
    s.end(String(ready));
  },
  '/ready/fail': (_q, s) => {
    ready = false;
    s.end('false');
  },
  '/ready/pass': (_q, s) => {
    ready = true;
    s.end('true');
  },
  '/healthz': (_q, s) => {
    s.statusCode = live ? 200 : 500;
    s.end(String(live));
  },
  '/healthz/fail': (_q, s) => {
    live = false;
    s.end('false');
  },
  // Tries to write a file: the answer names the error code (EROFS on a read-only root).
  '/write': (q, s) => {
    const file = new URL(q.url, 'http://x').searchParams.get('path') ?? '/probe-write-test';
    try {
      fs.writeFileSync(file, 'x');
      s.end('written');
    } catch (err) {
      s.statusCode = 500;
      s.end(err.code ?? String(err));
    }
  },
  // Allocates and touches memory until told to stop: past the container's limit, the OOM killer.
  '/alloc': (q, s) => {
    const mb = Number(new URL(q.url, 'http://x').searchParams.get('mb') ?? 64);
    const held = [];
    for (let i = 0; i < mb; i++) held.push(Buffer.alloc(1 << 20, 1));
    globalThis.__held = held;
    s.end(`allocated ${mb} MiB`);
  },
  '/whoami': (_q, s) => s.end(JSON.stringify({ uid: process.getuid(), gid: process.getgid() })),
  '/prestop': (_q, s) => {
    log('prestop hook called');
    s.end('ok');
  },
  '/kube': async (_q, s) => {
    const ns = process.env.POD_NAMESPACE;
    const pods = await kubeGet(`/api/v1/namespaces/${ns}/pods`);
    const secrets = await kubeGet(`/api/v1/namespaces/${ns}/secrets`);
    s.end(JSON.stringify({ pods, secrets }));
  },
  '/localhost': async (q, s) => {
    const target = new URL(q.url, 'http://x').searchParams.get('port');
    try {
      const res = await fetch(`http://127.0.0.1:${target}/`);
      s.end(await res.text());
    } catch (err) {
      s.statusCode = 502;
      s.end(String(err));
    }
  },
};

const h2c = process.env.H2C === '1';
const handle = (q, s) => {
  const route = routes[new URL(q.url, 'http://x').pathname];
  if (!route) {
    s.statusCode = 404;
    return s.end('not found');
  }
  route(q, s);
};
(h2c ? http2.createServer(handle) : http.createServer(handle)).listen(port, () =>
  log(`listening on ${port}${h2c ? ' (h2c)' : ''}`),
);

process.on('SIGTERM', () => {
  log('SIGTERM received');
  if (process.env.IGNORE_SIGTERM !== '1') process.exit(0);
});
