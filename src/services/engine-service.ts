/**
 * Starting and stopping the engine (the daemon process) from a client such as the console: the
 * same pid file and endpoint `hornets-tui daemon start|stop` use, so either can stop what the other
 * started.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ExitCode, HornetsError } from '../errors.js';
import type { Project } from '../config/load.js';
import { ensureStateDirs, packageRoot } from '../config/paths.js';
import { lockFile } from '../daemon/daemon.js';
import { endpointFile } from '../daemon/endpoint.js';
import { pidAlive, readPid } from '../daemon/lock.js';
import { spawnDetached } from '../proc/detach.js';

export class EngineError extends HornetsError {
  readonly exitCode = ExitCode.failure;
}

export interface EngineStatus {
  pid: number | null;
  running: boolean;
  /** The hook endpoint is published (the daemon finished starting). */
  endpoint: boolean;
}

export function engineStatus(stateDir: string): EngineStatus {
  const pid = readPid(lockFile(stateDir));
  return { pid, running: pid !== null && pidAlive(pid), endpoint: existsSync(endpointFile(stateDir)) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts the daemon in the background unless one runs; resolves once it answers (pid + endpoint). */
export async function ensureEngine(project: Project, options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<{ started: boolean; pid: number }> {
  ensureStateDirs(project.paths);
  const before = engineStatus(project.paths.root);
  if (before.running && before.pid !== null) return { started: false, pid: before.pid };
  const bin = join(packageRoot(), 'bin', 'hornets-tui.js');
  const logFile = join(project.paths.logs, 'daemon.out');
  spawnDetached([process.execPath, bin, '--config', project.configPath, 'daemon', 'run'], { cwd: project.root, env: options.env ?? process.env, logFile });
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  while (Date.now() < deadline) {
    const s = engineStatus(project.paths.root);
    if (s.running && s.endpoint && s.pid !== null) return { started: true, pid: s.pid };
    await sleep(50);
  }
  throw new EngineError(`the engine did not come up within ${Math.round((options.timeoutMs ?? 10_000) / 1000)} s; see ${logFile} and \`hornets-tui logs\``);
}

/** SIGTERM the daemon and wait for it to go; agents keep running. */
export async function stopEngine(project: Project, options: { timeoutMs?: number } = {}): Promise<{ stopped: boolean; pid: number | null }> {
  const s = engineStatus(project.paths.root);
  if (!s.running || s.pid === null) return { stopped: false, pid: s.pid };
  process.kill(s.pid, 'SIGTERM');
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  while (Date.now() < deadline && pidAlive(s.pid)) await sleep(50);
  if (pidAlive(s.pid)) throw new EngineError(`the engine (pid ${s.pid}) did not stop within ${Math.round((options.timeoutMs ?? 10_000) / 1000)} s`);
  return { stopped: true, pid: s.pid };
}
