// The activator's view of the Kubernetes API: unavailable after the configured failed /readyz
// polls in a row, available again on the first success, each change told once.
import { describe, expect, it } from 'vitest';
import { API_UNAVAILABLE_REASON, ApiHealthProbe } from '../../src/activator/api-health.ts';
import type { ServiceFailure } from '../../src/activator/sources.ts';
import type { KubeClient } from '../../src/kube/rest.ts';
import { silentLogger } from '../../src/telemetry/log.ts';

describe('ApiHealthProbe', () => {
  it('says unavailable after two failed polls and available again after one success', async () => {
    const answers = [true, false, true, false, false, false, true, true];
    const paths: string[] = [];
    const client = {
      request: async (_method: string, path: string) => {
        paths.push(path);
        if (answers.shift() === false) throw new Error('connect ECONNREFUSED 127.0.0.1:6443');
        return 'ok';
      },
    } as unknown as KubeClient;
    const probe = new ApiHealthProbe(client, { intervalMs: 5, failuresBefore: 2, log: silentLogger() });
    const seen: (ServiceFailure | undefined)[] = [];
    probe.subscribe((u) => seen.push(u));
    probe.start();
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (answers.length === 0) {
          clearInterval(check);
          resolve();
        }
      }, 5);
    });
    probe.stop();
    // One blip (a single failure) is not an outage; three in a row are, once; a success ends it.
    expect(seen.map((u) => u?.reason)).toEqual([API_UNAVAILABLE_REASON, undefined]);
    expect(new Set(paths)).toEqual(new Set(['/readyz']));
  });
});
