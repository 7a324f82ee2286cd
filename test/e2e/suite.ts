// What every cluster test file sets up the same way: zeroscale installed by the chart, a namespace
// of its own, and the services a test made deleted after it.
import { afterAll, afterEach, beforeAll } from 'vitest';
import { kubectlOk, testNamespace } from '../../dev/cluster/kube.ts';
import { installZeroscale } from '../../dev/cluster/zeroscale.ts';

export interface SuiteNamespace {
  /** The namespace's name; read only inside tests and hooks. */
  readonly name: string;
  /** ServerlessServices to delete (without waiting) after the current test. */
  readonly created: string[];
}

/** Registers the file's hooks; `prefix` starts the namespace's name. */
export function zeroscaleNamespace(prefix: string): SuiteNamespace {
  let ns: { name: string; remove: () => Promise<void> } | undefined;
  const created: string[] = [];
  beforeAll(async () => {
    await installZeroscale();
    ns = await testNamespace(prefix);
  }, 300_000);
  afterEach(async () => {
    for (const name of created.splice(0))
      await kubectlOk(['delete', 'ssvc', name, '-n', ns?.name ?? '', '--wait=false']);
  });
  afterAll(async () => {
    await ns?.remove();
  });
  return {
    get name() {
      if (ns === undefined) throw new Error(`the ${prefix} namespace is read before beforeAll made it`);
      return ns.name;
    },
    created,
  };
}
