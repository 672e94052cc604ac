/**
 * The Node hook entry (bin/hornets-hook.cjs, what the hook clients run when no daemon answers) runs
 * dist/hook-entry.cjs with a V8 code cache beside it (bin/code-cache.cjs), and opens SQLite with
 * better-sqlite3's addon by its path, not through the `bindings` package's search. The cache is an
 * optimisation only: whatever state it is in, the hook delivers the same. Each test uses its own
 * copy of bin/ and the bundle, so the repository's dist/ is never touched while other tests use it.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { agentCredential, loadOrCreateAgentKey } from '../../src/hooks/credentials.js';
import { openSqliteStore, type SqliteMessageStore } from '../../src/queue/sqlite/sqlite-store.js';
import { repoRoot } from '../helpers/cli.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

beforeAll(() => {
  if (!existsSync(path.join(repoRoot, 'dist', 'hook-entry.cjs'))) throw new Error('dist/hook-entry.cjs is missing: run `npm run build` before these tests');
});

function tempDir(prefix: string): string {
  const d = mkdtempSync(path.join(tmpdir(), prefix));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** A package copy (bin/, dist/hook-entry.cjs; node_modules and dist/src linked) and a state dir with marie registered. */
async function setup(): Promise<{ hook: string; cache: string; home: string; store: SqliteMessageStore }> {
  const root = tempDir('hornets-hookcache-');
  mkdirSync(path.join(root, 'bin'));
  mkdirSync(path.join(root, 'dist'));
  for (const f of ['hornets-hook.cjs', 'code-cache.cjs']) copyFileSync(path.join(repoRoot, 'bin', f), path.join(root, 'bin', f));
  copyFileSync(path.join(repoRoot, 'dist', 'hook-entry.cjs'), path.join(root, 'dist', 'hook-entry.cjs'));
  for (const link of ['node_modules', path.join('dist', 'src')]) symlinkSync(path.join(repoRoot, link), path.join(root, link));
  const home = tempDir('hornets-hookcache-home-');
  const store = await openSqliteStore(path.join(home, 'hornets.db'));
  cleanups.push(() => store.close());
  await store.registerAgents([{ name: 'marie', profile: 'demo' }]);
  await store.updateAgent('marie', { generation: 3 });
  return { hook: path.join(root, 'bin', 'hornets-hook.cjs'), cache: path.join(root, 'dist', 'hook-entry.cjs.cache'), home, store };
}

/** One hook run; `probe` (a file path): what the process loaded, written there at its exit. */
function runHook(hook: string, home: string, event: string, payload: unknown, probe?: string): Promise<{ status: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const pre = probe ? ['-r', probe] : [];
    const child = spawn(process.execPath, [...pre, hook, event], {
      env: { PATH: process.env.PATH ?? '', HORNETS_AGENT_ID: 'marie', HORNETS_HOME: home, HORNETS_GENERATION: '3', HORNETS_HOOK_TOKEN: agentCredential(loadOrCreateAgentKey(home), 'marie', 3) },
    });
    const out: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout: Buffer.concat(out).toString('utf8') }));
    child.stdin.end(JSON.stringify(payload));
  });
}

function learned(cache: string): string[] {
  const buf = readFileSync(cache);
  expect(buf.toString('latin1', 0, 4)).toBe('HTC1');
  return (JSON.parse(buf.toString('utf8', 8, 8 + buf.readUInt32LE(4))) as { learned: string[] }).learned;
}

