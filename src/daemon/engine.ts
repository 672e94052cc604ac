/**
 * The engine: idle monitor (push fallback), crash recovery and reconciliation. Event-driven — woken
 * by enqueues (/wake), hook events and the tmux pane-died hook — with slow timers only as the
 * safety net. Policies are the pure functions in src/domain; this class runs timers and actions.
 */
import { randomBytes } from 'node:crypto';
import type { ProjectContext } from '../services/context.js';
import { AgentManager } from '../services/agents.js';
import { DeliveryService } from '../services/delivery.js';
import { PushRefused, pushText } from '../services/push.js';
import { classifyError, decide, defaultRestartPolicy, initialRecovery, type RecoveryAction, type RecoveryEvent, type RecoveryState, type RestartPolicy } from '../domain/restart-policy.js';
import { classifyPane } from '../domain/pane-state.js';
import type { AgentRecord, AgentState } from '../domain/agent.js';
import { composeRebrief } from '../services/rebrief.js';

export interface EngineOptions {
  policy?: RestartPolicy;
  now?: () => number;
  random?: () => number;
  /** Safety-net period for reconciliation (list-panes) and delivery passes. */
  reconcileMs?: number;
  /** How long a nudge may wait for its UserPromptSubmit before Enter is pressed again. */
  nudgeTimeoutMs?: number;
  /** After a nudge was given up on, wait this long before nudging that agent again. */
  stuckCooldownMs?: number;
  /**
   * A hook agent busy (or starting) with no hook event for this long has its screen read once per
   * reconciliation; its idle prompt there means the hook that would have said so was lost.
   */
  staleBusyMs?: number;
  /** Called on every agent state change (status pipe, metrics). */
  onStateChange?: (agent: string, from: AgentState, to: AgentState, detail?: Record<string, unknown>) => void;
  onRestart?: (agent: string) => void;
}

interface Nudge {
  nonce: string;
  sentAt: number;
  enters: number;
  givenUpAt: number | null;
}

export class Engine {
  readonly agents: AgentManager;
  readonly delivery: DeliveryService;
  private readonly policy: RestartPolicy;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly recovery = new Map<string, RecoveryState>();
  private readonly nudges = new Map<string, Nudge>();
  /** Agents restarted by us and not yet proven healthy: name -> restart time. */
  private readonly probation = new Map<string, number>();
  private timers: NodeJS.Timeout[] = [];
  private passQueued = false;
  private passRunning: Promise<void> | null = null;
  private reconciling = false;
  private stopped = false;
  private tickTimer: NodeJS.Timeout | null = null;
  /** Agents whose crash is being handled right now. */
  private readonly crashing = new Set<string>();
  /** The last error text acted upon per agent, so an old error is not acted on again. */
  private readonly errorsSeen = new Map<string, string>();
  /** Pane pids seen at the last reconciliation, for heartbeat files. */
  private readonly pids = new Map<string, number>();

  constructor(
    private readonly ctx: ProjectContext,
    private readonly o: EngineOptions = {},
  ) {
    const log = ctx.log.child({ component: 'engine' });
    this.agents = new AgentManager(ctx.project, ctx.store, log);
    this.delivery = new DeliveryService(this.agents, ctx.store, log);
    this.policy = o.policy ?? defaultRestartPolicy;
    this.now = o.now ?? Date.now;
    this.random = o.random ?? Math.random;
  }

  /**
   * After an accepted Enter, UserPromptSubmit follows in tens of ms (p99 < 100 ms measured with
   * Claude Code); an Enter typed while Claude Code is still finishing its turn is dropped, though.
   */
  private get nudgeTimeoutMs(): number {
    return this.o.nudgeTimeoutMs ?? 2_000;
  }

  panePid(agent: string): number | null {
    return this.pids.get(agent) ?? null;
  }

  private get log() {
    return this.ctx.log;
  }

  async start(): Promise<void> {
    await this.restoreRecovery();
    // The pane-died hook and enqueue pokes are the mechanism; this period is only the safety net, and
    // each round costs a tmux spawn: 10 s keeps an idle team's engine under 0.5 % of a core.
    const every = this.o.reconcileMs ?? 10_000;
    this.timers.push(setInterval(() => void this.reconcile(), every));
    this.timers.push(setInterval(() => this.wake(null), every));
    await this.reconcile();
    this.wake(null);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    if (this.tickTimer) clearTimeout(this.tickTimer);
    for (const t of this.laterTimers) clearTimeout(t);
    this.laterTimers.clear();
    await this.passRunning;
  }

