/**
 * The agents lock (issue 11, 4): one holder at a time across processes and inside one, a holder's
 * own nested calls never wait for themselves, a dead holder's file (or one whose pid was reused by
 * another process) is taken over, and a live holder makes a bounded wait fail naming it.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TeamBusyError, processStart, teamLockFile, tryWithTeamLock, withTeamLock } from '../../src/services/team-lock.js';

const dirs: string[] = [];
function stateDir(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'hornets-lock-'));
  mkdirSync(path.join(d, 'run'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('the agents lock', () => {
  it('serialises holders in one process, lets a holder nest, and removes its file when done', async () => {
    const dir = stateDir();
    const order: string[] = [];
    let releaseFirst!: () => void;
    const gate = new Promise<void>((r) => (releaseFirst = r));
    const first = withTeamLock(dir, 'first', async () => {
      order.push('first in');
      expect(JSON.parse(readFileSync(teamLockFile(dir), 'utf8'))).toMatchObject({ pid: process.pid, command: 'first' });
      await gate;
      // Nested: the same holder goes straight in.
      await withTeamLock(dir, 'nested', async () => void order.push('nested'));
      order.push('first out');
    });
    const second = withTeamLock(dir, 'second', async () => void order.push('second'));
    // The engine's orphan check does not wait: someone holds it.
    expect(await tryWithTeamLock(dir, 'try', async () => 'ran')).toBeNull();
    releaseFirst();
    await Promise.all([first, second]);
    expect(order).toEqual(['first in', 'nested', 'first out', 'second']);
    expect(existsSync(teamLockFile(dir))).toBe(false);
    expect(await tryWithTeamLock(dir, 'try', async () => 'ran')).toBe('ran');
  });

  it('a live holder in another process makes a bounded wait fail with its pid and command', async () => {
    const dir = stateDir();
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      await new Promise((r) => child.once('spawn', r));
      writeFileSync(teamLockFile(dir), JSON.stringify({ pid: child.pid, start: processStart(child.pid!), command: 'up marie', since: Date.now() }));
      const err = await withTeamLock(dir, 'stop marie', async () => 'ran', { waitMs: 200 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TeamBusyError);
      expect((err as Error).message).toMatch(new RegExp(`pid ${child.pid} \\(up marie, for \\d+ s\\); waited 0 s`));
    } finally {
      child.kill('SIGKILL');
    }
  });

  it("a dead holder's file, or one whose pid now belongs to another process, is taken over", async () => {
    const dir = stateDir();
    writeFileSync(teamLockFile(dir), JSON.stringify({ pid: 2 ** 22 + 7, start: null, command: 'up', since: 0 }));
    expect(await withTeamLock(dir, 'up', async () => 'first', { waitMs: 0 })).toBe('first');
    // Our own pid with another start time: a predecessor that died and whose pid was reused.
    writeFileSync(teamLockFile(dir), JSON.stringify({ pid: process.pid, start: 'not-this-process', command: 'up', since: 0 }));
    expect(await withTeamLock(dir, 'up', async () => 'second', { waitMs: 0 })).toBe('second');
  });
});
