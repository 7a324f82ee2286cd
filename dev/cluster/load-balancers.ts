// Services of type LoadBalancer, as a cloud provider (or kind's cloud-provider-kind) would give
// them, but only on 127.0.0.1: for each port a TCP listener on 127.0.0.1:<port> that spreads
// connections round-robin over the Service's ready endpoints (the next one when one refuses), and status.loadBalancer.ingress set
// to 127.0.0.1. This is how the activator is published on the host at 127.0.0.1:8080.

import net from 'node:net';
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { ENDPOINTSLICE_SERVICE_NAME_LABEL } from '../../src/api/labels.ts';
import { Informer } from '../../src/kube/informer.ts';
import type { KubeClient } from '../../src/kube/rest.ts';
import { pipeTcpToFirstReachable } from './host-ports.ts';

interface Listener {
  readonly server: net.Server;
  readonly serviceKey: string;
  readonly portName: string;
  next: number;
}

export class LocalLoadBalancers {
  readonly #client: KubeClient;
  readonly #log: (msg: string, f?: Record<string, unknown>) => void;
  readonly #services: Informer<V1Service>;
  /** The EndpointSlices of the LoadBalancer Services only, by their names (see #watchSlicesOf). */
  #slices: Informer<V1EndpointSlice> | undefined;
  #sliceServices = '';
  /** By host port. */
  readonly #listeners = new Map<number, Listener>();

  constructor(client: KubeClient, log: (msg: string, f?: Record<string, unknown>) => void) {
    this.#client = client;
    this.#log = log;
    // Only LoadBalancer Services and their slices, as the apiserver filters them: with 1,000
    // ServerlessServices (2,000 Services, 2,000 EndpointSlices) watching them all cost this
    // process ~8 s of CPU, and the apiserver as much again, in the cluster it measures.
    this.#services = new Informer<V1Service>(client, {
      path: '/api/v1/services',
      fieldSelector: 'spec.type=LoadBalancer',
      resyncMs: 30_000,
    });
    this.#services.on(() => void this.#sync());
  }

  /** (Re)starts the slice watch when the set of LoadBalancer Service names changes. */
  #watchSlicesOf(names: readonly string[]): void {
    const selection = [...new Set(names)].sort().join(',');
    if (selection === this.#sliceServices) return;
    this.#slices?.stop();
    this.#slices = undefined;
    this.#sliceServices = selection;
    if (selection === '') return;
    this.#slices = new Informer<V1EndpointSlice>(this.#client, {
      path: '/apis/discovery.k8s.io/v1/endpointslices',
      labelSelector: `${ENDPOINTSLICE_SERVICE_NAME_LABEL} in (${selection})`,
    });
    this.#slices.start();
  }

  start(): void {
    this.#services.start();
  }

  stop(): void {
    this.#services.stop();
    this.#slices?.stop();
    for (const l of this.#listeners.values()) l.server.close();
    this.#listeners.clear();
  }

  /** Ready endpoint addresses with the port named `portName`, for one Service. */
  #backends(serviceKey: string, portName: string): { ip: string; port: number }[] {
    const out: { ip: string; port: number }[] = [];
    const [namespace, name] = serviceKey.split('/');
    for (const s of this.#slices?.list() ?? []) {
      if (
        s.metadata?.namespace !== namespace ||
        s.metadata?.labels?.[ENDPOINTSLICE_SERVICE_NAME_LABEL] !== name
      )
        continue;
      const port = s.ports?.find((p) => (p.name ?? '') === portName)?.port;
      if (port === undefined) continue;
      for (const e of s.endpoints ?? []) {
        if (e.conditions?.ready === false) continue;
        for (const ip of e.addresses) out.push({ ip, port });
      }
    }
    return out;
  }

  #connect(listener: Listener, client: net.Socket): void {
    const backends = this.#backends(listener.serviceKey, listener.portName);
    if (backends.length === 0) {
      client.destroy(); // as a load balancer with no healthy target: the connection is refused
      return;
    }
    // Round-robin, moving on to the next backend when one refuses (it may have just died).
    const first = listener.next++ % backends.length;
    pipeTcpToFirstReachable(client, [...backends.slice(first), ...backends.slice(0, first)]);
  }

  async #sync(): Promise<void> {
    const wanted = new Map<number, { serviceKey: string; portName: string; svc: V1Service }>();
    const services = this.#services.list().filter((svc) => svc.spec?.type === 'LoadBalancer');
    this.#watchSlicesOf(services.map((svc) => svc.metadata?.name ?? ''));
    for (const svc of services) {
      const key = `${svc.metadata?.namespace}/${svc.metadata?.name}`;
      for (const p of svc.spec?.ports ?? [])
        if ((p.protocol ?? 'TCP') === 'TCP')
          wanted.set(p.port, { serviceKey: key, portName: p.name ?? '', svc });
    }
    for (const [port, l] of this.#listeners) {
      const w = wanted.get(port);
      if (!w || w.serviceKey !== l.serviceKey || w.portName !== l.portName) {
        l.server.close();
        this.#listeners.delete(port);
      }
    }
    for (const [port, w] of wanted) {
      if (this.#listeners.has(port)) continue;
      const listener: Listener = {
        server: net.createServer(),
        serviceKey: w.serviceKey,
        portName: w.portName,
        next: 0,
      };
      listener.server.on('connection', (c) => this.#connect(listener, c));
      this.#listeners.set(port, listener);
      try {
        await new Promise<void>((resolve, reject) => {
          listener.server.once('error', reject);
          listener.server.listen({ host: '127.0.0.1', port }, () => resolve());
        });
        await this.#client.patch(
          `/api/v1/namespaces/${w.svc.metadata?.namespace}/services/${w.svc.metadata?.name}/status`,
          'merge',
          {
            status: { loadBalancer: { ingress: [{ ip: '127.0.0.1', ipMode: 'VIP' }] } },
          },
        );
        this.#log('published LoadBalancer service', { service: w.serviceKey, address: `127.0.0.1:${port}` });
      } catch (err) {
        this.#listeners.delete(port);
        this.#log('could not publish LoadBalancer service', {
          service: w.serviceKey,
          port,
          err: String(err),
        });
      }
    }
  }
}
