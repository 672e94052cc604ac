/** One daemon per project: an exclusive pid file, with stale ones (dead pid) taken over. */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { ExitCode, HornetsError } from '../errors.js';

export class DaemonRunningError extends HornetsError {
  readonly exitCode = ExitCode.failure;
  constructor(readonly pid: number) {
    super(`a hornets daemon is already running for this project (pid ${pid}); stop it with \`hornets-tui daemon stop\``);
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function readPid(file: string): number | null {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

export function acquireLock(file: string): () => void {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => {
        if (readPid(file) === process.pid) rmSync(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = readPid(file);
      if (pid !== null && pid !== process.pid && pidAlive(pid)) throw new DaemonRunningError(pid);
      // Stale: the previous daemon died without cleaning up.
      rmSync(file, { force: true });
    }
  }
  throw new Error(`cannot take the daemon lock ${file}`);
}
