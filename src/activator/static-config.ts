// A static description of services and their pods, for running the activator without
// Kubernetes (benchmarks, local experiments): `zeroscale activator --static-config <file.json>`.

import { z } from 'zod';
import { SERVING_PROTOCOLS } from '../api/protocol.ts';
import { ZeroscaleError } from '../errors.ts';
import { MemoryEndpointsSource, MemoryServiceCatalog } from './memory-sources.ts';

const PodSchema = z.object({
  ip: z.string().min(1),
  port: z.number().int().min(1).max(65535),
  ready: z.boolean().default(true),
  pod: z.string().optional(),
});

const ServiceSchema = z.object({
  namespace: z.string().min(1),
  name: z.string().min(1),
  url: z.string().optional(),
  containerConcurrency: z.number().int().min(0).default(0),
  timeoutSeconds: z.number().positive().default(300),
  /** `h2c`: the pods' app speaks HTTP/2 and requests go to them over h2c. */
  protocol: z.enum(SERVING_PROTOCOLS).default('http1'),
  pods: z.array(PodSchema).default([]),
  /** Reached only through a route (a revision). */
  routeOnly: z.boolean().optional(),
});

/** A service whose requests are split over services of the same namespace by percent. */
const RouteSchema = z.object({
  namespace: z.string().min(1),
  name: z.string().min(1),
  url: z.string().optional(),
  traffic: z.array(z.object({ name: z.string().min(1), percent: z.number().int().min(0).max(100) })).min(1),
  tags: z.array(z.object({ host: z.string().min(1), name: z.string().min(1) })).default([]),
});

export const StaticConfigSchema = z.object({
  services: z.array(ServiceSchema),
  routes: z.array(RouteSchema).default([]),
});
export type StaticConfig = z.output<typeof StaticConfigSchema>;

/** Parses the file's JSON text; throws INVALID_STATIC_CONFIG naming the field. */
export function parseStaticConfig(text: string): StaticConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ZeroscaleError('INVALID_STATIC_CONFIG', `static config is not JSON: ${(err as Error).message}`);
  }
  const parsed = StaticConfigSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ZeroscaleError(
      'INVALID_STATIC_CONFIG',
      `static config: ${issue.path.join('.') || '(root)'}: ${issue.message}`,
    );
  }
  return parsed.data;
}

/** In-memory sources holding what the config says. */
export function staticSources(config: StaticConfig): {
  catalog: MemoryServiceCatalog;
  endpoints: MemoryEndpointsSource;
} {
  const catalog = new MemoryServiceCatalog([
    ...config.services.map(({ pods: _pods, ...service }) => service),
    ...config.routes.map((r) => ({ ...r, containerConcurrency: 0, timeoutSeconds: 0 })),
  ]);
  const endpoints = new MemoryEndpointsSource();
  for (const s of config.services) endpoints.set(s.namespace, s.name, s.pods);
  return { catalog, endpoints };
}