  /** Restart history survives a daemon restart: it is rebuilt from the recorded events. */
  private async restoreRecovery(): Promise<void> {
    const now = this.now();
    for (const a of this.ctx.project.config.agents) {
      const events = await this.ctx.store.events({ agent: a.name, limit: 20_000, kinds: ['agent_restarted'] });
      const restarts = events.filter((e) => e.kind === 'agent_restarted' && e.detail?.['byRecovery'] === true && now - e.ts < this.policy.windowMs).map((e) => e.ts);
      const record = await this.ctx.store.getAgent(a.name);
      const failed = record?.state === 'failed';
      this.recovery.set(a.name, { ...initialRecovery, restarts, breaker: failed ? 'open' : 'closed', openedAt: failed ? (record?.updatedAt ?? now) : null });
    }
  }

  // ------------------------------------------------------------ wake-ups and delivery

  /** Something changed (a message was queued, a hook fired): run a delivery pass soon. */
  wake(agent: string | null): void {
    void agent;
    if (this.stopped || this.passQueued) return;
    this.passQueued = true;
    setImmediate(() => {
      this.passQueued = false;
      if (this.passRunning) {
        // Run once more after the current pass so nothing queued meanwhile waits for the poll.
        void this.passRunning.then(() => this.wake(null));
        return;
      }
      this.passRunning = this.pass()
        .catch((err: unknown) => this.log.error({ event: 'delivery_pass_failed', error: String(err) }, 'delivery pass failed'))
        .finally(() => {
          this.passRunning = null;
        });
    });
  }

  private async pass(): Promise<void> {
    const stats = await this.ctx.store.stats();
    // Delivered-but-unconfirmed counts too: a SessionStart hands messages over to an agent that then
    // sits at its prompt, and only a nudge makes it act on (and so confirm) them.
    const waiting = new Map(stats.agents.map((s) => [s.agent, s.counts.queued + s.counts.failed + s.counts.delivered]));
    const records = new Map((await this.ctx.store.listAgents()).map((r) => [r.name, r]));
    const now = this.now();
    for (const a of this.ctx.project.config.agents) {
      const record = records.get(a.name);
      if (!record || record.paused || !record.paneId) continue;
      const rec = this.recovery.get(a.name) ?? initialRecovery;
      if (rec.breaker !== 'closed' || rec.restartAt !== null || (rec.pausedUntil !== null && rec.pausedUntil > now)) continue;
      const nudge = this.nudges.get(a.name);
      if (nudge && !nudge.givenUpAt) await this.followNudge(a.name, record, nudge, now);
      if ((waiting.get(a.name) ?? 0) === 0) continue;
      const profile = this.agents.profile(a);
      if (profile.delivery === 'hooks') continue;
      if (profile.delivery === 'push' || profile.hooks.kind === 'none') {
        if (waiting.get(a.name)! > 0) await this.pushAll(a.name, record);
        continue;
      }
      if (record.state !== 'idle') continue;
      const current = this.nudges.get(a.name);
      if (current && (!current.givenUpAt || now - current.givenUpAt < (this.o.stuckCooldownMs ?? 60_000))) continue;
      // The snapshot above is as old as the nudges typed to the agents before this one (each waits
      // for its echo and Enter): look again, so a turn that started meanwhile is not typed into.
      const fresh = await this.ctx.store.getAgent(a.name);
      if (!fresh || fresh.state !== 'idle' || fresh.paused) continue;
      await this.sendNudge(a.name, fresh, waiting.get(a.name) ?? 0, this.now());
    }
  }

  private async pushAll(agent: string, record: AgentRecord): Promise<void> {
    if (record.state === 'waiting-permission' || record.state === 'crashed' || record.state === 'stopped') return;
    try {
      const r = await this.delivery.pushPending(agent, { limit: 20 });
      if (r.delivered.length) this.log.info({ event: 'push_delivered', agent, ids: r.delivered.map((d) => d.id) }, 'pushed messages');
    } catch (err) {
      this.log.warn({ event: 'push_failed', agent, error: String(err) }, 'push delivery failed');
    }
  }

