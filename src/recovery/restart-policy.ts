/**
 * Crash recovery policy: a pure `decide(state, event, now)` that the supervisor runs. Rolling-window
 * restart limit, exponential backoff with jitter, and a circuit breaker that opens when the limit
 * is hit (state `failed`), with a half-open trial after the window or a manual reset.
 */
import { defaultRestartPolicy, type RestartPolicy } from '../domain/restart-settings.js';

export { defaultRestartPolicy, type RestartPolicy };

export type Breaker = 'closed' | 'open' | 'half-open';

export interface RecoveryState {
  /** Times of restarts inside the rolling window (oldest first). */
  restarts: number[];
  breaker: Breaker;
  /** A restart is scheduled for this time (backing off). */
  restartAt: number | null;
  /** API back-off: no delivery before this time. */
  pausedUntil: number | null;
  openedAt: number | null;
  lastReason: string | null;
  /** Consecutive crashes since the agent last ran healthily; drives the backoff exponent. */
  streak: number;
}

export const initialRecovery: RecoveryState = {
  restarts: [],
  breaker: 'closed',
  restartAt: null,
  pausedUntil: null,
  openedAt: null,
  lastReason: null,
  streak: 0,
};

export type RecoveryEvent =
  | { type: 'crashed'; exitStatus: number | null; reason?: string }
  | { type: 'tick' }
  | { type: 'restarted' }
  | { type: 'healthy' }
  | { type: 'api-error'; kind: 'rate-limit' | 'overloaded' | 'other'; message: string }
  | { type: 'auth-error'; message: string }
  | { type: 'reset' };

export type RecoveryAction =
  | { type: 'schedule-restart'; at: number; attempt: number; delayMs: number }
  | { type: 'restart'; resume: boolean; trial: boolean }
  | { type: 'open-breaker'; reason: string }
  | { type: 'close-breaker' }
  | { type: 'back-off'; until: number; reason: string }
  | { type: 'fail'; reason: string };

export interface Decision {
  state: RecoveryState;
  actions: RecoveryAction[];
}

export function backoffDelay(streak: number, policy: RestartPolicy, random: () => number): number {
  const exp = Math.min(policy.backoffMaxMs, policy.backoffBaseMs * 2 ** Math.max(0, streak - 1));
  // ±20 % jitter so agents that crash together do not restart in lock-step.
  return Math.round(Math.min(policy.backoffMaxMs, exp * (0.8 + 0.4 * random())));
}

function prune(restarts: number[], now: number, windowMs: number): number[] {
  return restarts.filter((t) => now - t < windowMs);
}

export function decide(state: RecoveryState, event: RecoveryEvent, now: number, policy: RestartPolicy = defaultRestartPolicy, random: () => number = Math.random): Decision {
  const restarts = prune(state.restarts, now, policy.windowMs);
  const s: RecoveryState = { ...state, restarts };
  switch (event.type) {
    case 'crashed': {
      const reason = event.reason ?? `exited with status ${event.exitStatus ?? 'unknown'}`;
      if (s.breaker === 'open') return { state: { ...s, lastReason: reason }, actions: [] };
      if (s.breaker === 'half-open') {
        // The trial failed: open again for another window.
        return {
          state: { ...s, breaker: 'open', openedAt: now, restartAt: null, lastReason: reason },
          actions: [
            { type: 'open-breaker', reason: `trial restart failed: ${reason}` },
            { type: 'fail', reason },
          ],
        };
      }
      if (restarts.length >= policy.maxRestarts) {
        const why = `${restarts.length} restarts within ${Math.round(policy.windowMs / 60_000)} min; last: ${reason}`;
        return {
          state: { ...s, breaker: 'open', openedAt: now, restartAt: null, lastReason: reason },
          actions: [
            { type: 'open-breaker', reason: why },
            { type: 'fail', reason: why },
          ],
        };
      }
      const streak = s.streak + 1;
      const delayMs = backoffDelay(streak, policy, random);
      return { state: { ...s, streak, restartAt: now + delayMs, lastReason: reason }, actions: [{ type: 'schedule-restart', at: now + delayMs, attempt: restarts.length + 1, delayMs }] };
    }
    case 'tick': {
      if (s.breaker === 'open' && s.openedAt !== null && now - s.openedAt >= policy.windowMs) {
        return { state: { ...s, breaker: 'half-open', restartAt: null }, actions: [{ type: 'restart', resume: true, trial: true }] };
      }
      if (s.restartAt !== null && now >= s.restartAt && s.breaker === 'closed') {
        return { state: { ...s, restartAt: null }, actions: [{ type: 'restart', resume: true, trial: false }] };
      }
      if (s.pausedUntil !== null && now >= s.pausedUntil) return { state: { ...s, pausedUntil: null }, actions: [] };
      return { state: s, actions: [] };
    }
    case 'restarted':
      return { state: { ...s, restarts: [...restarts, now] }, actions: [] };
    case 'healthy':
      if (s.breaker === 'half-open') return { state: { ...s, breaker: 'closed', openedAt: null, streak: 0, restarts: [] }, actions: [{ type: 'close-breaker' }] };
      return { state: { ...s, streak: 0 }, actions: [] };
    case 'api-error': {
      const until = now + policy.apiBackoffMs;
      return { state: { ...s, pausedUntil: until, lastReason: event.message }, actions: [{ type: 'back-off', until, reason: `${event.kind}: ${event.message}` }] };
    }
    case 'auth-error':
      // Restarting cannot fix credentials: fail at once with the reason.
      return { state: { ...s, breaker: 'open', openedAt: now, restartAt: null, lastReason: event.message }, actions: [{ type: 'fail', reason: `authentication failed: ${event.message}` }] };
    case 'reset':
      return { state: { ...initialRecovery }, actions: [{ type: 'close-breaker' }] };
  }
}

/** Classifies an error text from a hook or the pane: rate limits back off, auth fails, others crash. */
export function classifyError(text: string): 'rate-limit' | 'overloaded' | 'auth' | 'other' {
  if (/rate.?limit|429|too many requests|quota|RESOURCE_EXHAUSTED/i.test(text)) return 'rate-limit';
  if (/overloaded|529|503|capacity/i.test(text)) return 'overloaded';
  if (/auth|401|403|invalid api key|api key not valid|unauthori[sz]ed|please run \/login|credential/i.test(text)) return 'auth';
  return 'other';
}
