/** The plain-JS SHA-256/HMAC used by the hook's fallback gives node:crypto's answers. */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { constantTimeEqual, hmacSha256, sha256 } from '../../src/util/sha256.js';

describe('sha256', () => {
  it('matches the FIPS 180-2 examples', () => {
    expect(sha256(Buffer.from('abc')).toString('hex')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256(Buffer.alloc(0)).toString('hex')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('matches node:crypto for every length around the block and padding boundaries, and long inputs', () => {
    for (let n = 0; n <= 300; n++) {
      const data = randomBytes(n);
      expect(sha256(data).toString('hex'), `length ${n}`).toBe(createHash('sha256').update(data).digest('hex'));
    }
    const big = randomBytes(100_000);
    expect(sha256(big).toString('hex')).toBe(createHash('sha256').update(big).digest('hex'));
  });
});

describe('hmacSha256', () => {
  it('matches node:crypto for short, block-sized and long keys', () => {
    for (const keyLength of [0, 1, 32, 63, 64, 65, 200]) {
      for (const msgLength of [0, 5, 55, 64, 119, 1000]) {
        const key = randomBytes(keyLength);
        const msg = randomBytes(msgLength);
        expect(hmacSha256(key, msg).toString('hex'), `key ${keyLength}, message ${msgLength}`).toBe(createHmac('sha256', key).update(msg).digest('hex'));
      }
    }
  });

  it('matches RFC 4231 test case 2', () => {
    expect(hmacSha256(Buffer.from('Jefe'), Buffer.from('what do ya want for nothing?')).toString('hex')).toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });
});

describe('constantTimeEqual', () => {
  it('is true only for the same bytes of the same length', () => {
    expect(constantTimeEqual(Buffer.from('abc'), Buffer.from('abc'))).toBe(true);
    expect(constantTimeEqual(Buffer.from('abc'), Buffer.from('abd'))).toBe(false);
    expect(constantTimeEqual(Buffer.from('abc'), Buffer.from('abcd'))).toBe(false);
    expect(constantTimeEqual(Buffer.alloc(0), Buffer.alloc(0))).toBe(true);
  });
});
