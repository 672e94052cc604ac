/**
 * The CLI as a new user meets it: the real bin/hornets-tui.js in child processes, in fresh temp
 * projects (black box; the only white-box step puts a message in the dead-letter queue, which no
 * CLI command can do yet).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { openSqliteStore } from '../../src/queue/sqlite/sqlite-store.js';
import { Project, TempDirs, assertBuilt, firstErrorLine, newProject, repoRoot, runCli } from '../helpers/cli.js';

interface JsonMessage {
  id: string;
  seq: number;
  agent: string;
  priority: number;
  body: string;
  state: string;
  key: string | null;
  createdAt: number;
  expiresAt: number | null;
  deadReason: string | null;
}

const temp = new TempDirs();
const SECRET = 'sk-ant-SECRET123';

beforeAll(() => assertBuilt());
afterAll(() => temp.removeAll());

const mode = (p: string) => statSync(p).mode & 0o777;

describe('a new user, step by step', () => {
  let p: Project;
  /** Messages sent to marie, in send order, with the priority they must have. */
  const sent: Array<{ id: string; body: string; priority: number }> = [];

  it('init writes hornets.json and briefings, a private .hornets/ and a .gitignore entry', async () => {
    p = new Project(temp.make());
    const r = await p.run(['init']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`wrote ${path.join(p.dir, 'hornets.json')}`);

    const config = JSON.parse(readFileSync(path.join(p.dir, 'hornets.json'), 'utf8')) as { project: string; agents: Array<{ name: string; profile: string; briefing: string }> };
    expect(config.agents.map((a) => a.name)).toEqual(['marie', 'anga', 'fabien']);
    for (const a of config.agents) {
      expect(a.profile).toBe('demo');
      expect(readFileSync(path.join(p.dir, a.briefing), 'utf8')).toContain(`# Briefing for ${a.name}`);
    }
    expect(mode(path.join(p.dir, '.hornets'))).toBe(0o700);
    for (const sub of ['logs', 'triggers', 'tasks', 'results', 'dlq', 'pipes', 'heartbeats']) expect(mode(path.join(p.dir, '.hornets', sub))).toBe(0o700);
    expect(readFileSync(path.join(p.dir, '.gitignore'), 'utf8').split('\n')).toContain('.hornets/');
    expect(existsSync(p.dbPath)).toBe(false); // created by the first command that needs it

    // A second init must not clobber the user's config.
    const again = await p.run(['init']);
    expect(again.code).toBe(2);
    expect(firstErrorLine(again)).toBe(`${path.join(p.dir, 'hornets.json')} already exists; pass --force to overwrite it`);
  });

  it('send queues text given as arguments; the database is created 0600', async () => {
    const r = await p.run(['send', 'marie', 'hello', 'world']);
    expect(r.code).toBe(0);
    const m = /^queued ([0-9a-z]+) for marie \(priority 5, next in line\)\n$/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    sent.push({ id: m![1]!, body: 'hello world', priority: 5 });
    expect(r.stderr).toBe('');
    expect(mode(p.dbPath)).toBe(0o600);
  });

  it('send - reads the text from stdin (final newline dropped, inner lines kept)', async () => {
    const r = await p.run(['send', 'marie', '-', '--json'], { input: `line one\nline two with ${SECRET}\n` });
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as { id: string; created: boolean; priority: number; ahead: number };
    expect(j).toMatchObject({ created: true, priority: 5, ahead: 1 });
    sent.push({ id: j.id, body: `line one\nline two with ${SECRET}`, priority: 5 });
  });

  it('--priority takes band names and numbers', async () => {
    for (const [flag, priority] of [
      ['high', 20],
      ['7', 7],
      ['critical', 50],
      ['low', 0],
      ['EMERGENCY', 100],
      ['5', 5],
    ] as const) {
      const body = `priority ${flag}`;
      const id = await p.send('marie', body, '--priority', flag);
      sent.push({ id, body, priority });
    }
    const short = await p.ok(['send', 'marie', '-p', '200', '--json', 'rebrief-level']);
    const j = JSON.parse(short.stdout) as { id: string; priority: number; ahead: number };
    expect(j.priority).toBe(200);
    expect(j.ahead).toBe(0);
    sent.push({ id: j.id, body: 'rebrief-level', priority: 200 });
  });

  it('--key makes send idempotent: the second send says "already queued" and adds nothing', async () => {
    const first = await p.ok(['send', 'marie', '--key', 'deploy-42', 'deploy build 42']);
    const id = /^queued ([0-9a-z]+) /.exec(first.stdout)![1]!;
    sent.push({ id, body: 'deploy build 42', priority: 5 });
    const second = await p.run(['send', 'marie', '--key', 'deploy-42', 'deploy build 42 (again)']);
    expect(second.code).toBe(0);
    expect(second.stdout).toBe(`already queued as ${id} for marie (same key "deploy-42"; state queued)\n`);
    const third = await p.ok(['send', 'marie', '-k', 'deploy-42', '--json', 'x']);
    expect(JSON.parse(third.stdout)).toMatchObject({ id, created: false });
    const list = JSON.parse((await p.ok(['queue', 'list', 'marie', '--json'])).stdout) as JsonMessage[];
    expect(list.filter((m) => m.key === 'deploy-42')).toHaveLength(1);
    expect(list.find((m) => m.id === id)!.body).toBe('deploy build 42');
  });

  it('--ttl sets an expiry that show reports', async () => {
    const id = await p.send('marie', 'short-lived', '--ttl', '1h30m');
    sent.push({ id, body: 'short-lived', priority: 5 });
    const shown = JSON.parse((await p.ok(['queue', 'show', id, '--json'])).stdout) as { message: JsonMessage; why: string };
    expect(shown.message.expiresAt! - shown.message.createdAt).toBe(90 * 60_000);
    expect(shown.why).toMatch(/; expires \d{4}-\d\d-\d\d \S+ \(in 1h(29|30)m\)$/);
    const text = await p.ok(['queue', 'show', id]);
    expect(text.stdout).toMatch(/^expires: {3}\d{4}-\d\d-\d\dT/m);
  });

  it('queue list shows pending messages in delivery order: priority first, then FIFO', async () => {
    await p.send('anga', 'for anga');
    const list = JSON.parse((await p.ok(['queue', 'list', 'marie', '--json'])).stdout) as JsonMessage[];
    const expected = sent
      .map((s, i) => ({ ...s, i }))
      .sort((a, b) => b.priority - a.priority || a.i - b.i)
      .map((s) => s.id);
    expect(list.map((m) => m.id)).toEqual(expected);
    for (const s of sent) expect(list.find((m) => m.id === s.id)).toMatchObject({ body: s.body, priority: s.priority, state: 'queued', agent: 'marie' });

    // The table shows the same order, and never a raw newline from a body.
    const table = await p.ok(['queue', 'list', 'marie']);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+AGENT\s+PRI\s+STATE\s+TRIES\s+AGE\s+TEXT$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(expected);

    // Without an agent every agent is listed.
    const all = JSON.parse((await p.ok(['queue', 'ls', '--json'])).stdout) as JsonMessage[];
    expect(new Set(all.map((m) => m.agent))).toEqual(new Set(['marie', 'anga']));
  });

  it('queue stats --json counts per agent and state', async () => {
    const stats = JSON.parse((await p.ok(['queue', 'stats', '--json'])).stdout) as {
      agents: Array<{ agent: string; pending: number; counts: Record<string, number> }>;
      totals: Record<string, number>;
    };
    const marie = stats.agents.find((a) => a.agent === 'marie')!;
    expect(marie.counts.queued).toBe(sent.length);
    expect(marie.pending).toBe(sent.length);
    expect(stats.agents.find((a) => a.agent === 'fabien')!.pending).toBe(0);
    expect(stats.totals.queued).toBe(sent.length + 1);
    const text = await p.ok(['queue', 'stats']);
    expect(text.stdout).toMatch(/^AGENT\s+WAITING/);
    expect(text.stdout).toMatch(new RegExp(`^marie\\s+${sent.length}\\s`, 'm'));
  });

  it('queue show prints the message with its history', async () => {
    const s = sent[1]!;
    const r = await p.ok(['queue', 'show', s.id.slice(0, 6)]); // unique prefix
    expect(r.stdout).toContain(`id:        ${s.id}`);
    expect(r.stdout).toContain('agent:     marie');
    expect(r.stdout).toContain('state:     queued');
    expect(r.stdout).toContain('line one line two'); // control characters flattened for the terminal
    expect(r.stdout).toMatch(/history:\n {2}\S+ {2}enqueued\s+-> queued/);
    const j = JSON.parse((await p.ok(['queue', 'show', s.id, '--json'])).stdout) as { message: JsonMessage; events: Array<{ kind: string }> };
    expect(j.message.body).toBe(s.body);
    expect(j.events.map((e) => e.kind)).toEqual(['enqueued']);
  });

  it('queue why answers in one line with the priority and what is ahead', async () => {
    const target = sent.find((s) => s.body === 'priority low')!; // everything else for marie goes first
    const r = await p.ok(['queue', 'why', target.id]);
    expect(r.stdout.endsWith('\n')).toBe(true);
    expect(r.stdout.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stdout).toBe(`${target.id}: queued for marie at priority 0, ${sent.length - 1} messages ahead of it\n`);
    const j = JSON.parse((await p.ok(['queue', 'why', target.id, '--json'])).stdout) as { id: string; state: string; why: string };
    expect(j).toMatchObject({ id: target.id, state: 'queued' });
    expect(j.why).toContain('ahead');
  });

  it('queue cancel, then queue retry brings it back', async () => {
    const target = sent.find((s) => s.body === 'priority 7')!;
    const c = await p.run(['queue', 'cancel', target.id, '--reason', 'changed my mind']);
    expect(c.code).toBe(0);
    expect(c.stdout).toBe(`cancelled ${target.id} (marie)\n`);
    let all = JSON.parse((await p.ok(['queue', 'list', '--all', '--json'])).stdout) as JsonMessage[];
    expect(all.find((m) => m.id === target.id)!.state).toBe('cancelled');
    const pending = JSON.parse((await p.ok(['queue', 'list', '--json'])).stdout) as JsonMessage[];
    expect(pending.map((m) => m.id)).not.toContain(target.id);
    expect((await p.ok(['queue', 'why', target.id])).stdout).toMatch(/: cancelled at .*: changed my mind\n$/);

    const r = await p.run(['queue', 'retry', target.id, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([{ id: target.id, state: 'queued' }]);
    all = JSON.parse((await p.ok(['queue', 'list', '--all', '--json'])).stdout) as JsonMessage[];
    expect(all.find((m) => m.id === target.id)).toMatchObject({ state: 'queued', body: 'priority 7', priority: 7 });
    const events = (JSON.parse((await p.ok(['queue', 'show', target.id, '--json'])).stdout) as { events: Array<{ kind: string }> }).events;
    expect(events.map((e) => e.kind)).toEqual(['enqueued', 'cancelled', 'retried']);
  });

  it('queue dlq lists dead-lettered messages with the reason; retry requeues them', async () => {
    const empty = await p.ok(['queue', 'dlq']);
    expect(empty.stdout).toBe('dead-letter queue is empty\n');
    const id = await p.send('fabien', 'poison pill');
    // No CLI command dead-letters a message: play the delivering hook through the store API.
    const store = await openSqliteStore(p.dbPath);
    try {
      const [claimed] = await store.claim('fabien', { owner: 'test-hook', leaseMs: 60_000 });
      expect(claimed?.id).toBe(id);
      expect(await store.fail({ leaseToken: claimed!.leaseToken!, error: 'agent rejected it', retryable: false })).toBe(1);
    } finally {
      await store.close();
    }
    const r = await p.ok(['queue', 'dlq']);
    expect(r.stdout).toMatch(/^ID\s+AGENT\s+PRI\s+DIED\s+REASON\s+TEXT\n/);
    expect(r.stdout).toContain(id);
    expect(r.stdout).toContain('rejected as not retryable: agent rejected it');
    const j = JSON.parse((await p.ok(['queue', 'dlq', 'fabien', '--json'])).stdout) as JsonMessage[];
    expect(j).toHaveLength(1);
    expect(j[0]).toMatchObject({ id, state: 'dead', body: 'poison pill' });
    expect((await p.ok(['queue', 'why', id])).stdout).toContain(`\`queue retry ${id}\` sends it again`);

    const retry = await p.ok(['queue', 'retry', id]);
    expect(retry.stdout).toBe(`requeued ${id} for fabien (fresh 5 attempts)\n`);
    expect((await p.ok(['queue', 'dlq', '--json'])).stdout.trim()).toBe('[]');
  });

  it('export, then import into a second project gives a byte-identical export; importing again skips everything', async () => {
    const exported = await p.ok(['queue', 'export']);
    const lines = exported.stdout.trimEnd().split('\n');
    const pendingCount = (JSON.parse((await p.ok(['queue', 'list', '--json'])).stdout) as unknown[]).length;
    expect(lines).toHaveLength(pendingCount);
    for (const l of lines) expect(JSON.parse(l)).toMatchObject({ format: 'hornets.message.v1' });

    // -o writes a private file and says so on stderr, keeping stdout clean.
    const file = path.join(p.dir, 'queue.jsonl');
    const toFile = await p.ok(['queue', 'export', '-o', file]);
    expect(toFile.stdout).toBe('');
    expect(toFile.stderr).toBe(`exported ${pendingCount} pending messages to ${file}\n`);
    expect(readFileSync(file, 'utf8')).toBe(exported.stdout);
    expect(mode(file)).toBe(0o600);

    const q = await newProject(temp);
    const imp = await q.run(['queue', 'import', file]);
    expect(imp.code).toBe(0);
    expect(imp.stdout).toBe(`imported ${pendingCount}, skipped 0 already present\n`);
    expect((await q.ok(['queue', 'export'])).stdout).toBe(exported.stdout);

    const again = await q.run(['queue', 'import', '--json', '-'], { input: exported.stdout });
    expect(again.code).toBe(0);
    const j = JSON.parse(again.stdout) as { imported: number; skipped: unknown[]; rejected: unknown[] };
    expect(j.imported).toBe(0);
    expect(j.skipped).toHaveLength(pendingCount);
    expect(j.rejected).toEqual([]);
    expect((await q.ok(['queue', 'export'])).stdout).toBe(exported.stdout);
  });

  it('config validate and config show accept the generated config', async () => {
    const r = await p.ok(['config', 'validate']);
    expect(r.stdout).toBe(`${path.join(p.dir, 'hornets.json')}: ok (3 agents: marie/demo, anga/demo, fabien/demo)\n`);
    const j = JSON.parse((await p.ok(['config', 'validate', '--json'])).stdout) as { ok: boolean; agents: string[]; stateDir: string };
    expect(j).toEqual({ ok: true, configPath: path.join(p.dir, 'hornets.json'), agents: ['marie', 'anga', 'fabien'], stateDir: path.join(p.dir, '.hornets') });
    const shown = JSON.parse((await p.ok(['config', 'show'])).stdout) as { queue: { maxBodyKiB: number } };
    expect(shown.queue.maxBodyKiB).toBe(256); // defaults filled in
  });

  it('logs prints JSON lines and never a message body', async () => {
    const logFile = path.join(p.dir, '.hornets', 'logs', 'hornets.log');
    expect(mode(logFile)).toBe(0o600);
    const raw = readFileSync(logFile, 'utf8');
    expect(raw).not.toContain(SECRET);
    expect(raw).not.toContain('line two');

    const r = await p.ok(['logs', '-n', '500']);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines.length).toBeGreaterThan(5);
    const entries = lines.map((l) => JSON.parse(l) as { level: number; time: string; component: string; msg: string; event?: string; bytes?: number; id?: string });
    for (const e of entries) expect(e).toMatchObject({ level: expect.any(Number), time: expect.any(String), component: 'cli' });
    const secretSend = entries.find((e) => e.event === 'send' && e.id === sent[1]!.id);
    expect(secretSend).toMatchObject({ msg: 'message queued', bytes: Buffer.byteLength(sent[1]!.body) });
    expect(entries.filter((e) => e.event === 'send').length).toBeGreaterThanOrEqual(sent.length);
    expect(r.stdout).not.toContain(SECRET);
  });
});

