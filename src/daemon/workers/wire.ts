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
import { recordTaskEnded, recordTaskTaken, type HornetsMetrics } from '../metrics.js';
import { WorkerPool, type WorkerMetricsSink } from './pool.js';
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
  };
}

export function createDaemonWorkers(o: {
  config: HornetsConfig;
  root: string;
  paths: StatePaths;
  profiles: ReadonlyMap<string, Profile>;
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
}): WorkerPool | null {
  if (o.config.workers.length === 0) return null;
  const workerStore = workerTaskStoreOf(o.store);
  if (!workerStore) {
    o.log.error({ event: 'workers_unsupported', workers: o.config.workers.map((w) => w.name) }, 'this store keeps no worker tasks; the workers do not run');
    return null;
  }
  const bin = join(packageRoot(), 'bin', 'hornets-tui.cjs');
  return new WorkerPool({
    store: workerStore,
    leaseMs: durationMs(o.config.daemon.workerLease),
    ...(o.node ? { holder: o.node.name, hosted: o.node.hosted, sharedBreaker: true } : {}),
    windows: new TmuxRunWindows(o.tmux, o.session),
    paths: { results: o.paths.results, dlq: o.paths.dlq, runs: runsDir(o.paths.root) },
    root: o.root,
    workers: allWorkerSettings(o.config),
    profiles: o.profiles,
    agents: o.teamAgents ?? o.config.agents.map((a) => a.name),
    runnerArgv: [process.execPath, join(packageRoot(), 'bin', 'hornets-task-run.js')],
    expand: (word) => word.replaceAll('{node}', process.execPath).replaceAll('{hornets}', bin),
    log: o.log,
    metrics: workerMetricsSink(o.metrics),
    ...(o.onBreaker ? { onBreaker: o.onBreaker } : {}),
    ...(o.onQueued ? { onQueued: o.onQueued } : {}),
    notify: async (from, text, meta) => {
      const r = await o.store.enqueue({ agent: from, body: text, priority: namedPriorities.high, key: `worker-result:${String(meta.task_id)}`, sender: String(meta.worker), meta });
      if (r.created) o.wake(from);
    },
  });
}
