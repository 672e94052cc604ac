/**
 * The engine's notifications (issue 17): told by the store of each agent state change this engine
 * commits (MessageStore.onAgentTransition: the change itself, no store read), and by the budget
 * policy of each crossing of a budget, it keeps each agent's state and tells the channels
 * hornets.json `notify` turns on: the hornets tmux server's status line (who needs you now),
 * `notify-send`, and the webhook. The console rings the bell and asks the terminal for desktop
 * notifications itself (it follows the engine's event stream). Which changes are told is the pure
 * policy in domain/notify-policy.ts: one per agent per change into a needs-you state (or over
 * budget), none again for the same agent and state within the quiet period. A change another
 * process made (a hook's Node fallback writing the database while the engine's port did not
 * answer, another node) is found by a sweep: one read of the agents every SWEEP_MS, and the log of
 * an agent whose stored state is not the one known here. What happened before the engine started
 * (or the notifications were turned on) is history: not told. Nothing here waits for a receiver:
 * the webhook queues, notify-send runs detached from the engine's work, the status line is written
 * once per burst of changes.
 */
import type { Logger } from 'pino';
import type { AgentRecord, AgentState } from '../domain/agent.js';
import { feedEvent, type FeedEvent } from '../domain/agent-events.js';
import { agentStates } from '../domain/agent-lifecycle.js';
import { OVER_BUDGET, needsYouLine, notificationText, notifyDecision, webhookBody, type NotifyMemory, type StateChange } from '../domain/notify-policy.js';
import { limitUntil } from '../domain/usage-limit.js';
import { durationMs } from '../domain/duration.js';
import type { NotifyConfig } from '../config/schema.js';
import type { AgentTransition, MessageStore } from '../queue/store.js';
import { findOnPath } from '../proc/which.js';
import { runProgram } from '../proc/run.js';
import { WebhookSender } from './webhook-sender.js';

export interface NotifierOptions {
  /** As hornets.json says at start; `setConfig` takes a later edit. */
  config: NotifyConfig;
  project: string;
  node: string;
  store: Pick<MessageStore, 'listAgents' | 'events' | 'agentUsage' | 'onAgentTransition'>;
  /** The engine's agents (its node's share of a Redis team). */
  agents: () => string[];
  /** Sets the hornets tmux server's status-right (null: tmux's default). */
  setStatus: (text: string | null) => Promise<void>;
  /** PATH to find notify-send on. */
  path: string | undefined;
  log: Logger;
  /** How often changes other processes made are looked for (default SWEEP_MS). */
  sweepMs?: number;
}

/** The status line is written this long after the first change of a burst. */
const STATUS_SETTLE_MS = 200;

/** Changes made by other processes are found within this (the engine's reconcile period). */
const SWEEP_MS = 10_000;

/** Newest state changes read for an agent whose stored state moved behind the engine's back. */
const READ_LIMIT = 20;

interface Current {
  state: AgentState;
  resetAt: number | null;
  overBudget: boolean;
  /** When the state known here was stored: a stored record no newer says nothing new. */
  at: number;
}

export class Notifier {
  private memory: NotifyMemory = new Map();
  private readonly current = new Map<string, Current>();
  private config: NotifyConfig;
  private webhook: WebhookSender | null;
  private webhookSig: string;
  /** Whether any engine-side channel is on: off, transitions cost nothing. */
  private enabled = false;
  private started = false;
  private notifySend: string | null | undefined;
  private statusShown: string | null = null;
  private statusWriting: Promise<void> | null = null;
  private statusAgain = false;
  private statusTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private quietMs: number;
  private unsubscribe: (() => void) | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  private sweeping: Promise<void> | null = null;
  /** The agents' states are being read (start, turned on): transitions meanwhile wait for it. */
  private priming: Promise<void> | null = null;
  /** The engine's agents, read again when the team is reloaded. */
  private mine: Set<string>;

  constructor(private readonly o: NotifierOptions) {
    this.config = o.config;
    this.quietMs = durationMs(o.config.quiet);
    this.webhookSig = JSON.stringify(o.config.webhook ?? null);
    this.webhook = this.makeWebhook(o.config);
    this.mine = new Set(o.agents());
  }

  private makeWebhook(config: NotifyConfig): WebhookSender | null {
    const w = config.webhook;
    return w ? new WebhookSender({ url: w.url, timeoutMs: durationMs(w.timeout), retries: w.retries, backoffMs: durationMs(w.backoff), queueMax: w.queue, log: this.o.log }) : null;
  }

