/**
 * `hornets-tui doctor` on a real project: healthy (agents up on a private tmux server, engine
 * running) it exits 0; then things are broken one by one as users break them — a state file
 * readable by others, hooks removed from a worktree, the engine stopped — and each shows up with
 * the command that fixes it, and exit 1.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Project, assertBuilt } from '../helpers/cli.js';
import { TmuxFixture, initGitRepo } from '../helpers/tmux.js';
import { requireAgentCli } from '../helpers/agent-clis.js';

const fx = new TmuxFixture();
beforeAll(() => assertBuilt());
afterEach(async () => {
  await fx.cleanup();
});

interface Report {
  ok: boolean;
  checks: { name: string; ok: boolean; detail: string; fix: string | null }[];
}

async function doctor(p: Project): Promise<{ code: number | null; report: Report; text: string }> {
  const j = await p.run(['doctor', '--json']);
  const t = await p.run(['doctor']);
  expect(t.code).toBe(j.code);
  return { code: j.code, report: JSON.parse(j.stdout) as Report, text: t.stdout };
}

describe('doctor', () => {
  it('exits 0 on a healthy project and names the fix of each thing broken', async () => {
    const dir = fx.dir('hornets-doctor-');
    initGitRepo(dir);
    const p = new Project(dir, { HORNETS_TMUX_SOCKET: fx.socket(), TMUX: undefined, TMUX_PANE: undefined });
    await p.ok(['init', '--agents', 'marie,anga']);
    fx.defer(() => p.run(['daemon', 'stop']));
    await p.ok(['up']);

    const healthy = await doctor(p);
    expect(healthy.report.checks.filter((c) => !c.ok)).toEqual([]);
    expect(healthy.code).toBe(0);
    expect(healthy.report.ok).toBe(true);
    expect(healthy.report.checks.map((c) => c.name)).toEqual(['node', 'tmux', 'git', 'agent cli: demo', 'hooks: marie', 'hooks: anga', 'engine', 'metrics', 'database', 'file modes', 'disk']);
    expect(healthy.text).toContain('no problems found');

    // Break three things. (The database and the directories are tightened again whenever the
    // project is opened; the log file is not.)
    const logFile = path.join(p.stateDir, 'logs', 'hornets.log');
    chmodSync(logFile, 0o644);
    writeFileSync(path.join(dir, '.hornets', 'worktrees', 'anga', '.claude', 'settings.local.json'), '{}\n');
    await p.ok(['daemon', 'stop']);

    const broken = await doctor(p);
    expect(broken.code).toBe(1);
    expect(broken.report.ok).toBe(false);
    const failed = Object.fromEntries(broken.report.checks.filter((c) => !c.ok).map((c) => [c.name, c]));
    expect(Object.keys(failed).sort()).toEqual(['engine', 'file modes', 'hooks: anga']);
    expect(failed['file modes']!.detail).toContain(`${logFile} (0644)`);
    expect(failed['file modes']!.fix).toBe(`chmod 600 ${logFile}`);
    expect(failed['hooks: anga']!.fix).toBe('hornets-tui hooks install anga');
    expect(failed.engine!.fix).toBe('hornets-tui daemon start');
    expect(broken.text).toContain('3 problems; to fix:');
    expect(broken.text).toContain('  engine: hornets-tui daemon start');

    // The fixes it names do fix it.
    chmodSync(logFile, 0o600);
    await p.ok(['hooks', 'install', 'anga']);
    await p.ok(['daemon', 'start']);
    const fixed = await doctor(p);
    expect(fixed.report.checks.filter((c) => !c.ok)).toEqual([]);
    expect(fixed.code).toBe(0);
  }, 120_000);

  it('checks each Codex and Gemini CLI against the version its hooks were verified on: the pinned ones pass, an older one fails with the update command', async () => {
    const dir = fx.dir('hornets-doctor-clis-');
    initGitRepo(dir);
    const gemini = requireAgentCli('gemini');
    const codex = requireAgentCli('codex');
    // A Gemini CLI older than the verified one (only its --version answer matters to this check).
    const old = path.join(dir, 'old-bin');
    mkdirSync(old);
    writeFileSync(path.join(old, 'gemini'), '#!/bin/sh\necho 0.50.2\n');
    chmodSync(path.join(old, 'gemini'), 0o755);
    const pathWith = (...dirs: string[]) => [...dirs, process.env.PATH].join(path.delimiter);
    const p = new Project(dir, { HORNETS_TMUX_SOCKET: fx.socket(), TMUX: undefined, TMUX_PANE: undefined, PATH: pathWith(path.dirname(gemini), path.dirname(codex)) });
    await p.ok(['init', '--agents', 'ada', '--profile', 'gemini']);
    const config = JSON.parse((await import('node:fs')).readFileSync(path.join(dir, 'hornets.json'), 'utf8')) as { agents: { name: string; profile: string }[] };
    config.agents.push({ ...config.agents[0]!, name: 'bob', profile: 'codex' });
    writeFileSync(path.join(dir, 'hornets.json'), JSON.stringify(config, null, 2));

    const cli = (r: Report, name: string) => r.checks.find((c) => c.name === `agent cli: ${name}`)!;
    const pinned = await doctor(p);
    expect(cli(pinned.report, 'gemini')).toMatchObject({ ok: true, detail: `${gemini} (0.61.0; hooks verified on 0.61.0)` });
    expect(cli(pinned.report, 'codex')).toMatchObject({ ok: true, detail: expect.stringContaining('(0.171.0; hooks verified on 0.171.0)') as string });

    const older = await doctor(new Project(dir, { HORNETS_TMUX_SOCKET: fx.socket(), TMUX: undefined, TMUX_PANE: undefined, PATH: pathWith(old, path.dirname(codex)) }));
    expect(older.code).toBe(1);
    expect(cli(older.report, 'gemini')).toMatchObject({
      ok: false,
      detail: `gemini 0.50.2 at ${path.join(old, 'gemini')} is older than 0.61.0, the version hornets was verified on; its hook events or reply shapes may differ`,
      fix: 'update it with `npm install -g @google/gemini-cli@0.61.0`',
    });
    expect(cli(older.report, 'codex').ok).toBe(true);
  }, 60_000);
});
