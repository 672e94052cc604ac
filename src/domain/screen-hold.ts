/**
 * What a state read from an agent's screen is worth over time, for agents whose screen is the only
 * evidence (profiles without hooks). A reading holds for `ttlMs` and then lapses unless a fresh
 * capture shows it again, so one misread screen cannot keep an agent "needs-input" (and its
 * queue held) for good. A permission prompt that does hold delivery for `alertAfterMs` is escalated
 * once: logged, shown in status and named by `queue why`. Pure: readings and a clock value in,
 * decisions out; the engine's ScreenWatch carries them out.
 */
import type { PaneVerdict } from './pane-state.js';

/** A screen-derived state that keeps delivery back. */
export interface ScreenHold {
  verdict: 'permission' | 'busy';
  /** First capture that showed it (in a row). */
  since: number;
  /** Latest capture that showed it again. */
  confirmedAt: number;
  /** The line that showed it, as read. */
  line: string | null;
  /** When it was escalated; null while it was not. */
  escalatedAt: number | null;
}

export interface ScreenHoldTiming {
  /** A screen-derived state not confirmed by a capture for this long is no longer believed. */
  ttlMs: number;
  /** A permission prompt holding delivery this long is escalated. */
  alertAfterMs: number;
}

export const defaultScreenHoldTiming: ScreenHoldTiming = { ttlMs: 15_000, alertAfterMs: 30_000 };

/** A fresh capture: the hold goes on (confirmed), begins, changes kind, or ends (null). */
export function observeScreen(prev: ScreenHold | null, reading: { verdict: PaneVerdict; line: string | null }, now: number): ScreenHold | null {
  const v = reading.verdict;
  if (v !== 'permission' && v !== 'busy') return null;
  if (prev && prev.verdict === v) return { ...prev, confirmedAt: now, line: reading.line ?? prev.line };
  return { verdict: v, since: now, confirmedAt: now, line: reading.line, escalatedAt: null };
}

export type HoldDecision =
  | { action: 'none' }
  /** Not confirmed within the TTL: forget it, and the agent state read from it. */
  | { action: 'expire' }
  /** Held long enough to tell someone (once). */
  | { action: 'escalate' };

export function judgeHold(hold: ScreenHold | null, now: number, t: ScreenHoldTiming): HoldDecision {
  if (!hold) return { action: 'none' };
  if (now - hold.confirmedAt >= t.ttlMs) return { action: 'expire' };
  // An agent at work for a long time is normal; only a question nobody answers is escalated.
  if (hold.verdict === 'permission' && hold.escalatedAt === null && now - hold.since >= t.alertAfterMs) return { action: 'escalate' };
  return { action: 'none' };
}

export const HOLD_NOTE_PREFIX = 'held: ';

/** Longest excerpt of the screen line quoted in the note. */
const LINE_MAX = 80;

/** The sentence status and `why` show for an escalated hold. Times in UTC. */
export function holdNote(agent: string, hold: Pick<ScreenHold, 'since' | 'line'>): string {
  const since = new Date(hold.since).toISOString().slice(11, 19);
  const raw = (hold.line ?? '').replace(/\s+/g, ' ').trim();
  const line = raw.length > LINE_MAX ? `${raw.slice(0, LINE_MAX - 1)}…` : raw;
  return `${HOLD_NOTE_PREFIX}${agent} shows a permission prompt since ${since} UTC${line ? ` (line: ${line})` : ''}; delivery waits until it is answered (attach to answer it)`;
}

export function isHoldNote(text: string | null | undefined): boolean {
  return typeof text === 'string' && text.startsWith(HOLD_NOTE_PREFIX);
}