  /**
   * The idle nudge: one short line with a nonce, never the message text. UserPromptSubmit sees the
   * nonce and hands the pending messages over as context.
   */
  private async sendNudge(agent: string, record: AgentRecord, count: number, now: number): Promise<void> {
    const pane = record.paneId!;
    const nonce = randomBytes(6).toString('hex');
    const line = `[hornets:${nonce}] ${count} new message${count === 1 ? '' : 's'} from hornets; they are in your context, please act on them.`;
    try {
      await pushText(this.agents.tmux, pane, line, { patterns: this.agents.profile(this.agents.agentConfig(agent)).patterns });
      this.nudges.set(agent, { nonce, sentAt: now, enters: 0, givenUpAt: null });
      this.wakeLater(agent, this.nudgeTimeoutMs + 20);
      await this.ctx.store.recordEvent({ agent, kind: 'nudge_sent', detail: { nonce, waiting: count } });
      this.log.info({ event: 'nudge_sent', agent, nonce, waiting: count }, 'idle agent nudged');
    } catch (err) {
      const reason = err instanceof PushRefused ? err.reason : 'failed';
      this.log.info({ event: 'nudge_skipped', agent, reason, error: err instanceof Error ? err.message : String(err) }, 'nudge not typed');
      // The Stop hook said idle but the screen still shows the turn (Claude Code redraws a moment
      // after its Stop hook): look again shortly instead of at the next safety poll, seconds away.
      if (reason === 'busy') this.retrySoon(agent);
    }
  }

  /** Refused nudges per agent since its last hook event. */
  private readonly refusals = new Map<string, number>();
  private readonly laterTimers = new Set<NodeJS.Timeout>();

  /** A delivery pass at a known time (a nudge's deadline, a re-try), not at the next safety poll. */
  private wakeLater(agent: string, ms: number): void {
    if (this.stopped) return;
    const t = setTimeout(() => {
      this.laterTimers.delete(t);
      this.wake(agent);
    }, ms);
    this.laterTimers.add(t);
  }

  private retrySoon(agent: string): void {
    const n = (this.refusals.get(agent) ?? 0) + 1;
    this.refusals.set(agent, n);
    // Bounded (about 3 s of re-tries): an agent that really is busy with its hook lost is left to
    // the safety poll and the stale-busy check.
    if (n <= 20) this.wakeLater(agent, 150);
  }

  private async followNudge(agent: string, record: AgentRecord, nudge: Nudge, now: number): Promise<void> {
    const events = await this.ctx.store.events({ agent, limit: 50 });
    // Its UserPromptSubmit saw the nonce — or that hook was lost (killed, timed out) but the turn it
    // started is under way: any later hook event of the agent shows the nudge was taken.
    if (events.some((e) => e.kind === 'nudge_seen' && e.detail?.['nonce'] === nudge.nonce) || (record.lastEventAt ?? 0) > nudge.sentAt) {
      this.nudges.delete(agent);
      return;
    }
    if (now - nudge.sentAt < this.nudgeTimeoutMs) return;
    if (nudge.enters < 1 && record.paneId) {
      // The classic lost Enter: press it once more — but only at an idle prompt, never into a
      // permission prompt or a busy agent, where a keystroke would answer or interrupt something.
      const config = this.ctx.project.config.agents.find((a) => a.name === agent);
      const screen = await this.agents.tmux.capture(record.paneId).catch(() => '');
      const verdict = config ? classifyPane(this.agents.profile(config).patterns, screen) : 'unknown';
      if (verdict === 'permission' || verdict === 'busy') {
        nudge.sentAt = now;
        this.wakeLater(agent, this.nudgeTimeoutMs + 20);
        return;
      }
      await this.agents.tmux.sendKey(record.paneId, 'Enter').catch(() => undefined);
      nudge.enters++;
      nudge.sentAt = now;
      this.wakeLater(agent, this.nudgeTimeoutMs + 20);
      await this.ctx.store.recordEvent({ agent, kind: 'nudge_enter_retry', detail: { nonce: nudge.nonce } });
      return;
    }
    nudge.givenUpAt = now;
    await this.ctx.store.updateAgent(agent, { lastError: 'stuck: a nudge got no UserPromptSubmit after Enter was pressed twice' });
    await this.ctx.store.recordEvent({ agent, kind: 'stuck', detail: { nonce: nudge.nonce } });
    this.log.warn({ event: 'agent_stuck', agent, nonce: nudge.nonce }, 'nudge not taken; agent marked stuck');
  }

  /** After a hook event: confirm nudges, react to API errors, deliver what is next. */
  onHook(agent: string, event: string): void {
    if (event === 'UserPromptSubmit') this.nudges.delete(agent);
    this.refusals.delete(agent);
    if (event === 'StopFailure' || event === 'Notification') void this.checkAgentError(agent).catch((err: unknown) => this.log.error({ event: 'error_check_failed', agent, error: String(err) }, 'could not classify agent error'));
    this.wake(agent);
  }

