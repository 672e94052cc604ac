/**
 * A size-rotating log destination shared safely by every process that writes the same file (the
 * CLI, hook processes, the daemon).
 *
 * Why not pino-roll: it rotates from a worker thread of one process and knows nothing of other
 * writers, so two processes rotating the same file would rename each other's fresh files away. And
 * a hook must never wait on a logging thread before it exits.
 *
 * How: every line is one write(2) on an O_APPEND descriptor, which the kernel appends whole (lines
 * of different processes never interleave). After a write, a process whose file has reached the
 * limit takes a lock file (O_EXCL; never waits: if another process holds it, it just tries again
 * after a later line), and under it either rotates (hornets.log -> .1 -> .2 …, the oldest beyond
 * `maxFiles` deleted) or, if the path already names a newer file (someone else rotated), only
 * reopens. A process still holding the old descriptor writes at most one more line into `.1`
 * before it notices (a few more while another process holds the lock). Errors never reach the caller: logging is best effort.
 */
import { closeSync, fstatSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { APPEND_NOFOLLOW } from './util/private-files.js';

export interface RotationOptions {
  /** Rotate when the file reaches this size (default 10 MiB). */
  maxBytes?: number;
  /** Rotated files kept besides the live one (default 5: hornets.log.1 … hornets.log.5). */
  maxFiles?: number;
}

export const DEFAULT_LOG_MAX_BYTES = 10 * 1024 * 1024;
export const DEFAULT_LOG_FILES = 5;
/** A lock older than this was left by a process that died while rotating. */
const STALE_LOCK_MS = 10_000;

export class RotatingFile {
  readonly maxBytes: number;
  readonly maxFiles: number;
  private fd: number;

  constructor(
    readonly path: string,
    options: RotationOptions = {},
  ) {
    this.maxBytes = Math.max(1024, options.maxBytes ?? DEFAULT_LOG_MAX_BYTES);
    this.maxFiles = Math.max(1, Math.floor(options.maxFiles ?? DEFAULT_LOG_FILES));
    this.fd = openSync(path, APPEND_NOFOLLOW, 0o600);
  }

  /** pino's destination interface: one call per log line. */
  write(line: string): boolean {
    try {
      writeSync(this.fd, line);
      // One fstat per line (cheap next to the write): the size includes other processes' lines, and
      // a file someone else rotated away is over the limit too, which is how we notice and reopen.
      if (fstatSync(this.fd).size >= this.maxBytes) this.rotate();
    } catch {
      // Full or read-only disk: the operation being logged must not fail because of its log line.
    }
    return true;
  }

  private rotate(): void {
    const lock = `${this.path}.rotate-lock`;
    if (!this.takeLock(lock)) {
      // Another process is rotating; if it already has, follow it without waiting for the lock.
      try {
        if (statSync(this.path).ino !== fstatSync(this.fd).ino) this.reopen();
      } catch {
        // Between its rename and its new file: the next line looks again.
      }
      return;
    }
    try {
      const mine = fstatSync(this.fd);
      let current: { ino: number; size: number } | null = null;
      try {
        current = statSync(this.path);
      } catch {
        current = null;
      }
      if (current && current.ino === mine.ino && current.size >= this.maxBytes) {
        rmSync(`${this.path}.${this.maxFiles}`, { force: true });
        for (let i = this.maxFiles - 1; i >= 1; i--) {
          try {
            renameSync(`${this.path}.${i}`, `${this.path}.${i + 1}`);
          } catch {
            // That generation does not exist yet.
          }
        }
        renameSync(this.path, `${this.path}.1`);
      }
      this.reopen();
    } finally {
      rmSync(lock, { force: true });
    }
  }

  private takeLock(lock: string): boolean {
    try {
      closeSync(openSync(lock, 'wx', 0o600));
      return true;
    } catch {
      try {
        if (Date.now() - statSync(lock).mtimeMs > STALE_LOCK_MS) rmSync(lock, { force: true });
      } catch {
        // Gone meanwhile.
      }
      return false;
    }
  }

  private reopen(): void {
    const fd = openSync(this.path, APPEND_NOFOLLOW, 0o600);
    closeSync(this.fd);
    this.fd = fd;
  }

  /** pino calls flushSync on exit for sync destinations; every write is already on disk. */
  flushSync(): void {}

  end(): void {
    try {
      closeSync(this.fd);
    } catch {
      // Already closed.
    }
  }
}
