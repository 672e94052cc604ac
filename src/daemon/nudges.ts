/**
 * Idle delivery: carries out the pure delivery decision for agents that sit at their prompt. A nudge
 * is one short line with a nonce, never the message text; UserPromptSubmit sees the nonce and hands
 * the pending messages over as context. Refused or unanswered nudges escalate to `stuck` within a
 * bounded time, so a wedged agent is visible instead of silently holding its queue.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../log.js';
import type { AgentRecord } from '../domain/agent.js';
import type { MessageStore } from '../queue/store.js';
import type { AgentManager } from '../services/agents.js';
import type { DeliveryService } from '../services/delivery.js';
import type { Lifecycle } from '../services/lifecycle.js';
import { PushRefused, typeNudge } from '../services/push.js';
import type { ScreenWatch } from './screen-watch.js';
import { classifyPane } from '../domain/pane-state.js';
import { followNudge, nextDelivery, type DeliveryFacts, type DeliveryTiming, type NudgeFacts, type RefusalFacts } from '../domain/delivery-policy.js';

interface Nudge {
  nonce: string;
  sentAt: number;
  enters: number;
}

export interface NudgerOptions {
  store: MessageStore;
  agents: AgentManager;
  delivery: DeliveryService;
  lifecycle: Lifecycle;
  log: Logger;
  timing: DeliveryTiming;
  now: () => number;
  /** Run a delivery pass for this agent after `ms`. */
  wakeLater: (agent: string, ms: number) => void;
  /** Pushes refused at a permission prompt (and pushes that went through) are readings of the screen. */
  screens: ScreenWatch;
}

export class Nudger {
  private readonly nudges = new Map<string, Nudge>();
  private readonly refusals = new Map<string, RefusalFacts>();
  private readonly lastAttempt = new Map<string, number>();

  constructor(private readonly o: NudgerOptions) {}

  /** A hook event of the agent: a nudge it answered is done; refusals start over. */
  onHook(agent: string, event: string): void {
    if (event === 'UserPromptSubmit') this.nudges.delete(agent);
    this.refusals.delete(agent);
  }

  /** The agent was restarted, crashed or stopped: nothing pending applies to the new process. */
  forget(agent: string): void {
    this.nudges.delete(agent);
    this.refusals.delete(agent);
    this.lastAttempt.delete(agent);
  }

  /** For `why`: the refusals and the nudge out, if any. */
  pending(agent: string): { nudgeSentAt: number | null; refusals: RefusalFacts | null } {
    return { nudgeSentAt: this.nudges.get(agent)?.sentAt ?? null, refusals: this.refusals.get(agent) ?? null };
  }

  async consider(record: AgentRecord, facts: Omit<DeliveryFacts, 'nudge' | 'refusals' | 'lastAttemptAt'>): Promise<void> {
    const agent = record.name;
    const now = this.o.now();
    const nudge = this.nudges.get(agent);
    const full: DeliveryFacts = {
      ...facts,
      nudge: nudge ? await this.nudgeFacts(agent, record, nudge) : null,
      refusals: this.refusals.get(agent) ?? null,
      lastAttemptAt: this.lastAttempt.get(agent) ?? null,
    };
    const follow = followNudge(full, now, this.o.timing);
    if (follow) {
      switch (follow.action) {
        case 'nudge-taken':
        case 'nudge-void':
          this.nudges.delete(agent);
          break;
        case 'await-nudge':
          this.o.wakeLater(agent, Math.max(20, follow.at - now + 20));
          return;
        case 'press-enter':
          await this.pressEnter(record, nudge!, now);
          return;
        case 'stuck':
          this.nudges.delete(agent);
          await this.markStuck(agent, follow.reason, nudge?.nonce ?? null);
          return;
      }
      if (this.nudges.has(agent)) return;
    }
    const next = nextDelivery(full, now, this.o.timing);
    switch (next.action) {
      case 'push':
        await this.pushAll(record);
        return;
      case 'nudge':
        await this.sendNudge(record, facts.waiting, now);
        return;
      case 'stuck':
        await this.markStuck(agent, next.reason, null);
        return;
      case 'none':
        return;
    }
  }

  private async nudgeFacts(agent: string, record: AgentRecord, nudge: Nudge): Promise<NudgeFacts> {
    // Its UserPromptSubmit saw the nonce — or that hook was lost (killed, timed out) but the turn it
    // started is under way: any later hook event of the agent shows the nudge was taken.
    let taken = (record.lastEventAt ?? 0) > nudge.sentAt;
    if (!taken) {
      // Only the agent's own events of that kind: a Redis store reads every recent message's history
      // for an unfiltered look, once per agent with a nudge out, on every delivery pass.
      const events = await this.o.store.events({ agent, kinds: ['nudge_seen'], limit: 50 });
      taken = events.some((e) => e.kind === 'nudge_seen' && e.detail?.['nonce'] === nudge.nonce);
    }
    return { sentAt: nudge.sentAt, enters: nudge.enters, taken };
  }

