/**
 * The engine process (`hornets-tui daemon run`, `--headless`): owns the long-lived database
 * connection, the hook fast path, the engine (idle monitor, recovery, reconciliation), the
 * trigger/task/pipe watchers, heartbeat files and the metrics endpoint — one start/stop life cycle.
 */
import { launchEnv } from '../config/process-env.js';
import { existsSync, statSync } from 'node:fs';
import { loadProject } from '../config/load.js';
import { nodeContext, registerChangedAgents } from '../services/project-context.js';
import { hostedWorkers, nodeProject, processNode } from '../config/nodes.js';
import { NodeMembership } from './node-membership.js';
import { errorMessage } from '../errors.js';
import { durationMs } from '../domain/duration.js';
import type { ProjectContext } from '../services/context.js';
import { resolveDaemonConfig, type DaemonSettings } from '../config/env.js';
import type { StoreDamage, MessageStore, StoreReachability, TaskStore } from '../queue/store.js';
import { HookServer } from './hook-server.js';
import { EventFeed } from './event-feed.js';
import { Notifier } from './notifier.js';
import { acquireLock } from './lock.js';
import { pidFile } from '../engine-client/paths.js';
import { Engine, type EngineOptions } from './engine.js';
import { breakerValue, collectQueueMetrics, collectSeedGauges, createHornetsMetrics, MetricsServer, observeDeliveries, type HornetsMetrics, type ReadyInfo } from './metrics.js';
import { Heartbeats, storeSnapshot, type AgentHeartbeat } from './heartbeats.js';
import { TriggerWatcher } from './watchers/triggers.js';
import { TaskWatcher } from './watchers/tasks.js';
import { createDaemonWorkers } from './workers/wire.js';
import { defaultPrices } from '../domain/usage.js';
import { allWorkerSettings } from '../config/workers.js';
import type { WorkerPool } from './workers/pool.js';
import { PipeWatcher } from './watchers/pipes.js';
import { RetentionTimer } from './retention.js';
import { dutyTurn, singleHostDuties, type DutyGate } from './cluster-duties.js';

export interface DaemonOptions extends EngineOptions {
  env?: NodeJS.ProcessEnv;
  /** Metrics port override (tests pass 0). */
  metricsPort?: number;
  /** How often the daemon checks that its project still exists (default 5 s). */
  projectCheckMs?: number;
}

/** Agent states in which the agent has a process (its heartbeat wants a pid). */
const PROCESS_STATES: ReadonlySet<string> = new Set(['starting', 'busy', 'idle', 'needs-input', 'limited', 'compacting', 'stuck', 'paused']);
const PID_CATCH_UP_MS = 3_000;

export class Daemon {
  private lastPidCatchUp = 0;
  private release: (() => void) | null = null;
  readonly settings: DaemonSettings;
  readonly metrics: HornetsMetrics;
  readonly hooks: HookServer;
  readonly engine: Engine;
  /** The event stream of `hornets-tui events --follow` and `wait` (GET /events). */
  readonly feed: EventFeed;
  /** hornets.json `notify`: the engine's channels (tmux status line, notify-send, webhook); null when none is on. */
  /** Always there, idle unless hornets.json's `notify` turns an engine-side channel on (also later, by an edit). */
  readonly notifier: Notifier;
  readonly metricsServer: MetricsServer;
  readonly triggers: TriggerWatcher;
  readonly tasks: TaskWatcher;
  /** Task workers (hornets.json `workers`), or null when there are none. */
  readonly workers: WorkerPool | null;
  readonly pipes: PipeWatcher;
  readonly heartbeats: Heartbeats;
  readonly retention: RetentionTimer;
  private stopping: Promise<void> | null = null;
  /** Parts that started, in start order: stop() stops these and nothing else. */
  private readonly started: { stop(): Promise<void> }[] = [];
  private readonly startedAt = Date.now();
  private projectTimer: NodeJS.Timeout | null = null;
  private integrityTimer: NodeJS.Timeout | null = null;
  private damageLogged = false;
  private readonly projectCheckMs: number;
  /**
   * Called when the daemon decides to leave by itself (its project directory is gone); the
   * foreground loop sets it so the process exits as on SIGTERM. Without one, the daemon just stops.
   */
  onExitRequest: (() => void) | null = null;
  /**
   * Called once when the database under the engine was deleted or replaced (or the whole state
   * directory went, as with `git clean -fdX`): the foreground loop puts the engine's copy back and
   * starts the engine again on it (see cli/daemon-commands.ts). Without one, the engine stops.
   */
  onRecoverRequest: ((why: string) => void) | null = null;
  /**
   * Called once when this engine's node registration is lost (Redis unreachable for longer than the
   * heartbeat allows, or the name taken after it expired): the foreground loop stops this engine and
   * starts a new one as soon as the name can be held again (see cli/daemon-commands.ts). Without
   * one, the engine stops managing agents and answering hooks and stays so.
   */
  onNodeLost: ((reason: string) => void) | null = null;
  private recovering = false;
  /** hornets.json as last loaded (mtime, size, inode): a change is a team to reload. */
  private configSeen: string | null = null;
  private reloading: Promise<void> = Promise.resolve();
  private readonly env: NodeJS.ProcessEnv;
  /** The node this engine is (a Redis team): it runs only that node's agents. */
  readonly node: string;
  private readonly ctx: ProjectContext;
  /** How variables read two ways were taken (RETRY_BACKOFF), for the start log. */
  private readonly envNotes: string[];
  readonly membership: NodeMembership | null;
  /** The team's task workers as hornets.json declares them (their `nodes`). */
  private readonly teamWorkers: readonly { name: string; nodes?: string[] | undefined }[];

