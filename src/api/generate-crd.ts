// Writes the CRD to crds/ (`node src/api/generate-crd.ts`), or with --check exits 1 when the
// committed file is stale.

import { readFileSync, writeFileSync } from 'node:fs';
import { CRD_FILE, renderCrdYaml } from './crd.ts';

const target = new URL(`../../${CRD_FILE}`, import.meta.url);
const yaml = renderCrdYaml();

if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {
    // A missing file is stale too.
  }
  if (current !== yaml) {
    process.stderr.write(`${CRD_FILE} is stale: run node src/api/generate-crd.ts\n`);
    process.exit(1);
  }
} else {
  writeFileSync(target, yaml);
  process.stdout.write(`wrote ${CRD_FILE}\n`);
}
