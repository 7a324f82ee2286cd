// Runs short host commands (ip, nsenter, openssl) and turns a failure into an error that shows the
// command and what it printed.

import { execFile } from 'node:child_process';
import { ZeroscaleError } from '../../src/errors.ts';

export interface RunResult {
  readonly stdout: string;
  readonly stderr: string;
}

export function run(
  cmd: string,
  args: readonly string[],
  opts: { timeoutMs?: number; input?: string } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      args,
      { timeout: opts.timeoutMs ?? 30_000, maxBuffer: 8 << 20 },
      (err, stdout, stderr) => {
        if (err) {
          reject(
            new ZeroscaleError(
              'COMMAND_FAILED',
              `${cmd} ${args.join(' ')} failed: ${stderr.trim() || err.message}`,
              { cause: err },
            ),
          );
        } else {
          resolve({ stdout, stderr });
        }
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Like run, but an error is swallowed: for idempotent clean-up steps that may find nothing. */
export async function tryRun(cmd: string, args: readonly string[]): Promise<boolean> {
  try {
    await run(cmd, args);
    return true;
  } catch {
    return false;
  }
}
