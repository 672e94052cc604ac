/**
 * `hornets-tui doctor` on a real project: healthy (agents up on a private tmux server, engine
 * running) it exits 0; then things are broken one by one as users break them — a state file
 * readable by others, hooks removed from a worktree, the engine stopped — and each shows up with
 * the command that fixes it, and exit 1.
 */
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Project, assertBuilt } from '../helpers/cli.js';
import { TmuxFixture, initGitRepo } from '../helpers/tmux.js';

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
});
