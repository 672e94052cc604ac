/**
 * Issue 11 (4): two `hornets-tui up` at once in one project made two windows per agent (4 of 9
 * tries); the database tracked one, and the other survived `stop`, invisible to `status`. Commands
 * that make or kill agent windows now take the project's agents lock, and what tmux really runs is
 * reconciled: an agent window the database does not track is killed. Real CLI processes, real tmux
 * on a private socket.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Project, assertBuilt } from '../helpers/cli.js';
import { TmuxFixture, initGitRepo, listPanes, tmuxOk, waitFor } from '../helpers/tmux.js';
import { closeTeams, startTeam } from '../helpers/team.js';
import { processStart, teamLockFile } from '../../src/services/team-lock.js';

const fx = new TmuxFixture();
beforeAll(() => assertBuilt());
afterEach(async () => {
  await closeTeams();
  await fx.cleanup();
});

interface Team {
  p: Project;
  dir: string;
  socket: string;
  session: string;
}

async function team(agents: string): Promise<Team> {
  const dir = fx.dir('hornets-race-');
  initGitRepo(dir);
  const socket = fx.socket();
  const p = new Project(dir, { HORNETS_TMUX_SOCKET: socket, TMUX: undefined, TMUX_PANE: undefined });
  await p.ok(['init', '--agents', agents]);
  const session = (JSON.parse(readFileSync(path.join(dir, 'hornets.json'), 'utf8')) as { project: string }).project;
  return { p, dir, socket, session };
}

/** Agent windows per agent name in the project's session (the control window left out). */
function agentWindows(t: { socket: string; session: string }): Map<string, number> {
  const counts = new Map<string, number>();
  for (const p of listPanes(t.socket)) {
    if (p.session !== t.session || p.window === 'hornets') continue;
    counts.set(p.window, (counts.get(p.window) ?? 0) + 1);
  }
  return counts;
}

/** A window made behind hornets' back that runs as the agent would: its name and environment. */
/**
 * A window made behind hornets' back with an agent's environment. Returned once its process runs
 * `sleep`: between tmux's fork and the exec, /proc shows tmux's own environment, not the agent's
 * (a sweep then sees no agent there, and kills it on its next round instead).
 */
async function orphanWindow(t: { socket: string; session: string; dir: string }, agent: string): Promise<string> {
  const pane = tmuxOk(t.socket, [
    'new-window',
    '-d',
    '-P',
    '-F',
    '#{pane_id}',
    '-t',
    `${t.session}:`,
    '-n',
    agent,
    '-e',
    `HORNETS_AGENT_ID=${agent}`,
    '-e',
    `HORNETS_CONFIG=${path.join(t.dir, 'hornets.json')}`,
    '-e',
    'HORNETS_GENERATION=1',
    'sleep',
    '600',
  ]).trim();
  const pid = Number(tmuxOk(t.socket, ['display-message', '-p', '-t', pane, '#{pane_pid}']).trim());
  await waitFor('the orphan running sleep', () => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('sleep\0');
    } catch {
      return false;
    }
  });
  return pane;
}

describe('concurrent changes to the team', () => {
  it('two `up` at once make one window per agent, and `stop` leaves none (several tries)', async () => {
    const names = ['marie', 'anga', 'fabien'];
    for (let attempt = 0; attempt < 4; attempt++) {
      const t = await team(names.join(','));
      const [a, b] = await Promise.all([t.p.run(['up', '--no-engine', '--json']), t.p.run(['up', '--no-engine', '--json'])]);
      expect([a.code, b.code], `${a.stderr}\n${b.stderr}`).toEqual([0, 0]);
      const reports = [a, b].map((r) => JSON.parse(r.stdout) as { created: string[]; running: string[] });
      // Each agent was started by exactly one of them; the other found it running.
      for (const n of names) expect(reports.filter((r) => r.created.includes(n)).length, `try ${attempt}: ${n}`).toBe(1);
      expect(Object.fromEntries(agentWindows(t)), `try ${attempt}`).toEqual(Object.fromEntries(names.map((n) => [n, 1])));
      await t.p.ok(['stop', ...names]);
      expect(agentWindows(t).size, `try ${attempt}: windows left after stop`).toBe(0);
      await fx.cleanup();
    }
  }, 180_000);

  it('an agent window the database does not track is killed by `up` and by `stop`', async () => {
    const t = await team('marie,anga');
    await t.p.ok(['up', '--no-engine']);
    const orphan = await orphanWindow(t, 'marie');
    expect(agentWindows(t).get('marie')).toBe(2);
    await t.p.ok(['up', '--no-engine']);
    expect(listPanes(t.socket).some((p) => p.paneId === orphan)).toBe(false);
    expect(agentWindows(t).get('marie')).toBe(1);
    // stop: the tracked window and any untracked one of the agent.
    await orphanWindow(t, 'marie');
    await t.p.ok(['stop', 'marie']);
    expect(agentWindows(t).has('marie')).toBe(false);
    expect(agentWindows(t).get('anga')).toBe(1);
    // A shell someone opened in the session (no agent environment) is not hornets' to kill.
    const shell = tmuxOk(t.socket, ['new-window', '-d', '-P', '-F', '#{pane_id}', '-t', `${t.session}:`, '-n', 'anga', 'sleep', '600']).trim();
    await t.p.ok(['up', '--no-engine']);
    expect(listPanes(t.socket).some((p) => p.paneId === shell)).toBe(true);
  }, 60_000);

  it("the engine's reconciliation kills an untracked agent window", async () => {
    const t = await startTeam([
      { name: 'marie', profile: 'demo' },
      { name: 'anga', profile: 'demo' },
    ]);
    const session = t.ctx.project.config.project;
    const tracked = (await t.ctx.store.getAgent('marie'))!.paneId!;
    const orphan = await orphanWindow({ socket: t.socket, session, dir: t.dir }, 'marie');
    await t.daemon.engine.reconcile();
    const panes = listPanes(t.socket);
    expect(panes.some((p) => p.paneId === orphan)).toBe(false);
    expect(panes.some((p) => p.paneId === tracked)).toBe(true);
    expect(await t.ctx.store.events({ agent: 'marie', kinds: ['orphan_window_killed'] })).toHaveLength(1);
  }, 60_000);

  it('a command waiting for the agents lock gives up after a bounded time and names the holder', async () => {
    const t = await team('marie');
    const lock = teamLockFile(path.join(t.dir, '.hornets'));
    mkdirSync(path.dirname(lock), { recursive: true });
    // This test process holds it, as a long `up` would.
    writeFileSync(lock, JSON.stringify({ pid: process.pid, start: processStart(process.pid), command: 'up', since: Date.now() }));
    const r = await t.p.run(['up', '--no-engine'], { env: { HORNETS_LOCK_WAIT_MS: '300' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`changing this project's agents: pid ${process.pid} \\(up, for \\d+ s\\)`));
    // A holder that died leaves the file behind: the next command takes it over.
    writeFileSync(lock, JSON.stringify({ pid: 2 ** 22 + 12345, start: null, command: 'up', since: Date.now() }));
    await t.p.ok(['up', '--no-engine']);
    await waitFor('marie window', () => agentWindows(t).get('marie') === 1);
  }, 60_000);
});
