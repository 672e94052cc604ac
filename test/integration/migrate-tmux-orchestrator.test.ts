/**
 * Coming from Tmux-Orchestrator (issue 16), as its users would: `migrate tmux-orchestrator` on their
 * task_queue.db in each schema variant (read only: the file is byte-identical afterwards), refused
 * until every old agent with work is mapped or skipped, idempotent; the old `session:window` ids
 * working as agent names; bad and foreign databases refused with nothing changed; and the round
 * trip: migrate in → messages flow (real demo agents on a private tmux server) → roll back → the old
 * schema holds exactly the still-pending messages, in its own delivery order.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Project, TempDirs, assertBuilt, sha256 } from '../helpers/cli.js';
import { TmuxFixture, initGitRepo, tmux, waitFor } from '../helpers/tmux.js';
import { buildToDatabase, toPending, type ToRow, type ToVariant } from '../helpers/tmux-orchestrator-db.js';
import { openSqliteStore } from '../../src/queue/sqlite/sqlite-store.js';

const temp = new TempDirs();
const fx = new TmuxFixture();
beforeAll(() => assertBuilt());
afterEach(async () => {
  await fx.cleanup();
  temp.removeAll();
});

const ROWS: ToRow[] = [
  { agent: 'oldproj:0', message: 'first for marie' },
  { agent: 'oldproj:0', message: 'urgent for marie', priority: 50 },
  { agent: 'oldproj:0', message: 'pulled, not confirmed', status: 'pulled' },
  { agent: 'oldproj:0', message: 'already delivered', status: 'delivered' },
  { agent: 'oldproj:1', message: 'for anga 1' },
  { agent: 'oldproj:1', message: 'for anga 2', dependency: 5 },
  { agent: 'oldproj:2', message: 'left behind' },
  { agent: 'oldproj:0', message: 'last for marie' },
];
const MAP = ['--map', 'oldproj:0=marie', '--map', 'oldproj:1=anga', '--skip', 'oldproj:2'];

interface Listed {
  id: string;
  agent: string;
  body: string;
  priority: number;
  redeliveries: number;
  state: string;
}

async function queue(p: Project, agent?: string): Promise<Listed[]> {
  return JSON.parse((await p.ok(['queue', 'list', ...(agent ? [agent] : []), '--json'])).stdout) as Listed[];
}

async function project(agents = 'marie,anga', env: Record<string, string | undefined> = {}): Promise<Project> {
  const dir = temp.make('hornets-migrate-');
  initGitRepo(dir);
  const p = new Project(dir, { TMUX: undefined, TMUX_PANE: undefined, ...env });
  await p.ok(['init', '--agents', agents, '--project', 'newproj']);
  return p;
}

describe('migrate tmux-orchestrator', () => {
  it.each<ToVariant>(['current', 'no-restart', 'agent-session'])(
    '%s schema: dry run, refusal until mapped, import in order, idempotent, the old file untouched, old ids as names',
    async (variant) => {
      const p = await project();
      const db = path.join(p.dir, 'task_queue.db');
      buildToDatabase(db, variant, ROWS, { agents: [{ id: 'oldproj:0', restarts: 3, lastError: 'OOM killed' }], context: { id: 'oldproj:0', briefing: 'the rules', summary: 'was refactoring' } });
      const before = sha256(db);

      // Nothing mapped: a dry run says what is missing (exit 2), a real run refuses; nothing changes.
      const dry = await p.run(['migrate', 'tmux-orchestrator', db, '--dry-run']);
      expect(dry.code).toBe(2);
      expect(dry.stdout).toMatch(/oldproj:0: 4 pending; --map oldproj:0=<agent> or --skip oldproj:0/);
      expect(dry.stdout).toMatch(/oldproj:1: 2 pending/);
      expect(dry.stdout).toMatch(/oldproj:2: 1 pending/);
      const refused = await p.run(['migrate', 'tmux-orchestrator', db, '--map', 'oldproj:0=marie']);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain('nothing imported: 2 agents of');
      expect(refused.stderr).toContain('--map oldproj:1=<agent> or --skip oldproj:1');
      expect(await queue(p)).toEqual([]);
      // A map naming what does not exist is refused by name.
      const bad = await p.run(['migrate', 'tmux-orchestrator', db, '--map', 'oldproj:0=nobody']);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('"nobody" is not an agent of hornets.json');
      const badOld = await p.run(['migrate', 'tmux-orchestrator', db, '--map', 'oldproj:7=marie']);
      expect(badOld.stderr).toContain('no agent "oldproj:7" in the old database');

      // Mapped: the dry run prints exactly what the run then does.
      const plan = JSON.parse((await p.ok(['migrate', 'tmux-orchestrator', db, ...MAP, '--dry-run', '--json'])).stdout) as { imported: { body: string; agent: string; redelivery: boolean }[] };
      expect(await queue(p)).toEqual([]);
      const done = JSON.parse((await p.ok(['migrate', 'tmux-orchestrator', db, ...MAP, '--json'])).stdout) as {
        imported: { body: string; agent: string; redelivery: boolean }[];
        skipped: { reason: string }[];
      };
      expect(done.imported).toEqual(plan.imported);
      expect(done.imported.map((m) => [m.agent, m.body, m.redelivery])).toEqual([
        ['marie', 'first for marie', false],
        ['marie', 'urgent for marie', false],
        ['marie', 'pulled, not confirmed', true],
        ['anga', 'for anga 1', false],
        ['anga', 'for anga 2', false],
        ['marie', 'last for marie', false],
      ]);
      expect(done.skipped.map((s) => s.reason).sort()).toEqual(['agent oldproj:2 skipped (--skip)', 'delivered already']);
      // hornets delivers in the old hook's order: priority first (shifted by 5: the old default 0 is
      // hornets' normal), then sequence.
      expect((await queue(p, 'marie')).map((m) => [m.body, m.priority, m.redeliveries])).toEqual([
        ['urgent for marie', 55, 0],
        ['first for marie', 5, 0],
        ['pulled, not confirmed', 5, 1],
        ['last for marie', 5, 0],
      ]);
      expect((await queue(p, 'anga')).map((m) => m.body)).toEqual(['for anga 1', 'for anga 2']);

      // Twice: nothing new. The old database was only read.
      const again = await p.ok(['migrate', 'tmux-orchestrator', db, ...MAP]);
      expect(again.stdout).toMatch(/imported 0 messages; 6 imported by an earlier run/);
      expect((await queue(p)).length).toBe(6);
      expect(sha256(db)).toBe(before);

      // Restart history and context came along where the old schema had them.
      const store = await openSqliteStore(p.dbPath);
      try {
        const marie = (await store.getAgent('marie'))!;
        const context = await store.getAgentContext('marie');
        if (variant === 'current') {
          expect(marie).toMatchObject({ restartCount: 3, lastError: 'OOM killed', lastRestart: Date.UTC(2026, 10, 29, 8) });
          expect(context).toMatchObject({ briefingContent: 'the rules', activitySummary: 'was refactoring', checkpointData: { step: 3 } });
        } else {
          expect(marie.restartCount).toBe(0);
          expect(context?.briefingContent ?? null).toBeNull();
        }
      } finally {
        await store.close();
      }

      // The old ids work wherever an agent name does; an unknown one is refused by name.
      await p.ok(['send', 'oldproj:1', 'sent to an old id']);
      expect((await queue(p, 'oldproj:1')).map((m) => m.body)).toEqual(['for anga 1', 'for anga 2', 'sent to an old id']);
      const unknown = await p.run(['send', 'oldproj:9', 'nowhere']);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toContain('unknown agent "oldproj:9"');
    },
    120_000,
  );

  it('--from-tmux proposes the map from the old installation’s live windows (by directory, then name) and applies nothing', async () => {
    const p = await project();
    const db = path.join(p.dir, 'task_queue.db');
    buildToDatabase(db, 'current', ROWS);
    // The old installation: its own tmux server, a session with three windows in their directories.
    const old = fx.socket();
    const marieDir = path.join(p.dir, '.hornets', 'worktrees', 'marie');
    const elsewhere = temp.make('hornets-old-bot dir-');
    mkdirSync(marieDir, { recursive: true });
    const sh = ['sh', '-c', 'sleep 600'];
    tmux(old, ['new-session', '-d', '-s', 'oldproj', '-n', 'Lead', '-c', marieDir, ...sh]);
    tmux(old, ['new-window', '-t', 'oldproj:1', '-n', 'anga', '-c', p.dir, ...sh]);
    tmux(old, ['new-window', '-t', 'oldproj:2', '-n', 'Build Bot', '-c', elsewhere, ...sh]);
    const r = await p.run(['migrate', 'tmux-orchestrator', db, '--from-tmux', old, '--dry-run', '--json']);
    expect(r.code).toBe(2);
    const report = JSON.parse(r.stdout) as {
      proposals: { agentId: string; agent: string | null; how: string; add: string[] | null; window: { path: string } | null }[];
      unmapped: { agentId: string; suggestion: string | null }[];
    };
    expect(report.proposals.map((x) => [x.agentId, x.agent, x.how])).toEqual([
      ['oldproj:0', 'marie', 'same directory'],
      ['oldproj:1', 'anga', 'same name'],
      ['oldproj:2', null, 'none'],
    ]);
    expect(report.proposals[2]!.add).toEqual(['add', 'build-bot', '--profile', 'claude-code', '--worktree', elsewhere]);
    expect(report.unmapped.map((u) => [u.agentId, u.suggestion])).toEqual([
      ['oldproj:0', 'marie'],
      ['oldproj:1', 'anga'],
      ['oldproj:2', null],
    ]);
    const text = (await p.run(['migrate', 'tmux-orchestrator', db, '--from-tmux', old, '--dry-run'])).stdout;
    expect(text).toContain('--map oldproj:0=marie --map oldproj:1=anga');
    expect(text).toContain(`hornets-tui add build-bot --profile claude-code --worktree '${elsewhere}'`);
    // Nothing applied, and the old server is as it was.
    expect(await queue(p)).toEqual([]);
    expect(tmux(old, ['list-windows', '-t', '=oldproj', '-F', '#{window_name}']).stdout.trim().split('\n')).toEqual(['Lead', 'anga', 'Build Bot']);
  }, 60_000);

  it('refuses a missing file, a text file, a foreign SQLite file, a hornets database and a damaged one, changing nothing', async () => {
    const p = await project();
    await p.ok(['send', 'marie', 'already here']);
    const before = await p.snapshot();
    const dir = temp.make('hornets-migrate-bad-');
    const text = path.join(dir, 'notes.txt');
    writeFileSync(text, 'not a database at all, just some text that is long enough\n');
    const foreign = path.join(dir, 'foreign.db');
    const Database = (await import('better-sqlite3')).default;
    const f = new Database(foreign);
    f.exec('CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)');
    f.close();
    const corrupt = path.join(dir, 'corrupt.db');
    buildToDatabase(
      corrupt,
      'current',
      Array.from({ length: 400 }, (_, i) => ({ agent: 'oldproj:0', message: `message ${i} ${'x'.repeat(200)}` })),
    );
    const bytes = readFileSync(corrupt);
    // Overwrite pages in the middle of the file (not the header): the b-tree no longer checks out.
    bytes.fill(0xa5, 4096 * 3, 4096 * 6);
    writeFileSync(corrupt, bytes);
    const hornetsDb = path.join(dir, 'copy-of-hornets.db');
    copyFileSync(p.dbPath, hornetsDb);

    for (const [file, message] of [
      [path.join(dir, 'missing.db'), 'does not exist'],
      [text, 'is not an SQLite database'],
      [foreign, 'is not a Tmux-Orchestrator task queue: it has no message_queue table (its tables: invoices)'],
      [hornetsDb, 'is a hornets database, not a Tmux-Orchestrator one'],
      [corrupt, 'is damaged'],
    ] as const) {
      const hash = existsSync(file) ? sha256(file) : null;
      const r = await p.run(['migrate', 'tmux-orchestrator', file, '--map', 'oldproj:0=marie']);
      expect(r.code, `${file}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toContain(message);
      if (hash) expect(sha256(file)).toBe(hash);
      const rb = await p.run(['migrate', 'rollback', file]);
      if (file !== path.join(dir, 'missing.db')) {
        expect(rb.code).toBe(1);
        if (hash) expect(sha256(file)).toBe(hash);
      }
    }
    expect(await p.snapshot()).toEqual(before);
  }, 60_000);

  it('round trip: migrate in, messages flow to real agents, roll back: the old queue holds exactly what is still pending, in order, once', async () => {
    const p = await project('marie,anga', { HORNETS_TMUX_SOCKET: fx.socket() });
    fx.defer(() => p.run(['down', '--timeout', '1']));
    fx.defer(() => p.run(['daemon', 'stop']));
    const db = path.join(p.dir, 'task_queue.db');
    buildToDatabase(db, 'current', ROWS);
    await p.ok(['migrate', 'tmux-orchestrator', db, ...MAP]);

    // Only marie runs: her four messages are delivered and confirmed; anga's wait.
    await p.ok(['up', 'marie']);
    await waitFor('marie confirmed everything', async () => (await queue(p, 'marie')).length === 0, 60_000, 250);
    // This project's own session:window works too, by window name and by index.
    const windows = tmux(p.env.HORNETS_TMUX_SOCKET!, ['list-windows', '-t', '=newproj', '-F', '#{window_index} #{window_name}']).stdout.split('\n');
    const index = windows.find((l) => l.endsWith(' marie'))!.split(' ')[0]!;
    await p.ok(['send', 'newproj:marie', 'by window name']);
    await p.ok(['send', `newproj:${index}`, 'by window index']);
    await waitFor('marie confirmed those too', async () => (await queue(p, 'marie')).length === 0, 60_000, 250);
    const transcript = readFileSync(path.join(p.stateDir, 'demo', 'marie.jsonl'), 'utf8');
    expect(transcript).toContain('by window name');
    expect(transcript).toContain('by window index');
    await p.ok(['send', 'anga', 'new for anga', '--priority', '20']);
    await p.ok(['send', 'oldproj:1', 'newer for anga']);
    const pending = (await queue(p)).map((m) => [m.agent, m.body]);
    expect(pending).toEqual([
      ['anga', 'new for anga'],
      ['anga', 'for anga 1'],
      ['anga', 'for anga 2'],
      ['anga', 'newer for anga'],
    ]);

    // Roll back into the same database migrate read: marie's migrated rows are settled (hornets
    // confirmed them), anga's stay, the new ones are added; oldproj:2's row was never ours.
    const dry = await p.ok(['migrate', 'rollback', db, '--dry-run']);
    expect(dry.stdout).toMatch(/would write 2 pending messages into .*; 2 migrated from it and still pending kept there; 4 migrated from it and finished by hornets would be marked delivered/);
    const first = await p.ok(['migrate', 'rollback', db]);
    expect(first.stdout).toMatch(/wrote 2 pending messages/);
    const expected = [
      { agent: 'oldproj:1', message: 'new for anga', priority: 15 },
      { agent: 'oldproj:1', message: 'for anga 1', priority: 0 },
      { agent: 'oldproj:1', message: 'for anga 2', priority: 0 },
      { agent: 'oldproj:1', message: 'newer for anga', priority: 0 },
      { agent: 'oldproj:2', message: 'left behind', priority: 0 },
    ];
    expect(toPending(db)).toEqual(expected);
    // Again: nothing twice.
    const second = await p.ok(['migrate', 'rollback', db]);
    expect(second.stdout).toMatch(/wrote 0 pending messages .*; 2 written by an earlier rollback/);
    expect(toPending(db)).toEqual(expected);

    // Into a new file: the tables are created, and every pending message is there under its old id.
    const fresh = path.join(p.dir, 'fresh_queue.db');
    await p.ok(['migrate', 'rollback', fresh, '--map', 'anga=oldproj:1']);
    expect(toPending(fresh)).toEqual(expected.filter((r) => r.agent === 'oldproj:1'));
    // An agent with pending work and no old id is named, and nothing is written.
    const other = await project('bob');
    await other.ok(['send', 'bob', 'bob never lived in Tmux-Orchestrator']);
    const refused = await other.run(['migrate', 'rollback', path.join(other.dir, 'out.db')]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('bob (1 pending) has no Tmux-Orchestrator id: give each with --map <agent>=<session:window>');
    expect(existsSync(path.join(other.dir, 'out.db'))).toBe(false);
  }, 180_000);
});
