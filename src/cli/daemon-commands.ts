/** `daemon run | start | stop | status`. */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ExitCode, HornetsError } from '../errors.js';
import { loadProject } from '../config/load.js';
import { packageRoot, ensureStateDirs } from '../config/paths.js';
import { openProject, type ProjectContext } from '../services/context.js';
import { Daemon, lockFile } from '../daemon/daemon.js';
import { endpointFile } from '../daemon/hook-server.js';
import { pidAlive, readPid } from '../daemon/lock.js';
import { spawnDetached } from '../proc/detach.js';
import { json, type Output } from './output.js';
import type { GlobalOptions } from './queue-commands.js';

class DaemonError extends HornetsError {
  readonly exitCode = ExitCode.failure;
}

export async function daemonRunCommand(o: Output, g: GlobalOptions): Promise<void> {
  const ctx = await openProject({ configPath: g.config, component: 'daemon' });
  const daemon = new Daemon(ctx);
  try {
    await daemon.start();
  } catch (err) {
    await ctx.close();
    throw err;
  }
  o.err(`hornets daemon running (pid ${process.pid}); hooks on 127.0.0.1:${daemon.hooks.port}; logs in ${ctx.project.paths.logFile}`);
  await runUntilSignal(daemon, ctx);
}

/** Keeps a started daemon in the foreground until SIGTERM/SIGINT/SIGHUP, then stops it cleanly. */
export async function runUntilSignal(daemon: Daemon, ctx: ProjectContext): Promise<void> {
  // The daemon must outlive a bug in one of its parts: log it instead of dying with a stack trace.
  process.on('unhandledRejection', (err) => ctx.log.error({ event: 'unhandled_rejection', error: err instanceof Error ? err.message : String(err) }, 'unhandled rejection in the daemon'));
  await new Promise<void>((resolve) => {
    const stop = () => void daemon.stop().then(() => ctx.close()).then(resolve);
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    process.once('SIGHUP', stop);
  });
}

function daemonState(stateDir: string): { pid: number | null; running: boolean; endpoint: boolean } {
  const pid = readPid(lockFile(stateDir));
  return { pid, running: pid !== null && pidAlive(pid), endpoint: existsSync(endpointFile(stateDir)) };
}

export async function daemonStartCommand(o: Output, g: GlobalOptions, opts: { json?: boolean }): Promise<void> {
  const project = loadProject({ configPath: g.config });
  ensureStateDirs(project.paths);
  const before = daemonState(project.paths.root);
  if (before.running) throw new DaemonError(`the daemon is already running (pid ${before.pid})`);
  const bin = join(packageRoot(), 'bin', 'hornets-tui.js');
  // A file left by a daemon killed -9 must not pass for the new one's readiness signal.
  rmSync(endpointFile(project.paths.root), { force: true });
  const pid = spawnDetached([process.execPath, bin, '--config', project.configPath, 'daemon', 'run'], { cwd: project.root, env: process.env, logFile: join(project.paths.logs, 'daemon.out') });
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const s = daemonState(project.paths.root);
    if (s.running && s.endpoint && s.pid === pid) {
      if (opts.json) return json(o, { started: true, pid: s.pid });
      o.out(`daemon started (pid ${s.pid})`);
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new DaemonError(`the daemon did not come up within 10 s; see ${join(project.paths.logs, 'daemon.out')} and \`hornets-tui logs\``);
}

export async function daemonStopCommand(o: Output, g: GlobalOptions, opts: { json?: boolean }): Promise<void> {
  const project = loadProject({ configPath: g.config });
  const s = daemonState(project.paths.root);
  if (!s.running || s.pid === null) {
    if (opts.json) return json(o, { stopped: false, reason: 'not running' });
    o.out('the daemon is not running');
    return;
  }
  process.kill(s.pid, 'SIGTERM');
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && pidAlive(s.pid)) await new Promise((r) => setTimeout(r, 50));
  if (pidAlive(s.pid)) throw new DaemonError(`the daemon (pid ${s.pid}) did not stop within 10 s`);
  if (opts.json) return json(o, { stopped: true, pid: s.pid });
  o.out(`daemon stopped (pid ${s.pid}); agents keep running`);
}

export async function daemonStatusCommand(o: Output, g: GlobalOptions, opts: { json?: boolean }): Promise<void> {
  const project = loadProject({ configPath: g.config });
  const s = daemonState(project.paths.root);
  if (opts.json) return json(o, s);
  o.out(s.running ? `daemon running (pid ${s.pid})${s.endpoint ? ', hook fast path on' : ''}` : 'daemon not running (hooks use the direct path)');
  if (!s.running) process.exitCode = 3;
}
