import { describe, expect, it } from 'vitest';

import {
  SlotPool,
  breakerAllows,
  breakerAt,
  breakerGaugeValue,
  breakerOnAbandon,
  breakerOnFailure,
  breakerOnStart,
  breakerOnSuccess,
  breakerRestored,
  closedBreaker,
  workerRetryDelayMs,
  type BreakerPolicy,
  type BreakerState,
  type WorkerRetryPolicy,
} from '../../src/domain/worker-policy.js';

const fixed = (x: number) => () => x;

describe('workerRetryDelayMs: INITIAL_RETRY_DELAY × RETRY_BACKOFF^(attempt-1), jittered down, capped', () => {
  const seed: WorkerRetryPolicy = { initialDelayMs: 1_000, multiplier: 2, maxDelayMs: 60_000, jitter: 0.2 };
  const table: Array<{ failed: number; policy: WorkerRetryPolicy; random: number; expected: number }> = [
    { failed: 1, policy: seed, random: 0, expected: 1_000 },
    { failed: 2, policy: seed, random: 0, expected: 2_000 },
    { failed: 3, policy: seed, random: 0, expected: 4_000 },
    { failed: 4, policy: seed, random: 0, expected: 8_000 },
    // Jitter only shortens: random 1 takes 20 % off.
    { failed: 1, policy: seed, random: 1, expected: 800 },
    { failed: 3, policy: seed, random: 0.5, expected: 3_600 },
    // 1 s × 2^6 = 64 s > 60 s: capped; the jitter still applies under the cap.
    { failed: 7, policy: seed, random: 0, expected: 60_000 },
    { failed: 7, policy: seed, random: 1, expected: 48_000 },
    { failed: 10_000, policy: seed, random: 0, expected: 60_000 },
    // Attempt numbers below 1 are the first retry.
    { failed: 0, policy: seed, random: 0, expected: 1_000 },
    // Multiplier 1.5, no jitter.
    { failed: 3, policy: { initialDelayMs: 400, multiplier: 1.5, maxDelayMs: 10_000, jitter: 0 }, random: 0.9, expected: 900 },
    // Multiplier 1: a constant delay.
    { failed: 9, policy: { initialDelayMs: 250, multiplier: 1, maxDelayMs: 10_000, jitter: 0 }, random: 0.9, expected: 250 },
    // A jitter out of 0–1 is clamped: never a negative delay.
    { failed: 1, policy: { initialDelayMs: 1_000, multiplier: 2, maxDelayMs: 10_000, jitter: 5 }, random: 1, expected: 0 },
  ];
  it.each(table)('$failed failed, random $random -> $expected ms', ({ failed, policy, random, expected }) => {
    expect(workerRetryDelayMs(failed, policy, fixed(random))).toBe(expected);
  });
});

