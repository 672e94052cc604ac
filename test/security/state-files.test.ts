/**
 * Issue 11, private state: symlinks planted in the state directory, predictable temp names, a state
 * directory that belongs to someone else, and file modes under a umask of 000. Real CLI processes
 * and the real daemon parts; each case failed on the code before the fix.
 */
import { spawn } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { HookServer } from '../../src/daemon/hook-server.js';
import { Heartbeats } from '../../src/daemon/heartbeats.js';
import { hookLog } from '../../src/hooks/hook-log.js';
import { silentLogger } from '../../src/log.js';
import { openSqliteStore } from '../../src/queue/sqlite/sqlite-store.js';
import { binPath, cleanEnv, newProject, TempDirs } from '../helpers/cli.js';

const temp = new TempDirs();
afterAll(() => temp.removeAll());

const mode = (file: string) => statSync(file).mode & 0o777;

/** An outside file a hostile local user prepared; it must stay exactly as it is. */
function bait(dir: string): { file: string; content: string } {
  const file = join(dir, 'outside.txt');
  const content = 'nothing of hornets may land here\n';
  writeFileSync(file, content, { mode: 0o644 });
  return { file, content };
}

describe('symlinks in the state directory are not followed', () => {
  it('a log file replaced by a symlink: the CLI still works and writes nothing through it', async () => {
    const p = await newProject(temp, 'marie');
    const outside = bait(temp.make('hornets-outside-'));
    const log = join(p.stateDir, 'logs', 'hornets.log');
    symlinkSync(outside.file, log);
    await p.send('marie', 'still queued');
    const listed = JSON.parse((await p.ok(['queue', 'list', '--json'])).stdout) as { body: string }[];
    expect(listed.map((m) => m.body)).toEqual(['still queued']);
    expect(readFileSync(outside.file, 'utf8')).toBe(outside.content);
  });

  it('the hooks log: a symlink gets no line', () => {
    const dir = temp.make('hornets-hooklog-');
    mkdirSync(join(dir, 'logs'), { recursive: true });
    const outside = bait(temp.make('hornets-outside-'));
    symlinkSync(outside.file, join(dir, 'logs', 'hornets.log'));
    hookLog(dir, { agent: 'marie' }).error({ event: 'x' }, 'must not be written');
    expect(readFileSync(outside.file, 'utf8')).toBe(outside.content);
  });

  it('temp names cannot be prepared: the hook endpoint (with its tokens) and heartbeats never go through a planted symlink', async () => {
    const dir = temp.make('hornets-tmpnames-');
    const run = join(dir, 'run');
    const beats = join(dir, 'heartbeats');
    mkdirSync(run, { recursive: true, mode: 0o700 });
    mkdirSync(beats, { recursive: true, mode: 0o700 });
    const outside = bait(temp.make('hornets-outside-'));
    // The names the old code used: <file>.tmp-<pid>, and this process is the writer here.
    symlinkSync(outside.file, join(run, `hook-endpoint.tmp-${process.pid}`));
    symlinkSync(outside.file, join(beats, `daemon.json.tmp-${process.pid}`));
    const store = await openSqliteStore(join(dir, 'hornets.db'));
    const server = new HookServer({ store, stateDir: dir, configPath: join(dir, 'hornets.json'), log: silentLogger() });
    try {
      await server.start();
      const hb = new Heartbeats({ paths: { heartbeats: beats }, intervalMs: 60_000, log: silentLogger(), snapshot: () => [] });
      await hb.start();
      await hb.stop();
    } finally {
      await server.stop();
      await store.close();
    }
    expect(readFileSync(outside.file, 'utf8')).toBe(outside.content);
    // And nothing is left behind under a temp name.
    expect(readdirSync(run).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });
});

describe.skipIf(process.getuid?.() !== 0)('a state directory of someone else', () => {
  // Needs root to hand a directory to another uid; CI runs as root.
  it('is refused with a clear error, and nothing is written into it', async () => {
    const p = await newProject(temp, 'marie');
    const foreign = join(temp.make('hornets-foreign-'), 'state');
    mkdirSync(foreign, { mode: 0o777 });
    chownSync(foreign, 4242, 4242);
    const r = await p.run(['send', 'marie', 'hello'], { env: { HORNETS_HOME: foreign } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`refusing the state directory ${foreign}: it is owned by uid 4242, not by you (uid 0)`);
    expect(readdirSync(foreign)).toEqual([]);
  });
});

/** Runs the CLI with umask 000: argv only, the shell script is fixed. */
function withUmask000(cwd: string, args: string[]): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', 'umask 000 && exec "$@"', 'sh', process.execPath, binPath, ...args], { cwd, env: cleanEnv(), stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', resolve);
  });
}

describe('file modes do not depend on a careful umask', () => {
  it('init under umask 000 writes hornets.json 0644, briefings/ 0755 and briefings 0644; the state dir stays 0700', async () => {
    const dir = temp.make('hornets-umask-');
    expect(await withUmask000(dir, ['init', '--agents', 'marie,anga', '--profile', 'demo'])).toBe(0);
    expect(mode(join(dir, 'hornets.json'))).toBe(0o644);
    expect(mode(join(dir, 'briefings'))).toBe(0o755);
    expect(mode(join(dir, 'briefings', 'marie.md'))).toBe(0o644);
    expect(mode(join(dir, '.gitignore'))).toBe(0o644);
    expect(mode(join(dir, '.hornets'))).toBe(0o700);
    // A later rewrite of hornets.json (agent add) does not widen it either.
    expect(await withUmask000(dir, ['add', 'fabien', '--profile', 'demo', '--no-start'])).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'hornets.json'), 'utf8')).agents).toHaveLength(3);
    expect(mode(join(dir, 'hornets.json'))).toBe(0o644);
    expect(existsSync(join(dir, 'hornets.json.bak'))).toBe(true);
  });
});
