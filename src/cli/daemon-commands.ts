/** `daemon run | start | stop | status`. */
import { launchEnv } from '../config/process-env.js';
import { ExitCode, HornetsError } from '../errors.js';
import { loadProject } from '../config/load.js';
import { openProject, type ProjectContext } from '../services/context.js';
import { ensureStateDirs } from '../config/paths.js';
import { moveAside, placeCopy } from '../queue/sqlite/file-guard.js';
import { importPendingFrom } from '../queue/sqlite/import-file.js';
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
export async function runUntilSignal(first: Daemon, firstCtx: ProjectContext, options: { afterStop?: (daemon: Daemon) => Promise<void> } = {}): Promise<void> {
  // Only a daemon that took the lock has anything to stop: stopping one that did not would
  // delete the running engine's endpoint and mark its heartbeat stopped.
  if (!first.running) throw new Error('runUntilSignal needs a started daemon');
  let daemon = first;
  let ctx = firstCtx;
  // The daemon must outlive a bug in one of its parts: log it instead of dying with a stack trace.
  process.on('unhandledRejection', (err) => ctx.log.error({ event: 'unhandled_rejection', error: err instanceof Error ? err.message : String(err) }, 'unhandled rejection in the daemon'));
  await new Promise<void>((resolve) => {
    let recovery: Promise<void> = Promise.resolve();
    let stopRequested = false;
    const stop = () => {
      stopRequested = true;
      void recovery
        .then(() => daemon.stop())
        .then(() =>
          options
            .afterStop?.(daemon)
            .catch((err: unknown) => ctx.log.error({ event: 'stop_agents_failed', error: err instanceof Error ? err.message : String(err) }, 'could not bring the agents down on exit')),
        )
        .then(() => ctx.close())
        .then(resolve);
    };
    const attach = (d: Daemon) => {
      // The engine leaves by itself when its project is gone (see Daemon's periodic check).
      d.onExitRequest = stop;
      d.onRecoverRequest = (why) => {
        recovery = recoverDatabase(daemon, ctx, why).then(
          (next) => {
            daemon = next.daemon;
            ctx = next.ctx;
            attach(daemon);
          },
          (err: unknown) => {
            // Nothing more can be done in this process: leave, and say where the copy is.
            process.stderr.write(`hornets daemon: cannot put the database back (${err instanceof Error ? err.message : String(err)}); stopping\n`);
            resolve();
          },
        );
      };
      d.onNodeLost = (reason) => {
        recovery = rejoinNode(daemon, ctx, reason, () => stopRequested).then((next) => {
          if (!next) return;
          daemon = next.daemon;
          ctx = next.ctx;
          attach(daemon);
        });
      };
    };
    attach(daemon);
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    process.once('SIGHUP', stop);
  });
}

/**
 * The database under the engine was deleted or replaced. Order matters: whatever now sits at the
 * path is moved aside first; the engine's copy is taken through its still-open connection; the
 * engine stops (keeping its pid file, so no CLI starts a database of its own meanwhile) and closes
 * that connection (SQLite removes the deleted database's -wal by name, which must not be anyone
 * else's yet); then the copy goes into place, the engine starts again on it, and the messages of
 * any database that was moved aside are imported (the same idempotent import as `queue import`).
 */
async function recoverDatabase(daemon: Daemon, ctx: ProjectContext, why: string): Promise<{ daemon: Daemon; ctx: ProjectContext }> {
  const { paths, configPath } = ctx.project;
  ensureStateDirs(paths);
  const foreign: string[] = [];
  const early = moveAside(paths.db, Date.now());
  if (early) foreign.push(early);
  if (!ctx.store.backupCopy) throw new Error(`the ${ctx.store.backend} store keeps no file to put back`);
  const copy = await ctx.store.backupCopy();
  await daemon.stop({ keepLock: true });
  await ctx.close();
  foreign.push(...placeCopy(copy, paths.db, Date.now()));
  const next = await openProject({ configPath, component: 'daemon' });
  const restarted = new Daemon(next);
  await restarted.start();
  let imported = 0;
  for (const file of foreign) imported += (await importPendingFrom(file, next.store)).imported;
  next.log.warn(
    { event: 'database_restored', why, db: paths.db, foreign, imported },
    `${why}: the engine put its copy of the queue back${foreign.length ? ` and took in ${imported} message(s) from the database found in its place (kept at ${foreign.join(', ')})` : ''}`,
  );
  return { daemon: restarted, ctx: next };
}

/** Between two tries to hold the node's name again: short at first, then every 10 s. */
const REJOIN_DELAYS_MS = [1_000, 2_000, 5_000, 10_000];

/**
 * The node's registration was lost (Redis out of reach for longer than the heartbeat allows, or
 * the name taken after it expired). This engine stops (keeping its pid file, so no CLI takes the
 * engine for gone) and a new one starts as soon as the name can be held again: it registers, finds
 * its agents still running in tmux as an engine restart does, and delivers what waited. While the
 * name is someone else's (another live engine) or Redis stays away, it keeps trying. Resolves null
 * when a stop was asked for meanwhile.
 */
async function rejoinNode(daemon: Daemon, ctx: ProjectContext, reason: string, stopRequested: () => boolean): Promise<{ daemon: Daemon; ctx: ProjectContext } | null> {
  const { configPath } = ctx.project;
  const log = ctx.log;
  await daemon.stop({ keepLock: true });
  await ctx.close();
  for (let attempt = 0; ; attempt++) {
    await new Promise((r) => setTimeout(r, REJOIN_DELAYS_MS[Math.min(attempt, REJOIN_DELAYS_MS.length - 1)]));
    if (stopRequested()) return null;
    let next: ProjectContext | null = null;
    try {
      next = await openProject({ configPath, component: 'daemon' });
      const restarted = new Daemon(next);
      await restarted.start({ keepLockOnFailure: true });
      next.log.warn({ event: 'node_rejoined', lostBecause: reason, attempts: attempt + 1 }, 'the node holds its name again: the engine runs its agents again');
      if (stopRequested()) {
        await restarted.stop();
        await next.close();
        return null;
      }
      return { daemon: restarted, ctx: next };
    } catch (err) {
      await next?.close().catch(() => undefined);
      // Every try would say the same: the first few, then one in six (about a minute apart).
      if (attempt < 3 || attempt % 6 === 0)
        log.warn({ event: 'node_rejoin_failed', attempt: attempt + 1, error: err instanceof Error ? err.message : String(err) }, 'the node cannot hold its name yet; trying again');
    }
  }
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