  constructor(teamCtx: ProjectContext, options: DaemonOptions = {}) {
    this.env = options.env ?? launchEnv();
    this.node = processNode(this.env);
    const ctx = nodeContext(teamCtx, this.node);
    this.ctx = ctx;
    const resolved = resolveDaemonConfig(ctx.project.config, this.env);
    this.settings = resolved.settings;
    this.envNotes = resolved.notes;
    // A stat or two per second: a deleted database is put back before a CLI needs it.
    this.projectCheckMs = options.projectCheckMs ?? 1000;
    const config = resolved.config;
    const paths = ctx.project.paths;
    const store = ctx.store as MessageStore & TaskStore;
    const log = (component: string) => ctx.log.child({ component });
    this.metrics = createHornetsMetrics(undefined, { node: this.node });
    this.teamWorkers = teamCtx.project.config.workers;
    const wake = (agent: string) => this.engine.wake(agent);
    const selection = ctx.selection;
    // Sweep and retention cover the whole team: on Redis only the elected leader runs them.
    const duties: DutyGate = selection.kind === 'redis' ? { turn: () => dutyTurn('cluster', this.membership?.leaderFence() ?? null) } : singleHostDuties;

    this.pipes = new PipeWatcher({
      store,
      paths,
      config,
      log: log('pipes'),
      wake,
      onControl: (action, agent) => this.engine.control(action, agent).then(() => undefined),
    });
    this.feed = new EventFeed({ store, agents: () => ctx.project.config.agents.map((a) => a.name), log: log('events') });
    this.notifier = new Notifier({
      config: ctx.project.config.notify,
      project: ctx.project.config.project,
      node: this.node,
      store,
      agents: () => ctx.project.config.agents.map((a) => a.name),
      setStatus: (text) => this.engine.agents.tmux.setStatusRight(text),
      path: this.env.PATH,
      log: log('notify'),
    });
    this.engine = new Engine(ctx, {
      policy: this.settings.restartPolicy,
      holdAlertMs: this.settings.holdAlertMs,
      duties,
      // Reclaimed leases of another node's agents: that node delivers them now, not at its next round.
      onSwept: () => void this.membership?.wakeOtherNodes(),
      ...options,
      // The notifier hears of state changes from the store itself (the change, no read).
      onActivity: (agent) => this.feed.poke(agent),
      onOverBudget: (agent, reason) => {
        this.feed.poke(agent);
        this.notifier.overBudget(agent, reason, Date.now());
        options.onOverBudget?.(agent, reason);
      },
      onStateChange: (agent, from, to, detail) => {
        this.feed.poke(agent);
        this.pipes.publish(agent, { from, to, ...detail });
        const breaker = to === 'failed' ? 'open' : from === 'failed' ? 'closed' : null;
        if (breaker) this.metrics.circuitBreakerState.set({ worker: agent }, breakerValue[breaker]);
        options.onStateChange?.(agent, from, to, detail);
      },
      onRestart: (agent) => {
        this.metrics.agentRestarts.inc({ agent });
        options.onRestart?.(agent);
      },
    });
    // hornets.json `watch`: inotify events, or a poll for directories on a network volume.
    const watch = { mode: config.watch.mode, intervalMs: durationMs(config.watch.interval) };
    this.workers = createDaemonWorkers({
      config,
      root: ctx.project.root,
      paths,
      profiles: ctx.project.profiles,
      currentProfiles: () => ctx.project.profiles,
      store,
      tmux: this.engine.agents.tmux,
      session: this.engine.agents.session,
      log: log('workers'),
      metrics: this.metrics,
      // The asking agent may run on another node: its engine is woken through Redis.
      wake: (agent) => (config.agents.some((a) => a.name === agent) ? wake(agent) : void this.membership?.wakeOtherNodes(agent)),
      onBreaker: () => this.heartbeats.beatSoon(),
      ...(selection.kind === 'redis' ? { node: { name: this.node, hosted: hostedWorkers(config, selection, this.node) }, onQueued: (worker: string) => this.wakeWorkerNodes(worker) } : {}),
      teamAgents: teamCtx.project.config.agents.map((a) => a.name),
      // As the agents' usage is priced: the configuration of the moment (a reload changes it).
      prices: () => ({ ...defaultPrices, ...ctx.project.config.pricing }),
    });
    this.tasks = new TaskWatcher({
      workers: this.workers,
      store,
      paths,
      config,
      watch,
      settings: { taskTimeoutMs: this.settings.taskTimeoutMs, taskMaxRetries: this.settings.taskMaxRetries, taskRetryBackoffMs: this.settings.taskRetryBackoffMs },
      log: log('tasks'),
      wake,
      metrics: this.metrics,
      ownAgentsOnly: selection.kind === 'redis',
    });
    this.triggers = new TriggerWatcher({ store, paths, config, log: log('triggers'), wake, metrics: this.metrics, watch });
    this.hooks = new HookServer({
      store,
      stateDir: paths.root,
      port: ctx.project.config.daemon.hookPort,
      configPath: ctx.project.configPath,
      log: log('hook-server'),
      onHook: (info) => {
        this.metrics.hookDuration.observe({ event: info.event }, info.ms / 1000);
        if (info.delivered.length) void observeDeliveries(this.metrics, store, info.delivered).catch(() => undefined);
        if (info.event === 'Stop') void this.tasks.checkCompletions().catch(() => undefined);
        this.engine.onHook(info.agent, info.event, info.transcriptPath);
      },
      onAck: (ids) => {
        void observeDeliveries(this.metrics, store, ids).catch(() => undefined);
        this.feed.poke(null);
      },
      onEvents: (res, agent) => this.feed.subscribe(res, agent),
      onWake: (agent) => this.engine.wake(agent),
      onPaneDied: (pane, status) => this.engine.onPaneDied(pane, status),
      onControl: (action, agent, options) => this.engine.control(action, agent, options),
      onConfigChanged: () => this.reloadTeam('poke'),
      health: () => ({ metricsUrl: this.metricsServer.port ? this.metricsServer.url : null }),
    });
    this.metricsServer = new MetricsServer({
      registry: this.metrics.registry,
      port: options.metricsPort ?? this.settings.metricsPort,
      host: this.settings.metricsHost,
      runDir: paths.run,
      log: log('metrics'),
      collect: async () => {
        this.scrapeSharing = await this.workerSharing();
        await collectQueueMetrics(this.metrics, store);
      },
      derive: () => collectSeedGauges(this.metrics, this.scrapeSharing),
      ready: () => this.readiness(),
      health: async () => {
        // Damage found by any process (a CLI's SQLITE_CORRUPT leaves a marker) makes the engine unhealthy.
        const damage = store.damage?.() ?? null;
        this.metrics.databaseDamaged.set({}, damage ? 1 : 0);
        const agents = damage ? [] : await store.listAgents();
        const failed = agents.filter((a) => a.state === 'failed').map((a) => a.name);
        return {
          status: damage ? 'unhealthy' : failed.length ? 'degraded' : 'ok',
          ...(damage ? { database: { damaged: true, ...damage, recovery: 'see README, "A damaged database"' } } : {}),
          pid: process.pid,
          uptime_s: Math.round((Date.now() - this.startedAt) / 1000),
          agents: agents.map((a) => ({ name: a.name, state: a.state })),
          failed,
        };
      },
    });
    const workers = this.workers;
    this.retention = new RetentionTimer({
      store,
      retention: config.retention,
      log: log('retention'),
      duties,
      ...(workers ? { pruneRunDirs: (olderThanMs: number) => workers.pruneRuns(olderThanMs) } : {}),
    });
    this.membership =
      selection.kind === 'redis'
        ? new NodeMembership({
            selection,
            node: this.node,
            log: log('node'),
            hookEndpoint: () => undefined,
            metricsUrl: () => (this.metricsServer.port ? this.metricsServer.url : undefined),
            tmux: { socket: this.engine.agents.tmux.server.socket, session: this.engine.agents.session },
            wake: (agent) => {
              // A wake naming a worker: a task was queued for it on another host; null (a
              // reconnect): wakes may have been missed, so the workers look at their queues too.
              const workers = this.workers;
              if (workers && (agent === null || workers.names().includes(agent))) {
                for (const w of agent === null ? workers.hostedNames() : [agent]) void workers.pump(w);
                if (agent !== null) return;
              }
              this.engine.wake(agent);
            },
            control: (action, agent) => this.engine.control(action, agent),
            onLost: (event) => {
              ctx.log.error({ event: 'node_lost', node: event.node, reason: event.reason }, `node "${event.node}" lost its registration (${event.reason}): the engine stops managing its agents`);
              void this.engine.stop();
              // Its agents' hooks must not take messages through it either: the name may now be
              // another engine's, whose copies of these agents take them.
              void this.hooks.stop();
              if (this.onNodeLost && !this.recovering) {
                this.recovering = true;
                this.onNodeLost(event.reason);
              }
            },
            leader: this.settings.leader,
            timing: this.settings.node,
            onLeadership: (leading) => {
              if (!leading || this.stopping) return;
              // A new leader does its duties at once rather than at the next period (retention: 1 h).
              void this.engine.sweep().catch((err: unknown) => ctx.log.warn({ event: 'leader_sweep_failed', error: String(err) }, 'the new leader could not sweep the queue'));
              if (this.started.includes(this.retention)) void this.retention.runOnce();
            },
          })
        : null;
    this.heartbeats = new Heartbeats({
      paths,
      log: log('heartbeats'),
      intervalMs: this.settings.heartbeatIntervalMs,
      snapshot: async () => {
        const names = ctx.project.config.agents.map((a) => a.name);
        let beats = await storeSnapshot(store, names, (agent) => this.engine.panePid(agent));
        // Pane pids come from the reconcile round (every 10 s): agents that `up` made just after the
        // engine's first round would read `down` to a seed probe until the next. One catch-up round
        // (at most every few seconds) learns their pids now.
        const now = Date.now();
        if (beats.some((b) => b.pid === null && PROCESS_STATES.has(b.state)) && now - this.lastPidCatchUp >= PID_CATCH_UP_MS) {
          this.lastPidCatchUp = now;
          await this.engine.reconcile().catch(() => undefined);
          beats = await storeSnapshot(store, names, (agent) => this.engine.panePid(agent));
        }
        return [...beats, ...(await this.workerHeartbeats())];
      },
    });
  }

