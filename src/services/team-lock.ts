/**
 * One change to a project's agent windows at a time: `up`, `add`, `remove`, `stop`, `restart`, `down`
 * and the engine's own restarts all read the database and tmux, then make or kill windows. Two of them
 * side by side both saw an agent without a window and both made one: the database kept one, and the
 * other ran on untracked, invisible to `status` and surviving `stop`.
 *
 * Across processes: an O_EXCL file `<state>/run/agents.lock` naming its holder (pid, the process's
 * start time so a reused pid is not taken for the holder, and the command). A holder that died leaves
 * the file behind; it is taken over under a second O_EXCL file, as the daemon's pid file is (see
 * src/daemon/lock.ts), so two waiters that both saw it stale cannot both take it. Inside one process
 * (the engine restarting two agents): a queue, and an async context so a holder's own nested calls
 * (`add` then `up` of the new agent) do not wait for themselves.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ExitCode, HornetsError } from '../errors.js';
import { pidAlive } from '../engine-client/pid.js';
import { createWholeExclusive } from '../util/private-files.js';
import { lockWaitFromEnv } from '../config/process-env.js';

/** How long a command waits for another one changing the team before it gives up and says who. */
export const TEAM_LOCK_WAIT_MS = 60_000;

export class TeamBusyError extends HornetsError {
  readonly exitCode = ExitCode.failure;
  constructor(
    readonly holder: LockHolder,
    waitedMs: number,
  ) {
    const age = Math.max(0, Math.round((Date.now() - holder.since) / 1000));
    super(
      `another hornets-tui command is changing this project's agents: pid ${holder.pid} (${holder.command}, for ${age} s); waited ${Math.round(waitedMs / 1000)} s for it. ` +
        `Try again when it has finished; if pid ${holder.pid} hangs, stop it and the lock is taken over`,
    );
  }
}

export interface LockHolder {
  pid: number;
  /** The process's start time (clock ticks since boot, /proc) where known: a reused pid is not the holder. */
  start: string | null;
  command: string;
  since: number;
}

export function teamLockFile(stateDir: string): string {
  return join(stateDir, 'run', 'agents.lock');
}

/** Field 22 of /proc/<pid>/stat (start time); null where there is no /proc. */
export function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function readHolder(file: string): LockHolder | null {
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockHolder>;
    if (typeof v.pid !== 'number' || !Number.isInteger(v.pid) || v.pid <= 0) return null;
    return { pid: v.pid, start: typeof v.start === 'string' ? v.start : null, command: String(v.command ?? '?'), since: Number(v.since ?? 0) };
  } catch {
    return null;
  }
}

function holderAlive(h: LockHolder): boolean {
  if (!pidAlive(h.pid)) return false;
  if (h.start === null) return true;
  const now = processStart(h.pid);
  return now === null || now === h.start;
}

/** Whole or not at all: a lock file never looks stale while fresh. */
function createExclusive(file: string, holder: LockHolder): boolean {
  return createWholeExclusive(file, `${JSON.stringify(holder)}\n`, 0o600);
}

function same(a: LockHolder | null, b: LockHolder | null): boolean {
  return a !== null && b !== null && a.pid === b.pid && a.start === b.start && a.since === b.since;
}

/** Removes a dead holder's file, only if it is still that holder's, under `<file>.takeover`. */
function removeStale(file: string, stale: LockHolder | null, me: LockHolder): void {
  const takeover = `${file}.takeover`;
  if (!createExclusive(takeover, me)) {
    const other = readHolder(takeover);
    if (other === null || !holderAlive(other)) rmSync(takeover, { force: true });
    return;
  }
  try {
    const now = readHolder(file);
    if (stale === null ? now === null : same(now, stale)) rmSync(file, { force: true });
  } finally {
    rmSync(takeover, { force: true });
  }
}

/** One attempt: the release function, or the live holder that has it. */
function tryAcquire(file: string, command: string): { release: () => void } | { holder: LockHolder } {
  const me: LockHolder = { pid: process.pid, start: processStart(process.pid), command, since: Date.now() };
  for (let attempt = 0; attempt < 5; attempt++) {
    if (createExclusive(file, me)) {
      return {
        release: () => {
          if (same(readHolder(file), me)) rmSync(file, { force: true });
        },
      };
    }
    const holder = readHolder(file);
    if (holder !== null && holderAlive(holder)) return { holder };
    removeStale(file, holder, me);
  }
  const holder = readHolder(file);
  return { holder: holder ?? { pid: 0, start: null, command: 'unknown (unreadable lock file)', since: Date.now() } };
}

const held = new AsyncLocalStorage<ReadonlySet<string>>();
const queues = new Map<string, Promise<void>>();

export interface TeamLockOptions {
  /** How long to wait for another holder (default TEAM_LOCK_WAIT_MS). */
  waitMs?: number;
}

/** Runs `fn` holding the project's agents lock; waits a bounded time for another holder. */
export async function withTeamLock<T>(stateDir: string, command: string, fn: () => Promise<T>, options: TeamLockOptions = {}): Promise<T> {
  const file = teamLockFile(stateDir);
  if (held.getStore()?.has(file)) return fn();
  const waitMs = options.waitMs ?? lockWaitFromEnv() ?? TEAM_LOCK_WAIT_MS;
  const before = queues.get(file) ?? Promise.resolve();
  let done!: () => void;
  const mine = before.then(() => new Promise<void>((r) => (done = r)));
  queues.set(file, mine);
  try {
    await before;
    const started = Date.now();
    let pause = 10;
    for (;;) {
      const r = tryAcquire(file, command);
      if ('release' in r) {
        try {
          return await held.run(new Set([...(held.getStore() ?? []), file]), fn);
        } finally {
          r.release();
        }
      }
      const waited = Date.now() - started;
      if (waited >= waitMs) throw new TeamBusyError(r.holder, waited);
      // Polled: the holder is another process and says nothing when it is done. Short at first
      // (most holders are a `stop` or a restart), then every quarter second.
      await new Promise((res) => setTimeout(res, Math.min(pause, waitMs - waited)));
      pause = Math.min(pause * 2, 250);
    }
  } finally {
    done?.();
    if (queues.get(file) === mine) queues.delete(file);
  }
}

/**
 * Runs `fn` only if the lock is free right now (the engine's orphan sweep: never worth waiting for,
 * and what a running `up` makes is not an orphan). Null when someone else holds it.
 */
export async function tryWithTeamLock<T>(stateDir: string, command: string, fn: () => Promise<T>): Promise<T | null> {
  const file = teamLockFile(stateDir);
  if (held.getStore()?.has(file)) return fn();
  if (queues.has(file)) return null;
  const r = tryAcquire(file, command);
  if (!('release' in r)) return null;
  let done!: () => void;
  const mine = new Promise<void>((res) => (done = res));
  queues.set(file, mine);
  try {
    return await held.run(new Set([...(held.getStore() ?? []), file]), fn);
  } finally {
    r.release();
    done();
    if (queues.get(file) === mine) queues.delete(file);
  }
}
