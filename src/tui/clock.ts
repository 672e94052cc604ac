/**
 * When does the console's picture change with nothing but the clock? Ages ("12s", "3m"), back-off
 * countdowns, the header's clock and the message line's expiry are the only texts time alone moves.
 * The console re-draws from its last snapshot at that moment instead of on a fixed tick, so an idle
 * team costs a frame a minute, not two a second. Pure: snapshot and clock in, a delay out.
 */
import type { TeamSnapshot } from '../services/snapshot.js';

const SECOND = 1000;
const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

/** Finished messages' why lines say "confirmed at … (5m13s ago)": refreshed this often, not each second. */
export const HISTORY_TEXT_MS = 10_000;

/** Milliseconds until `age()` (text.ts) shows something else for an age of `ageMs`. */
export function nextAgeChange(ageMs: number): number {
  const a = Math.max(0, ageMs);
  const unit = ageUnit(a);
  return unit - (a % unit);
}

function ageUnit(a: number): number {
  return a < MINUTE ? SECOND : a < HOUR ? MINUTE : a < DAY ? HOUR : DAY;
}

/**
 * How late an age's new text may show: "3m" turning "4m" ten seconds late is not worth a frame of
 * its own, so fifty agents' minute boundaries share a few frames. Seconds may be up to a second
 * late, so however the agents' boundaries spread, ages in seconds cost one frame a second.
 */
export function ageSlack(ageMs: number): number {
  const unit = ageUnit(Math.max(0, ageMs));
  return unit === SECOND ? SECOND - 1 : unit === MINUTE ? 10 * SECOND : unit === HOUR ? 5 * MINUTE : HOUR;
}

/** Milliseconds until a whole-second countdown to `at` changes (Infinity once it is due). */
export function nextCountdownChange(at: number, now: number): number {
  const left = at - now;
  if (left <= 0) return Infinity;
  return left % SECOND || SECOND;
}

export interface ClockInput {
  snapshot: TeamSnapshot | null;
  now: number;
  /** The message line's text disappears at this time (null: it stays). */
  messageExpiresAt: number | null;
  /** Wake at the first change itself, no text shown late (tests of what changes when). */
  exact?: boolean;
  /** The tasks view is shown: its ages, run times and breaker countdowns count too. */
  tasks?: boolean;
}

/**
 * Milliseconds from `now` until the console should redraw: every time-derived text on screen is
 * then at most its slack late (never below 1 ms). Each change is due at `change` and may wait
 * `slack`; waking at the earliest `change + slack` serves every change due by then in one frame.
 */
export function nextClockChange({ snapshot: s, now, messageExpiresAt, exact = false, tasks = false }: ClockInput): number {
  let next = Infinity;
  const take = (change: number, slack = 0) => {
    const at = exact ? change : change + slack;
    if (at < next) next = at;
  };
  // The header's clock shows hours and minutes.
  take(MINUTE - (now % MINUTE));
  if (messageExpiresAt !== null && messageExpiresAt > now) take(messageExpiresAt - now, 500);
  if (s) {
    const since = Math.max(0, now - s.takenAt);
    for (const a of s.agents) {
      if (a.heartbeatAgeMs !== null) take(nextAgeChange(a.heartbeatAgeMs + since), ageSlack(a.heartbeatAgeMs + since));
      // The back-off countdown (row and alert) is exact: someone may be watching it.
      if (a.state === 'backing-off' && a.restartAt !== null) take(nextCountdownChange(a.restartAt, now));
    }
    for (const q of s.queue) {
      const age = q.ageMs + since;
      take(nextAgeChange(age), ageSlack(age));
      // A pending message's why can count down ("held back until … (in 4s)"); history only looks back.
      if (q.pending) take(SECOND);
      else take(age < HOUR ? HISTORY_TEXT_MS : MINUTE);
    }
    for (const e of s.events) {
      take(nextAgeChange(now - e.ts), ageSlack(now - e.ts));
      // "restart scheduled in 4.2s": tenths under ten seconds (the console's refresh period bounds it).
      if (e.until !== null && e.until > now) take(e.until - now < 10 * SECOND ? SECOND / 10 : SECOND);
    }
    if (tasks) {
      for (const w of s.tasks.workers) if (w.breaker === 'open' && w.halfOpenAt !== null) take(nextCountdownChange(w.halfOpenAt, now));
      for (const t of s.tasks.tasks) {
        take(nextAgeChange(t.ageMs + since), ageSlack(t.ageMs + since));
        if (t.state === 'running' && t.durationMs !== null) take(nextAgeChange(t.durationMs + since), ageSlack(t.durationMs + since));
      }
    }
  }
  return Math.max(1, Math.ceil(next));
}
