/**
 * The process a worker's tmux window runs for one task attempt (`hornets-tui task-run <spec>`): it
 * starts the profile's one-shot command as the leader of a new process group, copies its output to
 * the window and to files, enforces the time limit by killing the whole group, and writes the exit
 * record last. The engine reads those files; it never needs to be the run's parent, so a run goes on
 * while the engine restarts.
 *
 * Files of a run (all in its run directory, written by this process only):
 *   pid.json   {pid, pgid, wrapperPid, startedAt}   once the command started
 *   out.log    its stdout (capped)                  err.log its stderr (capped)
 *   exit.json  {exitCode, signal, timedOut, killed, startedAt, endedAt, error}   when it is over
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { createWholeExclusive } from '../util/private-files.js';

export interface TaskRunSpec {
  argv: string[];
  cwd: string;
  /** Added to the environment the window's process has. */
  env: Record<string, string>;
  dir: string;
  timeoutMs: number;
  /** SIGTERM first; SIGKILL this long after. */
  killGraceMs: number;
  /** Output kept per stream, bytes. */
  maxOutputBytes: number;
  /** Written to the command's standard input, then closed (the prompt, kept out of argv); absent: no input. */
  stdin?: string;
}

export interface TaskRunExit {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  /** Stopped from outside (the window was killed: cancel, engine backstop). */
  killed: boolean;
  startedAt: number;
  endedAt: number;
  /** The command could not be started at all. */
  error: string | null;
  /**
   * The engine could not open the run's window (tmux failed or timed out): the task never ran, so
   * this is not its failure; set only by the engine, never by the run wrapper.
   */
  notStarted?: boolean;
}

export const RUN_FILES = { spec: 'spec.json', pid: 'pid.json', out: 'out.log', err: 'err.log', exit: 'exit.json' } as const;

function writeAtomic(file: string, value: unknown): void {
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, `${JSON.stringify(value)}\n`);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

/**
 * Writes a run's end (exit.json) unless one is there already; false if one was. The wrapper writes
 * its own end and the engine writes one for a run it gave up on (a window tmux failed to open, a
 * run that vanished): the first end written is the run's end, and one the engine may already have
 * read is never replaced. Its killed wrapper's later "killed" end must not turn the engine's "never
 * started" into a plain loss (that one is run again at once, without the pause tmux needs).
 */
export function writeExitOnce(dir: string, exit: TaskRunExit): boolean {
  return createWholeExclusive(join(dir, RUN_FILES.exit), `${JSON.stringify(exit)}\n`, 0o600);
}

/** Kills a whole process group; one already gone is fine. */
export function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // Gone already.
  }
}

/** Is this process alive? */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Is anything of this process group still alive? */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

class CappedFile {
  private readonly fd: number;
  private written = 0;
  constructor(
    path: string,
    private readonly cap: number,
  ) {
    this.fd = openSync(path, 'a', 0o600);
  }
  write(chunk: Buffer): void {
    const room = this.cap - this.written;
    if (room <= 0) return;
    const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
    writeSync(this.fd, part);
    this.written += part.length;
  }
  close(): void {
    closeSync(this.fd);
  }
}

/** Runs the spec in `dir`; resolves when exit.json is written. */
export function runTask(dir: string, baseEnv: NodeJS.ProcessEnv): Promise<TaskRunExit> {
  const spec = JSON.parse(readFileSync(join(dir, RUN_FILES.spec), 'utf8')) as TaskRunSpec;
  const startedAt = Date.now();
  const out = new CappedFile(join(dir, RUN_FILES.out), spec.maxOutputBytes);
  const err = new CappedFile(join(dir, RUN_FILES.err), spec.maxOutputBytes);
  return new Promise((resolve) => {
    let timedOut = false;
    let killed = false;
    let done = false;
    const finish = (exit: Omit<TaskRunExit, 'timedOut' | 'killed' | 'startedAt' | 'endedAt'>) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      out.close();
      err.close();
      const record: TaskRunExit = { ...exit, timedOut, killed, startedAt, endedAt: Date.now() };
      // An end already there is the engine's (it gave up on this run and closed its window): it stands.
      writeExitOnce(dir, record);
      resolve(record);
    };
    // The window may go first (tmux server killed): writes to a closed terminal must not kill the
    // wrapper before it has stopped the group and written the end.
    process.stdout.on('error', () => undefined);
    process.stderr.on('error', () => undefined);
    const child = spawn(spec.argv[0]!, spec.argv.slice(1), { cwd: spec.cwd, env: { ...baseEnv, ...spec.env }, detached: true, stdio: [spec.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    if (child.stdin) {
      // A command that exits without reading its input is judged by its exit, not by this EPIPE.
      child.stdin.on('error', () => undefined);
      child.stdin.end(spec.stdin);
    }
    const pgid = child.pid;
    const stop = (why: 'timeout' | 'killed') => {
      if (pgid === undefined || done) return;
      if (why === 'timeout') timedOut = true;
      else killed = true;
      killGroup(pgid, 'SIGTERM');
      setTimeout(() => killGroup(pgid, 'SIGKILL'), spec.killGraceMs).unref();
    };
    const timer = setTimeout(() => stop('timeout'), spec.timeoutMs);
    for (const sig of ['SIGHUP', 'SIGTERM', 'SIGINT'] as const) process.on(sig, () => stop('killed'));
    child.on('error', (e) => finish({ exitCode: null, signal: null, error: `cannot start ${spec.argv[0]}: ${e.message}` }));
    if (pgid !== undefined) writeAtomic(join(dir, RUN_FILES.pid), { pid: pgid, pgid, wrapperPid: process.pid, startedAt });
    child.stdout!.on('data', (c: Buffer) => {
      out.write(c);
      process.stdout.write(c);
    });
    child.stderr!.on('data', (c: Buffer) => {
      err.write(c);
      process.stderr.write(c);
    });
    child.on('close', (code, signal) => {
      // Whatever the command left behind in its group goes with it.
      if (pgid !== undefined) killGroup(pgid, 'SIGKILL');
      finish({ exitCode: code, signal, error: null });
    });
  });
}
