// TCP forwarding on the host for the local cluster: the LoadBalancer publisher's connections and
// the apiserver on the bridge address.

import net from 'node:net';

/** Pipes one accepted connection to host:port both ways; either side closing closes both. */
export function pipeTcp(client: net.Socket, host: string, port: number): void {
  const upstream = net.connect({ host, port });
  client.pipe(upstream).pipe(client);
  const close = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', close);
  upstream.on('error', close);
}

/**
 * Pipes one accepted connection to the first of `targets` that accepts a TCP connection within
 * `connectTimeoutMs`, trying them in order — nginx's stream proxy with `proxy_next_upstream on`
 * (its default), or a cloud load balancer moving off a target that refuses: a backend that just
 * died costs its own connections, not the new ones. The client is paused meanwhile; if none
 * accepts, its connection is closed.
 */
export function pipeTcpToFirstReachable(
  client: net.Socket,
  targets: readonly { ip: string; port: number }[],
  connectTimeoutMs = 1_000,
): void {
  client.pause();
  let next = 0;
  let upstream: net.Socket | undefined;
  const closeBoth = () => {
    client.destroy();
    upstream?.destroy();
  };
  client.on('error', closeBoth);
  client.on('close', () => upstream?.destroy());
  const tryNext = (): void => {
    const target = targets[next++];
    if (target === undefined || client.destroyed) {
      client.destroy();
      return;
    }
    const socket = net.connect({ host: target.ip, port: target.port });
    upstream = socket;
    const timer = setTimeout(() => socket.destroy(new Error('connect timeout')), connectTimeoutMs);
    const refused = () => {
      clearTimeout(timer);
      socket.destroy();
      tryNext();
    };
    socket.once('error', refused);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeListener('error', refused);
      socket.on('error', closeBoth);
      socket.on('close', () => client.destroy());
      client.pipe(socket).pipe(client);
      client.resume();
    });
  };
  tryNext();
}

/** Forwards the apiserver (bound to 127.0.0.1) to the bridge address that pods can reach. */
export function forwardApiserver(
  listenHost: string,
  listenPort: number,
  targetPort: number,
): Promise<net.Server> {
  const server = net.createServer((client) => pipeTcp(client, '127.0.0.1', targetPort));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: listenHost, port: listenPort }, () => resolve(server));
  });
}
