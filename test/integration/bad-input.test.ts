/**
 * Everything a user can get wrong, through the real CLI: each mistake must give an error that names
 * what was wrong, the right exit code (1 failure, 2 usage), and leave what was already queued intact.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { LATEST_SCHEMA_VERSION } from '../../src/queue/sqlite/migrations.js';
import { openSqliteStore } from '../../src/queue/sqlite/sqlite-store.js';
import { Project, TempDirs, assertBuilt, firstErrorLine, newProject, runCli, sha256, type CliResult } from '../helpers/cli.js';

const temp = new TempDirs();
const mounts: string[] = [];

beforeAll(() => assertBuilt());
afterAll(() => {
  for (const m of mounts.splice(0)) {
    spawnSync('mount', ['-o', 'remount,rw', m]);
    const r = spawnSync('umount', [m], { encoding: 'utf8' });
    if (r.status !== 0) spawnSync('umount', ['-l', m]);
  }
  temp.removeAll();
});

const AGENTS_LIST = 'marie, anga, fabien';

/** Expects a failure: exit code and the first stderr line (without the "hornets-tui: " prefix). */
function expectError(r: CliResult, code: number, message: string | RegExp): void {
  expect(r.code, `stdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(code);
  if (typeof message === 'string') expect(firstErrorLine(r)).toBe(message);
  else expect(r.stderr).toMatch(message);
  expect(r.stdout).toBe('');
}

/** One line of `queue export` format. */
function exportLine(over: Record<string, unknown> = {}): string {
  return JSON.stringify({
    format: 'hornets.message.v1',
    id: 'imp00001',
    agent: 'marie',
    priority: 5,
    body: 'imported body',
    sender: 'test',
    key: null,
    attempts: 0,
    maxAttempts: 5,
    redeliveries: 0,
    createdAt: 1_700_000_000_000,
    expiresAt: null,
    meta: null,
    ...over,
  });
}

/** The corrupt file from the brief: good, broken JSON on line 2, good, then a final line cut mid-JSON with no newline. */
function corruptImport(): string {
  const l4 = exportLine({ id: 'imp00004', body: 'never complete' });
  return [exportLine({ id: 'imp00001', body: 'good one' }), '{"format":"hornets.message.v1", "id": oops}', exportLine({ id: 'imp00003', body: 'good three' }), l4.slice(0, 50)].join('\n');
}

describe.concurrent('bad input to send and queue commands', () => {
  let p: Project;
  let baseline: Awaited<ReturnType<Project['snapshot']>>;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    p = await newProject(temp);
    ids.first = await p.send('marie', 'first message');
    ids.second = await p.send('anga', 'second message', '--priority', 'high');
    ids.keyed = await p.send('marie', 'keyed message', '--key', 'k-1', '--ttl', '2h');
    baseline = await p.snapshot();
    expect(baseline.all).toHaveLength(3);
  });

  const unchanged = async () => expect(await p.snapshot()).toEqual(baseline);

  it('unknown agent: exit 2, names it and lists the known agents', async () => {
    const known = `(agents in ${path.join(p.dir, 'hornets.json')}: ${AGENTS_LIST})`;
    expectError(await p.run(['send', 'nobody', 'hi']), 2, `unknown agent "nobody" ${known}`);
    expectError(await p.run(['queue', 'list', 'Marie']), 2, `unknown agent "Marie" ${known}`);
    expectError(await p.run(['queue', 'export', '--agent', 'ghost']), 2, `unknown agent "ghost" ${known}`);
    await unchanged();
  });

  it('empty and whitespace-only text: exit 2, "empty"', async () => {
    for (const [args, input] of [
      [['send', 'marie', ''], undefined],
      [['send', 'marie', '   '], undefined],
      [['send', 'marie', '-'], ' \n\t\n'],
      [['send', 'marie', '-'], ''],
      [['send', 'marie'], ''], // no text at all, nothing piped
    ] as const) {
      expectError(await p.run([...args], { input }), 2, 'message for marie is empty');
    }
    await unchanged();
  });

  it('oversized text (300 KiB): exit 2, states the 256 KiB limit', async () => {
    const big = 'x'.repeat(300 * 1024);
    expectError(await p.run(['send', 'marie', '-'], { input: big }), 2, 'message for marie is 307200 bytes (300 KiB); the limit is 262144 bytes (256 KiB)');
    await unchanged();
  });

  it('one byte over the limit says so in exact bytes (issue 11: it used to say "is 256 KiB; the limit is 256 KiB")', async () => {
    expectError(await p.run(['send', 'marie', '-'], { input: 'y'.repeat(256 * 1024 + 1) }), 2, 'message for marie is 262145 bytes (256.0 KiB); the limit is 262144 bytes (256 KiB)');
    await unchanged();
  });

  it('invalid priority (-1, 201, abc, 1.5): exit 2, names the value and the range', async () => {
    for (const v of ['-1', '201', 'abc', '1.5']) {
      expectError(await p.run(['send', 'marie', '--priority', v, 'text']), 2, `invalid priority "${v}": expected an integer 0–200 or one of low, normal, high, critical, emergency, system, rebrief`);
    }
    await unchanged();
  });

  it('invalid ttl (soon, 0s): exit 2, names the value', async () => {
    expectError(await p.run(['send', 'marie', '--ttl', 'soon', 'text']), 2, 'invalid ttl "soon": expected e.g. 30s, 5m, 2h, 1d or 1h30m');
    expectError(await p.run(['send', 'marie', '--ttl', '0s', 'text']), 2, 'invalid ttl "0s": must be longer than zero');
    await unchanged();
  });

  it('unknown --state and a bad --limit: exit 2, list what is accepted', async () => {
    expectError(await p.run(['queue', 'list', '--state', 'queued,bogus']), 2, 'unknown state "bogus" (one of: pending, queued, leased, delivered, confirmed, failed, dead, expired, cancelled)');
    expectError(await p.run(['queue', 'list', '--limit', '0']), 2, 'invalid --limit "0": expected a positive integer');
    expectError(await p.run(['queue', 'dlq', '-n', 'lots']), 2, 'invalid --limit "lots": expected a positive integer');
    await unchanged();
  });

  it('unknown message id: exit 2 for why, show, cancel and retry', async () => {
    expectError(await p.run(['queue', 'why', 'zzzzzzzz']), 2, 'no message with id "zzzzzzzz"');
    expectError(await p.run(['queue', 'show', 'zzzzzzzz']), 2, 'no message with id "zzzzzzzz"');
    // All or nothing: one unknown id means the known one is not cancelled either.
    expectError(await p.run(['queue', 'cancel', ids.first!, 'zzzzzzzz']), 2, 'no message with id "zzzzzzzz"');
    expectError(await p.run(['queue', 'retry', 'zzzzzzzz']), 2, 'no message with id "zzzzzzzz"');
    await unchanged();
  });

  it('retry of a queued message: exit 1, says why', async () => {
    expectError(await p.run(['queue', 'retry', ids.first!]), 1, `message ${ids.first} is queued; only dead, failed, expired or cancelled messages can be retried`);
    await unchanged();
  });

  it('import of a nonexistent file: exit 2, names the file', async () => {
    const missing = path.join(p.dir, 'no-such-export.jsonl');
    expectError(await p.run(['queue', 'import', missing]), 2, `cannot import ${missing}: no such file`);
    await unchanged();
  });

  it('import of a file with a corrupt line 2 and a truncated last line: lists both lines, imports nothing', async () => {
    const file = path.join(p.dir, 'corrupt.jsonl');
    writeFileSync(file, corruptImport());
    const r = await p.run(['queue', 'import', file]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^line 2: not valid JSON: /);
    expect(lines[1]).toBe('line 4: truncated line (file does not end with a complete JSON line)');
    expect(lines[2]).toBe('nothing imported: 2 bad lines (fix them, or pass --partial to import the good ones)');
    expect(lines).toHaveLength(3);
    const j = await p.run(['queue', 'import', '--json', file]);
    expect(j.code).toBe(2);
    expect(JSON.parse(j.stdout)).toMatchObject({ imported: 0, rejected: [{ line: 2 }, { line: 4 }] });
    await unchanged();
  });

  it('import line with an unknown agent: reports the line and the known agents, imports nothing', async () => {
    const text = `${exportLine({ id: 'imp00011' })}\n${exportLine({ id: 'imp00012', agent: 'ghost' })}\n`;
    const r = await p.run(['queue', 'import', '-'], { input: text });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `line 2: unknown agent "ghost" (agents in ${path.join(p.dir, 'hornets.json')}: ${AGENTS_LIST})\nnothing imported: 1 bad line (fix them, or pass --partial to import the good ones)\n`,
    );
    await unchanged();
  });

  it('import lines that break the format: each names its line and field', async () => {
    const text = [
      exportLine({ id: 'imp00021', priority: 500 }),
      exportLine({ id: 'imp00022', body: 42 }),
      exportLine({ id: 'imp00023', extra: true }),
      exportLine({ id: 'imp00024' }),
      '[]',
      exportLine({ id: 'imp00026' }),
      exportLine({ id: 'imp00026', body: 'same id again' }),
    ].join('\n');
    const r = await p.run(['queue', 'import', '--json', '-'], { input: `${text}\n` });
    expect(r.code).toBe(2);
    const rejected = (JSON.parse(r.stdout) as { rejected: Array<{ line: number; message: string }> }).rejected;
    expect(rejected.map((x) => x.line)).toEqual([1, 2, 3, 5, 7]);
    expect(rejected[0]!.message).toMatch(/^priority: /);
    expect(rejected[1]!.message).toMatch(/^body: /);
    expect(rejected[2]!.message).toMatch(/extra/);
    expect(rejected[3]!.message).toMatch(/expected object/);
    expect(rejected[4]!.message).toBe('duplicate id imp00026 (also line 6)');
    await unchanged();
  });
});

describe.concurrent('bad input that needs its own project', () => {
  it('queue full (maxDepth 3): the 4th send fails with "full" and the limit; nothing else changes', async () => {
    const p = await newProject(temp);
    const cfgPath = path.join(p.dir, 'hornets.json');
    const cfg = JSON.parse(readFileSync(cfgPath, 'utf8')) as { queue: Record<string, unknown> };
    cfg.queue.maxDepth = 3;
    writeFileSync(cfgPath, JSON.stringify(cfg, null, 2));
    for (let i = 1; i <= 3; i++) await p.send('marie', `message ${i}`);
    const before = await p.snapshot();
    const full = 'queue for marie is full: 3 pending messages, limit 3 (raise queue.maxDepth in hornets.json or wait for deliveries)';
    expectError(await p.run(['send', 'marie', 'one too many']), 1, full);
    expectError(await p.run(['send', 'marie', '--priority', 'emergency', 'urgent, still too many']), 1, full);
    expect(await p.snapshot()).toEqual(before);
    // The limit is per agent.
    await p.send('anga', 'anga still has room');
    // Importing into a full queue is refused line by line, atomically.
    const r = await p.run(['queue', 'import', '-'], { input: `${exportLine({ id: 'full0001' })}\n` });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('line 1: queue for marie is full (limit 3)');
    const after = await p.snapshot();
    expect(after.all.filter((m) => (m as { agent: string }).agent === 'marie')).toEqual(before.all);
  });

  it('cancel of a cancelled or confirmed message: exit 1, "already …"; all or nothing', async () => {
    const p = await newProject(temp);
    const cancelled = await p.send('marie', 'to be cancelled');
    const confirmed = await p.send('anga', 'to be confirmed');
    const pending = await p.send('marie', 'still pending');
    await p.ok(['queue', 'cancel', cancelled]);
    // Deliver and confirm one message the way the agent hooks will (no CLI command does this).
    const store = await openSqliteStore(p.dbPath);
    try {
      const [m] = await store.claim('anga', { owner: 'test-hook', leaseMs: 60_000, sessionId: 's1' });
      expect(await store.ack({ leaseToken: m!.leaseToken!, sessionId: 's1' })).toBe(1);
      expect(await store.confirm('anga', { sessionId: 's1' })).toBe(1);
    } finally {
      await store.close();
    }
    const before = await p.snapshot();
    expectError(await p.run(['queue', 'cancel', cancelled]), 1, `message ${cancelled} is already cancelled; only pending messages can be cancelled`);
    expectError(await p.run(['queue', 'cancel', confirmed]), 1, `message ${confirmed} is already confirmed; only pending messages can be cancelled`);
    expectError(await p.run(['queue', 'cancel', pending, cancelled]), 1, `message ${cancelled} is already cancelled; only pending messages can be cancelled`);
    expectError(await p.run(['queue', 'retry', confirmed]), 1, `message ${confirmed} is confirmed; only dead, failed, expired or cancelled messages can be retried`);
    expect(await p.snapshot()).toEqual(before);
  });

  it('invalid UTF-8 in hornets.json is refused with its place, not turned into U+FFFD (issue 11)', async () => {
    const p = await newProject(temp);
    const configPath = path.join(p.dir, 'hornets.json');
    const text = readFileSync(configPath, 'utf8').replace('"project": "', '"project": "XX');
    const bytes = Buffer.from(text);
    const at = bytes.indexOf('XX');
    bytes[at] = 0xff;
    writeFileSync(configPath, bytes);
    for (const args of [['status'], ['send', 'marie', 'hello']]) {
      const r = await p.run(args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toMatch(/invalid .*hornets\.json:\n {2}- not valid UTF-8 at line \d+, byte \d+ of the line \(byte 0xff\); save the file as UTF-8/);
    }
  });

  it('a key repeated inside one import file is reported, not dropped in silence (issue 11)', async () => {
    const p = await newProject(temp);
    const file = path.join(p.dir, 'repeat.jsonl');
    writeFileSync(file, [exportLine({ id: 'rep00001', body: 'first', key: 'same' }), exportLine({ id: 'rep00002', body: 'second', key: 'same' })].join('\n'));
    const r = await p.run(['queue', 'import', file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('imported 1, skipped 0 already present, skipped 1 with a key repeated in the file\n');
    expect(r.stderr).toBe('line 2: skipped: idempotency key "same" for marie repeats line 1 of this import (only the first is imported)\n');
    // Run again: both lines are simply already there.
    const again = await p.run(['queue', 'import', file]);
    expect(again.stdout).toBe('imported 0, skipped 2 already present\n');
    expect(again.stderr).toBe('');
  });

  it('import --partial imports the good lines and still reports the bad ones', async () => {
    const p = await newProject(temp);
    const existing = await p.send('marie', 'already here');
    const file = path.join(p.dir, 'corrupt.jsonl');
    writeFileSync(file, corruptImport());
    const r = await p.run(['queue', 'import', '--partial', file]);
    // Non-zero so scripts notice the rejected lines, even though the good ones went in.
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('imported 2, skipped 0 already present, rejected 2\n');
    expect(r.stderr).toMatch(/^line 2: not valid JSON: .*\nline 4: truncated line \(file does not end with a complete JSON line\)\n$/);
    const list = JSON.parse((await p.ok(['queue', 'list', '--json'])).stdout) as Array<{ id: string; body: string }>;
    expect(list.map((m) => [m.id, m.body])).toEqual([
      [existing, 'already here'],
      ['imp00001', 'good one'],
      ['imp00003', 'good three'],
    ]);
    // Running it again skips what is already there and imports nothing new.
    const again = await p.run(['queue', 'import', '--partial', file]);
    expect(again.stdout).toBe('imported 0, skipped 2 already present, rejected 2\n');
    expect((JSON.parse((await p.ok(['queue', 'list', '--json'])).stdout) as unknown[]).length).toBe(3);
  });
});

describe.concurrent('bad hornets.json', () => {
  /** A project dir with a hand-written hornets.json (raw text, or an object to serialise). */
  function projectWith(config: string | object, briefings: string[] = []): Project {
    const dir = temp.make();
    writeFileSync(path.join(dir, 'hornets.json'), typeof config === 'string' ? config : JSON.stringify(config, null, 2));
    mkdirSync(path.join(dir, 'briefings'));
    for (const b of briefings) writeFileSync(path.join(dir, 'briefings', b), '# briefing\n');
    return new Project(dir);
  }

  /** `config validate` and `send` must both refuse with exit 1 and the same report. */
  async function expectConfigError(p: Project, ...issues: string[]): Promise<string> {
    const file = path.join(p.dir, 'hornets.json');
    for (const args of [
      ['config', 'validate'],
      ['send', 'marie', 'hi'],
    ]) {
      const r = await p.run(args);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stdout).toBe('');
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines[0]).toBe(`hornets-tui: invalid ${file}:`);
      for (const issue of issues) expect(lines.slice(1)).toContainEqual(expect.stringContaining(issue));
    }
    expect(existsSync(path.join(p.dir, '.hornets', 'hornets.db'))).toBe(false);
    return (await p.run(['config', 'validate'])).stderr;
  }

  const ok = { project: 'demo', agents: [{ name: 'marie', profile: 'demo' }] };

  it('JSON syntax error: names line and column', async () => {
    const text = '{\n  "project": "demo",\n  "agents": [\n    {"name": "marie" "profile": "demo"}\n  ]\n}\n';
    await expectConfigError(projectWith(text), '  - not valid JSON at line 4, column 22: ');
    const cut = '{\n  "project": "demo",\n  "agents": [\n';
    await expectConfigError(projectWith(cut), 'not valid JSON at line 4, column 1');
  });

  it('wrong types: names the path, e.g. agents[1].name, and reports every problem at once', async () => {
    const p = projectWith({
      project: 'demo',
      queue: { maxDepth: '3' },
      agents: [
        { name: 'marie', profile: 'demo' },
        { name: 'Bad Name', profile: 'demo' },
      ],
    });
    const err = await expectConfigError(p, '  - agents[1].name: invalid agent name: lower-case letter first', '  - queue.maxDepth: ');
    expect(err).toContain('expected number, received string');
  });

  it('unknown key (typo "agnets"): reported as an unknown key', async () => {
    await expectConfigError(projectWith({ ...ok, agnets: [] }), '  - unknown key "agnets"');
    await expectConfigError(projectWith({ project: 'demo', agents: [{ name: 'marie', profile: 'demo', briefng: 'x.md' }] }), '  - agents[0]: unknown key "briefng"');
  });

  it('duplicate agent names', async () => {
    const p = projectWith({
      project: 'demo',
      agents: [
        { name: 'marie', profile: 'demo' },
        { name: 'anga', profile: 'demo' },
        { name: 'marie', profile: 'shell' },
      ],
    });
    await expectConfigError(p, '  - agents[2].name: duplicate agent name "marie" (also agents[0])');
  });

  it('unknown profile: lists the available ones', async () => {
    const p = projectWith({ project: 'demo', agents: [{ name: 'marie', profile: 'claude' }] });
    await expectConfigError(
      p,
      '  - agents[0].profile: unknown profile "claude" (available: aider, claude-code, claude-oneshot, codex-oneshot, codex, demo-oneshot, demo, gemini-oneshot, gemini, shell)',
    );
  });

  it('a pulled delivery for a profile without hooks: names the agent and the fix', async () => {
    const p = projectWith({ project: 'demo', agents: [{ name: 'marie', profile: 'shell', delivery: 'hybrid' }] });
    await expectConfigError(p, '  - agents[0].delivery: delivery "hybrid" needs hooks, and profile "shell" has none (hooks.kind "none"): use "push" for marie');
  });

  it('missing briefing file: names the file', async () => {
    const p = projectWith({ project: 'demo', agents: [{ name: 'marie', profile: 'demo', briefing: 'briefings/marie.md' }] });
    await expectConfigError(p, `  - agents[0].briefing: briefing file not found: ${path.join(p.dir, 'briefings', 'marie.md')}`);
  });

  it('no hornets.json anywhere: exit 2, suggests `hornets-tui init`', async () => {
    const dir = temp.make();
    // The search walks up; a stray hornets.json above the temp dir would make this test meaningless.
    for (let d = dir; path.dirname(d) !== d; d = path.dirname(d)) expect(existsSync(path.join(path.dirname(d), 'hornets.json'))).toBe(false);
    const msg = 'no hornets.json found here or in any parent directory; run `hornets-tui init` first, or pass --config <file>';
    for (const args of [['send', 'marie', 'hi'], ['queue', 'list'], ['config', 'validate'], ['logs']]) {
      expectError(await runCli(args, { cwd: dir }), 2, msg);
    }
    expect(readdirSync(dir)).toEqual([]); // nothing created
    const explicit = await runCli(['--config', 'elsewhere.json', 'queue', 'list'], { cwd: dir });
    expectError(explicit, 1, `invalid ${path.join(dir, 'elsewhere.json')}:`);
    expect(explicit.stderr).toContain('  - file not found');
  });

  it('a broken hornets.json leaves the queue alone', async () => {
    const p = await newProject(temp);
    await p.send('marie', 'survives a bad config');
    const before = await p.snapshot();
    const digest = sha256(p.dbPath);
    const cfgPath = path.join(p.dir, 'hornets.json');
    const good = readFileSync(cfgPath, 'utf8');
    writeFileSync(cfgPath, good.replace('"agents"', '"agnets"'));
    expect((await p.run(['send', 'marie', 'x'])).code).toBe(1);
    expect((await p.run(['queue', 'cancel', before.all.map((m) => (m as { id: string }).id)[0]!])).code).toBe(1);
    expect(sha256(p.dbPath)).toBe(digest);
    writeFileSync(cfgPath, good);
    expect(await p.snapshot()).toEqual(before);
  });
});

describe('database problems', () => {
  /** Every queue command must refuse the file with exit 1 and this message, and leave it byte-identical. */
  async function expectRefused(p: Project, message: RegExp): Promise<void> {
    const digest = sha256(p.dbPath);
    const files = readdirSync(path.dirname(p.dbPath)).sort();
    for (const args of [
      ['send', 'marie', 'hi'],
      ['queue', 'list'],
      ['queue', 'export'],
      ['queue', 'import', '-'],
    ]) {
      const r = await p.run(args, { input: '' });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(1);
      expect(firstErrorLine(r)).toMatch(message);
      expect(r.stdout).toBe('');
    }
    expect(sha256(p.dbPath)).toBe(digest);
    expect(readdirSync(path.dirname(p.dbPath)).sort()).toEqual(files); // no -wal/-shm/-journal left behind
  }

  it.concurrent('a text file: "not a hornets database"', async () => {
    const p = await newProject(temp, 'marie');
    writeFileSync(p.dbPath, 'my notes\n');
    await expectRefused(p, new RegExp(`^${escape(p.dbPath)} is not a hornets database \\(file is truncated or not SQLite\\)$`));
    writeFileSync(p.dbPath, 'my notes, a longer version of them that is well over one hundred bytes long, so SQLite would read its header\n'.repeat(3));
    await expectRefused(p, new RegExp(`^${escape(p.dbPath)} is not a hornets database \\(not an SQLite file\\)$`));
  });

  it.concurrent('an SQLite database of another application: "not a hornets database"', async () => {
    const p = await newProject(temp, 'marie');
    const db = new Database(p.dbPath);
    db.exec("CREATE TABLE foo (x TEXT); INSERT INTO foo VALUES ('theirs')");
    db.close();
    await expectRefused(p, new RegExp(`^${escape(p.dbPath)} is an SQLite database but not a hornets database \\(it has other tables\\)$`));
    const tagged = new Database(p.dbPath);
    tagged.pragma('application_id = 1234');
    tagged.close();
    await expectRefused(p, new RegExp(`^${escape(p.dbPath)} is an SQLite database of another application \\(application_id 1234\\), not a hornets database$`));
  });

  it.concurrent('a hornets database from a newer version: "newer" + "upgrade"', async () => {
    const p = await newProject(temp, 'marie');
    await p.send('marie', 'written by this version');
    const db = new Database(p.dbPath);
    db.pragma('user_version = 99');
    db.close();
    await expectRefused(p, new RegExp(`^${escape(p.dbPath)} has schema version 99, newer than this hornets-tui understands \\(${LATEST_SCHEMA_VERSION}\\); upgrade hornets-tui$`));
  });

  /** A tmpfs of `size` for HORNETS_HOME, or the reason there cannot be one. */
  function mountTmpfs(size: string): { dir: string } | { skip: string } {
    if (process.platform !== 'linux') return { skip: 'tmpfs mounts need Linux' };
    if (process.getuid?.() !== 0) return { skip: 'mounting a tmpfs needs root' };
    const dir = temp.make('hornets-tmpfs-');
    const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir], { encoding: 'utf8' });
    if (r.status !== 0) return { skip: `mount -t tmpfs is not permitted here: ${(r.stderr || r.error?.message || '').trim()}` };
    mounts.push(dir);
    return { dir };
  }

  it('disk full: the failing send says so (exit 1) and every message accepted before is intact', async (ctx) => {
    // Room for the new database (its schema, WAL and logs) and a few 60 KiB messages, then full.
    const m = mountTmpfs('1m');
    if ('skip' in m) return ctx.skip(m.skip);
    const home = path.join(m.dir, 'state');
    const p = await newProject(temp, 'marie', { HORNETS_HOME: home });
    expect(statSync(home).mode & 0o777).toBe(0o700); // init prepared the HORNETS_HOME state dir
    const accepted: Array<{ id: string; body: string }> = [];
    let failure: CliResult | undefined;
    for (let i = 0; i < 40 && !failure; i++) {
      const body = `${i}:`.padEnd(60 * 1024, String.fromCharCode(97 + (i % 26)));
      const r = await p.run(['send', 'marie', '--json', '-'], { input: body });
      if (r.code === 0) accepted.push({ id: (JSON.parse(r.stdout) as { id: string }).id, body });
      else failure = r;
    }
    expect(failure, 'the 512k tmpfs never filled up').toBeDefined();
    expect(accepted.length).toBeGreaterThanOrEqual(2);
    expectError(failure!, 1, `cannot write ${path.join(home, 'hornets.db')}: the disk is full (nothing was changed)`);

    // Reading still works on the full disk, and shows exactly what was accepted, byte for byte.
    const list = JSON.parse((await p.ok(['queue', 'list', '--all', '--json', '-n', '1000'])).stdout) as Array<{ id: string; body: string; state: string }>;
    expect(list.map((x) => ({ id: x.id, body: x.body }))).toEqual(accepted);
    expect(new Set(list.map((x) => x.state))).toEqual(new Set(['queued']));
    const exported = (await p.ok(['queue', 'export'])).stdout.trimEnd().split('\n');
    expect(exported.map((l) => (JSON.parse(l) as { body: string }).body)).toEqual(accepted.map((a) => a.body));
  });

  it('read-only file system: send names the database and says read-only; nothing is lost', async (ctx) => {
    const m = mountTmpfs('2m');
    if ('skip' in m) return ctx.skip(m.skip);
    const home = path.join(m.dir, 'state');
    const p = await newProject(temp, 'marie', { HORNETS_HOME: home });
    for (const t of ['one', 'two', 'three']) await p.send('marie', t, '--priority', t === 'two' ? 'high' : '5');
    const before = await p.snapshot();
    const ro = spawnSync('mount', ['-o', 'remount,ro', m.dir], { encoding: 'utf8' });
    if (ro.status !== 0) return ctx.skip(`mount -o remount,ro is not permitted here: ${ro.stderr.trim()}`);
    try {
      const dbPath = path.join(home, 'hornets.db');
      const r = await p.run(['send', 'marie', 'on a read-only disk']);
      expectError(r, 1, `cannot open ${dbPath}: its directory ${home} is on a read-only file system`);
      expect(r.stderr).toContain(dbPath);
      expect(r.stderr).toMatch(/read-only|cannot (write|open)/);
    } finally {
      const rw = spawnSync('mount', ['-o', 'remount,rw', m.dir], { encoding: 'utf8' });
      expect(rw.status, rw.stderr).toBe(0);
    }
    expect(await p.snapshot()).toEqual(before);
    await p.send('marie', 'writable again');
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