  /** The notifier as a part of the engine: pokes reach it from its start to its stop. */
  private notifierPart(n: Notifier): { start(): Promise<void>; stop(): Promise<void> } {
    return {
      start: () => n.start(),
      stop: () => {
        n.stop();
        return Promise.resolve();
      },
    };
  }

  /**
   * Takes the project's lock before touching anything: a start refused because another engine
   * runs leaves that engine's endpoint, metrics and heartbeat files exactly as they were.
   * `keepLockOnFailure`: a restart in place (the lock is this process's already) keeps the pid file
   * when this try fails, so no CLI takes the engine for gone while it tries again.
   */
  async start(options: { keepLockOnFailure?: boolean } = {}): Promise<void> {
    if (this.release || this.stopping) throw new Error('a daemon object starts once');
    this.release = acquireLock(pidFile(this.ctx.project.paths.root));
    this.configSeen = this.configSignature();
    try {
      // Before anything listens: an engine on a database it cannot write would answer health checks
      // and hooks while every delivery fails.
      await this.ctx.store.checkWritable?.();
      await this.checkIntegrity();
      // The node's name first: a second engine with the same name is refused before it starts anything.
      if (this.membership) {
        await this.membership.start();
        this.started.push(this.membership);
      }
      for (const part of [
        this.hooks,
        this.metricsServer,
        this.engine,
        this.notifierPart(this.notifier),
        ...(this.workers ? [this.workers] : []),
        this.triggers,
        this.tasks,
        this.pipes,
        this.heartbeats,
        this.retention,
      ]) {
        await part.start();
        this.started.push(part);
      }
    } catch (err) {
      await this.stopStarted(options.keepLockOnFailure ?? false);
      throw err;
    }
    this.projectTimer = setInterval(() => this.checkProject(), this.projectCheckMs);
    this.projectTimer.unref();
    this.integrityTimer = setInterval(() => void this.checkIntegrity(), this.settings.integrityCheckMs);
    this.integrityTimer.unref();
    this.ctx.log.info(
      {
        event: 'daemon_started',
        pid: process.pid,
        hookPort: this.hooks.port,
        metricsPort: this.metricsServer.port,
        metricsHost: this.metricsServer.host,
        watch: this.triggers.watchState().mode,
        ...(this.envNotes.length ? { env_notes: this.envNotes } : {}),
        ...(this.workers ? { workers: this.workers.names() } : {}),
      },
      'daemon started',
    );
  }

