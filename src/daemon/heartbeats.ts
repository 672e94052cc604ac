/**
 * Heartbeat files for liveness probes (the seed systems' `/shared/heartbeats`): every interval,
 * `.hornets/heartbeats/<agent>.json` and `daemon.json` are rewritten atomically (temp + rename),
 * so a reader never sees half a file. They read as the seeds' probes expect: `timestamp` in epoch
 * seconds (`time.time() - float(hb['timestamp'])`, seed 003), a one-word `status`, `active_tasks`,
 * and seed 000's name `<agent>-watcher.json` as a link to the same file. `ts` (ms) and `time`
 * (ISO 8601) are hornets' own.
 */
import { symlinkSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import type { StatePaths } from '../config/paths.js';
import type { MessageStore, TaskStore } from '../queue/store.js';
import { errorMessage } from '../errors.js';
import { writeFileAtomicSync } from '../util/private-files.js';
import { pendingStates } from '../domain/message.js';
import { heartbeatStatus, type HeartbeatStatus } from '../domain/heartbeat-status.js';

export interface AgentHeartbeat {
  name: string;
  state: string;
  /** The agent's process id (pane pid), when known. */
  pid: number | null;
  generation: number;
  queueDepth: number;
  activeTasks: number;
  /** Set where the state is not an agent's (a task worker's breaker): else from state and pid. */
  status?: HeartbeatStatus;
  /** More fields for the file (a task worker's breaker and slots). */
  extra?: Record<string, unknown>;
}

export interface HeartbeatOptions {
  paths: Pick<StatePaths, 'heartbeats'>;
  log: Logger;
  /** Default 10 s (daemon.heartbeatInterval / HEARTBEAT_INTERVAL). */
  intervalMs: number;
  /** The engine's view of every agent at this moment. */
  snapshot: () => AgentHeartbeat[] | Promise<AgentHeartbeat[]>;
  clock?: () => number;
  daemonPid?: number;
  /** Extra fields for daemon.json (hook port, version, …). */
  daemonInfo?: () => Record<string, unknown>;
}

/** The longest the beat writes files without letting the event loop run (wakes, hooks). */
const YIELD_AFTER_MS = 2;

export class Heartbeats {
  private timer: NodeJS.Timeout | null = null;
  private readonly clock: () => number;
  private readonly pid: number;
  private readonly startedAt: number;
  private beating: Promise<void> | null = null;
  /** beatSoon() asked for another pass after the one under way. */
  private again = false;
  private failures = 0;
  /** What each agent's file says, but its time: to skip rewriting a stopped agent's unchanged file. */
  private readonly written = new Map<string, string>();
  /** Agents whose `<agent>-watcher.json` link this process made (or found). */
  private readonly linked = new Set<string>();
  /** Set by start(): only a started daemon owns the heartbeat files and may write "stopped". */
  private owned = false;

  constructor(private readonly o: HeartbeatOptions) {
    this.clock = o.clock ?? Date.now;
    this.pid = o.daemonPid ?? process.pid;
    this.startedAt = this.clock();
  }

  fileFor(agent: string): string {
    return join(this.o.paths.heartbeats, `${agent}.json`);
  }

  get daemonFile(): string {
    return join(this.o.paths.heartbeats, 'daemon.json');
  }

  async start(): Promise<void> {
    this.owned = true;
    await mkdir(this.o.paths.heartbeats, { recursive: true, mode: 0o700 }).catch(() => undefined);
    await this.beat();
    this.timer = setInterval(() => void this.beat(), this.o.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.beating;
    if (!this.owned) return;
    this.owned = false;
    // A last word, so a probe can tell "stopped" from "hung".
    await this.writeDaemon('stopped', null).catch(() => undefined);
  }

  /**
   * Something a reader waits for changed (a worker's breaker): writes the files again now, or
   * right after the pass under way (which may have read the state before the change).
   */
  beatSoon(): void {
    if (!this.beating) {
      void this.beat();
      return;
    }
    if (this.again) return;
    this.again = true;
    void this.beating.then(() => {
      this.again = false;
      return this.beat();
    });
  }

  /** Writes every file now; overlapping calls share one pass. Never throws (failures are logged). */
  beat(): Promise<void> {
    if (this.beating) return this.beating;
    const run = (async () => {
      try {
        const agents = await this.o.snapshot();
        // Once per beat, not once per file: 50 agents would mean 50 mkdir calls every interval.
        await this.ensureDir();
        const now = this.clock();
        const stamp = { timestamp: now / 1000, ts: now, time: new Date(now).toISOString() };
        let slice = performance.now();
        for (const a of agents) {
          // The writes are synchronous (see write()); on a busy disk a rename can take milliseconds,
          // and a wake arriving meanwhile (a message for an agent) must not wait for all of them.
          if (performance.now() - slice >= YIELD_AFTER_MS) {
            await new Promise<void>((resolve) => setImmediate(resolve));
            slice = performance.now();
          }
          const content = {
            agent: a.name,
            status: a.status ?? heartbeatStatus(a.state, a.pid !== null),
            state: a.state,
            pid: a.pid,
            generation: a.generation,
            queue_depth: a.queueDepth,
            active_tasks: a.activeTasks,
            daemon_pid: this.pid,
            ...a.extra,
          };
          // An agent with no process (stopped, failed, never started) has its file written when it
          // changes, not every interval: its age says nothing about a process that is not there, and
          // a team of thousands configured but not running would cost the engine a file per agent
          // per interval (issue 11, item 14).
          const key = JSON.stringify(content);
          if (a.pid === null && this.written.get(a.name) === key) continue;
          await this.write(this.fileFor(a.name), { ...stamp, ...content });
          this.written.set(a.name, key);
          this.link(a.name);
        }
        await this.writeDaemon('running', agents.length);
        if (this.failures > 0) this.o.log.info({ event: 'heartbeat_recovered' }, 'heartbeats written again');
        this.failures = 0;
      } catch (err) {
        // Log the first failure of a run, not one per interval.
        if (this.failures++ === 0) this.o.log.error({ event: 'heartbeat_failed', error: errorMessage(err) }, 'cannot write heartbeats');
      }
    })().finally(() => {
      if (this.beating === run) this.beating = null;
    });
    this.beating = run;
    return run;
  }

  /**
   * The heartbeat directory again if someone removed it, but never its parents: an engine stopping
   * after its project was deleted must not bring back an empty project tree (start makes them).
   */
  private async ensureDir(): Promise<void> {
    await mkdir(this.o.paths.heartbeats, { mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
  }

  private async writeDaemon(state: 'running' | 'stopped', agents: number | null): Promise<void> {
    if (state === 'stopped') await this.ensureDir();
    const now = this.clock();
    await this.write(this.daemonFile, {
      timestamp: now / 1000,
      ts: now,
      time: new Date(now).toISOString(),
      status: state === 'running' ? 'healthy' : 'stopped',
      state,
      pid: this.pid,
      started_at: new Date(this.startedAt).toISOString(),
      uptime_s: Math.round((now - this.startedAt) / 1000),
      interval_ms: this.o.intervalMs,
      ...(agents !== null ? { agents } : {}),
      ...(this.o.daemonInfo?.() ?? {}),
    });
  }

  /**
   * Seed 000's probes look for `<agent>-watcher.json`: a relative link to `<agent>.json`, made once
   * (an atomic rename of the target keeps it valid), so the same bytes are never written twice.
   */
  private link(agent: string): void {
    if (this.linked.has(agent)) return;
    try {
      symlinkSync(`${agent}.json`, join(this.o.paths.heartbeats, `${agent}-watcher.json`));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    this.linked.add(agent);
  }

  /**
   * Synchronous on purpose: a few hundred bytes to a local file take microseconds, while the
   * promise versions cost four thread-pool round trips per file — most of an idle engine's
   * heartbeat CPU with 50 agents every interval.
   */
  private async write(file: string, value: unknown): Promise<void> {
    writeFileAtomicSync(file, `${JSON.stringify(value)}\n`, 0o600);
    return Promise.resolve();
  }
}

/**
 * A snapshot of `agents` (the engine's own: on a Redis team, this node's share) built from the store
 * alone (state, generation, queue depth, running tasks), in one read of theirs; the engine adds pids
 * from tmux through `pidOf`.
 */
export async function storeSnapshot(store: MessageStore & Partial<TaskStore>, agents: readonly string[], pidOf: (agent: string) => number | null = () => null): Promise<AgentHeartbeat[]> {
  const [overview, tasks] = await Promise.all([store.agentOverview(agents), store.taskCounts ? store.taskCounts(agents) : Promise.resolve(new Map())]);
  return overview.map(({ record: a, counts }) => ({
    name: a.name,
    state: a.paused ? 'paused' : a.state,
    pid: pidOf(a.name),
    generation: a.generation,
    queueDepth: pendingStates.reduce((n, st) => n + counts[st], 0),
    activeTasks: (tasks.get(a.name) as { running?: number } | undefined)?.running ?? 0,
  }));
}
