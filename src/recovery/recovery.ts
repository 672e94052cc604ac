/**
 * Crash recovery: runs the pure restart policy (`decide`) with real timers and tmux. Every action on
 * one agent (a crash report, a scheduled restart, an operator restart or reset) runs in that
 * agent's own serial lane, and a crash is pinned to the generation that died, so the pane-died
 * hook and the reconciliation reporting the same death — or a report arriving after the restart —
 * can never cost a second restart.
 */
import type { Logger } from '../log.js';
import type { MessageStore } from '../queue/store.js';
import type { AgentManager } from '../services/agents.js';
import type { Lifecycle } from '../services/lifecycle.js';
import { classifyError, decide, defaultRestartPolicy, initialRecovery, type RecoveryAction, type RecoveryEvent, type RecoveryState, type RestartPolicy } from './restart-policy.js';
import { snapshotBeforeRestart } from './snapshot.js';

export interface RecoveryOptions {
  store: MessageStore;
  agents: AgentManager;
  lifecycle: Lifecycle;
  log: Logger;
  policy?: RestartPolicy;
  now?: () => number;
  random?: () => number;
  onRestart?: (agent: string) => void;
  /** Something changed that delivery should look at (a breaker closed, a back-off ended). */
  wake: (agent: string | null) => void;
}

export interface CrashReport {
  paneId: string;
  /** The generation that was running in the pane when it was seen dead; null = look it up now. */
  generation: number | null;
  exitStatus: number | null;
  /** Who saw it: `pane-died` hook, `reconcile`. */
  source: string;
}

export class Recovery {
  private readonly policy: RestartPolicy;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly states = new Map<string, RecoveryState>();
  /** Agents restarted by us and not yet proven healthy: name -> restart time. */
  private readonly probation = new Map<string, number>();
  /** The last generation whose crash was handled, per agent: one death, one decision. */
  private readonly handledGeneration = new Map<string, number>();
  /** The last error text acted upon per agent, so an old error is not acted on again. */
  private readonly errorsSeen = new Map<string, string>();
  private readonly lanes = new Map<string, Promise<unknown>>();
  private tickTimer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(private readonly o: RecoveryOptions) {
    this.policy = o.policy ?? defaultRestartPolicy;
    this.now = o.now ?? Date.now;
    this.random = o.random ?? Math.random;
  }

  /** Restart history and an open breaker survive an engine restart: rebuilt from recorded events. */
  async start(agentNames: string[]): Promise<void> {
    const now = this.now();
    for (const name of agentNames) {
      const events = await this.o.store.events({ agent: name, limit: 20_000, kinds: ['agent_restarted', 'agent_failed', 'breaker_closed'] });
      const restarts = events.filter((e) => e.kind === 'agent_restarted' && e.detail?.['byRecovery'] === true && now - e.ts < this.policy.windowMs).map((e) => e.ts);
      const record = await this.o.store.getAgent(name);
      const failed = record?.state === 'failed';
      const lastFailure = [...events].reverse().find((e) => e.kind === 'agent_failed');
      this.states.set(name, {
        ...initialRecovery,
        restarts,
        breaker: failed ? 'open' : 'closed',
        openedAt: failed ? (lastFailure?.ts ?? record?.updatedAt ?? now) : null,
        lastReason: failed ? (record?.lastError ?? null) : null,
      });
    }
    this.scheduleTick();
  }

  stop(): Promise<void> {
    this.stopped = true;
    if (this.tickTimer) clearTimeout(this.tickTimer);
    this.tickTimer = null;
    return Promise.allSettled([...this.lanes.values()]).then(() => undefined);
  }

  /** Delivery waits while the breaker is not closed, a restart is scheduled or the API backs off. */
  holds(agent: string, now = this.now()): boolean {
    const s = this.states.get(agent) ?? initialRecovery;
    return s.breaker !== 'closed' || s.restartAt !== null || (s.pausedUntil !== null && s.pausedUntil > now);
  }

  /** For `why` and the console: what recovery is waiting for. */
  describe(agent: string): RecoveryState {
    return this.states.get(agent) ?? initialRecovery;
  }

  /** Runs `fn` after everything already queued for this agent: one agent, one thing at a time. */
  private lane<T>(agent: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.lanes.get(agent) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch((err: unknown) => this.o.log.error({ event: 'recovery_failed', agent, error: String(err) }, 'recovery action failed'));
    this.lanes.set(agent, tail);
    void tail.then(() => {
      if (this.lanes.get(agent) === tail) this.lanes.delete(agent);
    });
    return run;
  }

  /** A pane was seen dead. Looked at again inside the agent's lane before anything is decided. */
  crashReported(report: CrashReport): Promise<void> {
    return (async () => {
      const record = (await this.o.store.listAgents()).find((a) => a.paneId === report.paneId);
      if (!record) return;
      await this.lane(record.name, () => this.handleCrash(record.name, report));
    })();
  }

