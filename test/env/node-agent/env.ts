// A container's environment as kubelet builds it: cluster variables, then envFrom, then env (later
// wins), with downward-API fields, ConfigMap and Secret references and $(VAR) expansion.

import type { V1ConfigMap, V1Container, V1Pod, V1Secret } from '@kubernetes/client-node';
import { ZeroscaleError } from '../../../src/errors.ts';

export interface EnvSources {
  getConfigMap(namespace: string, name: string): Promise<V1ConfigMap | undefined>;
  getSecret(namespace: string, name: string): Promise<V1Secret | undefined>;
}

export interface PodRuntimeInfo {
  readonly podIp: string;
  readonly hostIp: string;
  readonly apiHost: string;
  readonly apiPort: number;
}

/** The error kubelet reports as CreateContainerConfigError: the pod references what is not there. */
export class ContainerConfigError extends ZeroscaleError {
  constructor(message: string) {
    super('CREATE_CONTAINER_CONFIG_ERROR', message);
  }
}

export function fieldRefValue(pod: V1Pod, fieldPath: string, info: PodRuntimeInfo): string {
  const md = pod.metadata ?? {};
  const labelOrAnnotation = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
  if (labelOrAnnotation) {
    const map = labelOrAnnotation[1] === 'labels' ? md.labels : md.annotations;
    return map?.[labelOrAnnotation[2]!] ?? '';
  }
  switch (fieldPath) {
    case 'metadata.name':
      return md.name ?? '';
    case 'metadata.namespace':
      return md.namespace ?? '';
    case 'metadata.uid':
      return md.uid ?? '';
    case 'metadata.labels':
      return formatMap(md.labels);
    case 'metadata.annotations':
      return formatMap(md.annotations);
    case 'spec.nodeName':
      return pod.spec?.nodeName ?? '';
    case 'spec.serviceAccountName':
      return pod.spec?.serviceAccountName ?? '';
    case 'status.hostIP':
    case 'status.hostIPs':
      return info.hostIp;
    case 'status.podIP':
    case 'status.podIPs':
      return info.podIp;
    default:
      throw new ContainerConfigError(`unsupported fieldRef fieldPath "${fieldPath}"`);
  }
}

function formatMap(map: Record<string, string> | undefined): string {
  return Object.entries(map ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}="${v}"`)
    .join('\n');
}

/** Expands $(VAR) from `env`; $$(VAR) stays literal $(VAR); an unknown $(VAR) is left as it is. */
export function expandVars(value: string, env: ReadonlyMap<string, string>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name: string | undefined) => {
    if (match === '$$') return '$';
    return name !== undefined && env.has(name) ? env.get(name)! : match;
  });
}

function resourceValue(container: V1Container, resource: string, divisor: string | undefined): string {
  const [kind, name] = resource.split('.') as ['limits' | 'requests', string];
  const raw = container.resources?.[kind]?.[name];
  if (raw === undefined) return name === 'cpu' ? '1' : String(64 * 1024 ** 3);
  if (name === 'cpu') {
    const cores = raw.endsWith('m') ? Number(raw.slice(0, -1)) / 1000 : Number(raw);
    const div = divisor === '1m' ? 0.001 : 1;
    return String(Math.ceil(cores / div));
  }
  return String(parseQuantity(raw));
}

function parseQuantity(q: string): number {
  const m = /^([0-9.]+)([A-Za-z]*)$/.exec(q);
  if (!m) return Number(q);
  const units: Record<string, number> = {
    '': 1,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    Ki: 1024,
    Mi: 1024 ** 2,
    Gi: 1024 ** 3,
  };
  return Math.round(Number(m[1]) * (units[m[2]!] ?? 1));
}

export async function buildEnv(
  pod: V1Pod,
  container: V1Container,
  info: PodRuntimeInfo,
  sources: EnvSources,
  pathDirs: readonly string[],
): Promise<Map<string, string>> {
  const ns = pod.metadata?.namespace ?? 'default';
  const env = new Map<string, string>([
    [
      'PATH',
      [...pathDirs, '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'].join(':'),
    ],
    ['HOME', '/root'],
    ['HOSTNAME', pod.metadata?.name ?? ''],
    // The apiserver as the in-cluster config finds it: the node forwards this address to it.
    ['KUBERNETES_SERVICE_HOST', info.apiHost],
    ['KUBERNETES_SERVICE_PORT', String(info.apiPort)],
    ['KUBERNETES_SERVICE_PORT_HTTPS', String(info.apiPort)],
    ['KUBERNETES_PORT', `tcp://${info.apiHost}:${info.apiPort}`],
  ]);
  const cms = new Map<string, V1ConfigMap | undefined>();
  const secrets = new Map<string, V1Secret | undefined>();
  const configMap = async (name: string) => {
    if (!cms.has(name)) cms.set(name, await sources.getConfigMap(ns, name));
    return cms.get(name);
  };
  const secret = async (name: string) => {
    if (!secrets.has(name)) secrets.set(name, await sources.getSecret(ns, name));
    return secrets.get(name);
  };

  for (const from of container.envFrom ?? []) {
    const prefix = from.prefix ?? '';
    if (from.configMapRef) {
      const cm = await configMap(from.configMapRef.name ?? '');
      if (!cm && !from.configMapRef.optional)
        throw new ContainerConfigError(`configmap "${from.configMapRef.name}" not found`);
      for (const [k, v] of Object.entries(cm?.data ?? {})) env.set(prefix + k, v);
    }
    if (from.secretRef) {
      const s = await secret(from.secretRef.name ?? '');
      if (!s && !from.secretRef.optional)
        throw new ContainerConfigError(`secret "${from.secretRef.name}" not found`);
      for (const [k, v] of Object.entries(s?.data ?? {}))
        env.set(prefix + k, Buffer.from(v, 'base64').toString('utf8'));
    }
  }

  for (const e of container.env ?? []) {
    const vf = e.valueFrom;
    if (!vf) {
      env.set(e.name, expandVars(e.value ?? '', env));
    } else if (vf.fieldRef) {
      env.set(e.name, fieldRefValue(pod, vf.fieldRef.fieldPath, info));
    } else if (vf.resourceFieldRef) {
      env.set(
        e.name,
        resourceValue(
          container,
          vf.resourceFieldRef.resource,
          vf.resourceFieldRef.divisor as string | undefined,
        ),
      );
    } else if (vf.configMapKeyRef) {
      const ref = vf.configMapKeyRef;
      const cm = await configMap(ref.name ?? '');
      const value = cm?.data?.[ref.key];
      if (value === undefined) {
        if (ref.optional) continue;
        throw new ContainerConfigError(
          cm
            ? `couldn't find key ${ref.key} in ConfigMap ${ns}/${ref.name}`
            : `configmap "${ref.name}" not found`,
        );
      }
      env.set(e.name, value);
    } else if (vf.secretKeyRef) {
      const ref = vf.secretKeyRef;
      const s = await secret(ref.name ?? '');
      const value = s?.data?.[ref.key];
      if (value === undefined) {
        if (ref.optional) continue;
        throw new ContainerConfigError(
          s ? `couldn't find key ${ref.key} in Secret ${ns}/${ref.name}` : `secret "${ref.name}" not found`,
        );
      }
      env.set(e.name, Buffer.from(value, 'base64').toString('utf8'));
    }
  }
  return env;
}
