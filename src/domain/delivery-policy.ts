/**
 * The delivery decision for one agent at one moment: push, nudge, follow up on a nudge, wait, or
 * escalate to `stuck`. Pure (facts and a clock value in, a decision out) and table-tested; the
 * engine's nudger carries it out. Hooks deliver on their own (PostToolUse, Stop, UserPromptSubmit):
 * this only decides what to do for an agent that makes no hook calls because it sits at its prompt.
 */
import type { AgentState } from './agent.js';

export interface NudgeFacts {
  sentAt: number;
  /** Extra Enter presses made for this nudge. */
  enters: number;
  /** Its UserPromptSubmit saw the nonce, or a later hook event shows the turn started. */
  taken: boolean;
}

export interface RefusalFacts {
  /** First refusal since the agent's last hook event. */
  firstAt: number;
  lastAt: number;
  count: number;
  /** What the screen showed: busy, permission. */
  reason: string;
}

export interface DeliveryFacts {
  /** Profile delivery mode; `hooks` = pull only. */
  mode: 'hooks' | 'push' | 'hybrid';
  /** The profile installs hooks (else it is push-only whatever the mode says). */
  hasHooks: boolean;
  state: AgentState;
  paused: boolean;
  hasPane: boolean;
  /** Recovery holds delivery: breaker not closed, a restart scheduled, or an API back-off. */
  held: boolean;
  /** Messages queued, failed (retry due) or delivered but not yet acted on. */
  waiting: number;
  nudge: NudgeFacts | null;
  refusals: RefusalFacts | null;
  /** When the last nudge attempt (typed or refused) happened, for the stuck cooldown. */
  lastAttemptAt: number | null;
}

export interface DeliveryTiming {
  /** How long a nudge may wait for its UserPromptSubmit before Enter is pressed again. */
  nudgeTimeoutMs: number;
  /** Refusals or unanswered nudges for this long make the agent `stuck`. */
  stuckAfterMs: number;
  /** A stuck agent is tried again this often (its screen may have cleared). */
  stuckRetryMs: number;
}

export const defaultDeliveryTiming: DeliveryTiming = { nudgeTimeoutMs: 2_000, stuckAfterMs: 20_000, stuckRetryMs: 30_000 };

export type DeliveryDecision =
  | { action: 'none'; why: string }
  | { action: 'push' }
  | { action: 'nudge' }
  /** A nudge is out and its time is not up: look again at `at`. */
  | { action: 'await-nudge'; at: number }
  | { action: 'nudge-taken' }
  /** The agent was paused, lost its pane or is held by recovery: the nudge out no longer matters. */
  | { action: 'nudge-void' }
  /** The classic lost Enter: press it once more (only at an idle prompt; the nudger checks). */
  | { action: 'press-enter' }
  | { action: 'stuck'; reason: string };

export type NudgeFollowUp = Extract<DeliveryDecision, { action: 'nudge-taken' | 'nudge-void' | 'await-nudge' | 'press-enter' | 'stuck' }>;
export type NextDelivery = Extract<DeliveryDecision, { action: 'none' | 'push' | 'nudge' | 'stuck' }>;

/** Follow-up on a nudge that is out. `null` when there is none. */
export function followNudge(f: DeliveryFacts, now: number, t: DeliveryTiming): NudgeFollowUp | null {
  const n = f.nudge;
  if (!n) return null;
  if (n.taken) return { action: 'nudge-taken' };
  if (!f.hasPane || f.paused || f.held) return { action: 'nudge-void' };
  if (now - n.sentAt < t.nudgeTimeoutMs) return { action: 'await-nudge', at: n.sentAt + t.nudgeTimeoutMs };
  if (n.enters < 1) return { action: 'press-enter' };
  return { action: 'stuck', reason: `a nudge got no UserPromptSubmit within ${Math.round(t.nudgeTimeoutMs / 1000)} s, also after Enter was pressed again` };
}

/** What to do for an agent with no nudge out. */
export function nextDelivery(f: DeliveryFacts, now: number, t: DeliveryTiming): NextDelivery {
  if (!f.hasPane) return { action: 'none', why: 'no pane' };
  if (f.paused) return { action: 'none', why: 'paused' };
  if (f.held) return { action: 'none', why: 'held by recovery' };
  if (f.waiting === 0) return { action: 'none', why: 'nothing waiting' };
  // Whatever is typed into a limited agent fails the same way: it waits for the reset.
  if (f.state === 'limited') return { action: 'none', why: 'limited: messages wait for the limit to reset' };
  if (f.mode === 'push' || !f.hasHooks) return { action: 'push' };
  if (f.mode === 'hooks') return { action: 'none', why: 'pull only: the next hook takes it' };
  if (f.state === 'stuck') {
    if (f.lastAttemptAt !== null && now - f.lastAttemptAt < t.stuckRetryMs) return { action: 'none', why: 'stuck: waiting before the next try' };
    return { action: 'nudge' };
  }
  if (f.state !== 'idle') return { action: 'none', why: `agent is ${f.state}: its hooks take the messages` };
  if (f.refusals && now - f.refusals.firstAt >= t.stuckAfterMs) {
    return { action: 'stuck', reason: `${f.refusals.count} nudges refused over ${Math.round((now - f.refusals.firstAt) / 1000)} s: hooks say idle but the screen shows ${f.refusals.reason}` };
  }
  return { action: 'nudge' };
}
