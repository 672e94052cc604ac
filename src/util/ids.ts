import { closeSync, openSync, readSync } from 'node:fs';

// Lower-case Crockford-style alphabet: no i, l, o, u, so ids read aloud and typed back survive.
const alphabet = '0123456789abcdefghjkmnpqrstvwxyz';

// One syscall per 4 KiB of randomness instead of one per id: ids are minted on every enqueue and claim.
const pool = Buffer.alloc(4096);
let offset = pool.length;

/**
 * The kernel's randomness, read from /dev/urandom (the source node:crypto uses too): node:crypto
 * loads 17 modules, which cost `send` and `status` more than their own work. Where the device
 * cannot be read (a chroot without /dev), Web Crypto (node:crypto underneath) is used after all.
 */
function fillRandom(buf: Buffer): void {
  try {
    const fd = openSync('/dev/urandom', 'r');
    try {
      let got = 0;
      while (got < buf.length) {
        const n = readSync(fd, buf, got, buf.length - got, null);
        if (n <= 0) throw new Error('/dev/urandom gave no bytes');
        got += n;
      }
      return;
    } finally {
      closeSync(fd);
    }
  } catch {
    globalThis.crypto.getRandomValues(buf);
  }
}

function take(length: number): Buffer {
  if (offset + length > pool.length) {
    fillRandom(pool);
    offset = 0;
  }
  const bytes = pool.subarray(offset, offset + length);
  offset += length;
  return bytes;
}

/** Random id of `length` characters, 5 bits each (10 chars = 50 bits). */
export function randomId(length = 10): string {
  const bytes = take(length);
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[bytes[i]! & 31];
  return out;
}

/** `bytes` random bytes as hex (temp file names and the like), without loading node:crypto. */
export function randomHex(bytes: number): string {
  return take(bytes).toString('hex');
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
