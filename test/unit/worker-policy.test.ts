import { describe, expect, it } from 'vitest';

import {
  SlotPool,
  breakerAt,
  breakerBindTrial,
  breakerGaugeValue,
  breakerOnAbandon,
  breakerOnFailure,
  breakerOnSuccess,
  breakerReleaseTrial,
  breakerStartLimit,
  breakerTakeTrial,
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

describe("circuit breaker per worker (pure: every engine decides from the store's breaker with its clock)", () => {
  const policy: BreakerPolicy = { threshold: 3, openMs: 60_000, trialClaimMs: 10_000 };
  const allows = (b: BreakerState, now: number, holder = 'n1') => breakerStartLimit(b, policy, now, holder, 5);

  function fail(b: BreakerState, now: number): BreakerState {
    return breakerOnFailure(b, policy, now);
  }
  const open = (at: number) => fail(fail(fail(closedBreaker, at), at), at);

  it('stays closed below the threshold and opens at it', () => {
    let b = closedBreaker;
    b = fail(b, 1);
    b = fail(b, 2);
    expect(b.state).toBe('closed');
    expect(allows(b, 3)).toBe(5);
    b = fail(b, 3);
    expect(b).toMatchObject({ state: 'open', openedAt: 3, failures: 3 });
    expect(allows(b, 4)).toBe(0);
  });

  it('counts only consecutive failures: a success starts over', () => {
    let b = fail(fail(closedBreaker, 1), 2);
    b = breakerOnSuccess();
    b = fail(fail(b, 3), 4);
    expect(b.state).toBe('closed');
    expect(b.failures).toBe(2);
  });

  it('open -> half-open after the timeout; one engine takes the trial, no other may, and it starts one run', () => {
    const b = open(1_000);
    expect(breakerAt(b, policy, 60_999).state).toBe('open');
    expect(breakerTakeTrial(b, policy, 60_999, 'n1')).toBeNull();
    expect(breakerAt(b, policy, 61_000)).toMatchObject({ state: 'half_open', trial: null });
    // Half-open, nobody holds the trial: nobody starts a run until one takes it.
    expect(allows(b, 61_000)).toBe(0);
    const taken = breakerTakeTrial(b, policy, 61_000, 'n1')!;
    expect(taken).toMatchObject({ state: 'half_open', trial: { holder: 'n1', taskId: null, at: 61_000 } });
    expect(breakerTakeTrial(taken, policy, 61_001, 'n2')).toBeNull();
    expect(allows(taken, 61_001, 'n1')).toBe(1);
    expect(allows(taken, 61_001, 'n2')).toBe(0);
    const bound = breakerBindTrial(taken, 'n1', 't7');
    expect(bound.trial).toEqual({ holder: 'n1', taskId: 't7', at: 61_000 });
    // Bound: no second run, not even the holder's, until the trial ends.
    expect(allows(bound, 61_002, 'n1')).toBe(0);
    expect(breakerOnSuccess()).toEqual(closedBreaker);
  });

  it.each([
    ['bound to another engine: unchanged', { holder: 'n2', taskId: null, at: 0 }, 'n1', { holder: 'n2', taskId: null, at: 0 }],
    ['its own, unbound: freed', { holder: 'n1', taskId: null, at: 0 }, 'n1', null],
    ['its own, bound to a task: kept', { holder: 'n1', taskId: 't1', at: 0 }, 'n1', { holder: 'n1', taskId: 't1', at: 0 }],
  ] as const)('a release of the trial (%s)', (_name, trial, holder, expected) => {
    const b: BreakerState = { state: 'half_open', failures: 3, openedAt: null, trial: { ...trial } };
    expect(breakerReleaseTrial(b, holder).trial).toEqual(expected);
  });

  it('a trial taken but bound to no task for trialClaimMs is free again (its engine died before it claimed)', () => {
    const taken = breakerTakeTrial(open(0), policy, 60_000, 'n1')!;
    expect(breakerAt(taken, policy, 69_999).trial).not.toBeNull();
    expect(breakerAt(taken, policy, 70_000).trial).toBeNull();
    expect(breakerTakeTrial(taken, policy, 70_000, 'n2')!.trial).toMatchObject({ holder: 'n2' });
    // A bound trial does not lapse: it ends with its run.
    expect(breakerAt(breakerBindTrial(taken, 'n1', 't1'), policy, 10_000_000).trial).toMatchObject({ taskId: 't1' });
  });

  it('a failed trial opens it again, its timeout counted from the failure', () => {
    const trial = breakerBindTrial(breakerTakeTrial(open(0), policy, 60_000, 'n1')!, 'n1', 't1');
    const reopened = fail(trial, 70_000);
    expect(reopened).toMatchObject({ state: 'open', openedAt: 70_000, trial: null, failures: 4 });
    expect(allows(reopened, 129_999)).toBe(0);
    expect(breakerAt(reopened, policy, 130_000).state).toBe('half_open');
  });

  it('a failure while open (a run started before it opened) keeps it open and restarts its timeout', () => {
    expect(fail(open(0), 30_000)).toMatchObject({ state: 'open', openedAt: 30_000, failures: 4 });
  });

  it("an abandoned trial (cancelled, lost) frees the trial; another task's abandon does not", () => {
    const trial = breakerBindTrial(breakerTakeTrial(open(0), policy, 60_000, 'n1')!, 'n1', 't1');
    expect(breakerOnAbandon(trial, policy, 60_500, 't2')).toEqual(trial);
    const freed = breakerOnAbandon(trial, policy, 60_500, 't1');
    expect(freed).toMatchObject({ state: 'half_open', trial: null });
    expect(breakerTakeTrial(freed, policy, 60_500, 'n2')).not.toBeNull();
  });

  it('threshold 0 turns the breaker off', () => {
    const off: BreakerPolicy = { threshold: 0, openMs: 1 };
    let b = closedBreaker;
    for (let i = 0; i < 50; i++) b = breakerOnFailure(b, off, i);
    expect(b.state).toBe('closed');
    expect(breakerStartLimit(b, off, 50, 'n1', 2)).toBe(2);
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
