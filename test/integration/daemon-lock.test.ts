/**
 * The engine's pid lock under a race: several would-be daemons (real processes) try to take over
 * the same stale pid file at the same instant. Exactly one may win; before the takeover was
 * serialised, two could each delete the stale file and the later deletion removed the first
 * winner's fresh lock, so both ran.
 */
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, readdirSync, utimesSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compiledPath } from '../helpers/compiled.js';
import { acquireLock, DaemonRunningError, takeoverAbandoned } from '../../src/daemon/lock.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A pid that is certainly not running: a child that has exited and been reaped. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid;
}

type Reply = { type: 'ready' | 'won' | 'refused' | 'released'; message?: string };

function next(child: ChildProcess, ...types: Reply['type'][]): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const onMsg = (m: Reply) => {
      if (!types.includes(m.type)) return;
      child.off('message', onMsg);
      child.off('exit', onExit);
      resolve(m);
    };
    const onExit = (code: number | null) => reject(new Error(`lock worker exited ${code} before ${types.join('/')}`));
    child.on('message', onMsg);
    child.once('exit', onExit);
  });
}

/** One round: every worker tries at the same instant, then all release (the winner deletes its file). */
async function race(children: ChildProcess[]): Promise<{ won: number; refused: string[] }> {
  const at = Date.now() + 100;
  const replies = children.map((c) => next(c, 'won', 'refused'));
  for (const c of children) c.send({ type: 'go', at });
  const results = await Promise.all(replies);
  const released = children.map((c) => next(c, 'released'));
  for (const c of children) c.send({ type: 'release' });
  await Promise.all(released);
  return { won: results.filter((r) => r.type === 'won').length, refused: results.filter((r) => r.type === 'refused').map((r) => r.message ?? '') };
}

describe('daemon pid lock', () => {
  it('exactly one of several simultaneous starters takes over a stale pid file', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hornets-lock-'));
    dirs.push(dir);
    const file = path.join(dir, 'daemon.pid');
    const stale = deadPid();
    const rounds = 40;
    const failures: string[] = [];
    const children = Array.from({ length: 8 }, () => fork(compiledPath('test/helpers/workers/lock-worker.ts'), [file], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    try {
      await Promise.all(children.map((c) => next(c, 'ready')));
      for (let round = 0; round < rounds; round++) {
        writeFileSync(file, `${stale}\n`);
        const r = await race(children);
        if (r.won !== 1) failures.push(`round ${round}: ${r.won} winners`);
        for (const m of r.refused) expect(m).toMatch(/already running for this project \(pid \d+\)/);
        // The winner released its lock; nothing is left behind (no takeover or temp files).
        expect(existsSync(file)).toBe(false);
        expect(readdirSync(dir)).toEqual([]);
      }
    } finally {
      for (const c of children) if (c.exitCode === null) c.send({ type: 'exit' });
    }
    expect(failures).toEqual([]);
  }, 120_000);

  it('refuses with the owner named while the owner lives, and leaves its pid file as it was', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hornets-lock-'));
    dirs.push(dir);
    const file = path.join(dir, 'daemon.pid');
    writeFileSync(file, `${process.ppid}\n`);
    const before = readFileSync(file);
    expect(() => acquireLock(file)).toThrow(DaemonRunningError);
    expect(() => acquireLock(file)).toThrow(`already running for this project (pid ${process.ppid})`);
    expect(readFileSync(file)).toEqual(before);
  });

  it('takes over a stale file, an empty one, and one holding its own pid (a dead predecessor)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hornets-lock-'));
    dirs.push(dir);
    const file = path.join(dir, 'daemon.pid');
    for (const content of [`${deadPid()}\n`, '', `${process.pid}\n`]) {
      writeFileSync(file, content);
      const release = acquireLock(file);
      expect(readFileSync(file, 'utf8')).toBe(`${process.pid}\n`);
      release();
      expect(existsSync(file)).toBe(false);
    }
  });

  it("a takeover file is cleared only when its starter is dead and it has stayed a while; a live starter's is never touched", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hornets-lock-'));
    dirs.push(dir);
    const file = path.join(dir, 'daemon.pid');
    const takeover = `${file}.takeover`;
    const age = (f: string, s: number) => utimesSync(f, new Date(Date.now() - s * 1000), new Date(Date.now() - s * 1000));

    // A takeover file that is not there was just released, never abandoned: deleting "it" would
    // delete the next holder's, and two starters would take over at once.
    expect(takeoverAbandoned(takeover)).toBe(false);
    writeFileSync(takeover, `${deadPid()}\n`);
    expect(takeoverAbandoned(takeover)).toBe(false);
    age(takeover, 5);
    expect(takeoverAbandoned(takeover)).toBe(true);
    rmSync(takeover);

    // Left by a starter that died mid-takeover (dead pid), next to a stale pid file: both go.
    writeFileSync(file, `${deadPid()}\n`);
    writeFileSync(takeover, `${deadPid()}\n`);
    age(takeover, 5);
    const release = acquireLock(file);
    expect(readFileSync(file, 'utf8')).toBe(`${process.pid}\n`);
    expect(existsSync(takeover)).toBe(false);
    release();

    // Just written by a starter that is dead: it still goes once it has aged, within one acquire.
    writeFileSync(file, `${deadPid()}\n`);
    writeFileSync(takeover, `${deadPid()}\n`);
    acquireLock(file)();
    expect(readdirSync(dir)).toEqual([]);

    // Held by a live starter (however old): never deleted; this starter gives up with an error.
    writeFileSync(file, `${deadPid()}\n`);
    writeFileSync(takeover, `${process.ppid}\n`);
    age(takeover, 60);
    expect(() => acquireLock(file, { attempts: 50 })).toThrow(/cannot take the daemon lock/);
    expect(readFileSync(takeover, 'utf8')).toBe(`${process.ppid}\n`);
  });
});
