// Writes the CRDs to crds/ (`node src/api/generate-crd.ts`), or with --check exits 1 when a
// committed file is stale.

import { readFileSync, writeFileSync } from 'node:fs';
import { generatedCrdFiles } from './crd.ts';

const check = process.argv.includes('--check');
let stale = false;
for (const { file, yaml } of generatedCrdFiles()) {
  const target = new URL(`../../${file}`, import.meta.url);
  if (check) {
    let current = '';
    try {
      current = readFileSync(target, 'utf8');
    } catch {
      // A missing file is stale too.
    }
    if (current !== yaml) {
      process.stderr.write(`${file} is stale: run node src/api/generate-crd.ts\n`);
      stale = true;
    }
  } else {
    writeFileSync(target, yaml);
    process.stdout.write(`wrote ${file}\n`);
  }
}
if (stale) process.exit(1);
