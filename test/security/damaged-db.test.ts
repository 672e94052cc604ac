/**
 * Issue 11, item 1: a damaged database. Before the fix, bytes overwritten mid-file left `send`
 * saying "queued" (exit 0) and `status` and /healthz looking normal while nothing could be
 * delivered. Now the engine's quick_check (at start and every daemon.integrityCheckInterval) or
 * any SQLITE_CORRUPT marks the file damaged, every write is refused, and status, healthz and
 * metrics say so; the documented recovery gets the readable queue back. Real CLI and engine.
 */
import { closeSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Project, assertBuilt, importLines } from '../helpers/cli.js';
import { TmuxFixture, initGitRepo, waitFor } from '../helpers/tmux.js';

const fx = new TmuxFixture();
beforeAll(() => assertBuilt());
afterEach(async () => {
  await fx.cleanup();
});

async function team(): Promise<Project> {
  const dir = fx.dir('hornets-damage-');
  initGitRepo(dir);
  const p = new Project(dir, { HORNETS_TMUX_SOCKET: fx.socket(), TMUX: undefined, TMUX_PANE: undefined });
  await p.ok(['init', '--agents', 'marie,anga']);
  const configPath = path.join(dir, 'hornets.json');
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
  writeFileSync(configPath, JSON.stringify({ ...config, daemon: { integrityCheckInterval: '1s' } }, null, 2));
  fx.defer(() => p.run(['daemon', 'stop']));
  return p;
}

/** Enough messages for a database of many pages, written with no engine so the WAL is checkpointed into the file. */
async function fill(p: Project, n: number): Promise<void> {
  const file = path.join(p.dir, 'fill.jsonl');
  writeFileSync(file, importLines(n, { prefix: 'fill', agents: ['anga', 'marie'], bodyBytes: 400 }));
  await p.ok(['queue', 'import', file]);
}

/**
 * 64 bytes of garbage over the start (the b-tree page header) of the middle one of the pages that
 * hold message rows: found with SQLite's dbstat, since which page sits mid-file depends on every
 * table the schema has (a page of an empty table or an index would lose no message).
 */
function damage(db: string): void {
  const probe = new Database(db, { readonly: true, fileMustExist: true });
  let page: number;
  let pageSize: number;
  try {
    pageSize = probe.pragma('page_size', { simple: true }) as number;
    const leaves = (probe.prepare("SELECT pageno FROM dbstat WHERE name = 'messages' AND pagetype = 'leaf' ORDER BY pageno").all() as { pageno: number }[]).map((r) => r.pageno);
    expect(leaves.length).toBeGreaterThan(10);
    page = leaves[Math.floor(leaves.length / 2)]!;
  } finally {
    probe.close();
  }
  const fd = openSync(db, 'r+');
  try {
    writeSync(fd, Buffer.alloc(64, 0xa5), 0, 64, (page - 1) * pageSize);
  } finally {
    closeSync(fd);
  }
}

async function health(p: Project): Promise<{ code: number; body: { status: string; database?: { damaged: boolean; detail: string } } }> {
  const s = JSON.parse((await p.ok(['daemon', 'status', '--json'])).stdout) as { metricsUrl: string };
  const r = await fetch(`${s.metricsUrl}/healthz`);
  return { code: r.status, body: (await r.json()) as { status: string; database?: { damaged: boolean; detail: string } } };
}

describe('a damaged database', () => {
  it('is found by the running engine and said everywhere; writes are refused; the documented recovery brings the queue back', async () => {
    const p = await team();
    await fill(p, 400);
    await p.ok(['daemon', 'start']);
    expect((await health(p)).code).toBe(200);

    damage(p.dbPath);
    await waitFor('healthz to report the damage', async () => (await health(p)).code === 503, 15_000, 100);
    const h = await health(p);
    expect(h.body.status).toBe('unhealthy');
    expect(h.body.database?.damaged).toBe(true);
    const s = JSON.parse((await p.ok(['daemon', 'status', '--json'])).stdout) as { metricsUrl: string };
    expect(await (await fetch(`${s.metricsUrl}/metrics`)).text()).toMatch(/^hornets_database_damaged 1$/m);

    // A send is refused with the reason and the way out; nothing claims to be queued.
    const send = await p.run(['send', 'marie', 'into a damaged file']);
    expect(send.code).toBe(1);
    expect(send.stdout).toBe('');
    expect(send.stderr).toContain(`${p.dbPath} is damaged`);
    expect(send.stderr).toContain('queue export');
    const status = await p.run(['status']);
    expect(status.code).toBe(1);
    expect(status.stderr).toContain(`${p.dbPath} is damaged`);

    // The recovery the README gives: export what is readable, stop, move the file away, import.
    const rescue = path.join(p.dir, 'rescue.jsonl');
    const exp = await p.run(['queue', 'export', '-o', rescue]);
    await p.ok(['daemon', 'stop']);
    renameSync(p.dbPath, `${p.dbPath}.broken`);
    for (const side of ['-wal', '-shm']) {
      try {
        renameSync(p.dbPath + side, `${p.dbPath}.broken${side}`);
      } catch {
        // Not there.
      }
    }
    // The export salvages row by row: all but the rows on the damaged page, and says so (exit 1).
    expect(exp.code).toBe(1);
    expect(exp.stderr).toMatch(/the export was salvaged row by row; \d+ rows? could not be read/);
    const salvaged = readFileSync(rescue, 'utf8').trim().split('\n').length;
    expect(salvaged).toBeGreaterThan(300);
    expect(salvaged).toBeLessThanOrEqual(400);
    const imported = await p.run(['queue', 'import', '--partial', rescue]);
    expect(imported.code).toBe(0);
    const list = JSON.parse((await p.ok(['queue', 'list', '--json', '--limit', '1000'])).stdout) as unknown[];
    expect(list).toHaveLength(salvaged);
    // The project works again: a send is queued, the engine starts healthy.
    await p.send('marie', 'after the recovery');
    await p.ok(['daemon', 'start']);
    expect((await health(p)).code).toBe(200);
  }, 120_000);
});
