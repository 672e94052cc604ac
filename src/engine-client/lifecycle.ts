/**
 * Starting and stopping the engine (the daemon process) from a client — the console, `up`,
 * `daemon start|stop`: the same pid file and endpoint everywhere, so any of them can stop what
 * another started. A client never deletes the engine's files: only the engine that owns them does.
 */
import { launchEnv } from '../config/process-env.js';
import { join } from 'node:path';
import { ExitCode, HornetsError } from '../errors.js';
import type { Project } from '../config/load.js';
import { ensureStateDirs, packageRoot } from '../config/paths.js';
import { spawnDetached } from '../proc/detach.js';
import { pidAlive } from './pid.js';
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

/**
 * Starts the daemon in the background unless one runs; resolves once an engine answers on its
 * endpoint with its token. Should another client win the race to start one, that one is reported
 * (`started: false`).
 */
export async function ensureEngine(project: Project, options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<{ started: boolean; pid: number }> {
  ensureStateDirs(project.paths);
  const before = engineStatus(project.paths.root);
  if (before.running && before.pid !== null) return { started: false, pid: before.pid };
  const bin = join(packageRoot(), 'bin', 'hornets-tui.js');
  const logFile = engineOutFile(project);
  const spawned = spawnDetached([process.execPath, bin, '--config', project.configPath, 'daemon', 'run'], { cwd: project.root, env: options.env ?? launchEnv(), logFile });
  const timeoutMs = options.timeoutMs ?? 10_000;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    // Ready = the engine that holds the pid file answers with its token. A stale endpoint file left
    // by a killed engine cannot pass for it: nothing answers there, or not with this pid.
    const s = engineStatus(project.paths.root);
    if (s.running && s.pid !== null && s.endpoint) {
      const health = await pingEngine(project.paths.root, 500);
      if (health && health.pid === s.pid) return { started: s.pid === spawned, pid: s.pid };
    }
    if (!pidAlive(spawned) && !(s.running && s.pid !== null)) break;
    await sleep(50);
  }
  throw new EngineError(`the engine did not come up within ${Math.round(timeoutMs / 1000)} s; see ${logFile} and \`hornets-tui logs\``);
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
