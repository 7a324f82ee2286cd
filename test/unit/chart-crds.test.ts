import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CRD_FILE } from '../../src/api/crd.ts';

const root = path.resolve(import.meta.dirname, '../..');

describe('Helm chart CRDs', () => {
  it('are the generated files of crds/, byte for byte', () => {
    const generated = fs.readFileSync(path.join(root, CRD_FILE), 'utf8');
    const inChart = fs.readFileSync(path.join(root, 'deploy/helm/zeroscale', CRD_FILE), 'utf8');
    expect(inChart).toBe(generated);
  });
});
