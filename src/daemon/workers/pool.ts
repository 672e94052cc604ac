/**
 * Task workers (seed 003's worker_watcher, issue 14): each task of a worker runs as its own
 * one-shot process of the worker profile's `oneShot` command, in its own tmux window, up to
 * `maxConcurrent` at a time per worker; a failed run is retried with backoff and jitter; after the
 * last retry the task goes to the DLQ with its reason and last output; a circuit breaker per worker
 * stops new runs after consecutive failures and lets one trial through after its timeout.
 *
 * Durability: the task row (WorkerTaskStore) is the record, and a run's own files are its report
 * (src/proc/task-run.ts writes exit.json last). An engine that restarts finds each running task's
 * run by its id: ended (exit.json) -> its end is applied now; window still there -> adopted and
 * watched; never started -> started; started but gone without a report -> `lost`, run again
 * without counting against the retries. Every end names its run id, and the store applies it only
 * while that run is out, so a task ends exactly once. The result file and the notification come
 * before the row is closed, so a crash in between repeats them rather than losing them.
 *
 * Several engines (the nodes of a Redis team) may share a worker: the store hands out due tasks
 * (claimWorkerRuns) each to one engine under a lease, which the engine renews while the run goes
 * and names when it ends the run; an engine whose lease lapsed (dead, cut off) cannot end the run
 * any more, and the next engine that claims takes it over (recorded lost, run again).
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import type { Logger } from '../../log.js';
import type { WorkerLeaseRef, WorkerTaskStore } from '../../queue/store.js';
import { breakerFromSaved, readWorkerBreaker, transitionWorkerBreaker, type SharedBreaker } from '../../queue/worker-breaker-swap.js';
import type { WorkerSettings } from '../../config/workers.js';
import type { Profile } from '../../config/schema.js';
import { QueueError, errorMessage } from '../../errors.js';
import {
  SlotPool,
  breakerAt,
  breakerBindTrial,
  breakerGaugeValue,
  breakerOnAbandon,
  breakerOnFailure,
  breakerOnSuccess,
  breakerReleaseTrial,
  breakerStartLimit,
  breakerTakeTrial,
  closedBreaker,
  workerRetryDelayMs,
  type BreakerState,
  type BreakerStateName,
} from '../../domain/worker-policy.js';
import { failuresSinceRequeue, nextRetryAt, type AttemptEnd, type AttemptOutcome, type WorkerAttempt, type WorkerTask } from '../../domain/worker-task.js';
import { parseOneShotOutput, type OneShotOutput } from '../../domain/oneshot-output.js';
import { modelOfArgv, runUsageOf, taskUsageOf, type RunUsage } from '../../domain/run-usage.js';
import { defaultPrices, type ModelPrice } from '../../domain/usage.js';
import { RUN_FILES, groupAlive, killGroup, processAlive, writeExitOnce, type TaskRunExit, type TaskRunSpec } from '../../proc/task-run.js';
import { deadLetter, writeJsonAtomic, type DropFile, type DropOutcome } from '../watchers/drop-dir.js';
import { isPermanentQueueError } from '../watchers/common.js';
import { parseWorkerTask, taskPrompt } from '../../config/worker-task-file.js';
import { pruneRunDirs, type RunDirPruneResult } from '../../services/worker-runs.js';
import type { RunWindows } from './run-windows.js';
import { RUN_HOOKS_FILE, parseRunHooks } from '../../hooks/run-hook.js';

/** What a worker metrics sink takes (daemon/metrics.ts's seed 003 `watcher_*` families). */
export interface WorkerMetricsSink {
  /** A task file was taken in (seed 004 tasks_total). */
  taken?(worker: string): void;
  processed(worker: string, status: 'completed' | 'failed' | 'cancelled'): void;
  failed(worker: string, reason: string): void;
  duration(worker: string, seconds: number): void;
  gauges(worker: string, g: { queued: number; active: number; breaker: number }): void;
  /** A run's tokens and cost, once per run: after the store took its end. */
  usage?(worker: string, u: RunUsage): void;
}

export interface WorkerPoolOptions {
  store: WorkerTaskStore;
  /**
   * Who this engine is to the store's leases: its node's name on a Redis team (engines of several
   * nodes claim one worker's tasks), a fixed name on a single host. A restarted engine of the same
   * node adopts the runs leased to it.
   */
  holder?: string;
  /** How long a claimed run's lease lasts unless renewed (every third of it), default 30 s. */
  leaseMs?: number;
  /** The workers this engine runs (default all): the others' task files are only taken in. */
  hosted?: readonly string[];
  windows: RunWindows;
  paths: { results: string; dlq: string; runs: string };
  /** hornets.json's directory: relative worktrees are resolved against it. */
  root: string;
  workers: WorkerSettings[];
  profiles: ReadonlyMap<string, Pick<Profile, 'oneShot' | 'env'>>;
  /** Agents a task's `from` may name. */
  agents: readonly string[];
  /** argv that runs the wrapper, the run directory appended: [node, bin/hornets-task-run.js] (or `hornets-tui task-run`). */
  runnerArgv: string[];
  /** {node}/{hornets} in a profile's oneShot command. */
  expand: (word: string) => string;
  log: Logger;
  metrics?: WorkerMetricsSink;
  /** The price table for runs whose CLI states no cost (default: usage.ts's defaultPrices). */
  prices?: () => Readonly<Record<string, ModelPrice>>;
  /** Tells a task's `from` agent the result (idempotent by task id). */
  notify?: (from: string, text: string, meta: Record<string, unknown>) => Promise<void>;
  clock?: () => number;
  random?: () => number;
  /** A task was taken in from a file (a Redis team tells the other nodes' engines). */
  onQueued?: (worker: string) => void;
  /** A worker's breaker changed state (closed, open, half-open): heartbeats tell it at once. */
  onBreaker?: (worker: string) => void;
  /**
   * The profile's hooks in a run's directory, by the installer the interactive agents use, so a
   * one-shot run reports through hooks as an agent does (src/hooks/run-hook.ts). A named worktree
   * an interactive agent may share keeps them (installing is idempotent and writes the same
   * settings the agent has); a scratch directory's are uninstalled when its run ends.
   */
  runHooks?: { install(profile: string, cwd: string): boolean; uninstall(profile: string, cwd: string): void };
  /** How often running runs are looked at (exit files), default 200 ms. */
  pollMs?: number;
  /** How often the store is looked at for tasks queued by others (CLI retry/cancel), default 1 s. */
  storeCheckMs?: number;
  /** SIGTERM -> SIGKILL of a timed-out run's group, default 2 s. */
  killGraceMs?: number;
  maxOutputBytes?: number;
}

interface ActiveRun {
  taskId: string;
  runId: string;
  /** The lease the run was claimed with (null: a run started without one, by an older engine). */
  lease: WorkerLeaseRef | null;
  attempt: number;
  dir: string;
  startedAt: number;
  deadlineAt: number;
  /** The engine stopped it (cancel, backstop): when it did. */
  stoppedAt: number | null;
  stopReason: 'cancelled' | 'timeout' | null;
}