  private async handleCrash(agent: string, report: CrashReport): Promise<void> {
    if (this.stopped) return;
    const record = await this.o.store.getAgent(agent);
    if (!record || record.paneId !== report.paneId) return;
    if (report.generation !== null && report.generation !== record.generation) return;
    // Already decided for this generation (a dead pane waiting out its back-off is reported every
    // reconciliation round): no tmux call for it.
    if (this.handledGeneration.get(agent) === record.generation || (this.states.get(agent)?.restartAt ?? null) !== null) return;
    // Stopped (stop/down kill their own panes) or failed agents stay down whatever the pane says:
    // no tmux call for them, so a team going down is not a storm of look-ups.
    if (record.state === 'stopped' || record.state === 'failed') return;
    // Seen dead by a report that may be seconds old: only a pane that is dead now is a crash of the
    // generation running now. A respawned pane is alive, and the report was about its predecessor.
    // tmux not answering (a timeout on a loaded machine) is not a death: the next report decides.
    const pane = await this.o.agents.tmux.pane(report.paneId).catch((err: unknown) => {
      this.o.log.warn({ event: 'crash_check_failed', agent, error: String(err) }, 'could not look at the pane; left to the next report');
      return undefined;
    });
    if (pane === undefined || (pane && !pane.dead)) return;
    const exitStatus = pane?.deadStatus ?? report.exitStatus;
    const t = await this.o.lifecycle.apply(agent, { type: 'pane-died', generation: record.generation, exitStatus }, {}, { exitStatus, source: report.source });
    // Stopped or failed agents stay down; `backing-off` with nothing scheduled is a restart this
    // engine inherited from one that stopped before its timer fired.
    if (t.after.state !== 'crashed' && t.after.state !== 'backing-off') return;
    this.handledGeneration.set(agent, record.generation);
    this.probation.delete(agent);
    const requeued = await this.o.store.requeueUnconfirmed(agent, { sessionId: record.sessionId, reason: `agent crashed (exit ${exitStatus ?? '?'})` });
    await this.o.store.recordEvent({ agent, kind: 'crash_handled', detail: { generation: record.generation, exitStatus, requeued, source: report.source } });
    await this.apply(agent, { type: 'crashed', exitStatus });
  }

  /** A StopFailure or Notification left an error on the agent: back off, or fail on auth errors. */
  errorReported(agent: string): Promise<void> {
    return this.lane(agent, async () => {
      const record = await this.o.store.getAgent(agent);
      if (!record?.lastError || this.errorsSeen.get(agent) === record.lastError) return;
      // A failed agent's error is the reason it failed: acting on it again would fail it again.
      if (record.state === 'failed' || (this.states.get(agent)?.breaker ?? 'closed') !== 'closed') return;
      this.errorsSeen.set(agent, record.lastError);
      const kind = classifyError(record.lastError);
      if (kind === 'rate-limit' || kind === 'overloaded') await this.apply(agent, { type: 'api-error', kind, message: record.lastError });
      else if (kind === 'auth') await this.apply(agent, { type: 'auth-error', message: record.lastError });
    });
  }

  /** The operator closed the breaker: restarts allowed again, nothing scheduled. */
  reset(agent: string): Promise<void> {
    return this.lane(agent, async () => {
      this.errorsSeen.delete(agent);
      await this.apply(agent, { type: 'reset' });
    });
  }

  /** The operator restarts: serialised with crash handling, not counted against the crash budget. */
  restart(agent: string): Promise<void> {
    return this.lane(agent, () => this.restartNow(agent, { resume: true, trial: false, manual: true }));
  }

  /** The operator stopped the agent: whatever was scheduled for it is off. */
  forget(agent: string): void {
    const s = this.states.get(agent);
    if (s) this.states.set(agent, { ...s, restartAt: null });
    this.probation.delete(agent);
  }

  private async apply(agent: string, event: RecoveryEvent): Promise<void> {
    const before = this.states.get(agent) ?? initialRecovery;
    const d = decide(before, event, this.now(), this.policy, this.random);
    this.states.set(agent, d.state);
    for (const action of d.actions) await this.act(agent, action);
    this.scheduleTick();
  }