  /**
   * hornets.json's `notify` as edited while the engine runs: channels turned on start with the next
   * change (what happened before is history, as at start), channels turned off stop now (the status
   * line goes back to tmux's default), a changed webhook gets a new sender (the old one's queue is
   * dropped: its receiver is no longer wanted).
   */
  async setConfig(config: NotifyConfig): Promise<void> {
    this.mine = new Set(this.o.agents());
    if (JSON.stringify(config) === JSON.stringify(this.config)) return;
    const wasEnabled = this.enabled;
    const hadStatus = this.config.tmuxStatus;
    this.config = config;
    this.quietMs = durationMs(config.quiet);
    const sig = JSON.stringify(config.webhook ?? null);
    if (sig !== this.webhookSig) {
      this.webhook?.stop();
      this.webhookSig = sig;
      this.webhook = this.makeWebhook(config);
    }
    if (!this.started || this.stopped) return;
    this.enabled = Notifier.wanted(config);
    if (this.enabled && !wasEnabled) await this.prime();
    if (!this.enabled) this.stopSweep();
    if (hadStatus && !config.tmuxStatus && this.statusShown !== null) {
      this.statusShown = null;
      await this.o.setStatus(null).catch(() => undefined);
    } else if (config.tmuxStatus && !hadStatus) this.refreshStatus();
    this.o.log.info({ event: 'notify_settings', on: this.enabled }, 'notifications follow the edited hornets.json');
  }

  /** Whether any engine-side channel is on (else the engine does not listen at all). */
  static wanted(config: NotifyConfig): boolean {
    return config.tmuxStatus || config.notifySend || config.webhook !== undefined;
  }

  /** The agents' states as stored now: the status line starts from them. */
  async start(): Promise<void> {
    this.started = true;
    this.unsubscribe = this.o.store.onAgentTransition((agent, t, cause) => this.onTransition(agent, t, cause));
    this.enabled = Notifier.wanted(this.config);
    if (this.enabled) await this.prime();
  }

  private prime(): Promise<void> {
    const run = (async () => {
      this.current.clear();
      this.mine = new Set(this.o.agents());
      const over = new Set((await this.o.store.agentUsage([...this.mine])).filter((u) => u.overBudget).map((u) => u.agent));
      // What is stored now is history: only changes after this are told.
      for (const r of await this.o.store.listAgents()) if (this.mine.has(r.name)) this.current.set(r.name, this.known(r, over.has(r.name) && r.paused));
    })();
    this.priming = run;
    return run.finally(() => {
      if (this.priming === run) this.priming = null;
      if (this.stopped || !this.enabled) return;
      this.refreshStatus();
      this.startSweep();
    });
  }

  private known(r: AgentRecord, overBudget: boolean): Current {
    return { state: r.state, resetAt: r.state === 'limited' ? limitUntil(r.lastError) : null, overBudget, at: r.updatedAt };
  }

  /** A transition this engine committed: the change itself, no read. */
  private onTransition(agent: string, t: AgentTransition, cause: string): void {
    if (this.stopped || !this.enabled || !this.mine.has(agent)) return;
    if (this.priming) {
      // Told after the read: the read record may be this one's (then it is history) or older.
      void this.priming.then(() => this.onTransition(agent, t, cause));
      return;
    }
    const was = this.current.get(agent);
    // Older than what is known, or the very record the start read (history).
    if (was && (was.at > t.after.updatedAt || (was.at === t.after.updatedAt && was.state === t.after.state))) return;
    const overBudget = (was?.overBudget ?? false) && t.after.paused;
    this.current.set(agent, this.known(t.after, overBudget));
    // It left a state not known here: another process changed it in between, not yet swept.
    if (was && was.state !== t.before.state) this.readMissed(agent, was.at, t.after.updatedAt, t.after.lastError);
    if (t.changed) this.consider({ agent, from: t.before.state, to: t.after.state, at: t.after.updatedAt, reason: cause, resetAt: this.current.get(agent)!.resetAt });
    if (this.config.tmuxStatus && (t.changed || (was?.overBudget ?? false) !== overBudget)) this.refreshStatus();
  }

  /** The budget policy paused `agent` over its budget (once per crossing): `reason` says which limit. */
  overBudget(agent: string, reason: string, at: number): void {
    if (this.stopped || !this.enabled || !this.mine.has(agent)) return;
    const c = this.current.get(agent);
    if (c) c.overBudget = true;
    this.consider({ agent, from: c?.state ?? null, to: OVER_BUDGET, at, reason, resetAt: null });
    this.refreshStatus();
  }

  private consider(change: StateChange): void {
    const d = notifyDecision(this.memory, change, this.quietMs);
    this.memory = d.memory;
    if (d.notify) this.tell(change);
  }

  private startSweep(): void {
    if (this.sweepTimer || this.stopped) return;
    this.sweepTimer = setInterval(() => {
      if (this.sweeping) return;
      this.sweeping = this.sweep()
        .catch((err: unknown) => this.o.log.warn({ event: 'notify_read_failed', error: String(err) }, 'could not read state changes for notifications'))
        .finally(() => (this.sweeping = null));
    }, this.o.sweepMs ?? SWEEP_MS);
    this.sweepTimer.unref();
  }

  private stopSweep(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
  }

