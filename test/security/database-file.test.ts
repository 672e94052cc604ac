/**
 * Issue 11, item 2: the database deleted under a running engine (`rm .hornets/hornets.db*`, or
 * `git clean -fdX`, which takes the whole state directory). Before the fix the CLI created a fresh
 * database, the engine kept the deleted one, new messages were never delivered and the old queue
 * was gone after `daemon stop`. Real CLI and engine processes, real tmux on a private socket.
 */
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Project, assertBuilt } from '../helpers/cli.js';
import { TmuxFixture, initGitRepo, waitFor } from '../helpers/tmux.js';

const fx = new TmuxFixture();
beforeAll(() => assertBuilt());
afterEach(async () => {
  await fx.cleanup();
});

async function team(agents = 'marie'): Promise<Project> {
  const dir = fx.dir('hornets-dbfile-');
  initGitRepo(dir);
  const p = new Project(dir, { HORNETS_TMUX_SOCKET: fx.socket(), TMUX: undefined, TMUX_PANE: undefined });
  await p.ok(['init', '--agents', agents]);
  fx.defer(() => p.run(['daemon', 'stop']));
  return p;
}

async function queued(p: Project): Promise<string[]> {
  const list = JSON.parse((await p.ok(['queue', 'list', '--json'])).stdout) as { body: string }[];
  return list.map((m) => m.body).sort();
}

/** The running engine's pid, or null (`daemon status` exits 3 while its pid file is missing). */
async function enginePid(p: Project): Promise<number | null> {
  const r = await p.run(['daemon', 'status', '--json']);
  if (r.code !== 0) return null;
  const s = JSON.parse(r.stdout) as { running: boolean; pid: number | null };
  return s.running ? s.pid : null;
}

describe('the database deleted under a running engine', () => {
  it('rm hornets.db*: the engine puts its copy back, a new send joins the old queue, and the agent gets both', async () => {
    const p = await team();
    await p.ok(['daemon', 'start']);
    const pid = await enginePid(p);
    await p.send('marie', 'before the rm');
    for (const f of readdirSync(p.stateDir)) if (f.startsWith('hornets.db')) rmSync(path.join(p.stateDir, f));
    // At once, as a user would: the CLI waits for the engine instead of creating an empty database.
    await p.send('marie', 'after the rm');
    expect(await queued(p)).toEqual(['after the rm', 'before the rm']);
    expect(await enginePid(p)).toBe(pid);
    // No database was started beside it, and nothing is left lying around.
    expect(readdirSync(p.stateDir).filter((f) => f.startsWith('hornets.db') && !/^hornets\.db(-wal|-shm)?$/.test(f))).toEqual([]);
    // The engine serves the restored queue: the agent comes up and both messages reach it.
    await p.ok(['up']);
    await waitFor(
      'both messages handed over',
      async () => {
        const all = JSON.parse((await p.ok(['queue', 'list', '--all', '--json'])).stdout) as { state: string }[];
        return all.length === 2 && all.every((m) => m.state === 'delivered' || m.state === 'confirmed');
      },
      30_000,
      100,
    );
    const status = JSON.parse((await p.ok(['status', '--json'])).stdout) as { name: string; state: string }[];
    expect(status.find((a) => a.name === 'marie')?.state).not.toBe('stopped');
  }, 120_000);

  it('the whole state directory deleted (git clean -fdX): nothing queued before or after is lost, and the engine is found again', async () => {
    const p = await team();
    await p.ok(['daemon', 'start']);
    const pid = await enginePid(p);
    await p.send('marie', 'queued before');
    // The engine held still (SIGSTOP) so the CLI is sure to come first: the pid file went with the
    // directory, so this CLI cannot know the engine runs and creates a database of its own.
    process.kill(pid!, 'SIGSTOP');
    try {
      rmSync(p.stateDir, { recursive: true, force: true });
      await p.send('marie', 'queued in between');
    } finally {
      process.kill(pid!, 'SIGCONT');
    }
    await waitFor('the engine back in its state directory', async () => (await enginePid(p)) === pid, 15_000, 100);
    await waitFor('both messages in one queue', async () => (await queued(p)).length === 2, 15_000, 100);
    expect(await queued(p)).toEqual(['queued before', 'queued in between']);
    await p.send('marie', 'queued after');
    // Stopping the engine keeps everything: the queue is on disk, not in a deleted file.
    await p.ok(['daemon', 'stop']);
    expect(await queued(p)).toEqual(['queued after', 'queued before', 'queued in between']);
    // The database found in its place is kept beside it, for the record.
    expect(readdirSync(p.stateDir).some((f) => f.startsWith('hornets.db.foreign-'))).toBe(true);
  }, 120_000);
});
