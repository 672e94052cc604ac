/**
 * Agents on real tmux through the real CLI: `up`/`status`/`stop`/`down`/`add`/`remove`/`attach`,
 * crash detection through the pane-died hook, and everything a user (or the machine) can do wrong.
 * Each test gets its own git repo and its own private server (`hornets-test-<random>`), killed in
 * afterEach before the repo is removed. Nothing here touches the default tmux server.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import { argv as tmuxArgv } from '../../src/tmux/argv.js';
import { openSqliteStore } from '../../src/queue/sqlite/sqlite-store.js';
import type { AgentStatus, UpReport } from '../../src/services/agents.js';
import { Project, assertBuilt, binPath, cleanEnv, type CliResult } from '../helpers/cli.js';
import { TmuxFixture, capture, git, initGitRepo, lastLine, listPanes, serverAlive, socketPath, tmux, tmuxOk, waitFor } from '../helpers/tmux.js';

const fx = new TmuxFixture();
beforeAll(() => assertBuilt());
afterEach(async () => {
  await fx.cleanup();
});

const TEAM = ['marie', 'anga', 'fabien'];

interface Team {
  p: Project;
  dir: string;
  socket: string;
  session: string;
}

/** A git repo with one commit, `hornets-tui init` (demo profile), and a private socket for it. */
async function team(agents = TEAM.join(','), extraEnv: Record<string, string> = {}): Promise<Team> {
  const dir = fx.dir('hornets-agents-');
  initGitRepo(dir);
  const socket = fx.socket();
  const p = new Project(dir, { HORNETS_TMUX_SOCKET: socket, TMUX: undefined, TMUX_PANE: undefined, ...extraEnv });
  await p.ok(['init', '--agents', agents]);
  const session = (JSON.parse(readFileSync(path.join(dir, 'hornets.json'), 'utf8')) as { project: string }).project;
  return { p, dir, socket, session };
}

function configOf(t: Team): { agents: { name: string }[] } & Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(t.dir, 'hornets.json'), 'utf8')) as { agents: { name: string }[] };
}

async function up(t: Team, ...names: string[]): Promise<UpReport> {
  const r = await t.p.ok(['up', '--no-engine', '--json', ...names]);
  return JSON.parse(r.stdout) as UpReport;
}

async function status(t: Team): Promise<Map<string, AgentStatus>> {
  const r = await t.p.ok(['status', '--json']);
  return new Map((JSON.parse(r.stdout) as AgentStatus[]).map((a) => [a.name, a]));
}

/** The demo agent in `pane` is at its prompt. */
async function waitPrompt(t: Team, pane: string, timeoutMs = 15_000): Promise<void> {
  await waitFor(`demo> prompt in ${pane}`, () => lastLine(capture(t.socket, pane)) === 'demo>', timeoutMs);
}

function windows(t: Team): string[] {
  return tmuxOk(t.socket, ['list-windows', '-a', '-F', '#{session_name}:#{window_name}']).split('\n').filter(Boolean);
}

function worktrees(t: Team): { path: string; branch: string | null }[] {
  const out = git(t.dir, ['worktree', 'list', '--porcelain']);
  return out
    .split('\n\n')
    .filter((b) => b.trim())
    .map((b) => ({ path: /^worktree (.*)$/m.exec(b)![1]!, branch: /^branch refs\/heads\/(.*)$/m.exec(b)?.[1] ?? null }));
}

const worktreeDir = (t: Team, agent: string) => path.join(t.dir, '.hornets', 'worktrees', agent);

/** Nothing of tmux and no worktree exists for this project. */
function expectNothingCreated(t: Team): void {
  expect(serverAlive(t.socket)).toBe(false);
  expect(existsSync(socketPath(t.socket))).toBe(false);
  expect(existsSync(path.join(t.dir, '.hornets', 'worktrees'))).toBe(false);
  expect(worktrees(t).map((w) => w.path)).toEqual([t.dir]);
}

