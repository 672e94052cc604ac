/**
 * The engine: idle delivery (nudges, push), crash recovery and reconciliation, composed. Event-driven
 * — woken by enqueues (/wake), hook events and the tmux pane-died hook — with slow timers only as the
 * safety net. Policies are pure functions (src/domain, src/recovery/restart-policy.ts); the parts
 * (Nudger, Recovery, Reconciler) run them with timers, tmux and the store.
 */
import type { ProjectContext } from '../services/context.js';
import type { AgentRecord, AgentState } from '../domain/agent.js';
import { AgentManager, serverFor } from '../services/agents.js';
import { TmuxClient } from '../tmux/client.js';
import { DeliveryService } from '../services/delivery.js';
import { Lifecycle } from '../services/lifecycle.js';
import { applyOperatorAction, parseControlAction, type ControlOptions, type EngineControl } from '../services/control.js';
import { Recovery } from '../recovery/recovery.js';
import type { RecoveryState, RestartPolicy } from '../recovery/restart-policy.js';
import { defaultDeliveryTiming, type DeliveryTiming } from '../domain/delivery-policy.js';
import { Nudger } from './nudges.js';
import { Reconciler } from './reconciler.js';
import { LostExitWatch } from './lost-exits.js';
import { ProcessStateReader } from '../proc/process-state.js';
import { ScreenWatch } from './screen-watch.js';
import { LimitResume } from './limit-resume.js';
import { UsageTracker } from './usage-tracker.js';
import { BudgetGuard } from './budgets.js';
import { defaultPrices } from '../domain/usage.js';
import { LIMIT_MENU_RE } from '../domain/usage-limit.js';
import { defaultScreenHoldTiming } from '../domain/screen-hold.js';
import { settlePool } from '../util/pool.js';
import { PassScheduler } from './pass-scheduler.js';
import type { DutyGate } from './cluster-duties.js';

/** Agents a delivery pass looks after at the same time: each may type a nudge and watch its pane. */
const NUDGE_CONCURRENCY = 8;

export interface EngineOptions {
  policy?: RestartPolicy;
  now?: () => number;
  random?: () => number;
  /** Safety-net period for reconciliation (list-panes) and delivery passes. */
  reconcileMs?: number;
  /** How often the agents' pane processes are looked at for an exit tmux missed (see lost-exits.ts). */
  lostExitCheckMs?: number;
  /** How long a nudge may wait for its UserPromptSubmit before Enter is pressed again. */
  nudgeTimeoutMs?: number;
  /** Refused or unanswered nudges for this long make an idle agent `stuck`. */
  stuckAfterMs?: number;
  /** A stuck agent is nudged again this often. */
  stuckRetryMs?: number;
  /**
   * A hook agent busy (or starting) with no hook event for this long has its screen read once per
   * reconciliation; its idle prompt there means the hook that would have said so was lost.
   */
  staleBusyMs?: number;
  /** A permission prompt holding a pushed-to agent's messages this long is escalated (daemon.deliveryHoldAlert). */
  holdAlertMs?: number;
  /** A state read from a hookless agent's screen lapses unless a capture confirms it within this (at least two reconciliation periods). */
  screenStateTtlMs?: number;
  /** Something happened to an agent (null: maybe to any): a hook, a wake, a delivery pass (the event stream). */
  onActivity?: (agent: string | null) => void;
  /** Called on every agent state change the engine makes (status pipe, metrics). */
  onStateChange?: (agent: string, from: AgentState, to: AgentState, detail?: Record<string, unknown>) => void;
  /** The budget policy paused an agent over its budget (once per crossing; `reason`: which limit). */
  onOverBudget?: (agent: string, reason: string) => void;
  onRestart?: (agent: string) => void;
  /** Who runs the cluster-wide store sweep (default: this engine, a single host). */
  duties?: DutyGate;
  /** The cluster-wide sweep changed messages (a Redis team wakes the other nodes). */
  onSwept?: () => void;
}