  private async checkAgentError(agent: string): Promise<void> {
    const record = await this.ctx.store.getAgent(agent);
    if (!record?.lastError || this.errorsSeen.get(agent) === record.lastError) return;
    this.errorsSeen.set(agent, record.lastError);
    const kind = classifyError(record.lastError);
    if (kind === 'rate-limit' || kind === 'overloaded') await this.apply(agent, { type: 'api-error', kind, message: record.lastError });
    else if (kind === 'auth') await this.apply(agent, { type: 'auth-error', message: record.lastError });
  }

  // ------------------------------------------------------------ crash recovery

  onPaneDied(pane: string, status: number | null): void {
    void (async () => {
      const record = (await this.ctx.store.listAgents()).find((a) => a.paneId === pane);
      if (record) await this.crashed(record, status);
    })().catch((err: unknown) => this.log.error({ event: 'pane_died_failed', error: String(err) }, 'pane-died handling failed'));
  }

  private async crashed(record: AgentRecord, status: number | null): Promise<void> {
    const rec = this.recovery.get(record.name) ?? initialRecovery;
    if (rec.restartAt !== null || record.state === 'stopped' || record.state === 'backing-off') return;
    if (rec.breaker === 'open' && record.state === 'failed') return;
    // The pane-died hook and the reconciliation can report the same death at once: count it once.
    if (this.crashing.has(record.name)) return;
    this.crashing.add(record.name);
    try {
      await this.handleCrash(record, status);
    } finally {
      this.crashing.delete(record.name);
    }
  }

  private async handleCrash(record: AgentRecord, status: number | null): Promise<void> {
    this.probation.delete(record.name);
    this.nudges.delete(record.name);
    const requeued = await this.ctx.store.requeueUnconfirmed(record.name, { sessionId: record.sessionId, reason: `agent crashed (exit ${status ?? '?'})` });
    await this.setState(record.name, record.state, 'crashed', { exitStatus: status, requeued });
    await this.apply(record.name, { type: 'crashed', exitStatus: status });
  }

  private async apply(agent: string, event: RecoveryEvent): Promise<void> {
    const before = this.recovery.get(agent) ?? initialRecovery;
    const d = decide(before, event, this.now(), this.policy, this.random);
    this.recovery.set(agent, d.state);
    for (const action of d.actions) await this.act(agent, action);
    this.scheduleTick();
  }

  private async act(agent: string, action: RecoveryAction): Promise<void> {
    const record = await this.ctx.store.getAgent(agent);
    const from = record?.state ?? 'unknown';
    switch (action.type) {
      case 'schedule-restart':
        await this.ctx.store.recordEvent({ agent, kind: 'restart_scheduled', detail: { at: action.at, attempt: action.attempt, delayMs: action.delayMs } });
        await this.setState(agent, from, 'backing-off', { restartAt: action.at, attempt: action.attempt });
        this.log.warn({ event: 'restart_scheduled', agent, delayMs: action.delayMs, attempt: action.attempt }, 'agent will be restarted');
        break;
      case 'restart':
        // Stopped (stop/down) or paused while backing off: the operator's word wins over the timer.
        if (from === 'stopped' || from === 'paused' || record?.paused) {
          this.recovery.set(agent, { ...(this.recovery.get(agent) ?? initialRecovery), restartAt: null });
          await this.ctx.store.recordEvent({ agent, kind: 'restart_cancelled', detail: { reason: `agent is ${from}` } });
          break;
        }
        await this.restartNow(agent, action.resume, action.trial);
        break;
      case 'open-breaker':
      case 'fail':
        await this.ctx.store.updateAgent(agent, { lastError: action.reason });
        await this.ctx.store.recordEvent({ agent, kind: action.type === 'fail' ? 'agent_failed' : 'breaker_open', detail: { reason: action.reason } });
        await this.setState(agent, from, 'failed', { reason: action.reason });
        this.log.error({ event: 'agent_failed', agent, reason: action.reason }, 'agent failed: no more restarts until reset');
        break;
      case 'close-breaker':
        await this.ctx.store.recordEvent({ agent, kind: 'breaker_closed' });
        break;
      case 'back-off':
        await this.ctx.store.recordEvent({ agent, kind: 'api_backoff', detail: { until: action.until, reason: action.reason } });
        this.log.warn({ event: 'api_backoff', agent, until: action.until, reason: action.reason }, 'API error: delivery paused, no restart');
        break;
    }
  }