describe('circuit breaker per worker', () => {
  const policy: BreakerPolicy = { threshold: 3, openMs: 60_000 };

  function fail(b: BreakerState, now: number): BreakerState {
    return breakerOnFailure(b, policy, now);
  }

  it('stays closed below the threshold and opens at it', () => {
    let b = closedBreaker;
    b = fail(b, 1);
    b = fail(b, 2);
    expect(b.state).toBe('closed');
    expect(breakerAllows(b, policy, 3)).toBe(true);
    b = fail(b, 3);
    expect(b).toMatchObject({ state: 'open', openedAt: 3, failures: 3 });
    expect(breakerAllows(b, policy, 4)).toBe(false);
  });

  it('counts only consecutive failures: a success starts over', () => {
    let b = fail(fail(closedBreaker, 1), 2);
    b = breakerOnSuccess();
    b = fail(fail(b, 3), 4);
    expect(b.state).toBe('closed');
    expect(b.failures).toBe(2);
  });

  it('open -> half-open after the timeout, exactly one trial; a passed trial closes it', () => {
    const open = fail(fail(fail(closedBreaker, 0), 0), 1_000);
    expect(breakerAt(open, policy, 60_999).state).toBe('open');
    expect(breakerAllows(open, policy, 60_999)).toBe(false);
    expect(breakerAt(open, policy, 61_000).state).toBe('half_open');
    expect(breakerAllows(open, policy, 61_000)).toBe(true);
    const trial = breakerOnStart(open, policy, 61_000);
    expect(trial).toMatchObject({ state: 'half_open', trialRunning: true });
    expect(breakerAllows(trial, policy, 61_001)).toBe(false);
    expect(breakerOnSuccess()).toEqual(closedBreaker);
  });

  it('a failed trial opens it again, its timeout counted from the failure', () => {
    const open = fail(fail(fail(closedBreaker, 0), 0), 0);
    const trial = breakerOnStart(open, policy, 60_000);
    const reopened = fail(trial, 70_000);
    expect(reopened).toMatchObject({ state: 'open', openedAt: 70_000, trialRunning: false });
    expect(breakerAllows(reopened, policy, 129_999)).toBe(false);
    expect(breakerAt(reopened, policy, 130_000).state).toBe('half_open');
  });

  it('a failure while open (a run started before it opened) keeps it open and restarts its timeout', () => {
    const open = fail(fail(fail(closedBreaker, 0), 0), 0);
    const later = fail(open, 30_000);
    expect(later).toMatchObject({ state: 'open', openedAt: 30_000 });
  });

  it('an abandoned trial frees the trial slot', () => {
    const open = fail(fail(fail(closedBreaker, 0), 0), 0);
    const trial = breakerOnStart(open, policy, 60_000);
    const freed = breakerOnAbandon(trial, policy, 60_500);
    expect(freed).toMatchObject({ state: 'half_open', trialRunning: false });
    expect(breakerAllows(freed, policy, 60_500)).toBe(true);
  });

  it('threshold 0 turns the breaker off', () => {
    const off: BreakerPolicy = { threshold: 0, openMs: 1 };
    let b = closedBreaker;
    for (let i = 0; i < 50; i++) b = breakerOnFailure(b, off, i);
    expect(b.state).toBe('closed');
    expect(breakerAllows(b, off, 50)).toBe(true);
  });

  it.each([
    ['nothing saved', undefined, 0, { state: 'closed', failures: 0, openedAt: null, trialRunning: false }, true],
    ['closed with a count', { state: 'closed', failures: 2, openedAt: null }, 0, { state: 'closed', failures: 2, trialRunning: false }, true],
    ['open, timeout not passed', { state: 'open', failures: 3, openedAt: 50_000 }, 0, { state: 'open', failures: 3, openedAt: 50_000 }, false],
    ['open, timeout passed: a trial may start', { state: 'open', failures: 3, openedAt: 0 }, 0, { state: 'open', openedAt: 0 }, true],
    ['half-open, its trial adopted: no second trial', { state: 'half_open', failures: 4, openedAt: null }, 1, { state: 'half_open', trialRunning: true }, false],
    ['half-open, no run left: the trial may start', { state: 'half_open', failures: 4, openedAt: null }, 0, { state: 'half_open', trialRunning: false }, true],
  ] as const)('restored by a new engine (%s)', (_name, saved, adopted, expected, allowsAt70s) => {
    const b = breakerRestored(saved, adopted);
    expect(b).toMatchObject(expected);
    expect(breakerAllows(b, policy, 70_000)).toBe(allowsAt70s);
  });

  it("gauge values are the seed's: 0 closed, 1 open, 2 half-open", () => {
    expect(breakerGaugeValue).toEqual({ closed: 0, open: 1, half_open: 2 });
  });
});

describe('SlotPool', () => {
  it('never hands out more than max slots', () => {
    const pool = new SlotPool(3);
    const got = ['a', 'b', 'c', 'd', 'e'].map((h) => pool.tryAcquire(h));
    expect(got).toEqual([true, true, true, false, false]);
    expect(pool.inUse).toBe(3);
    expect(pool.free).toBe(0);
    expect(pool.release('b')).toBe(true);
    expect(pool.tryAcquire('d')).toBe(true);
    expect(pool.holders().sort()).toEqual(['a', 'c', 'd']);
  });

  it('a holder holds one slot; a double or foreign release changes nothing', () => {
    const pool = new SlotPool(2);
    expect(pool.tryAcquire('a')).toBe(true);
    expect(pool.tryAcquire('a')).toBe(false);
    expect(pool.inUse).toBe(1);
    expect(pool.release('a')).toBe(true);
    expect(pool.release('a')).toBe(false);
    expect(pool.release('zzz')).toBe(false);
    expect(pool.inUse).toBe(0);
  });

  it('adopted runs count; a shrunk pool starts nothing until below the new capacity', () => {
    const pool = new SlotPool(3);
    pool.adopt('a');
    pool.adopt('b');
    pool.adopt('c');
    pool.resize(1);
    expect(pool.tryAcquire('d')).toBe(false);
    pool.release('a');
    pool.release('b');
    expect(pool.tryAcquire('d')).toBe(false);
    pool.release('c');
    expect(pool.tryAcquire('d')).toBe(true);
  });

  it('random acquire/release sequences never exceed the capacity', () => {
    let seed = 7;
    const rand = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const pool = new SlotPool(3);
    let max = 0;
    for (let i = 0; i < 5_000; i++) {
      const h = `t${Math.floor(rand() * 10)}`;
      if (rand() < 0.5) pool.tryAcquire(h);
      else pool.release(h);
      max = Math.max(max, pool.inUse);
    }
    expect(max).toBe(3);
  });

  it('refuses a capacity below 1', () => {
    expect(() => new SlotPool(0)).toThrow(/maxConcurrent/);
  });
});
