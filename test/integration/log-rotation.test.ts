/** Size rotation of the log file, also with several processes writing it at once. */
import { fork } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { RotatingFile } from '../../src/log-rotation.js';
import { compiledPath } from '../helpers/compiled.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hornets-logrot-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function logFiles(): string[] {
  return readdirSync(dir)
    .filter((f) => f.startsWith('hornets.log'))
    .sort();
}

describe('log rotation', () => {
  it('writing past the limit rotates; the number of files stays bounded; every line is whole', () => {
    const file = join(dir, 'hornets.log');
    const log = createLogger(file, { rotation: { maxBytes: 4096, maxFiles: 3 } });
    for (let i = 0; i < 500; i++) log.info({ i, pad: 'p'.repeat(100) }, 'line');
    expect(logFiles()).toEqual(['hornets.log', 'hornets.log.1', 'hornets.log.2', 'hornets.log.3']);
    for (const f of logFiles()) {
      const p = join(dir, f);
      expect(statSync(p).mode & 0o777).toBe(0o600);
      expect(statSync(p).size).toBeLessThan(4096 + 400);
      for (const line of readFileSync(p, 'utf8').trimEnd().split('\n')) expect(() => JSON.parse(line)).not.toThrow();
    }
    // The newest lines are in the live file, the last rotated ones just before them.
    const last = readFileSync(file, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => (JSON.parse(l) as { i: number }).i);
    expect(last[last.length - 1]).toBe(499);
    const prev = readFileSync(`${file}.1`, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => (JSON.parse(l) as { i: number }).i);
    expect(prev[prev.length - 1]).toBe(last[0]! - 1);
  });

  it('a leftover lock from a dead process delays rotation but does not stop it for good', () => {
    const file = join(dir, 'hornets.log');
    const rf = new RotatingFile(file, { maxBytes: 1024, maxFiles: 2 });
    // Fresh lock held by "someone else": no rotation, writes go on.
    const lock = `${file}.rotate-lock`;
    rmSync(lock, { force: true });
    writeFileSync(lock, '');
    for (let i = 0; i < 200; i++) rf.write(`${JSON.stringify({ i })}\n`);
    expect(existsSync(`${file}.1`)).toBe(false);
    utimesSync(lock, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    rf.write('{"i":"stale lock removed"}\n');
    rf.write('{"i":"rotated"}\n');
    expect(existsSync(`${file}.1`)).toBe(true);
    rf.end();
  });

  it('four processes logging at once: no torn or lost lines, bounded files', async () => {
    const file = join(dir, 'hornets.log');
    const worker = compiledPath('test/helpers/workers/log-writer.ts');
    const perProcess = 3_000;
    const runs = [0, 1, 2, 3].map(
      (w) =>
        new Promise<void>((resolve, reject) => {
          const child = fork(worker, [file, String(w), String(perProcess)], { stdio: 'inherit' });
          child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`writer ${w} exited ${code}`))));
        }),
    );
    await Promise.all(runs);
    const files = logFiles();
    expect(files.length).toBeGreaterThan(5);
    expect(files.length).toBeLessThanOrEqual(1 + 20);
    // Rotation happens soon after the limit, also with four writers racing for it in tight loops
    // (the overshoot is what they write while one of them renames the generations).
    for (const f of files) expect(statSync(join(dir, f)).size, f).toBeLessThan(2 * 128 * 1024);
    const seen = new Set<string>();
    for (const f of files) {
      for (const line of readFileSync(join(dir, f), 'utf8').trimEnd().split('\n')) {
        const o = JSON.parse(line) as { w: number; i: number };
        seen.add(`${o.w}:${o.i}`);
      }
    }
    // maxFiles is large enough here that nothing was rotated away: every line is somewhere.
    expect(seen.size).toBe(4 * perProcess);
  }, 60_000);
});
