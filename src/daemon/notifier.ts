/**
 * The engine's notifications (issue 17): poked like the event feed (event-feed.ts) whenever
 * something happened to an agent, it reads that agent's newest `agent_state` events only (a few
 * rows, by the store's agent index), keeps each agent's state, and tells the channels hornets.json `notify` turns on:
 * the hornets tmux server's status line (who needs you now), `notify-send`, and the webhook. The
 * console rings the bell and asks the terminal for desktop notifications itself (it subscribes to
 * the same feed). Which changes are told is the pure policy in domain/notify-policy.ts: one per
 * agent per change into a needs-you state, none again for the same agent and state within the
 * quiet period. Nothing here waits for a receiver: the webhook queues, notify-send runs detached
 * from the engine's work, the status line is written once per burst of changes.
 */
import type { Logger } from 'pino';
import type { AgentState } from '../domain/agent.js';
import { eventKey, feedEvent, type FeedEvent } from '../domain/agent-events.js';
import { agentStates } from '../domain/agent-lifecycle.js';
import { needsYouLine, notificationText, notifyDecision, webhookBody, type NotifyMemory, type StateChange } from '../domain/notify-policy.js';
import { limitUntil } from '../domain/usage-limit.js';
import { durationMs } from '../domain/duration.js';
import type { NotifyConfig } from '../config/schema.js';
import type { MessageStore } from '../queue/store.js';
import { findOnPath } from '../proc/which.js';
import { runProgram } from '../proc/run.js';
import { WebhookSender } from './webhook-sender.js';

export interface NotifierOptions {
  /** As hornets.json says at start; `setConfig` takes a later edit. */
  config: NotifyConfig;
  project: string;
  node: string;
  store: MessageStore;
  /** The engine's agents (its node's share of a Redis team). */
  agents: () => string[];
  /** Sets the hornets tmux server's status-right (null: tmux's default). */
  setStatus: (text: string | null) => Promise<void>;
  /** PATH to find notify-send on. */
  path: string | undefined;
  log: Logger;
  now?: () => number;
}

/** The status line is written this long after the first change of a burst. */
const STATUS_SETTLE_MS = 200;

/** Newest state changes read per agent per poke: more between two pokes are skipped. */
const READ_LIMIT = 20;

interface Current {
  state: AgentState;
  resetAt: number | null;
}

export class Notifier {
  private memory: NotifyMemory = new Map();
  private readonly current = new Map<string, Current>();
  private config: NotifyConfig;
  private webhook: WebhookSender | null;
  private webhookSig: string;
  /** Whether any engine-side channel is on: off, pokes cost nothing. */
  private enabled = false;
  private started = false;
  private notifySend: string | null | undefined;
  private statusShown: string | null = null;
  private statusWriting: Promise<void> | null = null;
  private statusAgain = false;
  private statusTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private quietMs: number;
  /** Per agent: the keys of its newest state changes as last read; what is not among them is new. */
  private readonly seen = new Map<string, Set<string>>();
  private readonly due = new Set<string>();
  private reading: Promise<void> | null = null;
  private readAgain = false;

  constructor(private readonly o: NotifierOptions) {
    this.config = o.config;
    this.quietMs = durationMs(o.config.quiet);
    this.webhookSig = JSON.stringify(o.config.webhook ?? null);
    this.webhook = this.makeWebhook(o.config);
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
    this.enabled = Notifier.wanted(this.config);
    if (this.enabled) await this.prime();
  }

  private async prime(): Promise<void> {
    this.seen.clear();
    this.current.clear();
    const mine = new Set(this.o.agents());
    for (const r of await this.o.store.listAgents()) if (mine.has(r.name)) this.current.set(r.name, { state: r.state, resetAt: r.state === 'limited' ? limitUntil(r.lastError) : null });
    // What is in the log now is history: only changes after this are told.
    for (const a of mine) await this.readChanges(a);
    this.refreshStatus();
  }

  /** Something happened to `agent` (null: maybe to any): its new state changes are read soon. */
  poke(agent: string | null): void {
    if (this.stopped || !this.enabled) return;
    for (const a of agent === null ? this.o.agents() : [agent]) this.due.add(a);
    if (this.reading) {
      this.readAgain = true;
      return;
    }
    this.reading = this.readDue()
      .catch((err: unknown) => this.o.log.warn({ event: 'notify_read_failed', error: String(err) }, 'could not read state changes for notifications'))
      .finally(() => {
        this.reading = null;
        if (this.readAgain) {
          this.readAgain = false;
          this.poke(null);
        }
      });
  }

  private async readDue(): Promise<void> {
    // Pokes of one burst (a hook wakes, then its state change) are read once.
    await new Promise((r) => setImmediate(r));
    const agents = [...this.due];
    this.due.clear();
    const fresh: FeedEvent[] = [];
    for (const a of agents) fresh.push(...(await this.readChanges(a)));
    fresh.sort((x, y) => x.ts - y.ts);
    this.onEvents(fresh);
  }

  private async readChanges(agent: string): Promise<FeedEvent[]> {
    const events = (await this.o.store.events({ agent, kinds: ['agent_state'], limit: READ_LIMIT })).map(feedEvent);
    const before = this.seen.get(agent);
    this.seen.set(agent, new Set(events.map(eventKey)));
    return before ? events.filter((e) => !before.has(eventKey(e))) : [];
  }

  stop(): void {
    this.stopped = true;
    if (this.statusTimer) clearTimeout(this.statusTimer);
    this.webhook?.stop();
  }

  /** The webhook's counts (sent, failed, dropped, queued), for tests and the log. */
  webhookCounts() {
    return this.webhook?.counts() ?? null;
  }

  /** Events from the feed, oldest first. */
  onEvents(events: readonly FeedEvent[]): void {
    const changes = events.filter((e) => e.kind === 'agent_state' && e.agent !== null && typeof e.to === 'string' && (agentStates as readonly string[]).includes(e.to));
    if (changes.length === 0 || this.stopped || !this.enabled) return;
    void this.handle(changes).catch((err: unknown) => this.o.log.warn({ event: 'notify_failed', error: String(err) }, 'could not send a notification'));
  }

  private async handle(events: readonly FeedEvent[]): Promise<void> {
    for (const e of events) {
      const agent = e.agent!;
      const to = e.to as AgentState;
      const resetAt = to === 'limited' ? limitUntil((await this.o.store.getAgent(agent))?.lastError) : null;
      this.current.set(agent, { state: to, resetAt });
      const change: StateChange = { agent, from: (e.from as AgentState | null) ?? null, to, at: e.ts, reason: typeof e.detail?.on === 'string' ? e.detail.on : null, resetAt };
      const d = notifyDecision(this.memory, change, this.quietMs);
      this.memory = d.memory;
      if (d.notify) this.tell(change);
    }
    this.refreshStatus();
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
    const argv = ['--app-name=hornets-tui', `--urgency=${change.to === 'failed' ? 'critical' : 'normal'}`, `hornets ${this.o.project}`, notificationText(change, this.o.project)];
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
    const line = needsYouLine([...this.current.entries()].map(([name, c]) => ({ name, ...c })));
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
