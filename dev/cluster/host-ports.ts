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
