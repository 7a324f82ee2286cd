// One readiness probe of a pod's queue-proxy by the activator: GET /healthz/ready with the probe
// header, healthy only on 200 with body `queue` (so an address reused by something else is not
// taken for a ready pod). The queue-proxy may hold it until the pod is ready (PROBE_WAIT_PARAM).
// Probes share the pod's keep-alive pool with the requests.

import http from 'node:http';
import { PROBE_WAIT_PARAM, QUEUE_PROXY_READINESS_PATH } from '../api/queue-proxy.ts';
import { PROBE_HEADER, PROBE_QUEUE } from '../http/internal-headers.ts';
import type { Upstream } from '../http/upstream.ts';

const PROBE_HEADERS = [PROBE_HEADER, PROBE_QUEUE, 'user-agent', 'zeroscale-activator-probe'];

/**
 * Resolves true when the queue-proxy says its pod can serve, within `waitMs` (the queue-proxy
 * holds the answer until then) plus `timeoutMs`; never rejects.
 */
export function probeQueueProxy(upstream: Upstream, timeoutMs: number, waitMs = 0): Promise<boolean> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(ok);
    };
    const req = http.request({
      agent: upstream.agent,
      host: upstream.host,
      port: upstream.port,
      method: 'GET',
      path:
        waitMs > 0
          ? `${QUEUE_PROXY_READINESS_PATH}?${PROBE_WAIT_PARAM}=${waitMs}`
          : QUEUE_PROXY_READINESS_PATH,
      headers: [...PROBE_HEADERS, 'host', upstream.address],
      setHost: false,
    });
    // A whole-probe deadline (connect included), unlike a socket idle timeout.
    const timer = setTimeout(() => {
      req.destroy();
      done(false);
    }, timeoutMs + waitMs);
    req.once('response', (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        done(false);
        return;
      }
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (body.length < 64) body += chunk;
      });
      res.once('end', () => done(body.trim() === PROBE_QUEUE));
      res.once('error', () => done(false));
    });
    req.once('error', () => done(false));
    req.end();
  });
}