interface WorkerState {
  settings: WorkerSettings;
  slots: SlotPool;
  /**
   * The breaker as the store held it at this engine's last look or change (every pump reads it):
   * the store's is the one every engine shares; this copy is for status, gauges and timers.
   */
  breaker: BreakerState;
  active: Map<string, ActiveRun>;
  timer: NodeJS.Timeout | null;
  /**
   * Removed from the team (or no longer hosted by this node): it starts no run and takes no task
   * in; its runs out finish and are recorded as usual, then it goes. Its queued tasks stay queued.
   */
  retired: boolean;
}

/** What a team reload gives the pool (WorkerPool.setTeam). */
export interface WorkerTeam {
  workers: WorkerSettings[];
  profiles: ReadonlyMap<string, Pick<Profile, 'oneShot' | 'env'>>;
  agents: readonly string[];
  /** The workers this engine runs (default all). */
  hosted?: readonly string[];
}

export interface WorkerStatus {
  name: string;
  maxConcurrent: number;
  active: number;
  breaker: BreakerStateName;
  consecutiveFailures: number;
  /** Open: when the half-open trial may start (epoch ms); else null. */
  halfOpenAt: number | null;
}

/** The result file, `results/<worker>/<task_id>.json`: one per task, written when it ends. */
export interface WorkerResultFile {
  task_id: string;
  worker: string;
  status: 'completed' | 'failed' | 'cancelled';
  exit_code: number | null;
  /** The last run's duration. */
  duration_ms: number;
  /** From taking the task in to its end. */
  total_duration_ms: number;
  result: string | null;
  error?: string;
  /** The last run's usage and cost as its CLI printed them (kept as they were; see `totals`). */
  usage: Record<string, unknown> | null;
  cost_usd: number | null;
  /**
   * Tokens and cost over every run of the task (a retried task paid for each), summed from the
   * recorded attempts once per run id: a run's cost is its CLI's own figure when it states one, else
   * priced from its model (hornets.json `pricing`).
   */
  totals: { input_tokens: number; output_tokens: number; cache_read_tokens: number; cache_creation_tokens: number; cost_usd: number; runs: number };
  attempts: {
    attempt: number;
    run_id: string;
    outcome: AttemptOutcome;
    exit_code: number | null;
    signal: string | null;
    started_at: string;
    ended_at: string;
    duration_ms: number;
    error: string | null;
    /** The run's tokens and cost (cost_source: cli, priced, none), or null when it reported none. */
    usage: { input_tokens: number; output_tokens: number; cache_read_tokens: number; cache_creation_tokens: number; cost_usd: number; cost_source: string; model: string | null } | null;
  }[];
  from: string | null;
  metadata: unknown;
  /** The hook calls of the last run (its profile's hooks, installed in its worktree), per event. */
  hooks: { calls: number; events: Record<string, number> };
  completed_at: string;
}

const DEFAULT_POLL_MS = 200;
const DEFAULT_LEASE_MS = 30_000;
/** The holder of a single host's engine (SQLite: one engine at a time). */
export const LOCAL_HOLDER = 'engine';
const DEFAULT_STORE_CHECK_MS = 1_000;
/** An idle pool reads the store this many times less often. */
const IDLE_STORE_CHECK_FACTOR = 5;
const DEFAULT_KILL_GRACE_MS = 2_000;
const DEFAULT_MAX_OUTPUT = 4 * 1024 * 1024;
/** The engine's own stop of a run whose wrapper did not keep its deadline comes this much later. */
const BACKSTOP_MS = 5_000;
/** How much of a failed run's output the DLQ entry keeps. */
const LAST_OUTPUT_CHARS = 4_000;
/** Runs of one task that may vanish (lost) before the task fails. */
const MAX_LOST_RUNS = 3;
const NOT_STARTED_RETRY_MS = 1_000;
/** A run's window may not be listed yet right after it was opened. */
const VANISH_GRACE_MS = 3_000;
export const NOTIFY_RESULT_CHARS = 2_000;

export class WorkerPool {
  private readonly clock: () => number;
  private readonly random: () => number;
  private readonly workers = new Map<string, WorkerState>();
  private chain: Promise<unknown> = Promise.resolve();
  private pollTimer: NodeJS.Timeout | null = null;
  private lastStoreCheck = 0;
  private idleAtLastCheck = false;
  private stopped = false;
  private readonly holder: string;
  private readonly leaseMs: number;
  private hosted: Set<string>;
  private profiles: ReadonlyMap<string, Pick<Profile, 'oneShot' | 'env'>>;
  private agents: readonly string[];
  private lastRenew = 0;

  constructor(private readonly o: WorkerPoolOptions) {
    this.clock = o.clock ?? Date.now;
    this.random = o.random ?? Math.random;
    this.holder = o.holder ?? LOCAL_HOLDER;
    this.leaseMs = o.leaseMs ?? DEFAULT_LEASE_MS;
    this.hosted = new Set(o.hosted ?? o.workers.map((w) => w.name));
    this.profiles = o.profiles;
    this.agents = o.agents;
    for (const s of o.workers) this.workers.set(s.name, this.newState(s));
  }

  private newState(s: WorkerSettings): WorkerState {
    return { settings: s, slots: new SlotPool(s.maxConcurrent), breaker: closedBreaker, active: new Map(), timer: null, retired: false };
  }

  /**
   * The team changed (hornets.json edited, `add`/`remove`): the rule, as the README says it.
   * - An added worker starts taking its tasks at once (its queued ones too, left from before).
   * - A removed worker starts no new run and takes no task file in; its runs out finish and are
   *   recorded (result, retry or DLQ as usual; a retry waits queued); its queued tasks stay queued
   *   in the store, and run again if the worker comes back.
   * - Changed settings apply to the next run at once: maxConcurrent (a smaller one lets running
   *   runs finish and starts none until below it), retry backoff, breaker threshold and timeout,
   *   the profile. A task's own timeout and max_retries are fixed when it is taken in, so the new
   *   defaults apply to tasks taken in from now.
   */
  setTeam(team: WorkerTeam): Promise<void> {
    return this.serial(async () => {
      this.profiles = team.profiles;
      this.agents = team.agents;
      this.hosted = new Set(team.hosted ?? team.workers.map((w) => w.name));
      const wanted = new Map(team.workers.map((s) => [s.name, s]));
      for (const [name, w] of this.workers) {
        const next = wanted.get(name);
        if (!next) {
          if (!w.retired) this.o.log.info({ event: 'worker_retired', worker: name, running: w.active.size }, 'worker removed from the team: its runs finish, its queued tasks stay queued');
          w.retired = true;
          if (w.timer) clearTimeout(w.timer);
          w.timer = null;
          continue;
        }
        w.retired = false;
        w.settings = next;
        w.slots.resize(next.maxConcurrent);
      }
      for (const [name, s] of wanted) if (!this.workers.has(name)) this.workers.set(name, this.newState(s));
      this.dropRetired();
    }).then(async () => {
      for (const w of this.hostedNames()) await this.pump(w);
    });
  }

  /** Retired workers whose last run ended go. */
  private dropRetired(): void {
    for (const [name, w] of this.workers) if (w.retired && w.active.size === 0) this.workers.delete(name);
  }

  /** Every worker of the team: their task files are taken in here. */
  names(): string[] {
    return [...this.workers.values()].filter((w) => !w.retired).map((w) => w.settings.name);
  }

  /** The workers whose runs this engine starts. */
  hostedNames(): string[] {
    return this.names().filter((n) => this.hosted.has(n));
  }

