import { describe, expect, it } from 'vitest';
import { backoffDelay, classifyError, decide, defaultRestartPolicy as P, initialRecovery, type RecoveryEvent, type RecoveryState } from '../../src/recovery/restart-policy.js';

const half = () => 0.5; // jitter factor 1.0

/** Runs events through decide with a clock, returning every action taken. */
function play(steps: [number, RecoveryEvent][], start: RecoveryState = initialRecovery) {
  let state = start;
  const log: { at: number; actions: string[]; breaker: string }[] = [];
  for (const [at, event] of steps) {
    const d = decide(state, event, at, P, half);
    state = d.state;
    log.push({
      at,
      breaker: state.breaker,
      actions: d.actions.map((a) => (a.type === 'schedule-restart' ? `schedule@${a.at}` : a.type === 'restart' ? `restart${a.trial ? '(trial)' : ''}` : a.type)),
    });
  }
  return { state, log };
}

describe('backoffDelay', () => {
  it.each([
    [1, 2_000],
    [2, 4_000],
    [3, 8_000],
    [4, 16_000],
    [10, 300_000],
  ])('streak %d -> %d ms at mid jitter', (streak, ms) => expect(backoffDelay(streak, P, half)).toBe(ms));
  it('jitters within ±20% and never above the cap', () => {
    expect(backoffDelay(1, P, () => 0)).toBe(1600);
    expect(backoffDelay(1, P, () => 0.999999)).toBe(2400);
    expect(backoffDelay(20, P, () => 0.999999)).toBe(300_000);
  });
});

describe('decide: crash loop', () => {
  it('allows exactly 3 restarts per rolling hour with 2 s, 4 s, 8 s backoff, then opens the breaker', () => {
    const { log, state } = play([
      [0, { type: 'crashed', exitStatus: 1 }],
      [1_999, { type: 'tick' }],
      [2_000, { type: 'tick' }],
      [2_000, { type: 'restarted' }],
      [3_000, { type: 'crashed', exitStatus: 1 }],
      [7_000, { type: 'tick' }],
      [7_000, { type: 'restarted' }],
      [8_000, { type: 'crashed', exitStatus: 1 }],
      [16_000, { type: 'tick' }],
      [16_000, { type: 'restarted' }],
      [17_000, { type: 'crashed', exitStatus: 1 }],
      [60_000, { type: 'tick' }],
    ]);
    expect(log.map((l) => l.actions.join(','))).toEqual(['schedule@2000', '', 'restart', '', 'schedule@7000', 'restart', '', 'schedule@16000', 'restart', '', 'open-breaker,fail', '']);
    expect(state.breaker).toBe('open');
  });

  it('half-opens after the window for one trial; a healthy trial closes the breaker, a failed one reopens it', () => {
    const open = play([
      [0, { type: 'crashed', exitStatus: 1 }],
      [0, { type: 'restarted' }],
      [0, { type: 'restarted' }],
      [0, { type: 'restarted' }],
      [10, { type: 'crashed', exitStatus: 1 }],
    ]).state;
    expect(open.breaker).toBe('open');
    expect(decide(open, { type: 'tick' }, P.windowMs - 1, P, half).actions).toEqual([]);
    const trial = decide(open, { type: 'tick' }, 10 + P.windowMs, P, half);
    expect(trial.actions).toEqual([{ type: 'restart', resume: true, trial: true }]);
    expect(trial.state.breaker).toBe('half-open');
    expect(decide(trial.state, { type: 'healthy' }, P.windowMs + 70_000, P, half).state.breaker).toBe('closed');
    const again = decide(trial.state, { type: 'crashed', exitStatus: 2 }, P.windowMs + 20, P, half);
    expect(again.state.breaker).toBe('open');
    expect(again.actions.map((a) => a.type)).toEqual(['open-breaker', 'fail']);
  });

  it('forgets restarts older than the window (rolling)', () => {
    const s: RecoveryState = { ...initialRecovery, restarts: [0, 1000, 2000], streak: 0 };
    expect(decide(s, { type: 'crashed', exitStatus: 1 }, 2000 + P.windowMs - 1, P, half).actions[0]!.type).toBe('schedule-restart');
    const s2: RecoveryState = { ...initialRecovery, restarts: [P.windowMs, P.windowMs + 1, P.windowMs + 2] };
    expect(decide(s2, { type: 'crashed', exitStatus: 1 }, P.windowMs + 3, P, half).actions[0]!.type).toBe('open-breaker');
  });

  it('a healthy run resets the backoff streak', () => {
    const s = play([
      [0, { type: 'crashed', exitStatus: 1 }],
      [2000, { type: 'tick' }],
      [2000, { type: 'restarted' }],
      [70_000, { type: 'healthy' }],
    ]).state;
    expect(s.streak).toBe(0);
    expect(decide(s, { type: 'crashed', exitStatus: 1 }, 80_000, P, half).actions[0]).toMatchObject({ type: 'schedule-restart', delayMs: 2000 });
  });

  it('manual reset closes an open breaker', () => {
    const d = decide({ ...initialRecovery, breaker: 'open', openedAt: 5 }, { type: 'reset' }, 10, P, half);
    expect(d.state.breaker).toBe('closed');
    expect(d.actions).toEqual([{ type: 'close-breaker' }]);
  });
});

describe('decide: errors', () => {
  it('rate limits back off without restarting', () => {
    const d = decide(initialRecovery, { type: 'api-error', kind: 'rate-limit', message: '429' }, 1000, P, half);
    expect(d.actions).toEqual([{ type: 'back-off', until: 1000 + P.apiBackoffMs, reason: 'rate-limit: 429' }]);
    expect(decide(d.state, { type: 'tick' }, 1000 + P.apiBackoffMs, P, half).state.pausedUntil).toBeNull();
  });
  it('auth failures fail at once with the reason', () => {
    const d = decide(initialRecovery, { type: 'auth-error', message: 'Invalid API key' }, 0, P, half);
    expect(d.actions).toEqual([{ type: 'fail', reason: 'authentication failed: Invalid API key' }]);
    expect(d.state.breaker).toBe('open');
  });
  it.each([
    ['API Error: 429 Too Many Requests', 'rate-limit'],
    ['rate_limit_error', 'rate-limit'],
    ['overloaded_error (529)', 'overloaded'],
    ['Invalid API key · Please run /login', 'auth'],
    ['segfault', 'other'],
  ])('classifies %j as %s', (text, kind) => expect(classifyError(text)).toBe(kind));
});