  /** `manual`: the operator asked; it is recorded but does not spend the crash-restart budget. */
  private async restartNow(agent: string, resume: boolean, trial: boolean, manual = false): Promise<void> {
    // Count the attempt before it starts: an agent that dies at once can report its crash while we
    // are still recording the restart, and that crash must already see this attempt in the window.
    // A failed attempt counts too, or an agent that can never start would retry forever.
    if (!manual) this.recovery.set(agent, decide(this.recovery.get(agent) ?? initialRecovery, { type: 'restarted' }, this.now(), this.policy, this.random).state);
    try {
      const outcome = await this.agents.restartAgent(agent, { resume });
      const record = await this.ctx.store.getAgent(agent);
      await this.ctx.store.updateAgent(agent, { restartCount: (record?.restartCount ?? 0) + 1, lastRestart: this.now() });
      await this.ctx.store.recordEvent({ agent, kind: 'agent_restarted', detail: { byRecovery: !manual, manual, trial, resume, outcome, generation: record?.generation } });
      this.probation.set(agent, this.now());
      this.o.onRestart?.(agent);
      this.log.warn({ event: 'agent_restarted', agent, trial, resume, manual }, manual ? 'agent restarted by the operator' : 'agent restarted by recovery');
    } catch (err) {
      this.log.error({ event: 'restart_failed', agent, error: String(err) }, 'restart failed');
      await this.apply(agent, { type: 'crashed', exitStatus: null, reason: `restart failed: ${err instanceof Error ? err.message : String(err)}` });
    }
  }

  /** Recovery timers are armed only while something is scheduled: no ticking when all is well. */
  private scheduleTick(): void {
    if (this.stopped) return;
    if (this.tickTimer) clearTimeout(this.tickTimer);
    const now = this.now();
    let next = Infinity;
    for (const s of this.recovery.values()) {
      if (s.restartAt !== null) next = Math.min(next, s.restartAt);
      if (s.breaker === 'open' && s.openedAt !== null) next = Math.min(next, s.openedAt + this.policy.windowMs);
      if (s.pausedUntil !== null) next = Math.min(next, s.pausedUntil);
    }
    for (const t of this.probation.values()) next = Math.min(next, t + this.policy.healthyAfterMs);
    if (next === Infinity) return;
    this.tickTimer = setTimeout(() => void this.tick().catch((err: unknown) => this.log.error({ event: 'recovery_tick_failed', error: String(err) }, 'recovery tick failed')), Math.max(0, Math.min(next - now, 2_147_000_000)));
  }

  private async tick(): Promise<void> {
    const now = this.now();
    for (const [agent, since] of [...this.probation]) {
      if (now - since < this.policy.healthyAfterMs) continue;
      this.probation.delete(agent);
      const record = await this.ctx.store.getAgent(agent);
      const pane = record?.paneId ? await this.agents.tmux.pane(record.paneId).catch(() => null) : null;
      if (pane && !pane.dead) await this.apply(agent, { type: 'healthy' });
    }
    for (const agent of [...this.recovery.keys()]) await this.apply(agent, { type: 'tick' });
    this.scheduleTick();
    this.wake(null);
  }

  /** Manual actions from the CLI or console. */
  async control(action: string, agent: string): Promise<string> {
    this.agents.agentConfig(agent);
    switch (action) {
      case 'restart':
        await this.apply(agent, { type: 'reset' });
        await this.restartNow(agent, true, false, true);
        return `${agent} restarted`;
      case 'reset':
        await this.apply(agent, { type: 'reset' });
        await this.ctx.store.updateAgent(agent, { lastError: null });
        await this.setState(agent, (await this.ctx.store.getAgent(agent))?.state ?? 'unknown', 'idle');
        return `${agent}: breaker closed, restarts allowed again`;
      case 'pause':
        await this.ctx.store.updateAgent(agent, { paused: true });
        await this.setState(agent, (await this.ctx.store.getAgent(agent))?.state ?? 'unknown', 'paused');
        return `${agent} paused: nothing is delivered until resumed`;
      case 'resume':
        await this.ctx.store.updateAgent(agent, { paused: false });
        await this.setState(agent, 'paused', 'idle');
        this.wake(agent);
        return `${agent} resumed`;
      case 'rebrief': {
        const id = await composeRebrief(this.ctx, agent);
        this.wake(agent);
        return `rebrief queued for ${agent} as ${id}`;
      }
      default:
        throw new Error(`unknown action "${action}" (restart, reset, pause, resume, rebrief)`);
    }
  }