function expectFailure(r: CliResult, code: number, pattern: RegExp): void {
  expect(r.code, `stdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(code);
  expect(r.stderr).toMatch(pattern);
}

describe('up / status / reconcile', () => {
  it('creates one window per agent on its own worktree and branch; a second up changes nothing', async () => {
    const t = await team();
    const report = await up(t);
    expect(report).toMatchObject({ created: TEAM, restarted: [], running: [], failed: [], socket: t.socket, session: t.session });

    // One session, the control window plus one window per agent, named after it.
    expect(windows(t).sort()).toEqual([`${t.session}:hornets`, ...TEAM.map((a) => `${t.session}:${a}`)].sort());

    // A worktree per agent on branch hornets/<agent>.
    const wt = worktrees(t);
    for (const a of TEAM) expect(wt).toContainEqual({ path: worktreeDir(t, a), branch: `hornets/${a}` });

    const s1 = await status(t);
    const panes = new Map(listPanes(t.socket).map((p) => [p.paneId, p]));
    for (const a of TEAM) {
      const st = s1.get(a)!;
      expect(st).toMatchObject({ name: a, profile: 'demo', alive: true, exitStatus: null, generation: 1, worktree: worktreeDir(t, a) });
      expect(st.paneId).toMatch(/^%\d+$/);
      expect(st.pid).toBeGreaterThan(0);
      // The recorded pane is really that agent's window.
      expect(panes.get(st.paneId!)).toMatchObject({ session: t.session, window: a, dead: false });
      await waitPrompt(t, st.paneId!);
      // The agent runs in its worktree with its identity (the demo banner prints both).
      expect(capture(t.socket, st.paneId!)).toContain(`demo agent ${a} (session`);
      expect(capture(t.socket, st.paneId!)).toContain(`in ${worktreeDir(t, a)}`);
    }
    expect(new Set(TEAM.map((a) => s1.get(a)!.paneId)).size).toBe(3);

    const again = await up(t);
    expect(again).toMatchObject({ created: [], restarted: [], running: TEAM, failed: [] });
    const s2 = await status(t);
    for (const a of TEAM) {
      expect(s2.get(a)).toMatchObject({ paneId: s1.get(a)!.paneId, pid: s1.get(a)!.pid, generation: 1, alive: true });
    }
    expect(windows(t)).toHaveLength(4);
  });

  it('up after down reuses the worktrees that exist, makes the missing one, and refuses a directory git does not know as a worktree', async () => {
    const t = await team();
    await up(t);
    await t.p.ok(['down', '--timeout', '2']);
    // anga's worktree is gone: up makes it again. fabien's place holds a plain directory (a worktree
    // removed behind hornets' back, or one made before the first commit): running fabien there would
    // let his git commands act on the main checkout, so up must refuse it and say why.
    git(t.dir, ['worktree', 'remove', '--force', worktreeDir(t, 'anga')]);
    git(t.dir, ['worktree', 'remove', '--force', worktreeDir(t, 'fabien')]);
    mkdirSync(worktreeDir(t, 'fabien'));
    writeFileSync(path.join(worktreeDir(t, 'fabien'), 'notes.txt'), 'mine\n');

    const r = await t.p.run(['up', '--no-engine', '--json']);
    expect(r.code, r.stderr).toBe(1);
    const report = JSON.parse(r.stdout) as UpReport;
    expect(report).toMatchObject({ created: ['marie', 'anga'], restarted: [], running: [] });
    expect(report.failed).toHaveLength(1);
    expect(report.failed[0]!.agent).toBe('fabien');
    expect(report.failed[0]!.error).toMatch(/fabien: .*worktrees\/fabien exists but is not a git worktree of /);
    // Nothing of fabien's was touched or started; the others run in their worktrees.
    expect(readFileSync(path.join(worktreeDir(t, 'fabien'), 'notes.txt'), 'utf8')).toBe('mine\n');
    expect(windows(t).sort()).toEqual([`${t.session}:anga`, `${t.session}:hornets`, `${t.session}:marie`]);
    const wt = worktrees(t);
    for (const a of ['marie', 'anga']) expect(wt).toContainEqual({ path: worktreeDir(t, a), branch: `hornets/${a}` });
    expect(wt.map((w) => w.path)).not.toContain(worktreeDir(t, 'fabien'));
    const s = await status(t);
    for (const a of ['marie', 'anga']) {
      await waitPrompt(t, s.get(a)!.paneId!);
      expect(capture(t.socket, s.get(a)!.paneId!)).toContain(`in ${worktreeDir(t, a)}`);
    }
    expect(s.get('fabien')).toMatchObject({ alive: false, paneId: null });
  });

  it('a crash shows dead with its exit status at once (pane-died hook) and up respawns it in the same pane', async () => {
    const t = await team();
    await up(t);
    const before = await status(t);
    const marie = before.get('marie')!;
    await waitPrompt(t, marie.paneId!);

    const sent = await t.p.ok(['send', 'marie', '--now', '--json', '--', '/crash']);
    expect(JSON.parse(sent.stdout.slice(sent.stdout.indexOf('\n{') + 1))).toMatchObject({ refused: [], failed: [] });
    try {
      await waitFor("marie's pane dead", () => listPanes(t.socket).find((p) => p.paneId === marie.paneId)?.dead);
    } catch (err) {
      throw new Error(`${(err as Error).message}\nsend --now said: ${sent.stdout}\nscreen:\n${capture(t.socket, marie.paneId!)}`);
    }
    expect((await status(t)).get('marie')).toMatchObject({ alive: false, exitStatus: 3, state: 'crashed', paneId: marie.paneId });
    // The DB (not just the screen) knows: only the pane-died hook writes 'crashed'.
    const store = await openSqliteStore(path.join(t.dir, '.hornets', 'hornets.db'));
    try {
      const rec = await waitFor('agent state crashed in the DB', async () => {
        const r = await store.getAgent('marie');
        return r?.state === 'crashed' ? r : null;
      });
      expect(rec).toMatchObject({ lastError: 'exited with status 3', paneId: marie.paneId, generation: 1 });
      const exited = (await store.events({ agent: 'marie' })).filter((e) => e.kind === 'agent_exited');
      expect(exited).toHaveLength(1);
      expect(exited[0]!.detail).toMatchObject({ paneId: marie.paneId, exitStatus: 3, generation: 1 });
      // The others were not touched.
      expect((await store.getAgent('anga'))!.state).not.toBe('crashed');
    } finally {
      await store.close();
    }

    const report = await up(t);
    expect(report).toMatchObject({ created: [], restarted: ['marie'], running: ['anga', 'fabien'], failed: [] });
    const after = await status(t);
    expect(after.get('marie')).toMatchObject({ alive: true, paneId: marie.paneId, generation: 2, exitStatus: null });
    expect(after.get('marie')!.pid).not.toBe(marie.pid);
    expect(after.get('anga')).toMatchObject({ generation: 1, paneId: before.get('anga')!.paneId, pid: before.get('anga')!.pid });
    await waitPrompt(t, marie.paneId!);
  });

  it('stop marie kills her window and keeps her queue; the others keep running', async () => {
    const t = await team();
    await up(t);
    const before = await status(t);
    // `up` returns once the windows are made and released, not once the agents have started: an
    // agent still starting would take the message in its SessionStart hook (as it should), which
    // is not what this test is about.
    await waitPrompt(t, before.get('marie')!.paneId!);
    const id = await t.p.send('marie', 'keep me queued');

    const r = await t.p.ok(['stop', 'marie', '--json']);
    expect(JSON.parse(r.stdout)).toEqual([{ agent: 'marie', result: 'stopped' }]);
    expect(windows(t).sort()).toEqual([`${t.session}:anga`, `${t.session}:fabien`, `${t.session}:hornets`]);
    const s = await status(t);
    expect(s.get('marie')).toMatchObject({ alive: false, paneId: null, state: 'stopped', queueDepth: 1 });
    expect(s.get('anga')).toMatchObject({ alive: true, paneId: before.get('anga')!.paneId });

    const list = JSON.parse((await t.p.ok(['queue', 'list', 'marie', '--json'])).stdout) as { id: string; state: string; body: string }[];
    expect(list).toEqual([expect.objectContaining({ id, state: 'queued', body: 'keep me queued' })]);

    // Stopping again is not an error; `up marie` brings her back in a new pane.
    expect(JSON.parse((await t.p.ok(['stop', 'marie', '--json'])).stdout)).toEqual([{ agent: 'marie', result: 'not-running' }]);
    expect(await up(t, 'marie')).toMatchObject({ created: ['marie'], failed: [] });
    const back = (await status(t)).get('marie')!;
    expect(back.alive).toBe(true);
    expect(back.paneId).not.toBe(before.get('marie')!.paneId);
    expect(back.queueDepth).toBe(1);
  });

  it('down kills the server and keeps worktrees and queue; down --remove-worktrees removes them', async () => {
    const t = await team();
    await up(t);
    await t.p.send('anga', 'survives down');
    const d1 = JSON.parse((await t.p.ok(['down', '--json'])).stdout) as { stopped: string[]; worktreesRemoved: string[] };
    expect(d1).toEqual({ stopped: ['anga', 'fabien', 'marie'], worktreesRemoved: [] });
    expect(serverAlive(t.socket)).toBe(false);
    for (const a of TEAM) expect(existsSync(worktreeDir(t, a))).toBe(true);
    expect(worktrees(t)).toHaveLength(4);
    expect((await status(t)).get('anga')).toMatchObject({ state: 'stopped', alive: false, queueDepth: 1 });

    // Up again reuses the worktrees.
    expect(await up(t)).toMatchObject({ created: TEAM, failed: [] });
    const d2 = JSON.parse((await t.p.ok(['down', '--remove-worktrees', '--json'])).stdout) as { stopped: string[]; worktreesRemoved: string[] };
    expect(d2.stopped).toEqual(['anga', 'fabien', 'marie']);
    expect(d2.worktreesRemoved.sort()).toEqual(TEAM.map((a) => worktreeDir(t, a)).sort());
    expect(serverAlive(t.socket)).toBe(false);
    for (const a of TEAM) expect(existsSync(worktreeDir(t, a))).toBe(false);
    expect(worktrees(t)).toEqual([{ path: t.dir, branch: 'main' }]);
    expect(JSON.parse((await t.p.ok(['queue', 'list', 'anga', '--json'])).stdout)).toHaveLength(1);
  });

  it('add zoe --profile demo starts her beside the running team; remove zoe stops her and drops her from hornets.json', async () => {
    const t = await team();
    await up(t);
    const added = JSON.parse((await t.p.ok(['add', 'zoe', '--profile', 'demo', '--json'])).stdout) as UpReport;
    expect(added).toMatchObject({ created: ['zoe'], failed: [] });
    expect(configOf(t).agents.map((a) => a.name)).toEqual([...TEAM, 'zoe']);
    expect(windows(t)).toContain(`${t.session}:zoe`);
    const zoe = (await status(t)).get('zoe')!;
    expect(zoe).toMatchObject({ alive: true, profile: 'demo', generation: 1 });
    await waitPrompt(t, zoe.paneId!);
    expect(existsSync(worktreeDir(t, 'zoe'))).toBe(true);

    expect(JSON.parse((await t.p.ok(['remove', 'zoe', '--json'])).stdout)).toEqual({ removed: 'zoe' });
    expect(configOf(t).agents.map((a) => a.name)).toEqual(TEAM);
    expect(windows(t)).not.toContain(`${t.session}:zoe`);
    expect(listPanes(t.socket).some((p) => p.paneId === zoe.paneId)).toBe(false);
    const s = await status(t);
    expect([...s.keys()]).toEqual(TEAM);
    for (const a of TEAM) expect(s.get(a)!.alive).toBe(true);
    // Her worktree is kept (it may hold work).
    expect(existsSync(worktreeDir(t, 'zoe'))).toBe(true);

    // Bad adds change nothing.
    expectFailure(await t.p.run(['add', 'bad name', '--profile', 'demo']), 2, /invalid agent name "bad name"/);
    expectFailure(await t.p.run(['add', 'zed', '--profile', 'no-such-profile']), 2, /unknown profile "no-such-profile"/);
    expectFailure(await t.p.run(['add', 'marie', '--profile', 'demo']), 2, /agent "marie" already exists/);
    expect(configOf(t).agents.map((a) => a.name)).toEqual(TEAM);
    expect(windows(t)).toHaveLength(4);
  });
});

describe('attach', () => {
  it('builds argv that target the session exactly, then the agent pane by id', () => {
    const server = { socket: 'hornets-test-x', configFile: '/p/.hornets/tmux.conf' };
    const a = tmuxArgv.attach(server, 'proj', '%7');
    expect(a).toEqual(['-L', 'hornets-test-x', '-f', '/p/.hornets/tmux.conf', 'attach-session', '-t', '=proj', ';', 'select-window', '-t', '%7', ';', 'select-pane', '-t', '%7']);
    expect(tmuxArgv.switchClient(server, '%7')).toEqual(['-L', 'hornets-test-x', '-f', '/p/.hornets/tmux.conf', 'switch-client', '-t', '%7']);
  });

  it('from a non-terminal it fails cleanly and changes nothing', async () => {
    const t = await team();
    await up(t);
    const panesBefore = listPanes(t.socket);
    const r = await t.p.run(['attach', 'marie']);
    expectFailure(r, 1, /not a terminal/);
    expect(r.stderr).not.toMatch(/store .* is closed|unexpected/);
    expect(tmuxOk(t.socket, ['list-clients'])).toBe('');
    expect(listPanes(t.socket)).toEqual(panesBefore);
    // An agent that is not running is named.
    await t.p.ok(['stop', 'anga']);
    expectFailure(await t.p.run(['attach', 'anga']), 1, /anga is not running/);
    expectFailure(await t.p.run(['attach', 'nobody']), 2, /unknown agent "nobody"/);
  });

  it('from a terminal (a pane of another tmux server) it attaches to the agent window; from inside the server it switches', async () => {
    const t = await team();
    await up(t);
    const s = await status(t);
    const outer = fx.socket();
    const conf = path.join(t.dir, 'outer.conf');
    writeFileSync(conf, 'set -g remain-on-exit on\n');
    const env = { ...cleanEnv({ HORNETS_TMUX_SOCKET: t.socket }) };
    delete env.TMUX;
    delete env.TMUX_PANE;
    // sh reports the CLI's exit status on the screen once tmux hands the terminal back.
    const script = `"${process.execPath}" "${binPath}" attach marie; echo "attach-exit=$?"; exec sleep 600`;
    const started = spawnSync('tmux', ['-L', outer, '-f', conf, 'new-session', '-d', '-s', 'outer', '-x', '120', '-y', '40', '-c', t.dir, '--', 'sh', '-c', script], { env, encoding: 'utf8' });
    expect(started.status, started.stderr).toBe(0);

    const clients = () => tmux(t.socket, ['list-clients', '-F', '#{session_name}\t#{window_name}\t#{pane_id}']).stdout.split('\n').filter(Boolean);
    // The control window is current in the session; attach must select marie's window and pane.
    await waitFor('a client on marie', () => clients().length === 1 && clients()[0] === `${t.session}\tmarie\t${s.get('marie')!.paneId}`, 15_000);

    // Inside the hornets server (TMUX points at it) attach uses switch-client on the same client.
    tmuxOk(t.socket, [
      'new-window',
      '-d',
      '-t',
      `=${t.session}:`,
      '-n',
      'switcher',
      '-c',
      t.dir,
      '--',
      'sh',
      '-c',
      `"${process.execPath}" "${binPath}" attach anga; echo "switch-exit=$?"; exec sleep 600`,
    ]);
    await waitFor('the client switched to anga', () => clients()[0] === `${t.session}\tanga\t${s.get('anga')!.paneId}`, 15_000);
    await waitFor('switch-client exit 0', () => capture(t.socket, 'switcher').includes('switch-exit=0'));

    tmuxOk(t.socket, ['detach-client', '-s', `=${t.session}`]);
    await waitFor('attach returned 0 after detach', () => capture(outer, 'outer').includes('attach-exit=0'));
    expect(clients()).toEqual([]);
    // Attaching and detaching left every agent running.
    const after = await status(t);
    for (const a of TEAM) expect(after.get(a)).toMatchObject({ alive: true, paneId: s.get(a)!.paneId });
  });
});

describe('bad input', () => {
  const badNames = [
    ['a space', 'has space'],
    ['a colon', 'ma:rie'],
    ['a dot', 'ma.rie'],
    ['a semicolon', 'ma;rie'],
    ['a command substitution', '$(x)'],
    ['33 characters', `a${'b'.repeat(32)}`],
  ] as const;

  it('agent names tmux/git/the shell could misread are rejected at config load (exit 1, agents[i].name), nothing created', async () => {
    const t = await team();
    const base = configOf(t);
    const runs = badNames.map(async ([label, name], i) => {
      const file = path.join(t.dir, `bad-${i}.json`);
      writeFileSync(file, JSON.stringify({ ...base, agents: [base.agents[0], { name, profile: 'demo' }] }, null, 2));
      const r = await t.p.run(['--config', file, 'up', '--no-engine']);
      return { label, r };
    });
    for (const { label, r } of await Promise.all(runs)) {
      expect(r.code, `${label}: ${r.stderr}`).toBe(1);
      expect(r.stderr, label).toMatch(/agents\[1\]\.name: invalid agent name/);
    }
    // A 32-character name is the longest allowed.
    expect(`a${'b'.repeat(31)}`).toHaveLength(32);
    const ok = path.join(t.dir, 'ok.json');
    writeFileSync(ok, JSON.stringify({ ...base, agents: [{ name: `a${'b'.repeat(31)}`, profile: 'demo' }] }));
    await t.p.ok(['--config', ok, 'config', 'validate']);
    expectNothingCreated(t);
  });

  it('a worktree outside the project: clear error, nothing created', async () => {
    const t = await team();
    const outside = fx.dir('hornets-outside-');
    const base = configOf(t);
    writeFileSync(path.join(t.dir, 'hornets.json'), JSON.stringify({ ...base, agents: [...base.agents.slice(0, 2), { name: 'fabien', profile: 'demo', worktree: outside }] }));
    const r = await t.p.run(['up', '--no-engine']);
    expectFailure(r, 1, new RegExp(`fabien: worktree ${outside.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is outside the project`));
    expectNothingCreated(t);
    // ../ tricks resolve to the same verdict.
    writeFileSync(path.join(t.dir, 'hornets.json'), JSON.stringify({ ...base, agents: [{ name: 'marie', profile: 'demo', worktree: `../${path.basename(outside)}` }] }));
    expectFailure(await t.p.run(['up', '--no-engine']), 1, /marie: worktree .* is outside the project/);
    expectNothingCreated(t);
  });

  it('one worktree for two agents: clear error naming both, nothing created', async () => {
    const t = await team();
    mkdirSync(path.join(t.dir, 'shared'));
    const base = configOf(t);
    writeFileSync(
      path.join(t.dir, 'hornets.json'),
      JSON.stringify({
        ...base,
        agents: [
          { name: 'marie', profile: 'demo', worktree: 'shared' },
          { name: 'anga', profile: 'demo' },
          { name: 'fabien', profile: 'demo', worktree: './shared/' },
        ],
      }),
    );
    expectFailure(await t.p.run(['up', '--no-engine']), 1, /fabien: worktree .*shared.* is already used by marie/);
    expectNothingCreated(t);
    // A configured worktree that collides with another agent's default one.
    writeFileSync(
      path.join(t.dir, 'hornets.json'),
      JSON.stringify({
        ...base,
        agents: [
          { name: 'marie', profile: 'demo' },
          { name: 'anga', profile: 'demo', worktree: '.hornets/worktrees/marie' },
        ],
      }),
    );
    mkdirSync(worktreeDir(t, 'marie'), { recursive: true });
    expectFailure(await t.p.run(['up', '--no-engine']), 1, /anga: worktree .* is already used by marie/);
    expect(serverAlive(t.socket)).toBe(false);
    expect(worktrees(t)).toHaveLength(1);
  });

  it('a profile whose command is missing: error names it, nothing created', async () => {
    const t = await team();
    mkdirSync(path.join(t.dir, 'profiles'));
    writeFileSync(path.join(t.dir, 'profiles', 'ghost.json'), JSON.stringify({ name: 'ghost', command: ['no-such-binary-xyz', '--flag'], delivery: 'push', hooks: { kind: 'none' } }));
    const base = configOf(t);
    writeFileSync(path.join(t.dir, 'hornets.json'), JSON.stringify({ ...base, profilesDir: 'profiles', agents: [...base.agents, { name: 'ghosty', profile: 'ghost' }] }));
    const r = await t.p.run(['up', '--no-engine']);
    expectFailure(r, 1, /ghosty: profile ghost runs "no-such-binary-xyz", which is not on PATH/);
    expectNothingCreated(t);
  });

  it('tmux missing: "tmux not found", nothing created', async () => {
    const t = await team();
    for (const cmd of [['up', '--no-engine'], ['status']]) {
      const r = await t.p.run(cmd, { env: { HORNETS_TMUX_BIN: '/nonexistent/tmux' } });
      expectFailure(r, 1, /tmux not found \(\/nonexistent\/tmux\)/);
    }
    expectNothingCreated(t);
  });

  it("a server killed behind hornets' back: status shows stopped, up recreates every agent", async () => {
    const t = await team();
    await up(t);
    const before = await status(t);
    tmux(t.socket, ['kill-server']);
    await waitFor('server gone', () => !serverAlive(t.socket));
    const s = await status(t);
    for (const a of TEAM) expect(s.get(a)).toMatchObject({ alive: false, paneId: null, state: 'stopped' });

    // Only anga first: the new server numbers panes from %0 again, so the ids the DB still holds
    // for marie and fabien must not be mistaken for anga's new pane.
    expect(await up(t, 'anga')).toMatchObject({ created: ['anga'], failed: [] });
    const partial = await status(t);
    expect(partial.get('anga')!.alive).toBe(true);
    expect(partial.get('marie')).toMatchObject({ alive: false, paneId: null, state: 'stopped' });
    expect(partial.get('fabien')).toMatchObject({ alive: false, paneId: null, state: 'stopped' });

    expect(await up(t)).toMatchObject({ created: ['marie', 'fabien'], running: ['anga'], failed: [] });
    const after = await status(t);
    const panes = new Map(listPanes(t.socket).map((p) => [p.paneId, p]));
    for (const a of TEAM) {
      expect(after.get(a)).toMatchObject({ alive: true, generation: before.get(a)!.generation + 1 });
      expect(panes.get(after.get(a)!.paneId!)!.window).toBe(a);
    }
    await waitPrompt(t, after.get('marie')!.paneId!);
  });

  it("a pane killed behind hornets' back: send --now says not running (message stays queued), up recreates it", async () => {
    const t = await team();
    await up(t);
    const before = await status(t);
    const pane = before.get('marie')!.paneId!;
    tmuxOk(t.socket, ['kill-pane', '-t', pane]);
    const r = await t.p.run(['send', 'marie', '--now', '--', 'are you there?']);
    expectFailure(r, 1, /marie is not running \(start it with `hornets-tui up`\)/);
    const queued = JSON.parse((await t.p.ok(['queue', 'list', 'marie', '--json'])).stdout) as { state: string; body: string }[];
    expect(queued).toEqual([expect.objectContaining({ state: 'queued', body: 'are you there?' })]);
    expect((await status(t)).get('marie')).toMatchObject({ alive: false, state: 'stopped', paneId: null });

    expect(await up(t)).toMatchObject({ created: ['marie'], running: ['anga', 'fabien'], failed: [] });
    const after = (await status(t)).get('marie')!;
    expect(after.alive).toBe(true);
    expect(after.paneId).not.toBe(pane);
    expect(windows(t).filter((w) => w.endsWith(':marie'))).toHaveLength(1);
  });
});