  /**
   * /readyz: the store answers (SQLite open, or a Redis PING within the last second), the node's
   * private tmux server lives (its session is there), and on Redis the node holds its name. Each
   * check says why it fails.
   */
  async readiness(): Promise<ReadyInfo> {
    const store = this.ctx.store;
    const [reach, tmuxUp] = await Promise.all([
      store.reachability ? store.reachability() : Promise.resolve<StoreReachability>({ reachable: true }),
      this.engine.agents.tmux.hasSession(this.engine.agents.session).catch(() => false),
    ]);
    const damage = store.damage?.() ?? null;
    const checks: ReadyInfo['checks'] = {
      store: reach.reachable ? { ok: true } : { ok: false, detail: reach.detail ?? `the ${store.backend} store does not answer` },
      tmux: tmuxUp ? { ok: true } : { ok: false, detail: `the tmux server ${this.engine.agents.tmux.server.socket} has no session ${this.engine.agents.session}` },
      ...(damage ? { database: { ok: false, detail: `damaged: ${damage.detail}` } } : {}),
      ...(this.membership
        ? {
            node: this.membership.holdsName()
              ? { ok: true }
              : { ok: false, detail: `node ${this.node} does not hold its name in the registry (cut off from Redis past its claim, or not yet registered)` },
          }
        : {}),
    };
    return { ready: Object.values(checks).every((c) => c.ok), checks };
  }

