// The upstream side of the hostile suite, run through both forwarding cores of bench/proxy.ts
// (our own client, src/http/upstream.ts + response-parser.ts, and undici's Pool): the same
// malformed, stalled and resetting apps, and what a client of each core gets. In-process on
// 127.0.0.1, bounded (every exchange has a deadline). `node bench/upstream-hostile.ts`.

import type http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { RAW_RESPONSES, RawApp } from '../test/component/hostile/apps.ts';
import { runCore, runUndici } from './proxy.ts';
import { writeResult } from './stats.ts';

const LOOPBACK = '127.0.0.1';
const DEADLINE_MS = 3_000;

/** What a raw client saw: the status of the first response, or how the connection ended. */
async function exchange(port: number, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: LOOPBACK, port });
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(data === '' ? 'no answer in 3 s' : `${status(data)} then no end in 3 s`);
    }, DEADLINE_MS);
    socket.setEncoding('latin1');
    socket.on('data', (c: string) => {
      data += c;
      const head = data.indexOf('\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(data.slice(0, head));
      if (head >= 0 && length !== null && data.length >= head + 4 + Number(length[1])) {
        clearTimeout(timer);
        socket.destroy();
        resolve(status(data));
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(data === '' ? 'closed, no answer' : `${status(data)}, then closed`);
    });
    socket.write(bytes);
  });
}

function status(data: string): string {
  return /^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? `garbage ${JSON.stringify(data.slice(0, 20))}`;
}

const portOf = (s: http.Server | net.Server): number => (s.address() as AddressInfo).port;

async function listening(s: http.Server): Promise<http.Server> {
  if (!s.listening) await new Promise<void>((resolve) => s.once('listening', () => resolve()));
  return s;
}

export async function benchUpstreamHostile(): Promise<void> {
  const app = new RawApp();
  await app.listen();
  const cores = {
    own: await listening(await runCore(0, app.port)),
    undici: await listening(await runUndici(0, app.port)),
  };
  const cases = [...Object.keys(RAW_RESPONSES), '/stall'];
  const rows: { path: string; own: string; undici: string }[] = [];
  for (const path of cases) {
    const request = `GET ${path} HTTP/1.1\r\nHost: bench\r\n\r\n`;
    const [own, undici] = await Promise.all([
      exchange(portOf(cores.own), request),
      exchange(portOf(cores.undici), request),
    ]);
    rows.push({ path, own, undici });
  }
  for (const s of [...Object.values(cores), app.server]) {
    (s as http.Server).closeAllConnections?.();
    s.close();
  }
  const lines = [
    'The upstream side of the hostile suite through both cores (bench/upstream-hostile.ts): what the client got.',
    'Without a response-start timeout in either bench core, a stalled app is an answer that never comes.',
    '',
    '| app sends | own core | undici Pool |',
    '|---|---|---|',
    ...rows.map((r) => `| \`${r.path}\` | ${r.own} | ${r.undici} |`),
  ];
  writeResult('upstream-hostile', rows, lines.join('\n'));
}

if (import.meta.main) {
  await benchUpstreamHostile();
  process.exit(0);
}
