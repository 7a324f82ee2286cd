import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { generatedCrdFiles } from '../../src/api/crd.ts';

const root = path.resolve(import.meta.dirname, '../..');

describe('Helm chart CRDs', () => {
  it.each(generatedCrdFiles().map((f) => f.file))(
    '%s is the generated file of crds/, byte for byte',
    (file) => {
      const generated = fs.readFileSync(path.join(root, file), 'utf8');
      const inChart = fs.readFileSync(path.join(root, 'deploy/helm/zeroscale', file), 'utf8');
      expect(inChart).toBe(generated);
    },
  );
});
