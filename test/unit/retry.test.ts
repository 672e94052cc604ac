import { describe, expect, it } from 'vitest';

import { defaultBackoff, retryDelayMs, type BackoffPolicy } from '../../src/domain/retry.js';

const fixed = (x: number) => () => x;

describe('retryDelayMs', () => {
  const table: Array<{ attempt: number; policy: BackoffPolicy; random: number; expected: number }> = [
    // Default policy: base 2 s, cap 5 min; delay in [exp/2, exp].
    { attempt: 1, policy: defaultBackoff, random: 0, expected: 1_000 },
    { attempt: 1, policy: defaultBackoff, random: 0.5, expected: 1_500 },
    { attempt: 1, policy: defaultBackoff, random: 0.999, expected: 1_999 },
    { attempt: 2, policy: defaultBackoff, random: 0, expected: 2_000 },
    { attempt: 2, policy: defaultBackoff, random: 0.5, expected: 3_000 },
    { attempt: 3, policy: defaultBackoff, random: 0.5, expected: 6_000 },
    { attempt: 4, policy: defaultBackoff, random: 0.25, expected: 10_000 },
    { attempt: 8, policy: defaultBackoff, random: 0.5, expected: 192_000 },
    // 2000 * 2^8 = 512 000 > 300 000: capped.
    { attempt: 9, policy: defaultBackoff, random: 0, expected: 150_000 },
    { attempt: 9, policy: defaultBackoff, random: 0.5, expected: 225_000 },
    { attempt: 50, policy: defaultBackoff, random: 0.5, expected: 225_000 },
    { attempt: 1_000, policy: defaultBackoff, random: 0.5, expected: 225_000 },
    // attempt < 1 is treated as the first attempt.
    { attempt: 0, policy: defaultBackoff, random: 0.5, expected: 1_500 },
    { attempt: -3, policy: defaultBackoff, random: 0.5, expected: 1_500 },
    // Custom policy.
    { attempt: 1, policy: { baseMs: 1_000, maxMs: 4_000 }, random: 0.5, expected: 750 },
    { attempt: 2, policy: { baseMs: 1_000, maxMs: 4_000 }, random: 0.5, expected: 1_500 },
    { attempt: 3, policy: { baseMs: 1_000, maxMs: 4_000 }, random: 0.5, expected: 3_000 },
    { attempt: 4, policy: { baseMs: 1_000, maxMs: 4_000 }, random: 0.5, expected: 3_000 },
    { attempt: 4, policy: { baseMs: 100, maxMs: 1_000 }, random: 0.5, expected: 600 },
    { attempt: 5, policy: { baseMs: 100, maxMs: 1_000 }, random: 0.5, expected: 750 },
    // Rounded to whole milliseconds.
    { attempt: 1, policy: { baseMs: 3, maxMs: 100 }, random: 0.5, expected: 2 },
    { attempt: 1, policy: { baseMs: 0, maxMs: 100 }, random: 0.9, expected: 0 },
    // Cap below base: the cap wins.
    { attempt: 1, policy: { baseMs: 10_000, maxMs: 1_000 }, random: 0.5, expected: 750 },
  ];

  it.each(table)('attempt $attempt, policy $policy.baseMs/$policy.maxMs, random $random -> $expected', ({ attempt, policy, random, expected }) => {
    expect(retryDelayMs(attempt, policy, fixed(random))).toBe(expected);
  });

  it('uses the default policy when none is given', () => {
    expect(retryDelayMs(1, undefined, fixed(0.5))).toBe(1_500);
    expect(retryDelayMs(20, undefined, fixed(1))).toBe(300_000);
  });

  it('calls the injected random source once per call', () => {
    let calls = 0;
    retryDelayMs(3, defaultBackoff, () => {
      calls++;
      return 0.5;
    });
    expect(calls).toBe(1);
  });

  it('is non-decreasing in the attempt number for a fixed random value', () => {
    for (const r of [0, 0.3, 0.5, 0.99]) {
      let prev = -1;
      for (let attempt = 1; attempt <= 30; attempt++) {
        const d = retryDelayMs(attempt, defaultBackoff, fixed(r));
        expect(d).toBeGreaterThanOrEqual(prev);
        prev = d;
      }
    }
  });

  it('with the default random stays within [exp/2, exp]', () => {
    for (let attempt = 1; attempt <= 12; attempt++) {
      const exp = Math.min(defaultBackoff.maxMs, defaultBackoff.baseMs * 2 ** (attempt - 1));
      for (let i = 0; i < 20; i++) {
        const d = retryDelayMs(attempt);
        expect(d).toBeGreaterThanOrEqual(exp / 2);
        expect(d).toBeLessThanOrEqual(exp);
        expect(Number.isInteger(d)).toBe(true);
      }
    }
  });
});