  /** The last scrape's workerSharing(), for the synchronous derive step of the same scrape. */
  private scrapeSharing: Map<string, number> | undefined;

  /**
   * Redis teams: how many live nodes serve each task worker this node runs (its `nodes`, or every
   * node), for pending_tasks' share. Undefined on one host, or when Redis cannot say (each node
   * then reports the whole queue).
   */
  private async workerSharing(): Promise<Map<string, number> | undefined> {
    const workers = this.workers;
    if (!this.membership || !workers) return undefined;
    const live = await this.membership.liveNodes().catch(() => null);
    if (!live) return undefined;
    const declared = new Map(this.teamWorkers.map((w) => [w.name, w.nodes ?? null]));
    return new Map(workers.hostedNames().map((w) => [w, (declared.get(w) ?? live).filter((n) => live.includes(n)).length]));
  }

  private queuedWorkers = new Set<string>();
  private queuedTimer: NodeJS.Timeout | null = null;

  /** Tasks taken in here: the other nodes' engines look at those workers' queues (a burst of files is one wake per worker). */
  private wakeWorkerNodes(worker: string): void {
    this.queuedWorkers.add(worker);
    if (this.queuedTimer) return;
    this.queuedTimer = setTimeout(() => {
      this.queuedTimer = null;
      const workers = [...this.queuedWorkers];
      this.queuedWorkers.clear();
      for (const w of workers) void this.membership?.wakeOtherNodes(w);
    }, 25);
    this.queuedTimer.unref();
  }