describe('the Node hook entry', () => {
  it('learns each event into its code cache once, delivers the same from it, and with a damaged cache', async () => {
    const { hook, cache, home, store } = await setup();
    const payload = { session_id: 's1', tool_name: 'Bash' };
    const m1 = await store.enqueue({ agent: 'marie', body: 'first' });
    const r1 = await runHook(hook, home, 'PostToolUse', payload);
    expect(r1.status).toBe(0);
    expect(r1.stdout).toContain(`[msg ${m1.message.id}`);
    expect(learned(cache)).toEqual(['PostToolUse']);

    const m2 = await store.enqueue({ agent: 'marie', body: 'second' });
    const r2 = await runHook(hook, home, 'PostToolUse', payload);
    expect(r2.stdout).toBe(r1.stdout.replace(m1.message.id, m2.message.id).replace('first', 'second'));
    expect(learned(cache)).toEqual(['PostToolUse']);
    expect((await store.get(m1.message.id)).state).toBe('confirmed');

    // Flipped bytes under a good header: ignored (V8 would crash on them), rewritten, same answer.
    const buf = readFileSync(cache);
    for (let i = 8 + buf.readUInt32LE(4) + 500; i < buf.length - 500; i += 997) buf[i]! ^= 0x5a;
    writeFileSync(cache, buf);
    const m3 = await store.enqueue({ agent: 'marie', body: 'third' });
    const r3 = await runHook(hook, home, 'PostToolUse', payload);
    expect(r3).toEqual({ status: 0, stdout: r1.stdout.replace(m1.message.id, m3.message.id).replace('first', 'third') });
    expect(learned(cache)).toEqual(['PostToolUse']);
  });

  it('opens SQLite without the bindings package (the addon by its path), with better-sqlite3 bundled, and checks the credential without node:crypto', async () => {
    const { hook, home, store } = await setup();
    const m = await store.enqueue({ agent: 'marie', body: 'hello' });
    const out = path.join(home, 'probe.json');
    const probe = path.join(home, 'probe.cjs');
    writeFileSync(probe, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify({ modules: process.moduleLoadList, files: Object.keys(require.cache) })));`);
    const r = await runHook(hook, home, 'PostToolUse', { session_id: 's1', tool_name: 'Bash' }, probe);
    expect(r.stdout).toContain(`[msg ${m.message.id}`);
    const { modules, files } = JSON.parse(readFileSync(out, 'utf8')) as { modules: string[]; files: string[] };
    expect(files.filter((f) => /[\\/](bindings|file-uri-to-path)[\\/]/.test(f))).toEqual([]);
    expect(files.some((f) => f.endsWith('better_sqlite3.node'))).toBe(true);
    // better-sqlite3's JavaScript is in the bundle: no file of it is loaded on its own
    expect(files.filter((f) => /[\\/]better-sqlite3[\\/]lib[\\/]/.test(f))).toEqual([]);
    expect(modules.length).toBeGreaterThan(0);
    expect(modules.filter((m) => /^NativeModule (crypto|internal\/crypto)/.test(m))).toEqual([]);
  });

  it('with no other connection open, leaves its WAL to the next opener (no checkpoint per run), keeps it short, and loses nothing it committed', async () => {
    const { hook, home, store } = await setup();
    const sent: string[] = [];
    for (const body of ['one', 'two', 'three']) sent.push((await store.enqueue({ agent: 'marie', body })).message.id);
    // The engine is down: the hooks' connection is the only one.
    await store.close();
    const wal = path.join(home, 'hornets.db-wal');
    const runs = 30;
    let firstOut = '';
    for (let i = 0; i < runs; i++) {
      const r = await runHook(hook, home, 'PostToolUse', { session_id: 's1', tool_name: 'Bash' });
      expect(r.status).toBe(0);
      if (i === 0) {
        firstOut = r.stdout;
        // A close would have checkpointed the WAL into the database and deleted it.
        expect(existsSync(wal)).toBe(true);
      }
    }
    for (const id of sent) expect(firstOut).toContain(`[msg ${id}`);
    // Each run adds a few pages; a checkpoint every 64 pages keeps what the next opener replays short
    // (at the engine's 4000 pages, 30 runs would leave ~150 pages here).
    expect(statSync(wal).size).toBeLessThan(100 * 4096);
    const after = await openSqliteStore(path.join(home, 'hornets.db'));
    try {
      for (const id of sent) expect((await after.get(id)).state).toBe('confirmed');
      const events = await after.events({ agent: 'marie', limit: 1000 });
      expect(events.filter((e) => e.kind === 'hook:PostToolUse')).toHaveLength(runs);
    } finally {
      await after.close();
    }
  });

  it('a project whose queue is in Redis: the hook does nothing, exits 0 at once and creates no SQLite database', async () => {
    const { hook, home } = await setup();
    rmSync(path.join(home, 'hornets.db'), { force: true });
    for (const f of ['hornets.db-wal', 'hornets.db-shm']) rmSync(path.join(home, f), { force: true });
    writeFileSync(path.join(home, 'store.json'), JSON.stringify({ kind: 'redis', url: 'redis://127.0.0.1:1', prefix: 'p' }));
    const r = await runHook(hook, home, 'PostToolUse', { session_id: 's1', tool_name: 'Bash' });
    expect(r).toEqual({ status: 0, stdout: '' });
    expect(existsSync(path.join(home, 'hornets.db'))).toBe(false);
  });
});