  private async setState(agent: string, from: AgentState, to: AgentState, detail?: Record<string, unknown>): Promise<void> {
    if (from === to) return;
    await this.ctx.store.updateAgent(agent, { state: to });
    this.o.onStateChange?.(agent, from, to, detail);
  }

  // ------------------------------------------------------------ reconciliation

  /** The safety net: finds dead panes and a vanished tmux server even if no hook told us. */
  async reconcile(): Promise<void> {
    if (this.reconciling || this.stopped) return;
    this.reconciling = true;
    try {
      // Leases nobody will ack (a hook or daemon killed between claim and ack) lapse into retries
      // here; claims sweep too, but an idle agent makes none, so its messages would wait forever.
      const swept = await this.ctx.store.sweep();
      if (swept.leasesReclaimed > 0 || swept.expired > 0) this.wake(null);
      const records = await this.ctx.store.listAgents();
      const expected = records.filter((r) => r.paneId && r.state !== 'stopped' && r.state !== 'failed' && this.ctx.project.config.agents.some((a) => a.name === r.name));
      if (expected.length === 0) return;
      if (!(await this.agents.tmux.hasSession(this.agents.session))) {
        await this.serverLost(expected);
        return;
      }
      const panes = new Map((await this.agents.tmux.listPanes()).map((p) => [p.paneId, p]));
      for (const r of expected) {
        const pane = panes.get(r.paneId!);
        if (pane && !pane.dead) this.pids.set(r.name, pane.pid);
        else this.pids.delete(r.name);
        if (!pane || pane.dead) {
          if (r.state !== 'backing-off' && r.state !== 'failed') await this.crashed(r, pane?.deadStatus ?? null);
          continue;
        }
        // Profiles without hooks: the screen is the only evidence of state and of API errors.
        const config = this.ctx.project.config.agents.find((a) => a.name === r.name)!;
        const profile = this.agents.profile(config);
        const silentMs = this.now() - Math.max(r.lastEventAt ?? 0, r.updatedAt);
        if (profile.hooks.kind !== 'none' && (r.state === 'busy' || r.state === 'starting') && silentMs > (this.o.staleBusyMs ?? 15_000)) {
          // A hook agent said busy and then went quiet: its Stop (or SessionStart) hook was lost —
          // killed or timed out — and it may sit at its prompt. Only then is the screen read.
          const screen = await this.agents.tmux.capture(pane.paneId).catch(() => '');
          if (classifyPane(profile.patterns, screen) === 'idle') {
            await this.ctx.store.recordEvent({ agent: r.name, kind: 'state_from_screen', fromState: r.state, toState: 'idle', detail: { silentMs } });
            await this.setState(r.name, r.state, 'idle', { reason: 'no hook event, prompt on screen' });
            this.wake(r.name);
          }
        }
        if (profile.hooks.kind === 'none' && r.state !== 'paused') {
          const screen = await this.agents.tmux.capture(pane.paneId).catch(() => '');
          const verdict = classifyPane(profile.patterns, screen);
          const to: AgentState = verdict === 'permission' ? 'waiting-permission' : verdict === 'busy' ? 'busy' : verdict === 'idle' ? 'idle' : r.state;
          await this.setState(r.name, r.state, to);
        }
      }
    } catch (err) {
      this.log.error({ event: 'reconcile_failed', error: String(err) }, 'reconciliation failed');
    } finally {
      this.reconciling = false;
    }
  }

  /** The tmux server died: every agent is recreated and resumed; the queue is untouched. */
  private async serverLost(expected: AgentRecord[]): Promise<void> {
    this.log.error({ event: 'tmux_server_lost', agents: expected.map((r) => r.name) }, 'tmux server is gone; recreating agents');
    for (const r of expected) {
      await this.ctx.store.recordEvent({ agent: r.name, kind: 'tmux_server_lost' });
      await this.ctx.store.requeueUnconfirmed(r.name, { sessionId: r.sessionId, reason: 'tmux server died' });
    }
    const report = await this.agents.up(expected.map((r) => r.name), { resume: true });
    for (const name of [...report.created, ...report.restarted]) {
      await this.ctx.store.recordEvent({ agent: name, kind: 'agent_recreated', detail: { reason: 'tmux server died' } });
    }
  }
}
