import { describe, expect, it } from 'vitest';
import { isoTime } from '../../src/util/iso-time.js';

describe('isoTime', () => {
  it('is what Date#toISOString gives, for years 1970–9999 and every field width', () => {
    const samples = [0, 1, 9, 10, 99, 100, 999, 1_000, 59_999, 86_399_999, 951_782_400_000, 1_764_700_000_123, 253_402_300_799_999];
    for (let i = 0; i < 2_000; i++) samples.push(Math.floor(Math.random() * 253_402_300_799_999));
    for (const ms of samples) expect(isoTime(ms)).toBe(new Date(ms).toISOString());
  });
});