  /** Changes another process made: an agent stored in another state than known here, since then. */
  private async sweep(): Promise<void> {
    if (this.stopped || !this.enabled || this.priming) return;
    let moved = false;
    for (const r of await this.o.store.listAgents()) {
      const c = this.current.get(r.name);
      if (!this.mine.has(r.name) || (c && (c.state === r.state || r.updatedAt <= c.at))) continue;
      const events = await this.stateEvents(r.name);
      // A transition of this engine told meanwhile is as new as this record, or newer.
      const now = this.current.get(r.name);
      if (now && now.at >= r.updatedAt) continue;
      this.current.set(r.name, this.known(r, (now?.overBudget ?? false) && r.paused));
      moved = true;
      // An agent new to this engine (the team was reloaded): what it went through before is history.
      if (c) this.considerLogged(r.name, events, c.at, Infinity, r.lastError);
    }
    if (moved) this.refreshStatus();
  }

  /** The changes of `agent` another process made between two known to this engine. */
  private readMissed(agent: string, since: number, until: number, lastError: string | null): void {
    void this.stateEvents(agent)
      .then((events) => this.considerLogged(agent, events, since, until, lastError))
      .catch((err: unknown) => this.o.log.warn({ event: 'notify_read_failed', error: String(err) }, 'could not read state changes for notifications'));
  }

  private async stateEvents(agent: string): Promise<FeedEvent[]> {
    return (await this.o.store.events({ agent, kinds: ['agent_state'], limit: READ_LIMIT })).map(feedEvent);
  }

  private considerLogged(agent: string, events: readonly FeedEvent[], since: number, until: number, lastError: string | null): void {
    const states = agentStates as readonly string[];
    for (const e of events.filter((x) => x.ts > since && x.ts < until && x.agent === agent && typeof x.to === 'string' && states.includes(x.to)).sort((x, y) => x.ts - y.ts)) {
      const to = e.to as AgentState;
      this.consider({
        agent,
        from: (e.from as AgentState | null) ?? null,
        to,
        at: e.ts,
        reason: typeof e.detail?.on === 'string' ? e.detail.on : null,
        resetAt: to === 'limited' ? limitUntil(lastError) : null,
      });
    }
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
    this.stopSweep();
    if (this.statusTimer) clearTimeout(this.statusTimer);
    this.webhook?.stop();
  }

  /** The webhook's counts (sent, failed, dropped, queued), for tests and the log. */
  webhookCounts() {
    return this.webhook?.counts() ?? null;
  }

  private tell(change: StateChange): void {
    this.o.log.info({ event: 'notify', agent: change.agent, state: change.to, from: change.from }, 'notifying: an agent needs you');
    if (this.webhook) this.webhook.send(webhookBody(change, { project: this.o.project, node: this.o.node }));
    if (this.config.notifySend) this.runNotifySend(change);
  }

  private runNotifySend(change: StateChange): void {
    if (this.notifySend === undefined) {
      this.notifySend = findOnPath('notify-send', this.o.path);
      if (this.notifySend === null) this.o.log.info({ event: 'notify_send_missing' }, 'notify-send is not installed: desktop notifications through it are skipped');
    }
    if (this.notifySend === null) return;
    const argv = [
      '--app-name=hornets-tui',
      `--urgency=${change.to === 'failed' || change.to === OVER_BUDGET ? 'critical' : 'normal'}`,
      `hornets ${this.o.project}`,
      notificationText(change, this.o.project),
    ];
    runProgram(this.notifySend, argv, { timeoutMs: 10_000 }).catch((f: { message?: string }) => this.o.log.warn({ event: 'notify_send_failed', error: f.message ?? String(f) }, 'notify-send failed'));
  }

  /**
   * Writes the status line when it changed: a burst of changes (a team hitting a limit together)
   * is one tmux process after STATUS_SETTLE_MS, not one per agent; one write at a time, the last
   * state wins.
   */
  private refreshStatus(): void {
    if (!this.config.tmuxStatus || this.stopped || this.statusTimer) return;
    this.statusTimer = setTimeout(() => {
      this.statusTimer = null;
      this.writeStatus();
    }, STATUS_SETTLE_MS);
  }

  private writeStatus(): void {
    if (this.stopped) return;
    if (this.statusWriting) {
      this.statusAgain = true;
      return;
    }
    const line = needsYouLine([...this.current.entries()].map(([name, c]) => ({ name, state: c.state, resetAt: c.resetAt, overBudget: c.overBudget })));
    const text = line === '' ? null : line;
    if (text === this.statusShown) return;
    this.statusWriting = this.o
      .setStatus(text)
      .then(
        () => {
          this.statusShown = text;
        },
        // No tmux server yet (or any more): the next change writes it again.
        (err: unknown) => this.o.log.debug({ event: 'notify_status_failed', error: String(err) }, 'could not set the tmux status line'),
      )
      .finally(() => {
        this.statusWriting = null;
        if (this.statusAgain) {
          this.statusAgain = false;
          this.refreshStatus();
        }
      });
  }
}
