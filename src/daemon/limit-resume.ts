/**
 * Resumes agents whose usage limit has reset (issue 17): at the reset time the CLI stated, the agent
 * leaves `limited` and is handed a message saying so, which idle delivery nudges in like any other
 * (so the nudge is confirmed, retried and shown like any other). The plan is pure
 * (domain/usage-limit.ts); this runs it with the engine's clock and one timer for the nearest reset.
 */
import type { Logger } from 'pino';
import type { AgentRecord } from '../domain/agent.js';
import { limitResumePlan, limitUntil } from '../domain/usage-limit.js';
import type { MessageStore } from '../queue/store.js';
import type { Lifecycle } from '../services/lifecycle.js';

/** A timer further out than this is set again at the next pass (setTimeout's range ends at ~24.8 days). */
const MAX_TIMER_MS = 3_600_000;

export interface LimitResumeOptions {
  store: MessageStore;
  lifecycle: Lifecycle;
  log: Logger;
  now: () => number;
  /** Run a delivery pass after `ms` (the engine's wake-ups). */
  wakeLater: (ms: number) => void;
  /** Closes what the CLI holds open over its prompt after a limit (Claude Code's limit options menu), so the nudge can type. */
  clearScreen?: (record: AgentRecord) => Promise<void>;
}

export function resumeText(resetAt: number): string {
  return `Your usage limit reset at ${new Date(resetAt).toISOString()}. Carry on with the work the limit interrupted.`;
}

export class LimitResume {
  /** When the timer set last fires; null when none is out. */
  private timerAt: number | null = null;

  constructor(private readonly o: LimitResumeOptions) {}

  /** Called on each delivery pass with the engine's agents: resumes what is due, schedules the next. */
  async review(records: readonly AgentRecord[]): Promise<string[]> {
    const now = this.o.now();
    const plan = limitResumePlan(records, now);
    const resumed: string[] = [];
    for (const name of plan.due) {
      const record = records.find((r) => r.name === name)!;
      const resetAt = limitUntil(record.lastError) ?? now;
      const t = await this.o.lifecycle.apply(name, { type: 'limit-reset' }, {}, { resetAt });
      // Someone else moved it meanwhile (a hook, the operator): nothing to resume.
      if (!t.changed || t.after.state !== 'idle') continue;
      await this.o.store.recordEvent({ agent: name, kind: 'limit_reset', detail: { resetAt } });
      await this.o
        .clearScreen?.(record)
        .catch((err: unknown) => this.o.log.warn({ event: 'limit_screen_failed', agent: name, error: String(err) }, 'could not look at the screen after a limit reset'));
      await this.o.store.enqueue({ agent: name, body: resumeText(resetAt), sender: 'hornets', key: `limit-reset:${name}:${resetAt}` });
      this.o.log.info({ event: 'limit_reset', agent: name, resetAt }, 'usage limit reset: agent resumed');
      resumed.push(name);
    }
    if (plan.wakeAt !== null && (this.timerAt === null || this.timerAt <= now || plan.wakeAt < this.timerAt)) {
      const ms = Math.min(MAX_TIMER_MS, Math.max(0, plan.wakeAt - now));
      this.timerAt = now + ms;
      this.o.wakeLater(ms);
    }
    return resumed;
  }
}
