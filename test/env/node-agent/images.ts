// The image table: which local program a container image stands for. `node` (any tag) runs the
// pod's command/args with the pinned Node; the project's image runs the local build; any other
// image cannot be pulled, as on a node with no registry access.

import path from 'node:path';
import type { V1Container } from '@kubernetes/client-node';
import { nodeBinary, repoRoot } from '../paths.ts';

export const projectImageRepositories = ['ghcr.io/zeroscale/zeroscale', 'zeroscale'] as const;

export type ResolvedImage =
  | {
      readonly ok: true;
      readonly argv: readonly string[];
      readonly pathDirs: readonly string[];
      readonly imageId: string;
      /** WORKDIR of the image, used when the container sets no workingDir. */
      readonly workingDir: string;
    }
  | { readonly ok: false; readonly message: string };

/** Splits `registry/repo:tag@digest` into the repository (registry included) and the tag. */
export function parseImage(image: string): { repository: string; tag: string } {
  const noDigest = image.split('@')[0]!;
  const lastSlash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  if (colon > lastSlash) return { repository: noDigest.slice(0, colon), tag: noDigest.slice(colon + 1) };
  return { repository: noDigest, tag: 'latest' };
}

function isNodeImage(repository: string): boolean {
  return repository === 'node' || repository === 'docker.io/library/node' || repository === 'library/node';
}

const nodeDir = path.dirname(nodeBinary);
const cliPath = path.join(repoRoot, 'src', 'cli.ts');

/** Replaces a bare `node` with the pinned binary so the container runs the project's Node. */
function pinNode(argv: readonly string[]): string[] {
  return argv.map((a, i) => (i === 0 && a === 'node' ? nodeBinary : a));
}

export function resolveImage(container: V1Container): ResolvedImage {
  const image = container.image ?? '';
  if (!image) return { ok: false, message: 'container has no image' };
  const { repository } = parseImage(image);
  const command = container.command ?? [];
  const args = container.args ?? [];
  if (isNodeImage(repository)) {
    // The node image's entrypoint runs `node` with the args when no command is given.
    const argv = command.length > 0 ? [...pinNode(command), ...args] : [nodeBinary, ...args];
    return {
      ok: true,
      argv,
      pathDirs: [nodeDir],
      imageId: `local://node@${process.versions.node}`,
      workingDir: '/',
    };
  }
  if ((projectImageRepositories as readonly string[]).includes(repository)) {
    const entrypoint = [nodeBinary, cliPath];
    const argv =
      command.length === 0
        ? [...entrypoint, ...args]
        : command[0] === 'zeroscale'
          ? [...entrypoint, ...command.slice(1), ...args]
          : [...pinNode(command), ...args];
    return {
      ok: true,
      argv,
      pathDirs: [nodeDir],
      imageId: 'local://zeroscale@workspace',
      workingDir: repoRoot,
    };
  }
  return {
    ok: false,
    message: `Failed to pull image "${image}": the local node has no registry access and its image table knows only node:* and ${projectImageRepositories[0]}:*`,
  };
}
