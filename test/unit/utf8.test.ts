/** Issue 11, item 14: invalid UTF-8 in hornets.json was silently turned into U+FFFD. */
import { describe, expect, it } from 'vitest';
import { firstInvalidUtf8 } from '../../src/config/json-file.js';

describe('firstInvalidUtf8', () => {
  it.each([
    ['ascii', [0x61], null],
    ['2-byte é', [0xc3, 0xa9], null],
    ['3-byte €', [0xe2, 0x82, 0xac], null],
    ['4-byte emoji', [0xf0, 0x9f, 0x98, 0x80], null],
    ['a stray 0xff', [0x61, 0xff], 1],
    ['overlong /', [0xc0, 0xaf], 0],
    ['overlong 3-byte', [0xe0, 0x80, 0xaf], 0],
    ['a UTF-16 surrogate', [0xed, 0xa0, 0x80], 0],
    ['beyond U+10FFFF', [0xf4, 0x90, 0x80, 0x80], 0],
    ['cut off at the end', [0xc3], 0],
    ['cut off 3-byte', [0x61, 0xe2, 0x82], 1],
    ['a bad continuation', [0xe2, 0x28, 0xa1], 0],
  ])('%s', (_name, bytes, want) => {
    expect(firstInvalidUtf8(Uint8Array.from(bytes))).toBe(want);
    // Agrees with Node's own decoder on whether the bytes survive a round trip.
    const valid = Buffer.from(Buffer.from(bytes).toString('utf8')).equals(Buffer.from(bytes));
    expect(want === null).toBe(valid);
  });
});
