/**
 * A worker engine for tests and the bench: real SQLite, real tmux on a private socket, the real
 * run wrapper and the demo one-shot CLI (compiled: `npm run build` first), the task directory
 * watched by a DropDir as the daemon's task watcher does. Only the rest of the daemon is left out.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { openSqliteStore, type SqliteMessageStore } from '../../../src/queue/sqlite/sqlite-store.js';
import { TmuxClient } from '../../../src/tmux/client.js';
import { tmuxConfig } from '../../../src/services/agents.js';
import { packageRoot } from '../../../src/config/paths.js';
import { silentLogger, createLogger, type Logger } from '../../../src/log.js';
import { WorkerPool, type WorkerMetricsSink, type WorkerPoolOptions, type WorkerResultFile } from '../../../src/daemon/workers/pool.js';
import { TmuxRunWindows, type RunWindows } from '../../../src/daemon/workers/run-windows.js';
import { DropDir } from '../../../src/daemon/watchers/drop-dir.js';
import type { WorkerSettings } from '../../../src/config/workers.js';
import { defaultWorkerRetryPolicy } from '../../../src/domain/worker-policy.js';
import type { OneShotOutputKind } from '../../../src/domain/oneshot-output.js';

export const HORNETS_BIN = join(packageRoot(), 'bin', 'hornets-tui.cjs');

export function demoProfile() {
  return {
    env: {},
    oneShot: { command: ['{node}', '{hornets}', 'demo-oneshot', '-p', '{prompt}', '--output-format', 'json'], prompt: 'argv' as const, output: 'claude-json' as const },
  };
}

export function workerSettingsFixture(name: string, patch: Partial<WorkerSettings> = {}): WorkerSettings {
  return {
    name,
    profile: 'demo-oneshot',
    worktree: null,
    maxConcurrent: 3,
    timeoutMs: 60_000,
    maxRetries: 0,
    retry: { ...defaultWorkerRetryPolicy, initialDelayMs: 100, maxDelayMs: 1_000 },
    breaker: { threshold: 0, openMs: 60_000 },
    env: {},
    ...patch,
  };
}

export interface WorkerHarness {
  store: SqliteMessageStore;
  pool: WorkerPool;
  tmux: TmuxClient;
  dirs: { state: string; tasks: string; results: string; dlq: string; runs: string };
  drop: DropDir;
  stop(): Promise<void>;
}

export async function startWorkerHarness(o: {
  dir: string;
  socket: string;
  workers: WorkerSettings[];
  agents?: string[];
  env?: Record<string, string>;
  log?: Logger;
  metrics?: WorkerMetricsSink;
  notify?: (from: string, text: string, meta: Record<string, unknown>) => Promise<void>;
  pollMs?: number;
  killGraceMs?: number;
  /** Wraps the real run windows (e.g. to make tmux fail on cue). */
  windows?: (real: RunWindows) => RunWindows;
  /** The pool's clock (default Date.now). */
  clock?: () => number;
  /** Installs the profile's hooks in each run's directory (daemon/workers/wire.ts runHooksFor). */
  runHooks?: WorkerPoolOptions['runHooks'];
  /** The profile the workers run (default: the demo one-shot CLI). */
  profile?: { env: Record<string, string>; oneShot: { command: string[]; prompt: 'argv' | 'stdin'; output: OneShotOutputKind } };
}): Promise<WorkerHarness> {
  const state = o.dir;
  const dirs = { state, tasks: join(state, 'tasks'), results: join(state, 'results'), dlq: join(state, 'dlq'), runs: join(state, 'runs') };
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true, mode: 0o700 });
  const configFile = join(state, 'tmux.conf');
  writeFileSync(configFile, tmuxConfig());
  const tmux = new TmuxClient({ server: { socket: o.socket, configFile } });
  const store = await openSqliteStore(join(state, 'hornets.db'));
  const log = o.log ?? silentLogger();
  const profile = o.profile ?? demoProfile();
  const workers = o.workers.map((w) => ({ ...w, env: { ...w.env, ...o.env } }));
  const pool = new WorkerPool({
    store: store.workerTasks,
    windows: (o.windows ?? ((w) => w))(new TmuxRunWindows(tmux, 'hornets')),
    paths: { results: dirs.results, dlq: dirs.dlq, runs: dirs.runs },
    root: state,
    workers,
    profiles: new Map([['demo-oneshot', profile]]),
    agents: o.agents ?? ['lead'],
    runnerArgv: [process.execPath, join(packageRoot(), 'bin', 'hornets-task-run.js')],
    expand: (w) => w.replaceAll('{node}', process.execPath).replaceAll('{hornets}', HORNETS_BIN),
    log,
    metrics: o.metrics,
    notify: o.notify,
    pollMs: o.pollMs ?? 50,
    storeCheckMs: 200,
    killGraceMs: o.killGraceMs ?? 500,
    ...(o.clock ? { clock: o.clock } : {}),
    ...(o.runHooks ? { runHooks: o.runHooks } : {}),
  });
  const drop = new DropDir({ kind: 'task', root: dirs.tasks, dlq: dirs.dlq, suffix: '.json', agents: pool.names(), log, clock: Date.now, handle: (f) => pool.intake(f), scanIntervalMs: 1_000 });
  await pool.start();
  await drop.start();
  let stopped = false;
  return {
    store,
    pool,
    tmux,
    dirs,
    drop,
    async stop() {
      if (stopped) return;
      stopped = true;
      await drop.stop();
      await pool.stop();
      await tmux.close();
      await store.close();
    },
  };
}

/** Drops a task file the way writers must: written aside, renamed into place. */
export function dropTask(tasksDir: string, worker: string, task: Record<string, unknown>, name = `${String(task.task_id)}.json`): void {
  const dir = join(tasksDir, worker);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${name}.tmp`);
  writeFileSync(tmp, JSON.stringify(task));
  renameSync(tmp, join(dir, name));
}

export function readResult(resultsDir: string, worker: string, taskId: string): WorkerResultFile | null {
  const f = join(resultsDir, worker, `${taskId}.json`);
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as WorkerResultFile) : null;
}

export function resultCount(resultsDir: string, worker: string): number {
  const dir = join(resultsDir, worker);
  return existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith('.json') && !n.startsWith('.')).length : 0;
}

/** The demo CLI's run log (HORNETS_DEMO_RUN_LOG): the most runs that were going at once. */
export function maxOverlap(runLog: string, only?: readonly string[]): number {
  if (!existsSync(runLog)) return 0;
  const events = readFileSync(runLog, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' '))
    // `only`: these tasks' runs (a run stopped from outside logs no end and would count forever).
    .filter(([, id]) => !only || only.includes(id!))
    .map(([kind, , , t]) => ({ kind: kind!, t: Number(t) }));
  // Ends first at the same millisecond: a run's end causes the next start, never the reverse.
  events.sort((a, b) => a.t - b.t || (a.kind === 'end' ? -1 : 1));
  let now = 0;
  let max = 0;
  for (const e of events) {
    now += e.kind === 'start' ? 1 : -1;
    max = Math.max(max, now);
  }
  return max;
}

export { createLogger };