  private async act(agent: string, action: RecoveryAction): Promise<void> {
    const { store, log, lifecycle } = this.o;
    switch (action.type) {
      case 'schedule-restart':
        await store.recordEvent({ agent, kind: 'restart_scheduled', detail: { at: action.at, attempt: action.attempt, delayMs: action.delayMs } });
        await lifecycle.apply(agent, { type: 'backing-off' }, {}, { restartAt: action.at, attempt: action.attempt });
        log.warn({ event: 'restart_scheduled', agent, delayMs: action.delayMs, attempt: action.attempt }, 'agent will be restarted');
        break;
      case 'restart': {
        const record = await store.getAgent(agent);
        // Stopped (stop/down) while backing off: the operator's word wins over the timer.
        if (!record || record.state === 'stopped') {
          this.forget(agent);
          await store.recordEvent({ agent, kind: 'restart_cancelled', detail: { reason: `agent is ${record?.state ?? 'gone'}` } });
          break;
        }
        await this.restartNow(agent, { resume: action.resume, trial: action.trial, manual: false });
        break;
      }
      case 'open-breaker':
        await store.recordEvent({ agent, kind: 'breaker_open', detail: { reason: action.reason } });
        break;
      case 'fail':
        await store.recordEvent({ agent, kind: 'agent_failed', detail: { reason: action.reason } });
        await lifecycle.apply(agent, { type: 'failed', reason: action.reason }, {}, { reason: action.reason });
        log.error({ event: 'agent_failed', agent, reason: action.reason }, 'agent failed: no more restarts until reset');
        break;
      case 'close-breaker':
        await store.recordEvent({ agent, kind: 'breaker_closed' });
        this.o.wake(agent);
        break;
      case 'back-off':
        await store.recordEvent({ agent, kind: 'api_backoff', detail: { until: action.until, reason: action.reason } });
        log.warn({ event: 'api_backoff', agent, until: action.until, reason: action.reason }, 'API error: delivery paused, no restart');
        break;
    }
  }

  /** `manual`: the operator asked; it is recorded but does not spend the crash-restart budget. */
  private async restartNow(agent: string, o: { resume: boolean; trial: boolean; manual: boolean }): Promise<void> {
    const { store, log } = this.o;
    // Count the attempt before it starts; a failed attempt counts too, or an agent that can never
    // start would retry forever.
    if (!o.manual) this.states.set(agent, decide(this.states.get(agent) ?? initialRecovery, { type: 'restarted' }, this.now(), this.policy, this.random).state);
    try {
      await snapshotBeforeRestart(store, this.o.agents, agent, this.now()).catch((err: unknown) =>
        log.warn({ event: 'snapshot_failed', agent, error: String(err) }, 'context snapshot before restart failed'),
      );
      const outcome = await this.o.agents.restartAgent(agent, { resume: o.resume });
      const record = await store.getAgent(agent);
      await store.updateAgent(agent, { restartCount: (record?.restartCount ?? 0) + 1, lastRestart: this.now() });
      await store.recordEvent({ agent, kind: 'agent_restarted', detail: { byRecovery: !o.manual, manual: o.manual, trial: o.trial, resume: o.resume, outcome, generation: record?.generation } });
      this.probation.set(agent, this.now());
      this.o.onRestart?.(agent);
      log.warn({ event: 'agent_restarted', agent, trial: o.trial, resume: o.resume, manual: o.manual }, o.manual ? 'agent restarted by the operator' : 'agent restarted by recovery');
    } catch (err) {
      log.error({ event: 'restart_failed', agent, error: String(err) }, 'restart failed');
      await this.apply(agent, { type: 'crashed', exitStatus: null, reason: `restart failed: ${err instanceof Error ? err.message : String(err)}` });
    }
    this.scheduleTick();
  }

  /** Timers are armed only while something is scheduled: no ticking when all is well. */
  private scheduleTick(): void {
    if (this.stopped) return;
    if (this.tickTimer) clearTimeout(this.tickTimer);
    this.tickTimer = null;
    const now = this.now();
    let next = Infinity;
    for (const s of this.states.values()) {
      if (s.restartAt !== null) next = Math.min(next, s.restartAt);
      if (s.breaker === 'open' && s.openedAt !== null) next = Math.min(next, s.openedAt + this.policy.windowMs);
      if (s.pausedUntil !== null) next = Math.min(next, s.pausedUntil);
    }
    for (const t of this.probation.values()) next = Math.min(next, t + this.policy.healthyAfterMs);
    if (next === Infinity) return;
    this.tickTimer = setTimeout(
      () => {
        this.tickTimer = null;
        void this.tick();
      },
      Math.max(0, Math.min(next - now, 2_147_000_000)),
    );
  }

  private async tick(): Promise<void> {
    const now = this.now();
    const work: Promise<unknown>[] = [];
    for (const [agent, since] of [...this.probation]) {
      if (now - since < this.policy.healthyAfterMs) continue;
      this.probation.delete(agent);
      work.push(
        this.lane(agent, async () => {
          const record = await this.o.store.getAgent(agent);
          const pane = record?.paneId ? await this.o.agents.tmux.pane(record.paneId).catch(() => null) : null;
          if (pane && !pane.dead) await this.apply(agent, { type: 'healthy' });
        }),
      );
    }
    for (const agent of [...this.states.keys()]) work.push(this.lane(agent, () => this.apply(agent, { type: 'tick' })));
    await Promise.allSettled(work);
    this.scheduleTick();
    this.o.wake(null);
  }
}
