import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/domain/duration.js';
import { UsageError } from '../../src/errors.js';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['5m', 300_000],
    ['2h', 7_200_000],
    ['1d', 86_400_000],
    ['1h30m', 5_400_000],
    ['1.5s', 1500],
    ['45', 45_000],
    [' 10S ', 10_000],
  ])('%s -> %d ms', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(['', 'soon', '0s', '5x', 's', '1h 30m', '-5s', '5m3'])('rejects %j', (text) => {
    expect(() => parseDuration(text, 'ttl')).toThrow(UsageError);
    expect(() => parseDuration(text, 'ttl')).toThrow(/invalid ttl/);
  });
});

describe('formatDuration', () => {
  it.each([
    [250, '250ms'],
    [1500, '1.5s'],
    [45_000, '45s'],
    [90_000, '1m30s'],
    [5_400_000, '1h30m'],
    [90_000_000, '1d1h'],
  ])('%d -> %s', (ms, text) => expect(formatDuration(ms)).toBe(text));
});
