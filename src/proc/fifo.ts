/** Named pipes: Node has no mkfifo(3), so the coreutils program makes them (external-program adapter). */
import { execFile } from 'node:child_process';

/** Creates a FIFO at `path` (mode 0600 by default); fails if something already exists there. */
export function mkfifo(path: string, mode = 0o600): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('mkfifo', ['-m', mode.toString(8), '--', path], { timeout: 10_000 }, (err, _stdout, stderr) => {
      if (err) {
        const e = err as NodeJS.ErrnoException;
        reject(new Error(e.code === 'ENOENT' ? 'mkfifo not found on PATH (coreutils is needed for named pipes)' : `mkfifo ${path} failed: ${String(stderr).trim() || e.message}`));
      } else resolve();
    });
  });
}