  /** Hosted workers, and any with runs still out (retired, or moved to another node: watched to their end). */
  private hostedStates(): WorkerState[] {
    return [...this.workers.values()].filter((w) => (this.hosted.has(w.settings.name) && !w.retired) || w.active.size > 0);
  }

  /** Finds the runs of tasks that were running when the engine stopped, then starts what is due. */
  async start(): Promise<void> {
    await this.serial(() => this.recover());
    for (const w of this.hostedNames()) await this.pump(w);
    this.pollTimer = setInterval(() => void this.tick(), this.o.pollMs ?? DEFAULT_POLL_MS);
    this.pollTimer.unref();
  }

  /** Stops watching; runs go on in their windows and are adopted by the next engine. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    for (const w of this.workers.values()) if (w.timer) clearTimeout(w.timer);
    await this.chain;
  }

  status(): WorkerStatus[] {
    const now = this.clock();
    return this.hostedStates().map((w) => {
      const b = breakerAt(w.breaker, w.settings.breaker, now);
      const halfOpenAt = b.state === 'open' && b.openedAt !== null ? b.openedAt + w.settings.breaker.openMs : null;
      return { name: w.settings.name, maxConcurrent: w.slots.capacity, active: w.slots.inUse, breaker: b.state, consecutiveFailures: b.failures, halfOpenAt };
    });
  }

  /**
   * Removes the run directories of tasks that ended more than `olderThanMs` ago (see
   * services/worker-runs.ts for what is kept); the runs this pool has out are never touched.
   */
  pruneRuns(olderThanMs: number): Promise<RunDirPruneResult> {
    const busy = new Set([...this.workers.values()].flatMap((w) => [...w.active.keys()]));
    return pruneRunDirs({ runs: this.o.paths.runs, results: this.o.paths.results, store: this.o.store, olderThanMs, now: this.clock(), busy });
  }

  /** Tasks waiting per worker (queued, or retrying): heartbeats' queue_depth. */
  async counts(): Promise<Map<string, number>> {
    const raw = await this.o.store.workerTaskCounts();
    return new Map(this.hostedNames().map((w) => [w, (raw.get(w)?.queued ?? 0) + (raw.get(w)?.retrying ?? 0)]));
  }

  /** Active runs per worker (heartbeats' active_tasks). */
  activeCount(worker: string): number {
    return this.workers.get(worker)?.slots.inUse ?? 0;
  }

  /**
   * A breaker transition, applied to the store's breaker atomically (another engine's change in
   * between is decided again from); a failure to write is logged: the runs go on.
   */
  private async stepBreaker(w: WorkerState, step: (b: BreakerState) => BreakerState): Promise<void> {
    try {
      this.noteBreaker(w, await transitionWorkerBreaker(this.o.store, w.settings.name, step));
    } catch (err) {
      this.o.log.warn({ event: 'worker_breaker_save_failed', worker: w.settings.name, error: errorMessage(err) }, 'cannot save the worker breaker');
    }
  }