  private async pushAll(record: AgentRecord): Promise<void> {
    if (record.state === 'needs-input' || record.state === 'limited' || record.state === 'crashed' || record.state === 'stopped') return;
    try {
      const r = await this.o.delivery.pushPending(record.name, { limit: 20 });
      if (r.delivered.length) this.o.log.info({ event: 'push_delivered', agent: record.name, ids: r.delivered.map((d) => d.id) }, 'pushed messages');
      // Each push looked at the screen first: a prompt there holds delivery (and is escalated if it
      // stays); a push that went through shows it is gone.
      const prompt = r.refused.find((x) => x.kind === 'permission');
      if (prompt) await this.o.screens.observe(record.name, { verdict: 'permission', line: prompt.line ?? null });
      else if (r.delivered.length) await this.o.screens.observe(record.name, { verdict: 'idle', line: null });
    } catch (err) {
      this.o.log.warn({ event: 'push_failed', agent: record.name, error: String(err) }, 'push delivery failed');
    }
  }

  private async sendNudge(record: AgentRecord, count: number, now: number): Promise<void> {
    const agent = record.name;
    // The pass's snapshot is as old as the nudges typed to agents before this one: look again, so a
    // turn that started meanwhile is not typed into.
    const fresh = await this.o.store.getAgent(agent);
    if (!fresh?.paneId || fresh.paused || (fresh.state !== 'idle' && fresh.state !== 'stuck')) return;
    this.lastAttempt.set(agent, now);
    const nonce = randomBytes(6).toString('hex');
    // The nonce goes last: it is what shows the line has arrived (an older nudge may still be on screen).
    const tag = `[hornets:${nonce}]`;
    const line = `${count} new message${count === 1 ? '' : 's'} from hornets: in your context, please act on ${count === 1 ? 'it' : 'them'}. ${tag}`;
    try {
      const typing = await typeNudge(this.o.agents.tmux, fresh.paneId, line, tag, { patterns: this.o.agents.profile(this.o.agents.agentConfig(agent)).patterns, typed: this.o.agents.typed });
      this.nudges.set(agent, { nonce, sentAt: now, enters: 0 });
      this.o.wakeLater(agent, this.o.timing.nudgeTimeoutMs + 20);
      // decidedAt: when this pass decided to nudge (a wake's reaction time, apart from the typing).
      await this.o.store.recordEvent({ agent, kind: 'nudge_sent', detail: { nonce, waiting: count, decidedAt: now } });
      this.o.log.info({ event: 'nudge_sent', agent, nonce, waiting: count, typing }, 'idle agent nudged');
    } catch (err) {
      const reason = err instanceof PushRefused ? err.reason : 'failed';
      this.o.log.info({ event: 'nudge_skipped', agent, reason, error: err instanceof Error ? err.message : String(err) }, 'nudge not typed');
      if (reason !== 'busy' && reason !== 'permission') return;
      const prev = this.refusals.get(agent);
      const line = err instanceof PushRefused && err.line ? ` (line: ${err.line.slice(0, 80)})` : '';
      const shown = `${reason === 'busy' ? 'it busy' : 'a permission prompt'}${line}`;
      this.refusals.set(agent, { firstAt: prev?.firstAt ?? now, lastAt: now, count: (prev?.count ?? 0) + 1, reason: shown });
      if (!prev) await this.o.store.recordEvent({ agent, kind: 'nudge_refused', detail: { reason, line: err instanceof PushRefused ? err.line : null } });
      // Claude Code redraws a moment after its Stop hook: look again soon, then at a slower pace until
      // the refusals either stop (a hook event) or last long enough to call the agent stuck.
      const n = (prev?.count ?? 0) + 1;
      this.o.wakeLater(agent, n <= 20 ? 150 : Math.min(2_000, this.o.timing.stuckAfterMs / 4));
    }
  }

  private async pressEnter(record: AgentRecord, nudge: Nudge, now: number): Promise<void> {
    const agent = record.name;
    if (!record.paneId) return;
    // Only at an idle prompt, never into a permission prompt or a busy agent, where a keystroke would
    // answer or interrupt something.
    const screen = await this.o.agents.tmux.capture(record.paneId).catch(() => '');
    const verdict = classifyPane(this.o.agents.profile(this.o.agents.agentConfig(agent)).patterns, screen, { typed: this.o.agents.typed.recent(record.paneId) });
    nudge.enters++;
    nudge.sentAt = now;
    this.o.wakeLater(agent, this.o.timing.nudgeTimeoutMs + 20);
    if (verdict === 'permission' || verdict === 'busy') {
      await this.o.store.recordEvent({ agent, kind: 'nudge_enter_skipped', detail: { nonce: nudge.nonce, verdict } });
      return;
    }
    await this.o.agents.tmux.sendKey(record.paneId, 'Enter').catch(() => undefined);
    await this.o.store.recordEvent({ agent, kind: 'nudge_enter_retry', detail: { nonce: nudge.nonce } });
  }

  private async markStuck(agent: string, reason: string, nonce: string | null): Promise<void> {
    this.refusals.delete(agent);
    this.lastAttempt.set(agent, this.o.now());
    const t = await this.o.lifecycle.apply(agent, { type: 'stuck', reason: `stuck: ${reason}` }, {}, { reason });
    if (!t.changed) return;
    await this.o.store.recordEvent({ agent, kind: 'stuck', detail: { reason, nonce } });
    this.o.log.warn({ event: 'agent_stuck', agent, reason }, 'delivery to an idle agent is wedged; agent marked stuck');
  }
}