  /** Heartbeat entries of the task workers: active runs, waiting tasks, the breaker. */
  private async workerHeartbeats(): Promise<AgentHeartbeat[]> {
    if (!this.workers) return [];
    const counts = await this.workers.counts();
    return this.workers.status().map((w) => ({
      name: w.name,
      state: w.breaker === 'closed' ? 'worker' : `worker, breaker ${w.breaker.replace('_', '-')}`,
      // The engine runs the worker: its file is rewritten every interval while the engine lives (a
      // seed 003 probe checks the age of <worker>.json), and its breaker is its health.
      pid: process.pid,
      status: w.breaker === 'closed' ? 'healthy' : w.breaker === 'open' ? 'unhealthy' : 'degraded',
      generation: 0,
      queueDepth: counts.get(w.name) ?? 0,
      activeTasks: w.active,
      // What the console's tasks view shows: the breaker with its trial time, and the slots.
      extra: { breaker: w.breaker.replace('_', '-'), breaker_half_open_at: w.halfOpenAt, max_concurrent: w.maxConcurrent },
    }));
  }

  /** Whether start() took the lock (and so owns the run/ and heartbeat files). */
  get running(): boolean {
    return this.release !== null;
  }

  /**
   * Stops what start() started, in reverse; a daemon that never took the lock has nothing to stop.
   * `keepLock`: the pid file stays (a restart in place follows), so no CLI takes the engine for gone
   * meanwhile and creates a database of its own.
   */
  stop(options: { keepLock?: boolean } = {}): Promise<void> {
    this.stopping ??= (async () => {
      if (!this.release) return;
      await this.stopStarted(options.keepLock ?? false);
      this.ctx.log.info({ event: 'daemon_stopped', pid: process.pid }, 'daemon stopped');
    })();
    return this.stopping;
  }

  /** Whether hornets.json still exists: an engine for a deleted project has nothing to serve. */
  projectExists(): boolean {
    return existsSync(this.ctx.project.configPath);
  }

  private checkProject(): void {
    if (this.stopping || this.recovering) return;
    if (this.projectExists()) {
      if (this.configSignature() !== this.configSeen) void this.reloadTeam('hornets.json changed');
      return this.checkDatabase();
    }
    this.ctx.log.warn({ event: 'project_gone', configPath: this.ctx.project.configPath, stateDir: this.ctx.project.paths.root }, 'the project directory is gone; the engine exits');
    if (this.projectTimer) clearInterval(this.projectTimer);
    this.projectTimer = null;
    if (this.onExitRequest) this.onExitRequest();
    else void this.stop();
  }

  private configSignature(): string | null {
    try {
      const st = statSync(this.ctx.project.configPath);
      return `${st.mtimeMs}:${st.size}:${st.ino}`;
    } catch {
      return null;
    }
  }

  /**
   * Agents added or removed while the engine runs (`add`, `remove`, an edit of hornets.json) are
   * served from now on: registered in the queue, their trigger and task directories and pipes made
   * (or closed), and delivery and recovery look at the new team. `add` and `remove` poke the engine
   * and wait for this; an edit by hand is seen within a second. A file that does not load keeps the
   * team as it was, and says why in the log. One reload at a time.
   */
  reloadTeam(why: string): Promise<void> {
    const run = this.reloading.then(() => this.reloadNow(why));
    this.reloading = run.catch(() => undefined);
    return run;
  }

