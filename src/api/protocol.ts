// How a service's serving container speaks HTTP, by Knative's convention: a serving port named
// `h2c` means HTTP/2 over cleartext (prior knowledge), so the whole path to the app is HTTP/2
// (gRPC needs it); any other name means HTTP/1.1. The controller tells the queue-proxy, marks the
// Services' ports with the matching appProtocol, and the activator reads it from the spec.

/** `http1`: HTTP/1.1 (WebSockets included). `h2c`: HTTP/2 cleartext with prior knowledge. */
export type ServingProtocol = 'http1' | 'h2c';
export const SERVING_PROTOCOLS = ['http1', 'h2c'] as const satisfies readonly ServingProtocol[];

/** The port name that makes a service h2c (Knative's), and the appProtocol set for it. */
export const H2C_PORT_NAME = 'h2c';
export const H2C_APP_PROTOCOL = 'kubernetes.io/h2c';

interface PortsOf {
  readonly ports?: readonly { readonly name?: string | undefined }[] | undefined;
}

/** The protocol of a pod template's serving container (the one with a port), by its port's name. */
export function servingProtocolOf(containers: readonly PortsOf[] | undefined): ServingProtocol {
  const serving = containers?.find((c) => (c.ports?.length ?? 0) > 0);
  return serving?.ports?.[0]?.name === H2C_PORT_NAME ? 'h2c' : 'http1';
}
