// hostPort as a CNI portmap plugin gives it, but only on 127.0.0.1: a TCP listener per published
// port that pipes each connection to the pod's address and container port.

import net from 'node:net';

export class HostPorts {
  readonly #byPod = new Map<string, net.Server[]>();

  async publish(podUid: string, hostPort: number, podIp: string, containerPort: number): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect({ host: podIp, port: containerPort });
      client.pipe(upstream).pipe(client);
      const close = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', close);
      upstream.on('error', close);
    });
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
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
    client.pipe(upstream).pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: listenHost, port: listenPort }, () => resolve(server));
  });
}
