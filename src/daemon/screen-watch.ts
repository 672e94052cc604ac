/**
 * Screen-derived states of agents without hooks, over time: the reconciler reports each capture,
 * and each delivery pass reviews the agent. A state not confirmed in time lapses (the agent becomes
 * `unknown`, and nothing is typed without a fresh look); a permission prompt that holds delivery
 * long is escalated once (logged, an event, the note status and `why` show) and released when the
 * prompt goes. The policy is domain/screen-hold.ts.
 */
import type { Logger } from '../log.js';
import type { AgentRecord } from '../domain/agent.js';
import type { PaneReading } from '../domain/pane-state.js';
import type { MessageStore } from '../queue/store.js';
import type { Lifecycle } from '../services/lifecycle.js';
import { holdNote, judgeHold, observeScreen, type ScreenHold, type ScreenHoldTiming } from '../domain/screen-hold.js';

export interface ScreenWatchOptions {
  store: MessageStore;
  lifecycle: Lifecycle;
  log: Logger;
  now: () => number;
  timing: ScreenHoldTiming;
}

export class ScreenWatch {
  private readonly holds = new Map<string, ScreenHold>();

  constructor(private readonly o: ScreenWatchOptions) {}

  /** A fresh capture of the agent's pane: confirms, starts or ends a hold. */
  async observe(agent: string, reading: PaneReading): Promise<void> {
    const prev = this.holds.get(agent) ?? null;
    const next = observeScreen(prev, reading, this.o.now());
    if (next) this.holds.set(agent, next);
    else this.holds.delete(agent);
    if (prev && prev.escalatedAt !== null && next?.verdict !== 'permission') await this.release(agent, prev, 'the prompt is gone from the screen');
  }

  /**
   * Before delivery to an agent whose messages are typed in: a state read from its screen (hookless
   * agents) that no capture confirmed in time (or none this engine made: it restarted) lapses; a long
   * hold is escalated. Returns the record as it is now.
   */
  async review(record: AgentRecord, options: { stateFromScreen: boolean }): Promise<AgentRecord> {
    const agent = record.name;
    const now = this.o.now();
    const hold = this.holds.get(agent) ?? null;
    // A hook agent's state is its hooks' word: only the hold is this watch's business.
    const screenState = options.stateFromScreen && (record.state === 'needs-input' || record.state === 'busy');
    const decision = judgeHold(hold, now, this.o.timing);
    if (decision.action === 'expire' || (screenState && !hold)) {
      this.holds.delete(agent);
      const released = hold && hold.escalatedAt !== null ? await this.release(agent, hold, 'no capture has shown the prompt again') : record;
      if (!screenState) return released;
      const t = await this.o.lifecycle.apply(agent, { type: 'screen-expired' }, {}, { reason: 'state read from the screen was not confirmed' });
      if (t.changed) {
        await this.o.store.recordEvent({ agent, kind: 'screen_state_expired', fromState: t.before.state, toState: t.after.state, detail: { confirmedAt: hold?.confirmedAt ?? null } });
        this.o.log.info({ event: 'screen_state_expired', agent, from: t.before.state }, 'state read from the screen lapsed: not confirmed by a fresh capture');
      }
      return t.after;
    }
    if (decision.action === 'escalate' && hold) {
      hold.escalatedAt = now;
      const note = holdNote(agent, hold);
      const t = await this.o.lifecycle.apply(agent, { type: 'held', note });
      await this.o.store.recordEvent({ agent, kind: 'delivery_held', detail: { since: hold.since, line: hold.line } });
      this.o.log.warn({ event: 'delivery_held', agent, since: new Date(hold.since).toISOString(), line: hold.line }, 'delivery held: the agent shows a permission prompt nobody answers');
      return t.after;
    }
    return record;
  }

  forget(agent: string): void {
    this.holds.delete(agent);
  }

  private async release(agent: string, hold: ScreenHold, why: string): Promise<AgentRecord> {
    const t = await this.o.lifecycle.apply(agent, { type: 'released' });
    await this.o.store.recordEvent({ agent, kind: 'delivery_released', detail: { since: hold.since, heldMs: this.o.now() - hold.since } });
    this.o.log.info({ event: 'delivery_released', agent, heldMs: this.o.now() - hold.since, why }, 'delivery hold ended');
    return t.after;
  }
}
