/**
 * The console's own notifications (issue 17): the terminal bell and OSC 9 / OSC 777 desktop
 * notifications when an agent starts to need you, as hornets.json `notify.bell` and
 * `notify.desktop` ask, and when the budget policy pauses one over its budget. The console follows the engine's state changes (services/state-changes.ts)
 * and applies the same policy as the engine's channels (domain/notify-policy.ts): one per agent per
 * change, the quiet period against repeats. The sequences go straight to the terminal: they move no
 * cursor, so they may come between two frames (and reach the terminal while an agent is attached).
 */
import type { AgentState } from '../domain/agent.js';
import type { FeedEvent } from '../domain/agent-events.js';
import { durationMs } from '../domain/duration.js';
import { OVER_BUDGET, notificationText, notifyDecision, terminalAlert, type NotifyMemory, type StateChange } from '../domain/notify-policy.js';
import type { NotifyConfig } from '../config/schema.js';

export function alertsWanted(config: Pick<NotifyConfig, 'bell' | 'desktop'> | undefined): boolean {
  return config !== undefined && (config.bell || config.desktop !== 'off');
}

export class TerminalAlerts {
  private memory: NotifyMemory = new Map();
  private readonly quietMs: number;

  constructor(
    private readonly config: Pick<NotifyConfig, 'bell' | 'desktop' | 'quiet'>,
    private readonly project: string,
    private readonly write: (sequence: string) => void,
    /** A limited agent's reset time, from what the console knows. */
    private readonly resetAt: (agent: string) => number | null = () => null,
  ) {
    this.quietMs = durationMs(config.quiet);
  }

  /** An `agent_state` or `over_budget` event from the engine's feed. */
  onChange(e: FeedEvent): void {
    if (e.agent === null) return;
    if (e.kind === 'over_budget') {
      const reason = typeof e.detail?.reason === 'string' ? e.detail.reason : null;
      return this.decide({ agent: e.agent, from: null, to: OVER_BUDGET, at: e.ts, reason, resetAt: null });
    }
    if (typeof e.to !== 'string') return;
    const to = e.to as AgentState;
    this.decide({
      agent: e.agent,
      from: (e.from as AgentState | null) ?? null,
      to,
      at: e.ts,
      reason: typeof e.detail?.on === 'string' ? e.detail.on : null,
      resetAt: to === 'limited' ? this.resetAt(e.agent) : null,
    });
  }

  private decide(change: StateChange): void {
    const d = notifyDecision(this.memory, change, this.quietMs);
    this.memory = d.memory;
    if (!d.notify) return;
    const seq = terminalAlert(notificationText(change, this.project), { bell: this.config.bell, desktop: this.config.desktop, title: `hornets ${this.project}` });
    if (seq) this.write(seq);
  }
}
