/**
 * Writing into the state directory without following anyone's symlinks. A predictable temp name
 * (`<file>.tmp-<pid>`) can be pre-created by another local user as a symlink to a file of their
 * choosing, and the token or a message would be written there; a log file replaced by a symlink
 * would append our lines to someone else's file. Temp files get random names and are created with
 * O_CREAT | O_EXCL | O_NOFOLLOW; appends open with O_NOFOLLOW.
 */
import { closeSync, constants, fsyncSync, linkSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomHex } from './ids.js';

/** Flags for a file appended to in the state directory (logs). */
export const APPEND_NOFOLLOW = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW;

const EXCLUSIVE_NEW = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** A fresh temp file beside `file` that nobody else can have prepared: its path and open descriptor. */
export function createExclusiveTemp(file: string, mode: number): { path: string; fd: number } {
  for (let attempt = 0; ; attempt++) {
    const path = join(dirname(file), `.${basename(file)}.${randomHex(8)}.tmp`);
    try {
      // The umask may take bits away from `mode`, never add any: the file is at most `mode`.
      return { path, fd: openSync(path, EXCLUSIVE_NEW, mode) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST' && attempt < 4) continue;
      throw err;
    }
  }
}

/**
 * Replaces `file` atomically (temp + rename) with `data`, mode `mode`. `durable` fsyncs the data
 * before the rename (for files whose loss matters after a power cut, not for heartbeats).
 */
export function writeFileAtomicSync(file: string, data: string | Uint8Array, mode: number, options: { durable?: boolean } = {}): void {
  const { path, fd } = createExclusiveTemp(file, mode);
  let open = true;
  try {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    if (options.durable) fsyncSync(fd);
    open = false;
    closeSync(fd);
    renameSync(path, file);
  } catch (err) {
    if (open) closeSync(fd);
    rmSync(path, { force: true });
    throw err;
  }
}

/**
 * Creates `file` whole or not at all: written to an exclusive temp file, then hard-linked into
 * place, which fails when the file exists. So a reader never sees it half-written (a lock never
 * looks stale while fresh) and of two racing creators exactly one wins. False: it existed.
 */
export function createWholeExclusive(file: string, text: string, mode: number): boolean {
  const { path: tmp, fd } = createExclusiveTemp(file, mode);
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    rmSync(tmp, { force: true });
  }
}