  private async reloadNow(why: string): Promise<void> {
    if (this.stopping || !this.release) return;
    const signature = this.configSignature();
    if (signature === this.configSeen && why !== 'poke') return;
    this.configSeen = signature;
    const project = this.ctx.project;
    let next;
    try {
      next = loadProject({ configPath: project.configPath, env: this.env });
    } catch (err) {
      this.ctx.log.error({ event: 'config_reload_failed', why, error: errorMessage(err) }, 'hornets.json changed but does not load; the engine keeps serving the team it had');
      return;
    }
    const before = new Set(project.config.agents.map((a) => a.name));
    const after = new Set(nodeProject({ ...project, config: next.config }, this.ctx.selection, this.node).config.agents.map((a) => a.name));
    const added = [...after].filter((a) => !before.has(a));
    const removed = [...before].filter((a) => !after.has(a));
    // Paths stay: the state directory is the one this engine holds the lock in.
    project.config = nodeProject({ ...project, config: next.config }, this.ctx.selection, this.node).config;
    project.profiles = next.profiles;
    await registerChangedAgents(this.ctx.store, project);
    const config = resolveDaemonConfig(next.config, this.env).config;
    // Workers first: the task watcher takes the new workers' folders from the pool's names.
    if (this.workers) {
      const selection = this.ctx.selection;
      await this.workers
        .setTeam({
          workers: allWorkerSettings(config),
          profiles: next.profiles,
          agents: next.config.agents.map((a) => a.name),
          ...(selection.kind === 'redis' ? { hosted: hostedWorkers(config, selection, this.node) } : {}),
        })
        .catch((err: unknown) => this.ctx.log.error({ event: 'team_reload_part_failed', part: 'workers', error: errorMessage(err) }, 'the workers did not take the new team'));
    }
    for (const part of [this.triggers, this.tasks, this.pipes]) {
      await part.setConfig(config).catch((err: unknown) => this.ctx.log.error({ event: 'team_reload_part_failed', error: errorMessage(err) }, 'a watcher did not take the new team'));
    }
    await this.notifier
      .setConfig(next.config.notify)
      .catch((err: unknown) => this.ctx.log.error({ event: 'team_reload_part_failed', error: errorMessage(err) }, 'notifications did not take the new settings'));
    for (const agent of removed) this.engine.forget(agent);
    await this.engine.reviewBudgets().catch((err: unknown) => this.ctx.log.error({ event: 'budget_review_failed', error: errorMessage(err) }, 'could not apply the budgets of the new hornets.json'));
    if (added.length > 0 || removed.length > 0) this.ctx.log.info({ event: 'team_reloaded', why, added, removed }, 'the team changed; the engine serves it now');
    this.engine.wake(null);
  }

  /** The database this engine opened is still the one at its path, and the state directory is there. */
  private checkDatabase(): void {
    const stateGone = !existsSync(this.ctx.project.paths.root);
    const file = this.ctx.store.checkFile?.() ?? 'same';
    if (!stateGone && file === 'same') return;
    const why = stateGone ? 'the state directory was deleted' : file === 'missing' ? 'the database file was deleted' : 'another file was put where the database was';
    this.ctx.log.error({ event: 'database_lost', why, db: this.ctx.project.paths.db }, "the database under the engine is gone; putting the engine's copy back");
    this.recovering = true;
    if (this.onRecoverRequest) this.onRecoverRequest(why);
    else void this.stop();
  }

  /**
   * quick_check on the database (at start and every daemon.integrityCheckInterval). Damage is not a
   * reason to stop: the engine stays up to say so (status, healthz, metrics) while every process
   * refuses to write to the file.
   */
  private async checkIntegrity(): Promise<void> {
    let damage: StoreDamage | null;
    try {
      damage = (await this.ctx.store.checkIntegrity?.()) ?? null;
    } catch (err) {
      this.ctx.log.warn({ event: 'integrity_check_failed', error: String(err) }, 'could not run the database check');
      return;
    }
    this.metrics.databaseDamaged.set({}, damage ? 1 : 0);
    if (damage && !this.damageLogged) {
      this.damageLogged = true;
      this.ctx.log.error({ event: 'database_damaged', db: this.ctx.project.paths.db, ...damage }, 'the queue database is damaged: writes are refused until it is restored');
    }
  }

  private async stopStarted(keepLock = false): Promise<void> {
    if (this.projectTimer) clearInterval(this.projectTimer);
    this.projectTimer = null;
    if (this.integrityTimer) clearInterval(this.integrityTimer);
    this.integrityTimer = null;
    for (const part of this.started.splice(0).reverse()) {
      await part.stop().catch((err: unknown) => this.ctx.log.warn({ event: 'stop_failed', error: String(err) }, 'a daemon part did not stop cleanly'));
    }
    if (!keepLock) this.release?.();
    this.release = null;
  }
}
