// The raw-bytes app of the hostile suite, without the test runner: bench/upstream-hostile.ts
// drives the same script through both forwarding cores.

import type { AddressInfo } from 'node:net';
import net from 'node:net';

const LOOPBACK = '127.0.0.1';

/**
 * An app that writes raw bytes: the response for a path is taken from `RAW_RESPONSES`, an unknown
 * path stalls (never answers). It reads and ignores request bodies.
 */
export class RawApp {
  readonly server: net.Server;
  port = 0;
  requests = 0;
  constructor() {
    this.server = net.createServer((socket) => {
      socket.on('error', () => {});
      let buffered = '';
      socket.setEncoding('latin1');
      socket.on('data', (chunk: string) => {
        buffered += chunk;
        for (;;) {
          const end = buffered.indexOf('\r\n\r\n');
          if (end < 0) return;
          const head = buffered.slice(0, end);
          buffered = buffered.slice(end + 4);
          this.requests++;
          const path = head.split(' ')[1] ?? '/';
          const answer = RAW_RESPONSES[path];
          if (answer !== undefined) socket.write(answer);
        }
      });
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, LOOPBACK, resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }
}

/** Malformed or hostile responses by path (the raw app's script). */
export const RAW_RESPONSES: Record<string, string> = {
  '/ok': 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok',
  '/bad-reason': 'HTTP/1.1 200 O\x01K\r\ncontent-length: 2\r\n\r\nok',
  '/bad-header-value': 'HTTP/1.1 200 OK\r\nx-bad: a\x00b\r\ncontent-length: 2\r\n\r\nok',
  '/bad-header-name': 'HTTP/1.1 200 OK\r\nx bad: a\r\ncontent-length: 2\r\n\r\nok',
  '/garbage': 'SPDY/9 what\r\n\r\n',
  '/cl-and-te':
    'HTTP/1.1 200 OK\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n',
  '/two-cl': 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nok',
  '/obs-fold': 'HTTP/1.1 200 OK\r\nx-a: 1\r\n folded\r\ncontent-length: 2\r\n\r\nok',
  '/bare-lf': 'HTTP/1.1 200 OK\nx-a: 1\ncontent-length: 2\n\nok',
  '/bad-chunk': 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n',
  '/switching': 'HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n',
  '/head-then-stall': 'HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial',
  '/huge-head': `HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(100 * 1024)}\r\ncontent-length: 2\r\n\r\nok`,
};
