// One container as a process: started inside the pod's network namespace, in a mount namespace of
// its own where the pod's volumes are bind-mounted at their mountPaths, output appended to a log
// file. Stopping sends SIGTERM to the container's main process, then SIGKILL to all it started.

import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import { constants } from 'node:os';
import path from 'node:path';
import type { BindMount } from './volumes.ts';

export interface ContainerExit {
  readonly exitCode: number;
  readonly signal: string | null;
  readonly finishedAt: Date;
  /** Set when the process could not be started at all. */
  readonly startError?: string;
}

export interface StartOptions {
  readonly netns: string;
  readonly argv: readonly string[];
  readonly env: ReadonlyMap<string, string>;
  readonly mounts: readonly BindMount[];
  readonly workingDir: string;
  readonly logFile: string;
}

function shellQuote(s: string): string {
  return `'${s.replaceAll("'", "'\\''")}'`;
}

/** The shell prologue run inside the new mount namespace before exec'ing the container's argv. */
export function containerScript(mounts: readonly BindMount[], workingDir: string): string {
  const lines = ['set -e'];
  for (const m of mounts) {
    lines.push(`/usr/bin/mount --bind ${shellQuote(m.source)} ${shellQuote(m.target)}`);
    if (m.readOnly) lines.push(`/usr/bin/mount -o remount,bind,ro ${shellQuote(m.target)}`);
  }
  lines.push(`cd ${shellQuote(workingDir)}`, 'exec "$@"');
  return lines.join('\n');
}

/** Creates each mount target on the host (empty directory, or empty file for a file source). */
export function prepareMountTargets(mounts: readonly BindMount[]): void {
  for (const m of mounts) {
    const sourceIsFile = fs.existsSync(m.source) && fs.statSync(m.source).isFile();
    if (sourceIsFile) {
      fs.mkdirSync(path.dirname(m.target), { recursive: true });
      if (!fs.existsSync(m.target)) fs.writeFileSync(m.target, '');
    } else {
      fs.mkdirSync(m.target, { recursive: true });
    }
  }
}

export class ContainerProcess {
  readonly startedAt = new Date();
  readonly exited: Promise<ContainerExit>;
  readonly #child: ChildProcess;
  #done = false;

  constructor(options: StartOptions) {
    fs.mkdirSync(path.dirname(options.logFile), { recursive: true });
    const log = fs.openSync(options.logFile, 'a');
    prepareMountTargets(options.mounts);
    // `ip netns exec` enters the pod's network namespace and a fresh mount namespace (with /
    // made a slave), so the bind mounts below are private to this container.
    this.#child = spawn(
      '/usr/sbin/ip',
      [
        'netns',
        'exec',
        options.netns,
        '/usr/bin/sh',
        '-c',
        containerScript(options.mounts, options.workingDir),
        'container',
        ...options.argv,
      ],
      { env: Object.fromEntries(options.env), stdio: ['ignore', log, log], detached: true },
    );
    fs.closeSync(log);
    this.exited = new Promise((resolve) => {
      this.#child.once('error', (err) => {
        this.#done = true;
        resolve({ exitCode: 128, signal: null, finishedAt: new Date(), startError: err.message });
      });
      this.#child.once('exit', (code, signal) => {
        this.#done = true;
        const signo = signal ? (constants.signals[signal] ?? 9) : 0;
        resolve({ exitCode: code ?? 128 + signo, signal, finishedAt: new Date() });
      });
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }
  get running(): boolean {
    return !this.#done;
  }

  /** SIGTERM to the main process, SIGKILL to its whole process group after `graceMs`. */
  async stop(graceMs: number): Promise<ContainerExit> {
    if (this.#done) return this.exited;
    this.#signal('SIGTERM', false);
    const timer = setTimeout(() => this.#signal('SIGKILL', true), Math.max(0, graceMs));
    const exit = await this.exited;
    clearTimeout(timer);
    this.#signal('SIGKILL', true); // children the main process left behind
    return exit;
  }

  kill(): void {
    this.#signal('SIGKILL', true);
  }

  #signal(sig: NodeJS.Signals, group: boolean): void {
    const pid = this.#child.pid;
    if (pid === undefined) return;
    try {
      process.kill(group ? -pid : pid, sig);
    } catch {
      // already gone
    }
  }
}
