// Pod volumes as files on the host, bind-mounted into each container's own mount namespace at
// its mountPath: emptyDir, configMap, secret, downwardAPI and projected (with a real bound
// ServiceAccount token from the TokenRequest API). Other volume types are refused with a reason.

import fs from 'node:fs/promises';
import path from 'node:path';
import type {
  V1ConfigMap,
  V1Container,
  V1DownwardAPIVolumeFile,
  V1KeyToPath,
  V1Pod,
  V1Secret,
  V1Volume,
  V1VolumeProjection,
} from '@kubernetes/client-node';
import { ZeroscaleError } from '../../../src/errors.ts';
import { ContainerConfigError, type EnvSources, fieldRefValue, type PodRuntimeInfo } from './env.ts';

export interface TokenSource {
  requestToken(
    pod: V1Pod,
    serviceAccount: string,
    audience: string | undefined,
    expirationSeconds: number,
  ): Promise<{ token: string; expiresAtMs: number }>;
}

export interface BindMount {
  readonly source: string;
  readonly target: string;
  readonly readOnly: boolean;
}

/** A pod whose spec the local node cannot honour; reported in status, never a crash. */
export class UnsupportedPodError extends ZeroscaleError {
  constructor(message: string) {
    super('UNSUPPORTED_POD', message);
  }
}

const supportedVolumeTypes = ['emptyDir', 'configMap', 'secret', 'projected', 'downwardAPI'] as const;

export function checkVolumesSupported(pod: V1Pod): void {
  for (const v of pod.spec?.volumes ?? []) {
    const types = Object.keys(v).filter((k) => k !== 'name');
    const unsupported = types.find((t) => !(supportedVolumeTypes as readonly string[]).includes(t));
    if (unsupported) {
      throw new UnsupportedPodError(
        `volume "${v.name}" has type ${unsupported}, which the local node agent does not support (supported: ${supportedVolumeTypes.join(', ')})`,
      );
    }
  }
}

interface FileToWrite {
  readonly path: string;
  readonly content: string | Buffer;
  readonly mode: number | undefined;
}

export class PodVolumes {
  readonly #pod: V1Pod;
  readonly #root: string;
  readonly #sources: EnvSources;
  readonly #tokens: TokenSource;
  readonly #info: PodRuntimeInfo;
  /** Earliest time at which a projected token must be renewed (80% of its lifetime, as kubelet). */
  #renewAtMs = Number.POSITIVE_INFINITY;

  constructor(pod: V1Pod, root: string, sources: EnvSources, tokens: TokenSource, info: PodRuntimeInfo) {
    this.#pod = pod;
    this.#root = root;
    this.#sources = sources;
    this.#tokens = tokens;
    this.#info = info;
  }

  get renewAtMs(): number {
    return this.#renewAtMs;
  }