describe.concurrent('program surface', () => {
  it('--version prints the package.json version', async () => {
    const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = await runCli([flag], { cwd: temp.make() });
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`${pkg.version}\n`);
    }
  });

  it('--help works on every command and subcommand (exit 0, usage on stdout)', async () => {
    const cwd = temp.make(); // no hornets.json: help must not need one
    /** Subcommand names listed under "Commands:" in a help text (aliases and the help command left out). */
    const subcommands = (help: string): string[] => {
      const section = help.split(/^Commands:\n/m)[1] ?? '';
      return [...section.matchAll(/^ {2}([a-z][\w-]*)/gm)].map((m) => m[1]!).filter((n) => n !== 'help');
    };
    const seen: string[] = [];
    let level: string[][] = [[]];
    while (level.length > 0) {
      // Four at a time: thirty Node processes at once on a two-core machine time out under load.
      const results: Awaited<ReturnType<typeof runCli>>[] = [];
      for (let i = 0; i < level.length; i += 4) results.push(...(await Promise.all(level.slice(i, i + 4).map((c) => runCli([...c, '--help'], { cwd })))));
      const next: string[][] = [];
      results.forEach((r, i) => {
        const cmd = level[i]!;
        const name = ['hornets-tui', ...cmd].join(' ');
        seen.push(name);
        expect(r.code, name).toBe(0);
        expect(r.stdout, name).toMatch(new RegExp(`^Usage: ${name}[ |]`));
        expect(r.stderr, name).toBe('');
        for (const sub of subcommands(r.stdout)) next.push([...cmd, sub]);
      });
      level = next;
    }
    // What the brief promises at least; new commands are picked up from the help texts themselves.
    for (const c of [
      'init',
      'send',
      'queue list',
      'queue stats',
      'queue show',
      'queue why',
      'queue cancel',
      'queue retry',
      'queue dlq',
      'queue export',
      'queue import',
      'config validate',
      'config show',
      'config schema',
      'profiles list',
      'logs',
    ]) {
      expect(seen).toContain(`hornets-tui ${c}`);
    }
    const helpCmd = await runCli(['help', 'send'], { cwd });
    expect(helpCmd.code).toBe(0);
    expect(helpCmd.stdout).toContain('Usage: hornets-tui send ');
  });

  it('an unknown command or option is a usage error (exit 2) that names it', async () => {
    const cwd = temp.make();
    const cmd = await runCli(['sned', 'marie', 'hi'], { cwd });
    expect(cmd.code).toBe(2);
    const first = cmd.stderr.split('\n')[0]!;
    expect(first).toMatch(/^error: unknown command 'sned' \(commands: init, send, .*\)$/);
    for (const c of ['queue', 'config', 'profiles', 'logs']) expect(first).toContain(` ${c}`);
    expect(first).not.toContain('demo-agent'); // hidden internals are not suggested
    const sub = await runCli(['queue', 'lsit'], { cwd });
    expect(sub.code).toBe(2);
    expect(sub.stderr).toContain("error: unknown command 'lsit'");
    const opt = await runCli(['send', 'marie', '--urgent', 'hi'], { cwd });
    expect(opt.code).toBe(2);
    expect(opt.stderr.split('\n')[0]).toBe("error: unknown option '--urgent'");
    const missing = await runCli(['queue'], { cwd });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('Usage: hornets-tui queue');
    const noArg = await runCli(['queue', 'show'], { cwd });
    expect(noArg.code).toBe(2);
    expect(noArg.stderr.split('\n')[0]).toBe("error: missing required argument 'id'");
  });

  it('config schema prints the JSON Schema of hornets.json (and of a profile)', async () => {
    const cwd = temp.make();
    const r = await runCli(['config', 'schema'], { cwd });
    expect(r.code).toBe(0);
    const schema = JSON.parse(r.stdout) as { title: string; properties: Record<string, unknown>; required: string[] };
    expect(schema.title).toBe('hornets.json');
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['project', 'agents', 'queue', 'defaults']));
    expect(schema.required).toEqual(expect.arrayContaining(['project', 'agents']));
    const profile = JSON.parse((await runCli(['config', 'schema', '--profile'], { cwd })).stdout) as { properties: Record<string, unknown> };
    expect(Object.keys(profile.properties)).toEqual(expect.arrayContaining(['name', 'command', 'delivery']));
  });

  it('profiles list shows every built-in profile, with or without a project', async () => {
    const names = ['claude-code', 'codex', 'gemini', 'aider', 'shell', 'demo', 'demo-oneshot', 'claude-oneshot', 'codex-oneshot', 'gemini-oneshot'];
    const bare = await runCli(['profiles', 'list'], { cwd: temp.make() });
    expect(bare.code).toBe(0);
    expect(bare.stdout).toMatch(/^NAME\s+DELIVERY\s+HOOKS\s+COMMAND\s+DESCRIPTION\n/);
    for (const n of names) expect(bare.stdout).toMatch(new RegExp(`^${n}\\s`, 'm'));
    const p = await newProject(temp, 'solo');
    const j = JSON.parse((await p.ok(['profiles', 'list', '--json'])).stdout) as Array<{ name: string; delivery: string }>;
    expect(j.map((x) => x.name).sort()).toEqual([...names].sort());
  });
});
