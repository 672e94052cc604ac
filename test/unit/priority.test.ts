import { describe, expect, it } from 'vitest';

import { PRIORITY_MAX, PRIORITY_MIN, isValidPriority, namedPriorities, parsePriority, priorityBand } from '../../src/domain/priority.js';
import { ExitCode, UsageError } from '../../src/errors.js';

describe('parsePriority', () => {
  const valid: Array<[string, number]> = [
    ['0', 0],
    ['5', 5],
    ['9', 9],
    ['10', 10],
    ['49', 49],
    ['50', 50],
    ['100', 100],
    ['199', 199],
    ['200', 200],
    ['007', 7],
    [' 42 ', 42],
    ['\t13\n', 13],
    ['low', 0],
    ['normal', 5],
    ['high', 20],
    ['critical', 50],
    ['emergency', 100],
    ['system', 100],
    ['rebrief', 200],
    ['HIGH', 20],
    ['  Critical ', 50],
    ['ReBrief', 200],
  ];

  it.each(valid)('parsePriority(%j) = %i', (input, expected) => {
    expect(parsePriority(input)).toBe(expected);
  });

  it('accepts every named priority', () => {
    for (const [name, value] of Object.entries(namedPriorities)) {
      expect(parsePriority(name)).toBe(value);
    }
  });

  const invalid = [
    '',
    '   ',
    '-1',
    '201',
    '256',
    '1000',
    '1.5',
    '5.0',
    '1e2',
    '0x10',
    '+5',
    '5 5',
    'abc',
    'urgent',
    'hi',
    'NaN',
    'Infinity',
    // Inherited Object.prototype members must not count as priority names.
    'constructor',
    'toString',
    '__proto__',
    'hasOwnProperty',
  ];

  it.each(invalid)('parsePriority(%j) throws UsageError', (input) => {
    expect(() => parsePriority(input)).toThrow(UsageError);
  });

  it('the error names the input and the valid range, and maps to the usage exit code', () => {
    let err: unknown;
    try {
      parsePriority('urgent');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    const u = err as UsageError;
    expect(u.message).toContain('urgent');
    expect(u.message).toContain(String(PRIORITY_MIN));
    expect(u.message).toContain(String(PRIORITY_MAX));
    expect(u.exitCode).toBe(ExitCode.usage);
  });
});

describe('priorityBand', () => {
  const table: Array<[number, ReturnType<typeof priorityBand>]> = [
    [0, 'normal'],
    [5, 'normal'],
    [9, 'normal'],
    [10, 'high'],
    [20, 'high'],
    [49, 'high'],
    [50, 'critical'],
    [99, 'critical'],
    [100, 'emergency'],
    [150, 'emergency'],
    [199, 'emergency'],
    [200, 'rebrief'],
  ];

  it.each(table)('priorityBand(%i) = %s', (p, band) => {
    expect(priorityBand(p)).toBe(band);
  });

  it('named priorities fall in their own band', () => {
    expect(priorityBand(namedPriorities.low)).toBe('normal');
    expect(priorityBand(namedPriorities.normal)).toBe('normal');
    expect(priorityBand(namedPriorities.high)).toBe('high');
    expect(priorityBand(namedPriorities.critical)).toBe('critical');
    expect(priorityBand(namedPriorities.emergency)).toBe('emergency');
    expect(priorityBand(namedPriorities.system)).toBe('emergency');
    expect(priorityBand(namedPriorities.rebrief)).toBe('rebrief');
  });
});

describe('isValidPriority', () => {
  const table: Array<[unknown, boolean]> = [
    [0, true],
    [5, true],
    [200, true],
    [-1, false],
    [201, false],
    [1.5, false],
    [Number.NaN, false],
    [Number.POSITIVE_INFINITY, false],
    ['5', false],
    [null, false],
    [undefined, false],
  ];

  it.each(table)('isValidPriority(%s) = %s', (p, expected) => {
    expect(isValidPriority(p)).toBe(expected);
  });
});