export class Engine {
  readonly agents: AgentManager;
  readonly delivery: DeliveryService;
  readonly recovery: Recovery;
  readonly nudger: Nudger;
  readonly reconciler: Reconciler;
  private readonly lostExits: LostExitWatch;
  private readonly processes = new ProcessStateReader();
  readonly screens: ScreenWatch;
  private readonly limits: LimitResume;
  readonly usage: UsageTracker;
  readonly budgets: BudgetGuard;
  private readonly lifecycle: Lifecycle;
  private readonly now: () => number;
  private readonly timing: DeliveryTiming;
  private timers: NodeJS.Timeout[] = [];
  private readonly laterTimers = new Set<NodeJS.Timeout>();
  private readonly passes: PassScheduler;
  /** The look for leftover agent processes at start (not waited for: it may wait out a grace period). */
  private leftovers: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly ctx: ProjectContext,
    private readonly o: EngineOptions = {},
  ) {
    const log = ctx.log.child({ component: 'engine' });
    this.now = o.now ?? Date.now;
    this.passes = new PassScheduler({
      agents: () => this.ctx.project.config.agents.map((a) => a.name),
      run: (agents) => this.pass(agents),
      onError: (err) => log.error({ event: 'delivery_pass_failed', error: String(err) }, 'delivery pass failed'),
    });
    // The engine's tmux commands (nudges, looks, reconciliation) go through one persistent
    // control-mode client instead of a tmux process each; closed in stop().
    const tmux = new TmuxClient({
      server: serverFor(ctx.project),
      channel: { session: ctx.project.config.project, onEvent: (event, detail) => log.debug({ event: `tmux_${event}`, ...detail }, 'tmux control channel') },
    });
    this.agents = new AgentManager(ctx.project, ctx.store, log, tmux);
    this.delivery = new DeliveryService(this.agents, ctx.store, log);
    this.lifecycle = new Lifecycle(ctx.store, o.onStateChange);
    this.timing = {
      nudgeTimeoutMs: o.nudgeTimeoutMs ?? defaultDeliveryTiming.nudgeTimeoutMs,
      stuckAfterMs: o.stuckAfterMs ?? defaultDeliveryTiming.stuckAfterMs,
      stuckRetryMs: o.stuckRetryMs ?? defaultDeliveryTiming.stuckRetryMs,
    };
    this.recovery = new Recovery({
      store: ctx.store,
      agents: this.agents,
      lifecycle: this.lifecycle,
      log,
      policy: o.policy,
      now: this.now,
      random: o.random,
      onRestart: (agent) => this.restarted(agent),
      wake: (agent) => this.wake(agent),
    });
    const reconcileMs = o.reconcileMs ?? 10_000;
    this.screens = new ScreenWatch({
      store: ctx.store,
      lifecycle: this.lifecycle,
      log,
      now: this.now,
      timing: {
        ttlMs: Math.max(o.screenStateTtlMs ?? defaultScreenHoldTiming.ttlMs, 2 * reconcileMs + 1_000),
        alertAfterMs: o.holdAlertMs ?? defaultScreenHoldTiming.alertAfterMs,
      },
    });
    this.limits = new LimitResume({
      store: ctx.store,
      lifecycle: this.lifecycle,
      log,
      now: this.now,
      wakeLater: (ms) => this.wakeLater(null, ms),
      clearScreen: async (record) => {
        if (!record.paneId) return;
        if (!LIMIT_MENU_RE.test(await this.agents.tmux.capture(record.paneId))) return;
        await this.agents.tmux.sendKey(record.paneId, 'Escape');
        // Ink reads a lone Escape only after a pause (it may start a sequence): anything typed before
        // the menu is gone would pick one of its choices.
        for (let i = 0; i < 30 && LIMIT_MENU_RE.test(await this.agents.tmux.capture(record.paneId)); i++) await new Promise((r) => setTimeout(r, 100));
        log.info({ event: 'limit_menu_closed', agent: record.name }, "closed the CLI's limit options menu so the resume can be typed");
      },
    });
    this.budgets = new BudgetGuard({
      store: ctx.store,
      lifecycle: this.lifecycle,
      log,
      budget: (agent) => this.ctx.project.config.agents.find((a) => a.name === agent)?.budget,
      wake: (agent) => this.wake(agent),
      onOverBudget: (agent, reason) => this.o.onOverBudget?.(agent, reason),
    });
    this.usage = new UsageTracker({
      store: ctx.store,
      log,
      prices: () => ({ ...defaultPrices, ...this.ctx.project.config.pricing }),
      onUsage: (u) => {
        this.o.onActivity?.(u.agent);
        void this.budgets.review(u).catch((err: unknown) => log.error({ event: 'budget_review_failed', agent: u.agent, error: String(err) }, 'could not apply the budget policy'));
      },
    });
    this.nudger = new Nudger({
      store: ctx.store,
      agents: this.agents,
      delivery: this.delivery,
      lifecycle: this.lifecycle,
      log,
      timing: this.timing,
      now: this.now,
      wakeLater: (agent, ms) => this.wakeLater(agent, ms),
      screens: this.screens,
    });
    this.reconciler = new Reconciler({
      store: ctx.store,
      agents: this.agents,
      lifecycle: this.lifecycle,
      recovery: this.recovery,
      log,
      now: this.now,
      staleBusyMs: o.staleBusyMs ?? 15_000,
      wake: (agent) => this.wake(agent),
      onRecreated: (agent) => {
        this.nudger.forget(agent);
        this.screens.forget(agent);
      },
      screens: this.screens,
      duties: o.duties,
      onSwept: o.onSwept,
    });
    this.lostExits = new LostExitWatch({
      agents: () => this.ownAgents(),
      listPanes: () => this.agents.tmux.listPanes(),
      processState: (pid) => this.processes.state(pid),
      retainOnly: (pids) => this.processes.retainOnly(pids),
      report: (r) => void this.recovery.crashReported(r).catch((err: unknown) => log.error({ event: 'lost_exit_failed', error: String(err) }, 'could not act on a lost pane exit')),
    });
  }

  /** This engine's agents as the store has them (a Redis team's other nodes run the rest). */
  private ownAgents(): Promise<AgentRecord[]> {
    return this.ctx.store.agentRecords(this.ctx.project.config.agents.map((a) => a.name));
  }

  panePid(agent: string): number | null {
    return this.reconciler.pids.get(agent) ?? null;
  }

  /** What recovery holds for an agent (breaker, scheduled restart, API back-off). */
  recoveryState(agent: string): RecoveryState {
    return this.recovery.describe(agent);
  }

  async start(): Promise<void> {
    await this.recovery.start(this.ctx.project.config.agents.map((a) => a.name));
    // Processes of agent generations that ended while no engine ran (a killed tmux server): they hold
    // worktrees and API connections. In the background: the engine serves meanwhile.
    this.leftovers = this.agents
      .endLeftoverProcesses()
      .catch((err: unknown) => this.ctx.log.warn({ event: 'leftover_processes_failed', error: String(err) }, 'could not look for leftover agent processes'));
    // The pane-died hook and enqueue pokes are the mechanism; this period is only the safety net, and
    // each round costs a tmux spawn: 10 s keeps an idle team's engine under 0.5 % of a core.
    const every = this.o.reconcileMs ?? 10_000;
    // One timer for both: the delivery pass after the round sees what the round found.
    this.timers.push(setInterval(() => void this.reconciler.run().then(() => this.wake(null)), every));
    this.timers.push(
      setInterval(
        () => void this.lostExits.tick().catch((err: unknown) => this.ctx.log.warn({ event: 'lost_exit_check_failed', error: String(err) }, 'could not look for lost pane exits')),
        this.o.lostExitCheckMs ?? 1000,
      ),
    );
    await this.reconciler.run();
    this.wake(null);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.processes.closeAll();
    this.timers = [];
    for (const t of this.laterTimers) clearTimeout(t);
    this.laterTimers.clear();
    await this.recovery.stop();
    this.usage.stop();
    await this.usage.idle();
    await this.leftovers;
    await this.passes.stop();
    await this.agents.tmux.close();
  }

  // ------------------------------------------------------------ wake-ups and delivery

  /** Something changed for `agent` (a message was queued, a hook fired; null: for anyone): a delivery pass looks at it soon. */
  wake(agent: string | null): void {
    if (this.stopped) return;
    this.o.onActivity?.(agent);
    this.passes.wake(agent);
  }

  /** A delivery pass at a known time (a nudge's deadline, a re-try), not at the next safety poll. */
  private wakeLater(agent: string | null, ms: number): void {
    if (this.stopped) return;
    const t = setTimeout(() => {
      this.laterTimers.delete(t);
      this.wake(agent);
    }, ms);
    this.laterTimers.add(t);
  }

  private async pass(names: string[]): Promise<void> {
    // The woken agents only (this node's), in one read: a wake's reaction waits for it.
    const wanted = new Set(names);
    const agents = this.ctx.project.config.agents.filter((a) => wanted.has(a.name));
    const view = await this.ctx.store.agentOverview(agents.map((a) => a.name));
    // Delivered-but-unconfirmed counts too: a SessionStart hands messages over to an agent that then
    // sits at its prompt, and only a nudge makes it act on (and so confirm) them.
    const waiting = new Map(view.map((v) => [v.record.name, v.counts.queued + v.counts.failed + v.counts.delivered]));
    const records = new Map(view.map((v) => [v.record.name, v.record]));
    // Limits that reset resume their agents with a message: the next pass delivers it.
    const resumed = await this.limits.review([...records.values()]);
    for (const a of resumed) this.wake(a);
    const now = this.now();
    // Agents side by side (a few at a time): a nudge waits for its agent to draw the typed line, and
    // the next agent's message must not wait behind that (nor, through PassScheduler, a later wake's).
    const considered = await settlePool(agents, NUDGE_CONCURRENCY, async (a) => {
      let record = records.get(a.name);
      if (!record) return;
      const profile = this.agents.profile(a);
      // Hookless agents: their state is only what the screen showed, and that lapses unless re-read.
      // Agents typed into (push): a prompt that refuses every push for long is escalated.
      if (profile.hooks.kind === 'none' || profile.delivery === 'push') record = await this.screens.review(record, { stateFromScreen: profile.hooks.kind === 'none' });
      await this.nudger.consider(record, {
        mode: profile.delivery,
        hasHooks: profile.hooks.kind !== 'none',
        state: record.state,
        paused: record.paused,
        hasPane: record.paneId !== null,
        held: this.recovery.holds(a.name, now),
        waiting: waiting.get(a.name) ?? 0,
      });
    });
    const failed = considered.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    for (const f of failed) this.ctx.log.error({ event: 'delivery_consider_failed', error: String(f.reason) }, 'delivery for one agent failed');
  }

  /** After a hook event: settle nudges, react to API errors, count the tokens it recorded, deliver what is next. */
  onHook(agent: string, event: string, transcriptPath: string | null = null): void {
    this.nudger.onHook(agent, event);
    if (transcriptPath !== null) this.usage.note(agent, transcriptPath);
    if (event === 'StopFailure' || event === 'Notification') {
      this.recovery.errorReported(agent).then(
        () => this.wake(agent),
        (err: unknown) => this.ctx.log.error({ event: 'error_check_failed', agent, error: String(err) }, 'could not act on an agent error'),
      );
    }
    this.wake(agent);
  }

  /** The tmux pane-died hook (through /event/pane-died). */
  onPaneDied(pane: string, status: number | null): void {
    void this.recovery
      .crashReported({ paneId: pane, generation: null, exitStatus: status, source: 'pane-died' })
      .catch((err: unknown) => this.ctx.log.error({ event: 'pane_died_failed', error: String(err) }, 'pane-died handling failed'));
  }

  private restarted(agent: string): void {
    this.nudger.forget(agent);
    this.screens.forget(agent);
    this.o.onRestart?.(agent);
  }

  /** Operator actions from the CLI, the console or the control pipe: the one operator service. */
  control(action: string, agent: string, options: ControlOptions = {}): Promise<string> {
    const engine: EngineControl = {
      resetRecovery: (a) => this.recovery.reset(a),
      restart: async (a) => {
        this.nudger.forget(a);
        await this.recovery.restart(a);
      },
      stopped: (a) => {
        this.nudger.forget(a);
        this.screens.forget(a);
        this.recovery.forget(a);
      },
      wake: (a) => this.wake(a),
    };
    return applyOperatorAction(this.ctx, parseControlAction(action), agent, engine, options);
  }

  /** hornets.json changed: budgets may have been raised, set or removed. */
  reviewBudgets(): Promise<void> {
    return this.budgets.reviewAll(this.ctx.project.config.agents.map((a) => a.name));
  }

  /** An agent left the team: nothing of it stays scheduled. */
  forget(agent: string): void {
    this.nudger.forget(agent);
    this.recovery.forget(agent);
    this.reconciler.pids.delete(agent);
  }

  /** The cluster-wide sweep alone (a node just elected leader runs it at once). */
  sweep(): Promise<void> {
    return this.reconciler.sweep();
  }

  /** Re-exported for tests that drive a reconciliation round by hand. */
  reconcile(): Promise<void> {
    return this.reconciler.run();
  }
}
