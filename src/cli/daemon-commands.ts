/** `daemon run | start | stop | status`. */
import { launchEnv } from '../config/process-env.js';
import { ExitCode, HornetsError } from '../errors.js';
import { loadProject } from '../config/load.js';
import { openProject, type ProjectContext } from '../services/context.js';
import { Daemon } from '../daemon/daemon.js';
import { DaemonRunningError } from '../daemon/lock.js';
import { engineOutFile, engineStatus, ensureEngine, pingEngine, stopEngine } from '../engine-client/index.js';
import { json, type Output } from './output.js';
import type { GlobalOptions } from './queue-commands.js';

class DaemonError extends HornetsError {
  readonly exitCode = ExitCode.failure;
}

/**
 * Starts a daemon in this process. A refused start (another engine holds the lock) throws before
 * anything is touched, and nothing is stopped on the way out: the files are the owner's.
 */
export async function startDaemonHere(ctx: ProjectContext): Promise<Daemon> {
  const daemon = new Daemon(ctx);
  try {
    await daemon.start();
  } catch (err) {
    await ctx.close();
    throw err;
  }
  return daemon;
}

export async function daemonRunCommand(o: Output, g: GlobalOptions): Promise<void> {
  const ctx = await openProject({ configPath: g.config, component: 'daemon' });
  const daemon = await startDaemonHere(ctx);
  o.err(`hornets daemon running (pid ${process.pid}); hooks on 127.0.0.1:${daemon.hooks.port}; metrics on ${daemon.metricsServer.url}/metrics; logs in ${ctx.project.paths.logFile}`);
  await runUntilSignal(daemon, ctx);
}

/** Keeps a started daemon in the foreground until SIGTERM/SIGINT/SIGHUP, then stops it cleanly. */
export async function runUntilSignal(daemon: Daemon, ctx: ProjectContext): Promise<void> {
  // Only a daemon that took the lock has anything to stop: stopping one that did not would
  // delete the running engine's endpoint and mark its heartbeat stopped.
  if (!daemon.running) throw new Error('runUntilSignal needs a started daemon');
  // The daemon must outlive a bug in one of its parts: log it instead of dying with a stack trace.
  process.on('unhandledRejection', (err) => ctx.log.error({ event: 'unhandled_rejection', error: err instanceof Error ? err.message : String(err) }, 'unhandled rejection in the daemon'));
  await new Promise<void>((resolve) => {
    const stop = () =>
      void daemon
        .stop()
        .then(() => ctx.close())
        .then(resolve);
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    process.once('SIGHUP', stop);
    // The engine leaves by itself when its project is gone (see Engine's periodic check).
    daemon.onExitRequest = stop;
  });
}

export async function daemonStartCommand(o: Output, g: GlobalOptions, opts: { json?: boolean }): Promise<void> {
  const project = loadProject({ configPath: g.config });
  const before = engineStatus(project.paths.root);
  if (before.running && before.pid !== null) throw new DaemonRunningError(before.pid);
  const r = await ensureEngine(project, { env: launchEnv() }).catch((err: unknown) => {
    throw new DaemonError(`${err instanceof Error ? err.message : String(err)}`);
  });
  // Another client won the race to start one: this start did nothing, say so like the check above.
  if (!r.started) throw new DaemonRunningError(r.pid);
  if (opts.json) return json(o, { started: true, pid: r.pid });
  o.out(`daemon started (pid ${r.pid}); output in ${engineOutFile(project)}`);
}

export async function daemonStopCommand(o: Output, g: GlobalOptions, opts: { json?: boolean }): Promise<void> {
  const project = loadProject({ configPath: g.config });
  const r = await stopEngine(project);
  if (!r.stopped) {
    if (opts.json) return json(o, { stopped: false, reason: 'not running' });
    o.out('the daemon is not running');
    return;
  }
  if (opts.json) return json(o, { stopped: true, pid: r.pid });
  o.out(`daemon stopped (pid ${r.pid}); agents keep running`);
}

export async function daemonStatusCommand(o: Output, g: GlobalOptions, opts: { json?: boolean }): Promise<void> {
  const project = loadProject({ configPath: g.config });
  const s = engineStatus(project.paths.root);
  // Answering with its token is what "running" means to hooks and `send`; a pid alone is not enough.
  const health = s.running ? await pingEngine(project.paths.root) : null;
  const answering = health !== null && health.pid === s.pid;
  const metricsUrl = health?.metricsUrl ?? s.metricsUrl ?? null;
  if (opts.json) {
    json(o, { ...s, answering, metricsUrl, metrics: metricsUrl ? `${metricsUrl}/metrics` : null });
  } else if (s.running) {
    o.out(`daemon running (pid ${s.pid})`);
    o.out(answering ? `  hook endpoint: 127.0.0.1:${s.hookPort ?? health.hookPort} (hook fast path on)` : '  hook endpoint: not answering (hooks use the direct path)');
    o.out(metricsUrl ? `  metrics:       ${metricsUrl}/metrics  (health: ${metricsUrl}/healthz)` : '  metrics:       not published');
    o.out(`  logs:          ${project.paths.logFile}`);
  } else {
    o.out('daemon not running (hooks use the direct path; messages to idle agents wait): start it with `hornets-tui daemon start`');
  }
  if (!s.running) process.exitCode = 3;
}
