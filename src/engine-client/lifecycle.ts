/**
 * Starting and stopping the engine (the daemon process) from a client — the console, `up`,
 * `daemon start|stop`: the same pid file and endpoint everywhere, so any of them can stop what
 * another started. A client never deletes the engine's files: only the engine that owns them does.
 */
import { withoutAgentMarkers } from '../domain/agent-markers.js';
import { launchEnv } from '../config/process-env.js';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ExitCode, HornetsError } from '../errors.js';
import type { Project } from '../config/load.js';
import { ensureStateDirs, packageRoot } from '../config/paths.js';
import { spawnDetached } from '../proc/detach.js';
import { pidAlive, processCpuTicks } from './pid.js';
import { pingEngine } from './poke.js';
import { engineStatus } from './status.js';

export class EngineError extends HornetsError {
  readonly exitCode = ExitCode.failure;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Where `daemon start` and the console send the background engine's stdout/stderr. */
export function engineOutFile(project: Project): string {
  return join(project.paths.logs, 'daemon.out');
}

/** An engine `launchEngine` found running or started; `awaitEngine` waits for it to answer. */
export interface EngineLaunch {
  /** The process we started (null: one already ran and answered nothing was needed). */
  spawned: number | null;
  /** The engine that already ran, when one did. */
  running: number | null;
  /** Where this launch's output starts in engineOutFile (older runs' output comes before it). */
  outOffset?: number;
}

export interface EngineWaitOptions {
  /**
   * Give up when the engine shows no sign of progress for this long (default 10 s): no CPU time
   * used (Linux /proc), no pid file or endpoint appearing. A slow machine slows an engine down but
   * does not stop it; a stuck one stops moving.
   */
  stallMs?: number;
  /** Give up after this long whatever happens (default 60 s plus 1 s per agent in the team). */
  timeoutMs?: number;
  /**
   * 'throw' (default): an engine not answering when the wait ends is an EngineError. 'report' (`up`):
   * an engine still alive then is returned with `ready: false` — slow is not failed; only an
   * engine that died is an error.
   */
  whenSlow?: 'throw' | 'report';
}

export interface EngineReady {
  started: boolean;
  pid: number;
  /** Answered on its endpoint with its token (always true unless `whenSlow: 'report'`). */
  ready: boolean;
}

/** Starts the daemon in the background unless one runs; returns at once (see awaitEngine). */
export function launchEngine(project: Project, options: { env?: NodeJS.ProcessEnv } = {}): EngineLaunch {
  ensureStateDirs(project.paths);
  const before = engineStatus(project.paths.root);
  if (before.running && before.pid !== null) return { spawned: null, running: before.pid };
  const bin = join(packageRoot(), 'bin', 'hornets-tui.cjs');
  let outOffset = 0;
  try {
    outOffset = statSync(engineOutFile(project)).size;
  } catch {
    // No output file yet: this launch's output starts at 0.
  }
  const spawned = spawnDetached([process.execPath, bin, '--config', project.configPath, 'daemon', 'run'], {
    cwd: project.root,
    env: withoutAgentMarkers(options.env ?? launchEnv()),
    logFile: engineOutFile(project),
  });
  return { spawned, running: null, outOffset };
}

/** Output bytes a failed start is searched for its error: the end of what it wrote. */
const OUTPUT_TAIL_BYTES = 16 * 1024;

/**
 * What an engine that died while starting said: its own error line (`hornets-tui: …`, as every
 * command reports one), or else the last line it wrote; null when it wrote nothing.
 */
export function engineStartError(file: string, offset: number): string | null {
  let text: string;
  try {
    const size = statSync(file).size;
    const from = Math.max(offset, size - OUTPUT_TAIL_BYTES);
    if (size <= from) return null;
    const fd = openSync(file, 'r');
    try {
      const buf = Buffer.alloc(size - from);
      const n = readSync(fd, buf, 0, buf.length, from);
      text = buf.subarray(0, n).toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch {
    return null;
  }
  const lines = text
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== '');
  // Our own last message, with its indented continuation lines: "invalid environment:" alone says
  // nothing, the "  - VARIABLE: why" lines under it say what to fix.
  let at = -1;
  for (let i = lines.length - 1; i >= 0; i--) {
    if (lines[i]!.startsWith('hornets-tui: ')) {
      at = i;
      break;
    }
  }
  let said: string | undefined;
  if (at >= 0) {
    const rest: string[] = [];
    for (const l of lines.slice(at + 1)) {
      if (!/^\s/.test(l)) break;
      rest.push(l);
    }
    said = [lines[at]!.slice('hornets-tui: '.length), ...rest].join('\n');
  } else said = lines.at(-1);
  if (said === undefined) return null;
  return said.length > 1200 ? `${said.slice(0, 1200)}…` : said;
}

/**
 * What moves while an engine starts: its CPU time, then its pid file (lock taken), then its
 * endpoint. Any change counts as progress.
 */
function progressMark(stateDir: string, pid: number): string {
  const s = engineStatus(stateDir);
  return `${s.pid ?? '-'}:${s.running}:${s.endpoint}:${processCpuTicks(pid) ?? '-'}`;
}

/**
 * Resolves once an engine answers on its endpoint with its token. Should another client win the
 * race to start one, that one is reported (`started: false`). The wait is measured by progress, not
 * by a fixed time: an engine that keeps moving is waited for (up to `timeoutMs`), one that stops
 * moving for `stallMs` or dies is given up on.
 */
export async function awaitEngine(project: Project, launch: EngineLaunch, options: EngineWaitOptions & { agents?: number } = {}): Promise<EngineReady> {
  if (launch.spawned === null && launch.running !== null) return { started: false, pid: launch.running, ready: true };
  const spawned = launch.spawned!;
  const stateDir = project.paths.root;
  const stallMs = options.stallMs ?? 10_000;
  const timeoutMs = options.timeoutMs ?? 60_000 + 1000 * (options.agents ?? project.config.agents.length);
  const started = Date.now();
  let mark = '';
  let movedAt = started;
  let waitedMs = 0;
  while ((waitedMs = Date.now() - started) < timeoutMs && Date.now() - movedAt < stallMs) {
    // Ready = the engine that holds the pid file answers with its token. A stale endpoint file left
    // by a killed engine cannot pass for it: nothing answers there, or not with this pid.
    const s = engineStatus(stateDir);
    if (s.running && s.pid !== null && s.endpoint) {
      const health = await pingEngine(stateDir, 500);
      if (health && health.pid === s.pid) return { started: s.pid === spawned, pid: s.pid, ready: true };
    }
    if (!pidAlive(spawned) && !(s.running && s.pid !== null)) {
      // Relayed in its own words: "read-only database" says what to fix, "exited" does not.
      const said = engineStartError(engineOutFile(project), launch.outOffset ?? 0);
      throw new EngineError(`the engine exited while starting${said ? `: ${said}` : ''}; see ${engineOutFile(project)} and \`hornets-tui logs\``);
    }
    const now = progressMark(stateDir, spawned);
    if (now !== mark) {
      mark = now;
      movedAt = Date.now();
    }
    await sleep(50);
  }
  const s = engineStatus(stateDir);
  const pid = s.running && s.pid !== null ? s.pid : spawned;
  const why = Date.now() - movedAt >= stallMs ? `made no progress for ${Math.round(stallMs / 1000)} s` : `did not answer within ${Math.round(timeoutMs / 1000)} s`;
  if (options.whenSlow === 'report' && pidAlive(pid)) return { started: pid === spawned, pid, ready: false };
  throw new EngineError(`the engine (pid ${pid}) ${why} after ${Math.round(waitedMs / 1000)} s of waiting; see ${engineOutFile(project)} and \`hornets-tui logs\``);
}

/**
 * Starts the daemon in the background unless one runs; resolves once an engine answers on its
 * endpoint with its token (launchEngine + awaitEngine).
 */
export async function ensureEngine(project: Project, options: EngineWaitOptions & { env?: NodeJS.ProcessEnv } = {}): Promise<EngineReady> {
  return awaitEngine(project, launchEngine(project, { env: options.env }), options);
}

/** SIGTERM the daemon and wait for it to go; agents keep running. */
export async function stopEngine(project: Project, options: { timeoutMs?: number } = {}): Promise<{ stopped: boolean; pid: number | null }> {
  const s = engineStatus(project.paths.root);
  if (!s.running || s.pid === null) return { stopped: false, pid: s.pid };
  process.kill(s.pid, 'SIGTERM');
  const timeoutMs = options.timeoutMs ?? 10_000;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && pidAlive(s.pid)) await sleep(50);
  if (pidAlive(s.pid)) throw new EngineError(`the engine (pid ${s.pid}) did not stop within ${Math.round(timeoutMs / 1000)} s`);
  return { stopped: true, pid: s.pid };
}
