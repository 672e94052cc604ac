import { randomFillSync } from 'node:crypto';

// Lower-case Crockford-style alphabet: no i, l, o, u, so ids read aloud and typed back survive.
const alphabet = '0123456789abcdefghjkmnpqrstvwxyz';

// One syscall per 4 KiB of randomness instead of one per id: ids are minted on every enqueue and claim.
const pool = Buffer.alloc(4096);
let offset = pool.length;

/** Random id of `length` characters, 5 bits each (10 chars = 50 bits). */
export function randomId(length = 10): string {
  if (offset + length > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[pool[offset + i]! & 31];
  offset += length;
  return out;
}

export function isMessageId(s: string): boolean {
  return /^[0-9a-z]{4,32}$/.test(s);
}

/**
 * Message ids: the enqueue sequence in base 32 (at least 4 characters) plus 4 random characters.
 * Sequential ids append to the end of the id index instead of dirtying a random page per insert;
 * the random tail keeps ids from two databases (export/import) from colliding in practice.
 */
export function sequentialId(seq: number): string {
  let n = seq;
  let head = '';
  do {
    head = alphabet[n % 32]! + head;
    n = Math.floor(n / 32);
  } while (n > 0);
  return head.padStart(4, '0') + randomId(4);
}
