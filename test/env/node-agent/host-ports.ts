// hostPort as a CNI portmap plugin gives it, but only on 127.0.0.1: a TCP listener per published
// port that pipes each connection to the pod's address and container port.

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

export class HostPorts {
  readonly #byPod = new Map<string, net.Server[]>();

  async publish(podUid: string, hostPort: number, podIp: string, containerPort: number): Promise<void> {
    const server = net.createServer((client) => pipeTcp(client, podIp, containerPort));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port: hostPort }, () => resolve());
    });
    const list = this.#byPod.get(podUid) ?? [];
    list.push(server);
    this.#byPod.set(podUid, list);
  }

  release(podUid: string): void {
    for (const s of this.#byPod.get(podUid) ?? []) s.close();
    this.#byPod.delete(podUid);
  }

  releaseAll(): void {
    for (const uid of [...this.#byPod.keys()]) this.release(uid);
  }
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
