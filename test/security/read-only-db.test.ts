/**
 * Issue 11, item 3: a read-only database. Before the fix the engine started on it anyway (health
 * "ok", every hook failing), and after `chmod u+w` it stayed read-only until restarted, because
 * SQLite had made its -shm file with the database's read-only mode. Root writes through any mode,
 * so the CLI runs as `nobody` here (CI runs as root; elsewhere the case is skipped).
 */
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, runCli, TempDirs, type CliResult } from '../helpers/cli.js';

const NOBODY = 65534;
const temp = new TempDirs();
const socket = `hornets-test-ro-${process.pid}`;
let dir = '';

function run(args: string[]): Promise<CliResult> {
  return runCli(args, { cwd: dir, env: { HOME: dir, HORNETS_TMUX_SOCKET: socket, TMUX: undefined, TMUX_PANE: undefined }, uid: NOBODY, gid: NOBODY });
}

function tmuxKill(): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn('tmux', ['-L', socket, 'kill-server'], { uid: NOBODY, gid: NOBODY, stdio: 'ignore' });
    child.on('error', () => resolve());
    child.on('close', () => resolve());
  });
}

describe.skipIf(process.getuid?.() !== 0)('a read-only database', () => {
  beforeAll(async () => {
    assertBuilt();
    dir = temp.make('hornets-ro-');
    chmodSync(dir, 0o755);
    chownSync(dir, NOBODY, NOBODY);
    expect((await run(['init', '--agents', 'marie', '--profile', 'demo'])).code).toBe(0);
    expect((await run(['send', 'marie', 'before'])).code).toBe(0);
  });
  afterAll(async () => {
    await run(['daemon', 'stop']);
    await tmuxKill();
    temp.removeAll();
  });

  it('the engine refuses to start on it, and says why; once writable again everything works without a restart of anything', async () => {
    const db = path.join(dir, '.hornets', 'hornets.db');
    chmodSync(db, 0o400);
    const send = await run(['send', 'marie', 'refused']);
    expect(send.code).toBe(1);
    expect(send.stderr).toContain(`cannot write ${db}: the database or its directory is read-only`);
    const start = await run(['daemon', 'start']);
    expect(start.code).not.toBe(0);
    expect((await run(['daemon', 'status'])).code).toBe(3);
    expect(readFileSync(path.join(dir, '.hornets', 'logs', 'daemon.out'), 'utf8')).toContain('read-only');

    chmodSync(db, 0o600);
    const again = await run(['send', 'marie', 'after']);
    expect(again.stderr).toBe('');
    expect(again.code).toBe(0);
    expect((await run(['daemon', 'start'])).code).toBe(0);
    expect((await run(['daemon', 'status'])).code).toBe(0);
    const list = JSON.parse((await run(['queue', 'list', '--json'])).stdout) as { body: string }[];
    expect(list.map((m) => m.body)).toEqual(['before', 'after']);
  }, 60_000);
});
