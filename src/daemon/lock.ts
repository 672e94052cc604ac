/**
 * One daemon per project: an exclusive pid file (O_EXCL create), with stale ones (dead pid) taken
 * over. Taking over means deleting someone else's file, which is only safe for one process at a
 * time: two starters that both saw the same stale file could otherwise each delete it, and the
 * second would delete the first one's fresh lock, so both would run. Deletion therefore happens
 * only under a second O_EXCL file (`<pid file>.takeover`), after re-reading the pid under it; the
 * final create is always O_EXCL, so at most one starter ever holds the lock.
 */
import { closeSync, fstatSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { ExitCode, HornetsError } from '../errors.js';
import { pidAlive, readPid } from '../engine-client/pid.js';
import { createWholeExclusive } from '../util/private-files.js';

export class DaemonRunningError extends HornetsError {
  readonly exitCode = ExitCode.failure;
  constructor(readonly pid: number) {
    super(`a hornets engine is already running for this project (pid ${pid}); this one was not started. Stop it first with \`hornets-tui daemon stop\`, or leave it running`);
  }
}

/**
 * Creates `file` holding our pid, or returns false if it exists. Written aside and linked into
 * place, so the file never exists empty: an empty pid file seen by a racing starter would look
 * stale and be deleted under its owner.
 */
function createExclusive(file: string): boolean {
  return createWholeExclusive(file, `${process.pid}\n`, 0o600);
}

/** A live starter holds the takeover file for microseconds; one this old with a dead pid is left over. */
const TAKEOVER_ABANDONED_MS = 250;

/**
 * A takeover file whose writer is gone: a starter died in the microseconds a takeover takes. Only a
 * file that is there, has been there a while and names a dead pid (or none) counts, all read from
 * one open file: looking by path let a starter take the file that had just been released and the
 * next holder's fresh one (same path, often the same inode number) for one abandoned file, delete
 * the live one, and two starters removed pid files at once and both won (seen in CI under load,
 * where a starter descheduled between writing its takeover file and linking it makes the file look
 * old). Returns what identifies that file (inode and modification time) for the delete.
 */
function abandonedTakeover(file: string): { ino: number; mtimeMs: number } | null {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return null;
  }
  try {
    const st = fstatSync(fd);
    if (Date.now() - st.mtimeMs < TAKEOVER_ABANDONED_MS) return null;
    const buf = Buffer.alloc(32);
    const text = buf.toString('utf8', 0, readSync(fd, buf, 0, buf.length, 0)).trim();
    const pid = /^\d+$/.test(text) ? Number(text) : null;
    return pid !== null && pid > 0 && pidAlive(pid) ? null : { ino: st.ino, mtimeMs: st.mtimeMs };
  } finally {
    closeSync(fd);
  }
}

export function takeoverAbandoned(file: string): boolean {
  return abandonedTakeover(file) !== null;
}

/**
 * Deletes an abandoned takeover file, unless another one took its place since it was judged (a new
 * one is fresh, so its time differs even where its inode number is the old one's).
 */
function clearAbandoned(file: string): void {
  const gone = abandonedTakeover(file);
  if (!gone) return;
  try {
    const st = statSync(file);
    if (st.ino === gone.ino && st.mtimeMs === gone.mtimeMs) rmSync(file, { force: true });
  } catch {
    // gone already
  }
}

/** Removes the pid file if it still names `stalePid` (or no one), holding the takeover file meanwhile. */
function removeStale(file: string, stalePid: number | null): void {
  const takeover = `${file}.takeover`;
  if (!createExclusive(takeover)) {
    // Someone else is taking over right now; the caller retries and sees the outcome.
    clearAbandoned(takeover);
    return;
  }
  try {
    const now = readPid(file);
    // Our own pid in a file we did not write is a dead predecessor's (pid reuse), not us.
    if (now === stalePid && (now === null || now === process.pid || !pidAlive(now))) rmSync(file, { force: true });
  } finally {
    rmSync(takeover, { force: true });
  }
}

const pause = new Int32Array(new SharedArrayBuffer(4));

export function acquireLock(file: string, options: { attempts?: number } = {}): () => void {
  const attempts = options.attempts ?? 200;
  for (let attempt = 0; attempt < attempts; attempt++) {
    // Give a racing starter in the middle of its takeover a moment (sync: callers expect no await).
    if (attempt > 0) Atomics.wait(pause, 0, 0, 2);
    if (createExclusive(file)) {
      return () => {
        if (readPid(file) === process.pid) rmSync(file, { force: true });
      };
    }
    const pid = readPid(file);
    if (pid !== null && pid !== process.pid && pidAlive(pid)) throw new DaemonRunningError(pid);
    // Stale (the previous daemon died without cleaning up) or half-written by a starter right now.
    removeStale(file, pid);
  }
  const pid = readPid(file);
  if (pid !== null && pidAlive(pid)) throw new DaemonRunningError(pid);
  throw new Error(`cannot take the daemon lock ${file}`);
}