  /** What the store holds of the breaker becomes this engine's copy; a change of state is news (heartbeats tell it at once). */
  private noteBreaker(w: WorkerState, shared: SharedBreaker): void {
    const now = this.clock();
    const before = breakerAt(w.breaker, w.settings.breaker, now);
    const after = breakerAt(shared.breaker, w.settings.breaker, now);
    w.breaker = shared.breaker;
    // An open breaker that opens again (a run that was out fails) moves its trial: that is news too.
    if (after.state !== before.state || after.openedAt !== before.openedAt) this.o.onBreaker?.(w.settings.name);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  // ------------------------------------------------------------ intake

  /** A task file dropped into tasks/<worker>/ (handed over by the task watcher). */
  async intake(f: DropFile): Promise<DropOutcome> {
    const w = this.workers.get(f.agent);
    if (!w || w.retired) return { kind: 'dead', error: `unknown worker "${f.agent}"` };
    let t;
    try {
      t = parseWorkerTask(f.json, f.name.replace(/\.json$/, ''), f.agent, this.agents);
    } catch (err) {
      return { kind: 'dead', error: errorMessage(err) };
    }
    try {
      const r = await this.o.store.createWorkerTask({
        taskId: t.taskId,
        worker: f.agent,
        description: t.description,
        metadata: t.metadata ? JSON.stringify(t.metadata) : null,
        worktree: t.worktree,
        from: t.from,
        priority: t.priority ?? 5,
        timeoutMs: t.timeoutMs ?? w.settings.timeoutMs,
        maxRetries: t.maxRetries ?? w.settings.maxRetries,
        source: f.text,
      });
      if (!r.created) {
        const old = r.task;
        if (old.worker !== f.agent) return { kind: 'dead', error: `task id "${t.taskId}" is already used by a task of ${old.worker}` };
        if (old.description !== t.description || (old.state !== 'queued' && old.state !== 'running' && old.state !== 'retrying')) {
          return { kind: 'dead', error: `task id "${t.taskId}" was already used (that task is ${old.state}); give a new task_id` };
        }
        // The same file again (a crash between taking it in and removing it): the task goes on as it is.
        return { kind: 'done' };
      }
    } catch (err) {
      if (isPermanentQueueError(err)) return { kind: 'dead', error: errorMessage(err) };
      return { kind: 'retry', error: errorMessage(err) };
    }
    this.o.log.info({ event: 'worker_task_accepted', worker: f.agent, task: t.taskId }, 'worker task taken in');
    this.o.metrics?.taken?.(f.agent);
    this.o.onQueued?.(f.agent);
    void this.pump(f.agent);
    return { kind: 'done' };
  }

  // ------------------------------------------------------------ starting runs

  /** Starts due tasks of `worker` while it has free slots and its breaker allows. */
  pump(worker: string): Promise<void> {
    return this.serial(() => this.pumpNow(worker)).catch((err: unknown) => this.o.log.error({ event: 'worker_pump_failed', worker, error: errorMessage(err) }, 'cannot start worker runs'));
  }

  /**
   * Claims what this engine may start now (as many as it has free slots, one trial while the
   * breaker is half-open, none while it is open) and starts those runs; takes over runs whose
   * holder's lease lapsed (another node's engine that died). The store decides which tasks, so
   * engines of several nodes share one worker's queue without taking a task twice.
   */
  private async pumpNow(worker: string): Promise<void> {
    const w = this.workers.get(worker);
    if (!w || this.stopped || !this.hosted.has(worker) || w.retired) return;
    const policy = w.settings.breaker;
    let shared = await readWorkerBreaker(this.o.store, worker);
    this.noteBreaker(w, shared);
    let counts = (await this.o.store.workerTaskCounts()).get(worker);
    let limit = breakerStartLimit(shared.breaker, policy, this.clock(), this.holder, w.slots.free);
    // Half-open: one trial team-wide. Of engines taking it at once the store lets one through.
    let tookTrial = false;
    const due = (counts?.queued ?? 0) + (counts?.retrying ?? 0) > 0;
    if (limit === 0 && due && w.slots.free > 0 && breakerAt(shared.breaker, policy, this.clock()).state === 'half_open') {
      const r = await transitionWorkerBreaker(this.o.store, worker, (b) => breakerTakeTrial(b, policy, this.clock(), this.holder) ?? b, shared);
      this.noteBreaker(w, r);
      shared = r;
      tookTrial = r.changed;
      limit = breakerStartLimit(shared.breaker, policy, this.clock(), this.holder, w.slots.free);
    }
    // Lapsed runs of other engines take free slots whatever the breaker (they are runs already out);
    // new runs only as the breaker read above allows, and none if it changed since.
    const claim = await this.o.store.claimWorkerRuns(worker, { holder: this.holder, limit: w.slots.free, leaseMs: this.leaseMs, breakerVersion: shared.version, maxNew: limit });
    for (const t of claim.orphans) await this.takeOver(w, t);
    if (tookTrial) {
      const trialTask = claim.started[0]?.taskId;
      await this.stepBreaker(w, (b) => (trialTask ? breakerBindTrial(b, this.holder, trialTask) : breakerReleaseTrial(b, this.holder)));
      if (trialTask) this.o.log.info({ event: 'worker_breaker_trial', worker, task: trialTask }, 'worker circuit breaker half-open: trial run');
    }
    for (const t of claim.started) {
      w.slots.adopt(t.taskId);
      await this.launch(w, t);
    }
    if (claim.started.length > 0 || claim.orphans.length > 0) counts = (await this.o.store.workerTaskCounts()).get(worker);
    const waiting = (counts?.queued ?? 0) + (counts?.retrying ?? 0);
    this.idleAtLastCheck = waiting === 0 && w.active.size === 0;
    const retrying = counts && counts.retrying > 0 ? await this.o.store.listWorkerTasks({ worker, states: ['retrying'], limit: 100_000 }) : [];
    this.schedule(w, retrying, waiting);
    this.reportGauges(w, waiting);
  }

  /**
   * A run whose holder's lease lapsed, now leased to this engine: if it is this engine's own run
   * (its renewals were late) it goes on under the new token; otherwise its holder is gone, and the
   * run is recorded as lost and runs again (not counted against the retries or the breaker).
   */
  private async takeOver(w: WorkerState, t: WorkerTask): Promise<void> {
    const lease = t.lease ? { taskId: t.taskId, holder: t.lease.holder, token: t.lease.token } : null;
    const own = w.active.get(t.taskId);
    if (own && own.runId === t.runId) {
      own.lease = lease;
      return;
    }
    if (t.runId === null) return;
    const now = this.clock();
    const startedAt = t.startedAt ?? now;
    this.o.log.warn({ event: 'worker_run_taken_over', worker: w.settings.name, task: t.taskId, run: t.runId }, 'a run whose engine stopped renewing its lease is run again here');
    const lost: WorkerAttempt = {
      attempt: t.attempts,
      runId: t.runId,
      outcome: 'lost',
      exitCode: null,
      signal: null,
      startedAt,
      endedAt: now,
      error: 'the engine running it stopped renewing its lease (its node died or was cut off)',
    };
    try {
      await this.applyEnd(
        w,
        t,
        lost,
        { text: null, isError: true, usage: null, tokens: null, costUsd: null, malformed: null },
        { exitCode: null, signal: null, timedOut: false, killed: true, startedAt, endedAt: now, error: null },
        '',
        now,
        lease,
      );
    } catch (err) {
      this.o.log.warn({ event: 'worker_take_over_failed', worker: w.settings.name, task: t.taskId, error: errorMessage(err) }, 'cannot record a taken-over run');
    }
  }

  /** A timer for the next thing that can start a run without an event: a retry coming due, the breaker half-opening. */
  private schedule(w: WorkerState, retrying: readonly WorkerTask[], waiting: number): void {
    if (w.timer) clearTimeout(w.timer);
    w.timer = null;
    const now = this.clock();
    const due: number[] = [];
    const retry = nextRetryAt(retrying);
    if (retry !== null) due.push(retry);
    if (w.breaker.state === 'open' && w.breaker.openedAt !== null && waiting > 0) due.push(w.breaker.openedAt + w.settings.breaker.openMs);
    if (due.length === 0 || this.stopped) return;
    w.timer = setTimeout(() => void this.pump(w.settings.name), Math.max(0, Math.min(...due) - now) + 5);
    w.timer.unref();
  }

  private runDir(worker: string, taskId: string, attempt: number): string {
    return join(this.o.paths.runs, worker, taskId, String(attempt));
  }

  private cwdFor(w: WorkerState, t: WorkerTask, dir: string): string {
    const wanted = t.worktree ?? w.settings.worktree;
    if (wanted) return isAbsolute(wanted) ? wanted : resolve(this.o.root, wanted);
    return join(dir, 'work');
  }

  /** Starts the run the store recorded for `t` (claimed, or recorded by an engine that died before its window opened). */
  private async launch(w: WorkerState, t: WorkerTask, existing?: ActiveRun): Promise<void> {
    const worker = w.settings.name;
    const attempt = t.attempts;
    const runId = t.runId ?? `${t.taskId}.a${attempt}`;
    const dir = this.runDir(worker, t.taskId, attempt);
    const now = this.clock();
    const run: ActiveRun = existing ?? {
      taskId: t.taskId,
      runId,
      lease: t.lease ? { taskId: t.taskId, holder: t.lease.holder, token: t.lease.token } : null,
      attempt,
      dir,
      startedAt: t.startedAt ?? now,
      deadlineAt: t.deadlineAt ?? now + t.timeoutMs,
      stoppedAt: null,
      stopReason: null,
    };
    w.active.set(t.taskId, run);
    let opening = false;
    try {
      const profile = this.profiles.get(w.settings.profile);
      if (!profile?.oneShot) throw new Error(`profile "${w.settings.profile}" has no oneShot command`);
      const prompt = taskPrompt(t.description, t.metadata);
      const cwd = this.cwdFor(w, t, dir);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const scratch = cwd === join(dir, 'work');
      if (scratch) await mkdir(cwd, { recursive: true, mode: 0o700 });
      this.installRunHooks(w, t.taskId, cwd);
      const spec: TaskRunSpec = {
        argv: profile.oneShot.command.map((word) => (profile.oneShot!.prompt === 'stdin' ? this.o.expand(word) : this.o.expand(word).replaceAll('{prompt}', prompt))),
        ...(profile.oneShot.prompt === 'stdin' ? { stdin: prompt } : {}),
        cwd,
        env: { ...profile.env, ...w.settings.env, HORNETS_TASK_ID: t.taskId, HORNETS_TASK_ATTEMPT: String(attempt), HORNETS_WORKER: worker, HORNETS_RUN_DIR: dir },
        dir,
        timeoutMs: t.timeoutMs,
        killGraceMs: this.o.killGraceMs ?? DEFAULT_KILL_GRACE_MS,
        maxOutputBytes: this.o.maxOutputBytes ?? DEFAULT_MAX_OUTPUT,
      };
      await writeFile(join(dir, RUN_FILES.spec), `${JSON.stringify(spec)}\n`, { mode: 0o600 });
      opening = true;
      await this.o.windows.open(worker, runId, { argv: [...this.o.runnerArgv, dir], cwd: dir });
      this.o.log.info({ event: 'worker_run_started', worker, task: t.taskId, attempt, run: runId }, 'worker run started');
    } catch (err) {
      this.o.log.error({ event: 'worker_run_start_failed', worker, task: t.taskId, attempt, error: errorMessage(err) }, 'cannot start a worker run');
      // Recorded as the run's own end, so it takes the retry path like any failed run; a window tmux
      // failed (or was too slow) to open is no fault of the task: it runs again as a lost run, after
      // a pause, and a window that appeared after all is closed so the task never runs twice at once.
      await mkdir(dir, { recursive: true, mode: 0o700 }).catch(() => undefined);
      const exit: TaskRunExit = {
        exitCode: null,
        signal: null,
        timedOut: false,
        killed: false,
        startedAt: run.startedAt,
        endedAt: this.clock(),
        error: `cannot start the run: ${errorMessage(err)}`,
        ...(opening ? { notStarted: true } : {}),
      };
      // The end is written before the window is closed: closing it kills the wrapper, which then
      // writes its own end ("killed"), and the first end written is the one that counts. An end
      // already there is the run's own (its window opened late and it finished): that counts.
      try {
        writeExitOnce(dir, exit);
      } catch (writeErr) {
        this.o.log.error({ event: 'worker_run_end_write_failed', worker, run: runId, error: errorMessage(writeErr) }, 'cannot record the end of a run that did not start');
      }
      if (opening) {
        await this.o.windows.close(worker, runId).catch(() => undefined);
        const pgid = this.readPid(dir);
        if (pgid !== null) killGroup(pgid, 'SIGKILL');
      }
    }
  }

  private installRunHooks(w: WorkerState, taskId: string, cwd: string): void {
    if (!this.o.runHooks) return;
    try {
      if (this.o.runHooks.install(w.settings.profile, cwd)) this.o.log.info({ event: 'worker_run_hooks_installed', worker: w.settings.name, task: taskId, cwd }, 'hooks installed for a worker run');
    } catch (err) {
      // The run still goes: its result does not depend on its hooks.
      this.o.log.warn({ event: 'worker_run_hooks_failed', worker: w.settings.name, task: taskId, cwd, error: errorMessage(err) }, 'cannot install the hooks of a worker run');
    }
  }

  /** A scratch directory's hooks go with its run (a Gemini trust entry lives in the user's file). */
  private uninstallRunHooks(w: WorkerState, run: ActiveRun): void {
    const scratch = join(run.dir, 'work');
    if (!this.o.runHooks || !existsSync(scratch)) return;
    try {
      this.o.runHooks.uninstall(w.settings.profile, scratch);
    } catch (err) {
      this.o.log.warn({ event: 'worker_run_hooks_uninstall_failed', worker: w.settings.name, run: run.runId, error: errorMessage(err) }, 'cannot uninstall the hooks of a scratch run');
    }
  }

  private readRunHooks(worker: string, taskId: string, attempt: number): WorkerResultFile['hooks'] {
    let text = '';
    try {
      text = readFileSync(join(this.runDir(worker, taskId, attempt), RUN_HOOKS_FILE), 'utf8');
    } catch {
      // No hook called (or none installed).
    }
    const calls = parseRunHooks(text);
    const events: Record<string, number> = {};
    for (const c of calls) events[c.event] = (events[c.event] ?? 0) + 1;
    return { calls: calls.length, events };
  }

  // ------------------------------------------------------------ watching runs

  private ticking = false;

  private async tick(): Promise<void> {
    if (this.ticking || this.stopped) return;
    this.ticking = true;
    try {
      const now = this.clock();
      // Idle (no run out, nothing waiting at the last look) the store is read less often: only an
      // operator's `tasks retry` can add work there without a file, and it may wait a few seconds.
      const idle = this.idleAtLastCheck && [...this.workers.values()].every((w) => w.active.size === 0);
      const checkStore = now - this.lastStoreCheck >= (this.o.storeCheckMs ?? DEFAULT_STORE_CHECK_MS) * (idle ? IDLE_STORE_CHECK_FACTOR : 1);
      if (checkStore) this.lastStoreCheck = now;
      if (now - this.lastRenew >= this.leaseMs / 3) {
        this.lastRenew = now;
        await this.serial(() => this.renewLeases());
      }
      for (const w of this.hostedStates()) {
        for (const run of [...w.active.values()]) {
          if (existsSync(join(run.dir, RUN_FILES.exit))) await this.serial(() => this.endRun(w, run));
          else this.backstop(w, run, now);
        }
        if (checkStore) await this.serial(() => this.checkStore(w));
      }
    } catch (err) {
      this.o.log.error({ event: 'worker_tick_failed', error: errorMessage(err) }, 'worker check failed');
    } finally {
      this.ticking = false;
    }
  }

  /**
   * Renews the leases of every run out, in one call. A run whose lease another engine took over
   * (this one was cut off from the store for longer than the lease) is stopped without an end:
   * its task runs elsewhere, and its end here would be refused anyway.
   */
  private async renewLeases(): Promise<void> {
    const runs = this.hostedStates().flatMap((w) => [...w.active.values()].filter((r) => r.lease !== null).map((r) => ({ w, r })));
    if (runs.length === 0) return;
    let lost: string[];
    try {
      lost = await this.o.store.renewWorkerLeases(
        this.holder,
        runs.map(({ r }) => r.lease!),
        this.leaseMs,
      );
    } catch (err) {
      this.o.log.warn({ event: 'worker_lease_renew_failed', error: errorMessage(err) }, 'cannot renew the leases of worker runs; they go on');
      return;
    }
    for (const { w, r } of runs) if (lost.includes(r.taskId)) this.dropLostRun(w, r);
  }

  /** A run this engine no longer holds: its group and window go, its slot is free, no end is recorded. */
  private dropLostRun(w: WorkerState, run: ActiveRun): void {
    if (w.active.get(run.taskId) !== run) return;
    const pid = this.readPid(run.dir);
    if (pid !== null) killGroup(pid, 'SIGKILL');
    void this.o.windows.close(w.settings.name, run.runId).catch(() => undefined);
    this.release(w, run);
    this.o.log.warn({ event: 'worker_run_lease_lost', worker: w.settings.name, task: run.taskId, run: run.runId }, 'worker run stopped: its lease was taken over by another engine');
  }

  /** The wrapper keeps the deadline itself; if it did not (stuck, killed), the engine stops the group and the window. */
  private backstop(w: WorkerState, run: ActiveRun, now: number): void {
    if (run.stoppedAt !== null || now < run.deadlineAt + (this.o.killGraceMs ?? DEFAULT_KILL_GRACE_MS) + BACKSTOP_MS) return;
    this.stopRun(w, run, 'timeout', now);
  }

  private stopRun(w: WorkerState, run: ActiveRun, why: 'cancelled' | 'timeout', now: number): void {
    run.stoppedAt = now;
    run.stopReason = why;
    const pid = this.readPid(run.dir);
    if (pid !== null) killGroup(pid, 'SIGKILL');
    void this.o.windows.close(w.settings.name, run.runId).catch(() => undefined);
    this.o.log.warn({ event: 'worker_run_stopped', worker: w.settings.name, task: run.taskId, run: run.runId, why }, 'worker run stopped by the engine');
  }

  private readPid(dir: string): number | null {
    try {
      const p = JSON.parse(readFileSync(join(dir, RUN_FILES.pid), 'utf8')) as { pgid?: unknown };
      return typeof p.pgid === 'number' ? p.pgid : null;
    } catch {
      return null;
    }
  }

  /** Tasks changed by others: a cancelled running task's run is stopped; requeued ones are started. */
  private async checkStore(w: WorkerState): Promise<void> {
    const now = this.clock();
    const live = w.active.size > 0 ? await this.o.windows.live(w.settings.name) : new Set<string>();
    for (const run of w.active.values()) {
      if (run.stoppedAt === null && now - run.startedAt > VANISH_GRACE_MS && !live.has(run.runId)) await this.noteVanished(run, now);
      if (run.stoppedAt !== null) {
        // Stopped, but its wrapper wrote no end (killed with it): the end is written for it.
        if (now - run.stoppedAt > (this.o.killGraceMs ?? DEFAULT_KILL_GRACE_MS) + 1_000 && !existsSync(join(run.dir, RUN_FILES.exit))) {
          const exit: TaskRunExit = { exitCode: null, signal: 'SIGKILL', timedOut: run.stopReason === 'timeout', killed: true, startedAt: run.startedAt, endedAt: now, error: null };
          writeExitOnce(run.dir, exit);
        }
        continue;
      }
      const t = await this.o.store.getWorkerTask(run.taskId);
      if (t && t.state === 'cancelled') this.stopRun(w, run, 'cancelled', now);
    }
    await this.pumpNow(w.settings.name);
  }

  /**
   * A run whose window is gone and whose wrapper is dead without having written its end (killed
   * with the tmux server): its end is written for it, as stopped from outside (a lost run).
   */
  private async noteVanished(run: ActiveRun, now: number): Promise<void> {
    const exitFile = join(run.dir, RUN_FILES.exit);
    if (existsSync(exitFile)) return;
    let wrapperPid: number | null = null;
    let pgid: number | null = null;
    try {
      const p = JSON.parse(readFileSync(join(run.dir, RUN_FILES.pid), 'utf8')) as { wrapperPid?: unknown; pgid?: unknown };
      wrapperPid = typeof p.wrapperPid === 'number' ? p.wrapperPid : null;
      pgid = typeof p.pgid === 'number' ? p.pgid : null;
    } catch {
      // Never started, or died before it wrote its pid.
    }
    if (wrapperPid !== null && processAlive(wrapperPid)) return;
    if (existsSync(exitFile)) return;
    if (pgid !== null) killGroup(pgid, 'SIGKILL');
    const exit: TaskRunExit = { exitCode: null, signal: null, timedOut: false, killed: true, startedAt: run.startedAt, endedAt: now, error: null };
    writeExitOnce(run.dir, exit);
  }

  // ------------------------------------------------------------ ends

  private async readText(file: string): Promise<string> {
    try {
      return await readFile(file, 'utf8');
    } catch {
      return '';
    }
  }

  private async endRun(w: WorkerState, run: ActiveRun): Promise<void> {
    if (w.active.get(run.taskId) !== run) return; // ended already by an earlier pass
    const worker = w.settings.name;
    let exit: TaskRunExit;
    try {
      exit = JSON.parse(await readFile(join(run.dir, RUN_FILES.exit), 'utf8')) as TaskRunExit;
    } catch (err) {
      this.o.log.warn({ event: 'worker_exit_unreadable', worker, run: run.runId, error: errorMessage(err) }, 'run end not readable yet');
      return;
    }
    const task = await this.o.store.getWorkerTask(run.taskId);
    if (!task || task.runId !== run.runId || (task.state !== 'running' && task.state !== 'cancelled')) {
      // Its end was applied before (an engine that crashed after the write): nothing more to do.
      this.release(w, run);
      return;
    }
    // Still this engine's run? Renewing the lease says so and keeps it for the writes below: an
    // engine whose lease was taken over writes no result file, tells no one and ends nothing.
    if (run.lease) {
      let lost: string[];
      try {
        lost = await this.o.store.renewWorkerLeases(this.holder, [run.lease], this.leaseMs);
      } catch (err) {
        this.o.log.warn({ event: 'worker_lease_renew_failed', worker, run: run.runId, error: errorMessage(err) }, 'cannot confirm the lease of an ended run; trying again');
        return;
      }
      if (lost.length > 0) {
        this.dropLostRun(w, run);
        return;
      }
    }
    const stdout = await this.readText(join(run.dir, RUN_FILES.out));
    const stderr = await this.readText(join(run.dir, RUN_FILES.err));
    const profile = this.profiles.get(w.settings.profile);
    const output = parseOneShotOutput(profile?.oneShot?.output ?? 'text', stdout);
    const { outcome, error } = this.judge(task, run, exit, output, stderr);
    const attempt: WorkerAttempt = {
      attempt: run.attempt,
      runId: run.runId,
      outcome,
      exitCode: exit.exitCode,
      signal: exit.signal,
      startedAt: exit.startedAt ?? run.startedAt,
      endedAt: exit.endedAt,
      error,
      usage: runUsageOf(output, this.o.prices?.() ?? defaultPrices, modelOfArgv(profile?.oneShot?.command ?? [])),
    };
    const now = this.clock();
    const lastOutput = `${stdout}${stderr ? `\n[stderr]\n${stderr}` : ''}`.slice(-LAST_OUTPUT_CHARS);
    this.uninstallRunHooks(w, run);
    try {
      await this.applyEnd(w, task, attempt, output, exit, lastOutput, now, run.lease);
    } catch (err) {
      if (err instanceof QueueError && (err.code === 'invalid_state' || err.code === 'stale_fence')) {
        this.o.log.info({ event: 'worker_run_end_repeat', worker, run: run.runId }, 'run end applied before');
      } else {
        this.o.log.error({ event: 'worker_run_end_failed', worker, run: run.runId, error: errorMessage(err) }, 'cannot record the end of a run; trying again');
        return;
      }
    }
    this.release(w, run);
    void this.o.windows.close(worker, run.runId).catch(() => undefined);
    await this.pumpNow(worker);
  }

  private release(w: WorkerState, run: ActiveRun): void {
    if (w.active.get(run.taskId) === run) w.active.delete(run.taskId);
    w.slots.release(run.taskId);
    if (w.retired && w.active.size === 0) this.dropRetired();
  }

  private judge(task: WorkerTask, run: ActiveRun, exit: TaskRunExit, output: OneShotOutput, stderr: string): { outcome: AttemptOutcome; error: string | null } {
    const tail = (s: string) => s.trim().split('\n').slice(-3).join(' | ').slice(0, 500);
    if (task.state === 'cancelled' || run.stopReason === 'cancelled') return { outcome: 'cancelled', error: 'cancelled by the operator' };
    if (exit.timedOut || run.stopReason === 'timeout')
      return { outcome: 'timeout', error: `timed out after ${Math.round(task.timeoutMs / 1000)}s (attempt ${run.attempt}); its process group was killed` };
    if (exit.error && exit.notStarted) return { outcome: 'lost', error: exit.error };
    if (exit.error) return { outcome: 'failed', error: exit.error };
    // Killed from outside, not by the engine (the tmux server went, someone closed the window): not
    // the task's failure; it runs again without counting against its retries or the breaker.
    if (exit.killed) return { outcome: 'lost', error: `the run was stopped from outside (its window or tmux server went)${exit.signal ? `; it ended by ${exit.signal}` : ''}` };
    if (exit.signal) return { outcome: 'crashed', error: `the run died by ${exit.signal ?? 'a kill'}${stderr.trim() ? `: ${tail(stderr)}` : ''}` };
    if (exit.exitCode !== 0) return { outcome: 'failed', error: `exit code ${exit.exitCode}${output.text ? `: ${output.text.slice(0, 500)}` : stderr.trim() ? `: ${tail(stderr)}` : ''}` };
    if (output.malformed) return { outcome: 'failed', error: `malformed output: ${output.malformed}` };
    if (output.isError) return { outcome: 'failed', error: `the agent reported an error: ${(output.text ?? 'no text').slice(0, 500)}` };
    return { outcome: 'completed', error: null };
  }

  private async applyEnd(
    w: WorkerState,
    task: WorkerTask,
    attempt: WorkerAttempt,
    output: OneShotOutput,
    exit: TaskRunExit,
    lastOutput: string,
    now: number,
    lease: WorkerLeaseRef | null,
  ): Promise<void> {
    const fence = lease ?? undefined;
    const worker = w.settings.name;
    const history = [...task.history, attempt];
    const runMs = Math.max(0, attempt.endedAt - attempt.startedAt);
    const m = this.o.metrics;
    switch (attempt.outcome) {
      case 'completed': {
        await this.writeResult(task, history, 'completed', output, exit, null, now);
        await this.tell(task, `task ${task.taskId} for ${worker} completed: ${(output.text ?? '(no final text)').slice(0, NOTIFY_RESULT_CHARS)}`, 'completed');
        await this.endInStore(worker, task.taskId, { next: 'completed', attempt, result: output.text }, fence);
        await this.stepBreaker(w, () => breakerOnSuccess());
        m?.processed(worker, 'completed');
        m?.duration(worker, runMs / 1000);
        this.o.log.info({ event: 'worker_task_completed', worker, task: task.taskId, attempts: attempt.attempt, ms: runMs }, 'worker task completed');
        return;
      }
      case 'cancelled': {
        await this.writeResult(task, history, 'cancelled', output, exit, attempt.error, now);
        await this.endInStore(worker, task.taskId, { next: 'cancelled', attempt }, fence);
        await this.stepBreaker(w, (b) => breakerOnAbandon(b, w.settings.breaker, now, task.taskId));
        m?.processed(worker, 'cancelled');
        return;
      }
      case 'lost': {
        // A task whose runs keep vanishing fails in the end rather than running forever.
        if (history.filter((a) => a.outcome === 'lost').length <= MAX_LOST_RUNS) {
          // A window tmux could not open waits a little: tmux is likely busy or restarting.
          const retryAt = exit.notStarted ? now + NOT_STARTED_RETRY_MS * history.filter((a) => a.outcome === 'lost').length : now;
          await this.endInStore(worker, task.taskId, { next: 'retrying', attempt, retryAt }, fence);
          await this.stepBreaker(w, (b) => breakerOnAbandon(b, w.settings.breaker, now, task.taskId));
          this.o.log.warn({ event: 'worker_run_lost', worker, task: task.taskId, run: attempt.runId, reason: attempt.error }, 'worker run lost; running it again');
          return;
        }
        const gaveUp = { ...attempt, error: `${attempt.error ?? 'lost'}; more than ${MAX_LOST_RUNS} runs of it were lost` };
        return this.failedRun(w, task, gaveUp, [...task.history, gaveUp], output, exit, lastOutput, now, true, lease);
      }
      case 'failed':
      case 'timeout':
      case 'crashed':
        return this.failedRun(w, task, attempt, history, output, exit, lastOutput, now, false, lease);
    }
  }

  /** A failed run: the breaker counts it; the task retries with backoff, or ends failed in the DLQ. */
  private async failedRun(
    w: WorkerState,
    task: WorkerTask,
    attempt: WorkerAttempt,
    history: WorkerAttempt[],
    output: OneShotOutput,
    exit: TaskRunExit,
    lastOutput: string,
    now: number,
    final: boolean,
    lease: WorkerLeaseRef | null,
  ): Promise<void> {
    const fence = lease ?? undefined;
    const worker = w.settings.name;
    const runMs = Math.max(0, attempt.endedAt - attempt.startedAt);
    const m = this.o.metrics;
    const before = w.breaker.state;
    await this.stepBreaker(w, (b) => breakerOnFailure(b, w.settings.breaker, now));
    if (w.breaker.state === 'open' && before !== 'open') this.o.log.warn({ event: 'worker_breaker_open', worker, failures: w.breaker.failures }, 'worker circuit breaker opened');
    m?.failed(worker, attempt.outcome === 'failed' ? 'error' : attempt.outcome);
    m?.duration(worker, runMs / 1000);
    const failures = failuresSinceRequeue({ history, failuresBase: task.failuresBase });
    if (!final && failures <= task.maxRetries) {
      const delay = workerRetryDelayMs(failures, w.settings.retry, this.random);
      await this.endInStore(worker, task.taskId, { next: 'retrying', attempt, retryAt: now + delay }, fence);
      this.o.log.warn({ event: 'worker_task_retry', worker, task: task.taskId, attempt: attempt.attempt, reason: attempt.error, retryInMs: delay }, 'worker run failed; retrying');
      return;
    }
    const reason = task.maxRetries > 0 ? `${attempt.error ?? attempt.outcome}; gave up after ${failures} failed runs` : (attempt.error ?? attempt.outcome);
    // The DLQ entry before the result file: whoever sees the result finds the entry too.
    const source = task.source ?? `${JSON.stringify({ task_id: task.taskId, description: task.description, worker }, null, 2)}\n`;
    await deadLetter(this.o.paths.dlq, worker, `${task.taskId}.json`, null, reason, now, { task_id: task.taskId, attempts: history.length, outcome: attempt.outcome, last_output: lastOutput }, source);
    await this.writeResult(task, history, 'failed', output, exit, reason, now);
    await this.tell(task, `task ${task.taskId} for ${worker} failed: ${reason}`, 'failed');
    await this.endInStore(worker, task.taskId, { next: 'failed', attempt }, fence);
    m?.processed(worker, 'failed');
    this.o.log.warn({ event: 'worker_task_failed', worker, task: task.taskId, attempts: history.length, reason }, 'worker task failed; dead-lettered');
  }

  /** The run's end into the store, then its usage into the metrics: the store takes an end once, so a run counts once. */
  private async endInStore(worker: string, taskId: string, end: AttemptEnd, fence: WorkerLeaseRef | undefined): Promise<void> {
    await this.o.store.endWorkerRun(taskId, end.attempt.runId, end, fence);
    if (end.attempt.usage) this.o.metrics?.usage?.(worker, end.attempt.usage);
  }

  private resultFile(worker: string, taskId: string): string {
    return join(this.o.paths.results, worker, `${taskId}.json`);
  }

  private async writeResult(
    task: WorkerTask,
    history: WorkerAttempt[],
    status: WorkerResultFile['status'],
    output: OneShotOutput,
    exit: TaskRunExit,
    error: string | null,
    now: number,
  ): Promise<void> {
    const last = history[history.length - 1]!;
    const totals = taskUsageOf(history);
    let metadata: unknown = null;
    try {
      metadata = task.metadata ? (JSON.parse(task.metadata) as unknown) : null;
    } catch {
      metadata = task.metadata;
    }
    const record: WorkerResultFile = {
      task_id: task.taskId,
      worker: task.worker,
      status,
      exit_code: exit.exitCode,
      duration_ms: Math.max(0, last.endedAt - last.startedAt),
      total_duration_ms: Math.max(0, now - task.createdAt),
      result: status === 'completed' ? output.text : null,
      ...(error !== null ? { error } : {}),
      usage: output.usage,
      cost_usd: output.costUsd,
      totals: {
        input_tokens: totals.input,
        output_tokens: totals.output,
        cache_read_tokens: totals.cacheRead,
        cache_creation_tokens: totals.cacheCreation,
        cost_usd: totals.costUsd,
        runs: totals.runs,
      },
      attempts: history.map((a) => ({
        attempt: a.attempt,
        run_id: a.runId,
        outcome: a.outcome,
        exit_code: a.exitCode,
        signal: a.signal,
        started_at: new Date(a.startedAt).toISOString(),
        ended_at: new Date(a.endedAt).toISOString(),
        duration_ms: Math.max(0, a.endedAt - a.startedAt),
        error: a.error,
        usage: a.usage
          ? {
              input_tokens: a.usage.input,
              output_tokens: a.usage.output,
              cache_read_tokens: a.usage.cacheRead,
              cache_creation_tokens: a.usage.cacheCreation,
              cost_usd: a.usage.costUsd,
              cost_source: a.usage.costSource,
              model: a.usage.model,
            }
          : null,
      })),
      from: task.from,
      metadata,
      hooks: this.readRunHooks(task.worker, task.taskId, last.attempt),
      completed_at: new Date(now).toISOString(),
    };
    await writeJsonAtomic(this.resultFile(task.worker, task.taskId), record);
  }

  private async tell(task: WorkerTask, text: string, status: 'completed' | 'failed'): Promise<void> {
    if (!task.from || !this.o.notify) return;
    try {
      await this.o.notify(task.from, text, { task_id: task.taskId, worker: task.worker, status, result_file: this.resultFile(task.worker, task.taskId) });
    } catch (err) {
      // A full queue of the asking agent must not hold the result back: the result file is the record.
      this.o.log.error({ event: 'worker_notify_failed', worker: task.worker, task: task.taskId, to: task.from, error: errorMessage(err) }, 'cannot tell the asking agent');
    }
  }

  // ------------------------------------------------------------ recovery

  private async recover(): Promise<void> {
    const listed = await this.o.store.listWorkerTasks({ states: ['running'], limit: 100_000 });
    // This engine's runs: leased to its holder (a restarted engine of the same node), or started
    // without a lease (by an engine before leases). Another node's runs are that node's.
    const candidates = listed.filter((t) => this.hosted.has(t.worker) && t.runId !== null && (t.lease === null || t.lease.holder === this.holder));
    const leased = candidates.flatMap((t) => (t.lease ? [{ taskId: t.taskId, holder: t.lease.holder, token: t.lease.token }] : []));
    const lost = new Set(leased.length > 0 ? await this.o.store.renewWorkerLeases(this.holder, leased, this.leaseMs) : []);
    const running = candidates.filter((t) => !lost.has(t.taskId));
    // The breaker lives in the store: an open one stays open across an engine restart (a crash loop
    // must not hammer a failing worker), and a half-open trial stays bound to its task's run.
    const saved = await this.o.store.workerBreakers();
    for (const w of this.workers.values()) w.breaker = breakerFromSaved(saved.get(w.settings.name)).breaker;
    const liveByWorker = new Map<string, Set<string>>();
    for (const name of this.hostedNames()) liveByWorker.set(name, await this.o.windows.live(name));
    for (const t of running) {
      const w = this.workers.get(t.worker);
      if (!w || t.runId === null) continue;
      const live = liveByWorker.get(t.worker) ?? new Set<string>();
      const attempt = t.attempts;
      const dir = this.runDir(t.worker, t.taskId, attempt);
      const run: ActiveRun = {
        taskId: t.taskId,
        runId: t.runId,
        lease: t.lease ? { taskId: t.taskId, holder: t.lease.holder, token: t.lease.token } : null,
        attempt,
        dir,
        startedAt: t.startedAt ?? this.clock(),
        deadlineAt: t.deadlineAt ?? this.clock(),
        stoppedAt: null,
        stopReason: null,
      };
      w.slots.adopt(t.taskId);
      w.active.set(t.taskId, run);
      if (existsSync(join(dir, RUN_FILES.exit))) {
        this.o.log.info({ event: 'worker_run_ended_meanwhile', worker: t.worker, run: t.runId }, 'a run ended while no engine watched');
        await this.endRun(w, run);
      } else if (live.has(t.runId)) {
        this.o.log.info({ event: 'worker_run_adopted', worker: t.worker, run: t.runId }, 'adopted a run still going');
      } else if (!existsSync(join(dir, RUN_FILES.pid))) {
        // Recorded but never started (the engine died between the record and the window): start it now.
        this.o.log.info({ event: 'worker_run_restarted', worker: t.worker, run: t.runId }, 'starting a run that was recorded but never started');
        await this.launch(w, t, run);
      } else {
        // Started, gone, no end written: its wrapper was killed (with the tmux server, say).
        const pgid = this.readPid(dir);
        if (pgid !== null && groupAlive(pgid)) killGroup(pgid, 'SIGKILL');
        const now = this.clock();
        const lost: WorkerAttempt = {
          attempt,
          runId: t.runId,
          outcome: 'lost',
          exitCode: null,
          signal: null,
          startedAt: run.startedAt,
          endedAt: now,
          error: 'the run vanished without reporting an end (its window is gone)',
        };
        await this.applyEnd(
          w,
          t,
          lost,
          { text: null, isError: true, usage: null, tokens: null, costUsd: null, malformed: null },
          { exitCode: null, signal: null, timedOut: false, killed: true, startedAt: run.startedAt, endedAt: now, error: null },
          '',
          now,
          run.lease,
        );
        this.release(w, run);
      }
    }
    await this.stopForeignRuns(liveByWorker);
  }

  /**
   * Windows of runs this engine does not hold (their leases were taken over by another node's
   * engine while this one was away): the run goes on there, so its copy here is stopped.
   */
  private async stopForeignRuns(liveByWorker: ReadonlyMap<string, Set<string>>): Promise<void> {
    for (const [name, live] of liveByWorker) {
      const w = this.workers.get(name);
      if (!w) continue;
      const mine = new Set([...w.active.values()].map((r) => r.runId));
      for (const runId of live) {
        const m = /^(.+)\.a(\d+)$/.exec(runId);
        if (mine.has(runId) || !m) continue;
        const pgid = this.readPid(this.runDir(name, m[1]!, Number(m[2])));
        if (pgid !== null && groupAlive(pgid)) killGroup(pgid, 'SIGKILL');
        await this.o.windows.close(name, runId).catch(() => undefined);
        this.o.log.warn({ event: 'worker_foreign_run_stopped', worker: name, run: runId }, 'stopped a run whose task another engine holds now');
      }
    }
  }

  // ------------------------------------------------------------ gauges

  private reportGauges(w: WorkerState, waiting: number): void {
    const m = this.o.metrics;
    if (!m) return;
    const b = breakerAt(w.breaker, w.settings.breaker, this.clock());
    m.gauges(w.settings.name, { queued: waiting, active: w.slots.inUse, breaker: breakerGaugeValue[b.state] });
  }
}