  dir(volume: string): string {
    return path.join(this.#root, volume);
  }

  /** Writes (or rewrites) every volume's files. Throws ContainerConfigError for a missing reference. */
  async materialize(now = Date.now()): Promise<void> {
    this.#renewAtMs = Number.POSITIVE_INFINITY;
    for (const volume of this.#pod.spec?.volumes ?? []) {
      const dir = this.dir(volume.name);
      await fs.mkdir(dir, { recursive: true });
      if (volume.emptyDir) continue;
      const files = await this.#filesOf(volume, now);
      for (const f of files) {
        const target = path.join(dir, f.path);
        await fs.mkdir(path.dirname(target), { recursive: true });
        const tmp = `${target}.tmp`;
        await fs.writeFile(tmp, f.content, { mode: f.mode ?? 0o644 });
        await fs.rename(tmp, target); // atomic: a reader never sees half a token
      }
    }
  }

  async #filesOf(volume: V1Volume, now: number): Promise<FileToWrite[]> {
    const ns = this.#pod.metadata?.namespace ?? 'default';
    if (volume.configMap) {
      const cm = await this.#sources.getConfigMap(ns, volume.configMap.name ?? '');
      if (!cm && !volume.configMap.optional)
        throw new ContainerConfigError(`configmap "${volume.configMap.name}" not found`);
      return keyFiles(textData(cm), volume.configMap.items, volume.configMap.defaultMode);
    }
    if (volume.secret) {
      const s = await this.#sources.getSecret(ns, volume.secret.secretName ?? '');
      if (!s && !volume.secret.optional)
        throw new ContainerConfigError(`secret "${volume.secret.secretName}" not found`);
      return keyFiles(secretData(s), volume.secret.items, volume.secret.defaultMode);
    }
    if (volume.downwardAPI)
      return this.#downwardFiles(volume.downwardAPI.items ?? [], volume.downwardAPI.defaultMode);
    if (volume.projected) {
      const files: FileToWrite[] = [];
      for (const source of volume.projected.sources ?? [])
        files.push(...(await this.#projection(source, volume.projected.defaultMode, now)));
      return files;
    }
    return [];
  }

  async #projection(
    source: V1VolumeProjection,
    defaultMode: number | undefined,
    now: number,
  ): Promise<FileToWrite[]> {
    const ns = this.#pod.metadata?.namespace ?? 'default';
    if (source.serviceAccountToken) {
      const sat = source.serviceAccountToken;
      const sa = this.#pod.spec?.serviceAccountName ?? 'default';
      const ttl = sat.expirationSeconds ?? 3607;
      const { token, expiresAtMs } = await this.#tokens.requestToken(this.#pod, sa, sat.audience, ttl);
      this.#renewAtMs = Math.min(this.#renewAtMs, now + 0.8 * (expiresAtMs - now));
      return [{ path: sat.path, content: token, mode: defaultMode ?? 0o644 }];
    }
    if (source.configMap) {
      const cm = await this.#sources.getConfigMap(ns, source.configMap.name ?? '');
      if (!cm && !source.configMap.optional)
        throw new ContainerConfigError(`configmap "${source.configMap.name}" not found`);
      return keyFiles(textData(cm), source.configMap.items, defaultMode);
    }
    if (source.secret) {
      const s = await this.#sources.getSecret(ns, source.secret.name ?? '');
      if (!s && !source.secret.optional)
        throw new ContainerConfigError(`secret "${source.secret.name}" not found`);
      return keyFiles(secretData(s), source.secret.items, defaultMode);
    }
    if (source.downwardAPI) return this.#downwardFiles(source.downwardAPI.items ?? [], defaultMode);
    throw new UnsupportedPodError(
      `projected volume source ${Object.keys(source).join(',')} is not supported by the local node agent`,
    );
  }

  #downwardFiles(items: readonly V1DownwardAPIVolumeFile[], defaultMode: number | undefined): FileToWrite[] {
    return items.map((item) => ({
      path: item.path,
      content: item.fieldRef ? fieldRefValue(this.#pod, item.fieldRef.fieldPath, this.#info) : '',
      mode: item.mode ?? defaultMode,
    }));
  }

  /** The bind mounts for one container's volumeMounts. */
  mountsFor(container: V1Container): BindMount[] {
    return (container.volumeMounts ?? []).map((m) => {
      const source = m.subPath ? path.join(this.dir(m.name), m.subPath) : this.dir(m.name);
      return { source, target: m.mountPath, readOnly: m.readOnly ?? false };
    });
  }
}

function textData(cm: V1ConfigMap | undefined): Record<string, string | Buffer> {
  const out: Record<string, string | Buffer> = { ...(cm?.data ?? {}) };
  for (const [k, v] of Object.entries(cm?.binaryData ?? {})) out[k] = Buffer.from(v, 'base64');
  return out;
}

function secretData(s: V1Secret | undefined): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries(s?.data ?? {})) out[k] = Buffer.from(v, 'base64');
  for (const [k, v] of Object.entries(s?.stringData ?? {})) out[k] = Buffer.from(v, 'utf8');
  return out;
}

function keyFiles(
  data: Record<string, string | Buffer>,
  items: readonly V1KeyToPath[] | undefined,
  defaultMode: number | undefined,
): FileToWrite[] {
  if (!items || items.length === 0) {
    return Object.entries(data).map(([k, v]) => ({ path: k, content: v, mode: defaultMode }));
  }
  return items.flatMap((item) => {
    const content = data[item.key];
    if (content === undefined) return [];
    return [{ path: item.path, content, mode: item.mode ?? defaultMode }];
  });
}
