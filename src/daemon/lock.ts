/**
 * One daemon per project: an exclusive pid file (O_EXCL create), with stale ones (dead pid) taken
 * over. Taking over means deleting someone else's file, which is only safe for one process at a
 * time: two starters that both saw the same stale file could otherwise each delete it, and the
 * second would delete the first one's fresh lock, so both would run. Deletion therefore happens
 * only under a second O_EXCL file (`<pid file>.takeover`), after re-reading the pid under it; the
 * final create is always O_EXCL, so at most one starter ever holds the lock.
 */
import { rmSync, statSync } from 'node:fs';
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
 * file that is there, names a dead pid and has been there a while counts. A missing one was just
 * released: calling that abandoned let a starter delete the *next* holder's fresh takeover file
 * (created between the look and the delete), so two starters removed pid files at once and both
 * won (seen once in CI under load). The age is checked again right before the delete.
 */
export function takeoverAbandoned(file: string): boolean {
  let st;
  try {
    st = statSync(file);
  } catch {
    return false;
  }
  if (Date.now() - st.mtimeMs < TAKEOVER_ABANDONED_MS) return false;
  const pid = readPid(file);
  return !(pid !== null && pidAlive(pid));
}

/** Removes the pid file if it still names `stalePid` (or no one), holding the takeover file meanwhile. */
function removeStale(file: string, stalePid: number | null): void {
  const takeover = `${file}.takeover`;
  if (!createExclusive(takeover)) {
    // Someone else is taking over right now; the caller retries and sees the outcome.
    if (takeoverAbandoned(takeover)) rmSync(takeover, { force: true });
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
