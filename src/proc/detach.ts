/** Starts a process that outlives us (the daemon), with its output going to a log file. */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';

export function spawnDetached(argv: string[], options: { cwd: string; env: NodeJS.ProcessEnv; logFile: string }): number {
  const out = openSync(options.logFile, 'a', 0o600);
  try {
    const child = spawn(argv[0]!, argv.slice(1), { cwd: options.cwd, env: options.env, detached: true, stdio: ['ignore', out, out] });
    child.unref();
    if (child.pid === undefined) throw new Error(`could not start ${argv[0]}`);
    return child.pid;
  } finally {
    closeSync(out);
  }
}
