/**
 * The engine's task workers: a WorkerPool over the project's workers (hornets.json `workers`), its
 * runs in tmux sessions of the engine's server, its metrics in the seed's `watcher_*` families, and
 * the result summary queued to a task's `from` agent.
 */
import { join } from 'node:path';
import type { Logger } from '../../log.js';
import { durationMs, type HornetsConfig, type Profile } from '../../config/schema.js';
import type { StatePaths } from '../../config/paths.js';
import { packageRoot } from '../../config/paths.js';
import { allWorkerSettings } from '../../config/workers.js';
import type { MessageStore } from '../../queue/store.js';
import { workerTaskStoreOf } from '../../services/worker-tasks.js';
import { runsDir } from '../../services/worker-runs.js';
import type { TmuxClient } from '../../tmux/client.js';
import { namedPriorities } from '../../domain/priority.js';
import { recordRunUsage, recordTaskEnded, recordTaskTaken, type HornetsMetrics } from '../metrics.js';
import { defaultPrices, type ModelPrice } from '../../domain/usage.js';
import { WorkerPool, type WorkerMetricsSink, type WorkerPoolOptions } from './pool.js';
import { hookKindFor, type HookTarget } from '../../services/hook-kinds.js';
import { hookProgram } from '../../services/hooks-program.js';
import { launchEnv } from '../../config/process-env.js';
import { homedir } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { TmuxRunWindows } from './run-windows.js';

export function workerMetricsSink(m: HornetsMetrics): WorkerMetricsSink {
  return {
    taken: (worker) => recordTaskTaken(m, worker),
    processed: (worker, status) => recordTaskEnded(m, worker, status, null),
    failed: (worker, reason) => m.tasksFailed.inc({ worker, reason }),
    duration: (worker, seconds) => {
      m.taskDuration.observe({ worker }, seconds);
      m.seed.taskDuration.observe({ node: m.seed.node, worker }, seconds);
    },
    gauges: (worker, g) => {
      m.taskQueueSize.set({ worker }, g.queued);
      m.activeTasks.set({ worker }, g.active);
      m.circuitBreakerState.set({ worker }, g.breaker);
    },
    usage: (worker, u) => recordRunUsage(m, worker, u),
  };
}

/**
 * A run's hook target, as AgentManager.hookTarget makes an agent's: the profile's CODEX_HOME and
 * Gemini home as the run's process sees them. Command hooks always (an http hook would need the
 * agent credential a run does not have): the command client hands a run's calls to the Node entry,
 * which records them in the run's directory.
 */
function runHookTarget(root: string, profile: Profile, cwd: string): HookTarget {
  const env = { ...launchEnv(), ...profile.env };
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(root, p));
  return {
    worktree: cwd,
    transport: { program: hookProgram(), httpPort: null },
    codexHome: abs(env.CODEX_HOME || join(env.HOME || homedir(), '.codex')),
    geminiHome: { home: abs(env.GEMINI_CLI_HOME || env.HOME || homedir()), trustedFoldersPath: env.GEMINI_CLI_TRUSTED_FOLDERS_PATH ? abs(env.GEMINI_CLI_TRUSTED_FOLDERS_PATH) : null },
  };
}

/** Installs and uninstalls the hooks of a worker profile in a run's directory (WorkerPoolOptions.runHooks). */
export function runHooksFor(root: string, profiles: () => ReadonlyMap<string, Profile>): NonNullable<WorkerPoolOptions['runHooks']> {
  const find = (name: string, cwd: string) => {
    const profile = profiles().get(name);
    const kind = profile ? hookKindFor(profile.hooks.kind) : null;
    return profile && kind ? { kind, target: runHookTarget(root, profile, cwd) } : null;
  };
  return {
    install: (name, cwd) => find(name, cwd)?.kind.install(find(name, cwd)!.target).changed ?? false,
    uninstall: (name, cwd) => {
      const f = find(name, cwd);
      // Hooks in a place runs share (Codex's CODEX_HOME) stay: other runs and agents use them.
      if (f && f.kind.sharedAt(f.target) === null) f.kind.uninstall(f.target);
    },
  };
}

export function createDaemonWorkers(o: {
  config: HornetsConfig;
  root: string;
  paths: StatePaths;
  profiles: ReadonlyMap<string, Profile>;
  /** The profiles after a team reload (the run hooks follow them). */
  currentProfiles?: () => ReadonlyMap<string, Profile>;
  store: MessageStore;
  tmux: TmuxClient;
  session: string;
  log: Logger;
  metrics: HornetsMetrics;
  wake: (agent: string) => void;
  onBreaker?: (worker: string) => void;
  /**
   * A node of a Redis team: its name holds the leases of its runs, it runs only the workers
   * `hosted` names (config/nodes.ts hostedWorkers), and the breaker is shared with the other nodes.
   * Absent on a single host.
   */
  node?: { name: string; hosted: readonly string[] };
  /** A task was taken in (the engines of the other nodes hosting the worker are told). */
  onQueued?: (worker: string) => void;
  /** Agents a task's `from` may name: the whole team's (on Redis, agents of other nodes too). */
  teamAgents?: readonly string[];
  /** The price table for runs whose CLI states no cost (default: the built-in one with hornets.json `pricing` over it). */
  prices?: () => Readonly<Record<string, ModelPrice>>;
}): WorkerPool | null {
  // A pool even for a team with no worker yet: workers added to hornets.json later start at once.
  const workerStore = workerTaskStoreOf(o.store);
  if (!workerStore) {
    if (o.config.workers.length > 0) o.log.error({ event: 'workers_unsupported', workers: o.config.workers.map((w) => w.name) }, 'this store keeps no worker tasks; the workers do not run');
    return null;
  }
  const bin = join(packageRoot(), 'bin', 'hornets-tui.cjs');
  return new WorkerPool({
    store: workerStore,
    leaseMs: durationMs(o.config.daemon.workerLease),
    ...(o.node ? { holder: o.node.name, hosted: o.node.hosted } : {}),
    windows: new TmuxRunWindows(o.tmux, o.session),
    paths: { results: o.paths.results, dlq: o.paths.dlq, runs: runsDir(o.paths.root) },
    root: o.root,
    workers: allWorkerSettings(o.config),
    profiles: o.profiles,
    agents: o.teamAgents ?? o.config.agents.map((a) => a.name),
    runnerArgv: [process.execPath, join(packageRoot(), 'bin', 'hornets-task-run.js')],
    runHooks: runHooksFor(o.root, () => o.currentProfiles?.() ?? o.profiles),
    expand: (word) => word.replaceAll('{node}', process.execPath).replaceAll('{hornets}', bin),
    log: o.log,
    metrics: workerMetricsSink(o.metrics),
    prices: o.prices ?? (() => ({ ...defaultPrices, ...o.config.pricing })),
    ...(o.onBreaker ? { onBreaker: o.onBreaker } : {}),
    ...(o.onQueued ? { onQueued: o.onQueued } : {}),
    notify: async (from, text, meta) => {
      const r = await o.store.enqueue({ agent: from, body: text, priority: namedPriorities.high, key: `worker-result:${String(meta.task_id)}`, sender: String(meta.worker), meta });
      if (r.created) o.wake(from);
    },
  });
}
