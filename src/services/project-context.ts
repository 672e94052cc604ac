/**
 * An open project: state dir, logger and store around a loaded configuration. Apart from
 * context.ts (which loads and validates the configuration) so the CLI's hot path, given a project
 * from the validated-config cache, opens one without loading zod.
 */
import type { Project } from '../config/load.js';
import { ensureStateDirs } from '../config/paths.js';
import { durationMs } from '../domain/duration.js';
import type { Logger } from '../log.js';
import type { RotationOptions } from '../log-rotation.js';
import { logLevelFromEnv } from '../config/process-env.js';
import type { MessageStore, QueueLimits } from '../queue/store.js';
import { openSqliteStore } from '../queue/sqlite/sqlite-store.js';
import { resolveStoreSelection, type StoreSelection } from '../config/store-selection.js';
import { checkStoreRecord, recordStore } from '../config/store-record.js';
import { checkAgentNodes, nodeProject, processNode } from '../config/nodes.js';
import { existsSync } from 'node:fs';
import { QueueError } from '../errors.js';
import { pidFile } from '../engine-client/paths.js';
import { pidAlive, readPid } from '../engine-client/pid.js';

/**
 * How a context logs: pino (log.ts) for the full CLI and long-running processes, the line logger
 * (log-lines.ts) for the lean entry. Passed in so the lean entry never loads pino.
 */
export interface Loggers {
  create(logFile: string, options: { level?: string; rotation?: RotationOptions }): Logger;
  silent(): Logger;
}

export interface ProjectContext {
  project: Project;
  /** The store this process resolved (SQLite, or Redis with its URL and prefix). */
  selection: StoreSelection;
  store: MessageStore;
  log: Logger;
  close(): Promise<void>;
}

export function queueLimits(project: Project): QueueLimits {
  const q = project.config.queue;
  return {
    maxDepth: q.maxDepth,
    maxBodyBytes: q.maxBodyKiB * 1024,
    maxAttempts: q.maxAttempts,
    backoffBaseMs: durationMs(q.retryBackoff),
    backoffMaxMs: durationMs(q.retryBackoffMax),
  };
}

/**
 * Logging is best effort: a log file that cannot be opened (read-only or full file system) must not
 * hide the error the user needs, which is the one about the database on the same file system.
 */
function openLogger(loggers: Loggers, logFile: string, retention?: { logMaxMiB: number; logFiles: number }): Logger {
  let log: Logger;
  try {
    log = loggers.create(logFile, { level: logLevelFromEnv(), ...(retention ? { rotation: { maxBytes: retention.logMaxMiB * 1024 * 1024, maxFiles: retention.logFiles } } : {}) });
  } catch {
    return loggers.silent();
  }
  return log;
}

/**
 * Registers only agents that are new or whose profile/maxDepth changed. Registering unconditionally
 * would make every command (even `queue list`) a write, so reads would fail on a full disk.
 */
export async function registerChangedAgents(store: MessageStore, project: Project): Promise<void> {
  const known = new Map((await store.listAgents()).map((a) => [a.name, a]));
  const wanted = project.config.agents.map((a) => ({ name: a.name, profile: a.profile, maxDepth: a.maxDepth ?? null }));
  const changed = wanted.filter((a) => {
    const k = known.get(a.name);
    return !k || k.profile !== a.profile || k.maxDepth !== a.maxDepth;
  });
  if (changed.length > 0) await store.registerAgents(changed);
}

/** Opens the state dir, logger and store of a loaded project; creates the state dirs if needed. */
/** How long a CLI waits for a running engine to put a deleted database back (it checks every second). */
const DATABASE_RETURN_WAIT_MS = 5_000;

/**
 * The database is missing while an engine runs: it was deleted under the engine, which puts its own
 * copy back within a second or so. Creating an empty one here would split the queue in two.
 */
async function awaitDatabaseUnderEngine(project: Project): Promise<void> {
  const { db, root, logFile } = project.paths;
  if (existsSync(db)) return;
  const pid = readPid(pidFile(root));
  if (pid === null || pid === process.pid || !pidAlive(pid)) return;
  const deadline = Date.now() + DATABASE_RETURN_WAIT_MS;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    if (existsSync(db)) return;
  }
  throw new QueueError(
    'io',
    `${db} is missing while the engine (pid ${pid}) runs, and the engine did not put its copy back within ${DATABASE_RETURN_WAIT_MS / 1000} s; nothing was written. See ${logFile}`,
    {
      path: db,
    },
  );
}

/**
 * The project's store: SQLite in the state directory, or Redis (hornets.json `store`, REDIS_URL,
 * REDIS_HOST…). Redis's client is loaded only for a Redis project, so SQLite commands stay lean.
 */
async function openStore(project: Project, selection: StoreSelection): Promise<MessageStore> {
  if (selection.kind === 'sqlite') {
    await awaitDatabaseUnderEngine(project);
    return openSqliteStore(project.paths.db, { limits: queueLimits(project), synchronous: project.config.queue.synchronous });
  }
  const { openRedisStore } = await import('../queue/redis/redis-store.js');
  return openRedisStore({
    url: selection.url,
    cluster: selection.cluster,
    prefix: selection.prefix,
    connectTimeoutMs: selection.connectTimeoutMs,
    clusterRetryMs: selection.failoverWaitMs,
    limits: queueLimits(project),
  });
}

export async function openProjectContext(project: Project, component: string | undefined, loggers: Loggers): Promise<ProjectContext> {
  ensureStateDirs(project.paths);
  const selection = resolveStoreSelection(project.config);
  checkAgentNodes(project.configPath, project.config, selection);
  checkStoreRecord(project.paths.root, project.paths.db, selection);
  const log = openLogger(loggers, project.paths.logFile, project.config.retention).child({ component: component ?? 'cli' });
  const store = await openStore(project, selection);
  try {
    recordStore(project.paths.root, project.paths.db, selection);
  } catch (err) {
    await store.close();
    throw err;
  }
  try {
    await registerChangedAgents(store, project);
  } catch (err) {
    await store.close();
    throw err;
  }
  return {
    project,
    selection,
    store,
    log,
    async close() {
      await store.close();
      log.flush();
    },
  };
}

/**
 * The context as one node sees it: only the agents that node runs, in hornets.json and in the
 * store's agent records. Records matter as much as the config: tmux pane ids restart at %0 on
 * every server, so another node's "%1" must never be taken for a pane of this one (crash reports,
 * lost exits and a new server's stale-pane sweep all look records up by pane).
 */
export function nodeContext(ctx: ProjectContext, node: string): ProjectContext {
  const project = nodeProject(ctx.project, ctx.selection, node);
  if (project === ctx.project) return ctx;
  const target = ctx.store;
  // Read at each call: a reloaded team (the daemon replaces project.config) is seen at once.
  const local = () => new Set(project.config.agents.map((a) => a.name));
  const store = new Proxy(target, {
    get(t, prop) {
      if (prop === 'listAgents') return async () => (await t.listAgents()).filter((r) => local().has(r.name));
      const value: unknown = Reflect.get(t, prop, t);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(t) : value;
    },
  });
  return { ...ctx, project, store };
}

/** nodeContext for this process's node (`--node`, HORNETS_NODE or the host name). */
export function localNodeContext(ctx: ProjectContext): ProjectContext {
  return nodeContext(ctx, processNode());
}
