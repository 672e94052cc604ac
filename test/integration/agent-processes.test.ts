/**
 * Stopping an agent generation ends its whole process tree (issue 13): restart, stop, down, and a
 * killed tmux server followed by `down`, `up` or an engine start. The agent is a small Node script
 * that does what real CLIs do: like Gemini CLI, its first process ignores SIGTERM and SIGHUP and
 * re-launches itself as a child; the child starts a tool in a session of its own that ignores the
 * hang-up (a dev server started in the background) and one that ignores SIGTERM too (only SIGKILL
 * ends it). The demo agent runs the same steps. Processes are found the way a person would look:
 * by the agent's markers in /proc/<pid>/environ (test/helpers/agent-procs.ts).
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Project, assertBuilt } from '../helpers/cli.js';
import { TmuxFixture, capture, initGitRepo, tmux, waitFor } from '../helpers/tmux.js';
import { agentProcesses, describeProcesses, killAgentProcesses, waitForNone, type SeenProcess } from '../helpers/agent-procs.js';

const fx = new TmuxFixture();
const homes: string[] = [];
const strays: number[] = [];
beforeAll(() => assertBuilt());
afterEach(async () => {
  const used = homes.splice(0);
  for (const h of used) await new Project(path.dirname(h)).run(['daemon', 'stop']).catch(() => undefined);
  await fx.cleanup();
  for (const h of used) killAgentProcesses(h);
  for (const pid of strays.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
});

const FAKE_AGENT = `
const { spawn } = require('node:child_process');
const role = process.argv[2] || 'parent';
const idle = () => setInterval(() => undefined, 60000);
if (role === 'parent') {
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(s, () => undefined);
  const child = spawn(process.execPath, [__filename, 'child'], { stdio: 'inherit' });
  child.on('exit', (code) => process.exit(code === null ? 1 : code));
} else if (role === 'child') {
  spawn(process.execPath, [__filename, 'tool'], { detached: true, stdio: 'ignore' }).unref();
  spawn(process.execPath, [__filename, 'stubborn'], { detached: true, stdio: 'ignore' }).unref();
  process.stdout.write('fake> ');
  idle();
} else if (role === 'tool') {
  process.on('SIGHUP', () => undefined);
  idle();
} else {
  for (const s of ['SIGHUP', 'SIGTERM']) process.on(s, () => undefined);
  idle();
}
`;
/** Processes of one fake generation: parent, relaunched child, tool, stubborn tool. */
const FAKE_TREE = 4;

interface Team {
  p: Project;
  dir: string;
  home: string;
  socket: string;
}

async function team(): Promise<Team> {
  const dir = fx.dir('hornets-procs-');
  initGitRepo(dir);
  const socket = fx.socket();
  const p = new Project(dir, { HORNETS_TMUX_SOCKET: socket, TMUX: undefined, TMUX_PANE: undefined });
  mkdirSync(path.join(dir, 'profiles'));
  writeFileSync(path.join(dir, 'fake-agent.cjs'), FAKE_AGENT);
  writeFileSync(
    path.join(dir, 'profiles', 'fake.json'),
    JSON.stringify({ name: 'fake', command: [process.execPath, path.join(dir, 'fake-agent.cjs')], delivery: 'push', hooks: { kind: 'none' }, patterns: { idle: ['^fake> $'] } }),
  );
  writeFileSync(
    path.join(dir, 'hornets.json'),
    JSON.stringify({
      project: `procs-${path
        .basename(dir)
        .slice(-6)
        .toLowerCase()
        .replace(/[^a-z0-9]/g, 'x')}`,
      profilesDir: 'profiles',
      agents: [
        { name: 'fa', profile: 'fake' },
        { name: 'dm', profile: 'demo' },
      ],
    }),
  );
  const home = path.join(dir, '.hornets');
  homes.push(home);
  return { p, dir, home, socket };
}

const ofGen = (t: Team, agent: string, gen: number) => () => agentProcesses(t.home, agent).filter((p) => p.generation === gen);

async function generation(t: Team, agent: string): Promise<number> {
  const r = await t.p.ok(['status', '--json']);
  return (JSON.parse(r.stdout) as { name: string; generation: number }[]).find((s) => s.name === agent)!.generation;
}

/** Waits for the fake's whole tree of generation `gen` and for the demo agent's prompt. */
async function running(t: Team, gen: { fa: number; dm: number }): Promise<void> {
  await waitFor(`fa generation ${gen.fa} with its ${FAKE_TREE} processes`, () => ofGen(t, 'fa', gen.fa)().length === FAKE_TREE, 15_000, 50).catch((err: Error) => {
    throw new Error(`${err.message}\n${describeProcesses(agentProcesses(t.home))}`);
  });
  await waitFor(`dm generation ${gen.dm} at its prompt`, () => ofGen(t, 'dm', gen.dm)().length > 0 && /demo> *$/m.test(paneOfDemo(t)), 15_000, 50);
}

function paneOfDemo(t: Team): string {
  const panes = tmux(t.socket, ['list-panes', '-a', '-F', '#{window_name} #{pane_id}']).stdout.split('\n');
  const id = panes.find((l) => l.startsWith('dm '))?.split(' ')[1];
  return id ? capture(t.socket, id) : '';
}

async function up(t: Team): Promise<void> {
  await t.p.ok(['up', '--no-engine', '--json']);
}

describe('stopping an agent generation ends its whole process tree', () => {
  it('restart: the old generation of each agent goes entirely; the new one runs', async () => {
    const t = await team();
    await up(t);
    await running(t, { fa: 1, dm: 1 });
    for (const agent of ['fa', 'dm']) await t.p.ok(['restart', agent]);
    await waitForNone('generation 1 of fa to end', ofGen(t, 'fa', 1));
    await waitForNone('generation 1 of dm to end', ofGen(t, 'dm', 1));
    await running(t, { fa: 2, dm: 2 });
    expect(await generation(t, 'fa')).toBe(2);
  }, 90_000);

  it('stop: nothing of the agent runs afterwards; the other agent is untouched', async () => {
    const t = await team();
    await up(t);
    await running(t, { fa: 1, dm: 1 });
    const demo = agentProcesses(t.home, 'dm').map((p) => p.pid);
    await t.p.ok(['stop', 'fa']);
    await waitForNone('every process of fa to end', () => agentProcesses(t.home, 'fa'));
    expect(agentProcesses(t.home, 'dm').map((p) => p.pid)).toEqual(expect.arrayContaining(demo));
  }, 90_000);

  it('down: no process of any agent remains', async () => {
    const t = await team();
    await up(t);
    await running(t, { fa: 1, dm: 1 });
    await t.p.ok(['down']);
    await waitForNone('every agent process to end', () => agentProcesses(t.home));
  }, 90_000);

  it('a killed tmux server leaves the tool processes behind; the next `down` ends them', async () => {
    const t = await team();
    await up(t);
    await running(t, { fa: 1, dm: 1 });
    tmux(t.socket, ['kill-server']);
    // What the hang-up does not end (the first process ignores it, the tools have sessions of their
    // own), and nothing of hornets ran since: the reason for the sweep.
    await new Promise((r) => setTimeout(r, 1000));
    expect(ofGen(t, 'fa', 1)().length).toBeGreaterThanOrEqual(2);
    await t.p.ok(['down']);
    await waitForNone('every agent process to end', () => agentProcesses(t.home));
  }, 90_000);

  it('a killed tmux server: the next `up` ends the old generation before the new one works', async () => {
    const t = await team();
    await up(t);
    await running(t, { fa: 1, dm: 1 });
    tmux(t.socket, ['kill-server']);
    await waitFor('the tmux server to go', () => tmux(t.socket, ['list-sessions']).code !== 0, 10_000, 50);
    await up(t);
    await waitForNone('generation 1 of fa to end', ofGen(t, 'fa', 1));
    await running(t, { fa: 2, dm: 2 });
  }, 90_000);

  it('a killed tmux server: the engine that notices it ends the old generation', async () => {
    const t = await team();
    await up(t);
    await running(t, { fa: 1, dm: 1 });
    await t.p.ok(['daemon', 'start']);
    tmux(t.socket, ['kill-server']);
    await waitForNone('generation 1 of fa to end', ofGen(t, 'fa', 1), 30_000);
    await running(t, { fa: 2, dm: 2 });
    await t.p.ok(['daemon', 'stop']);
  }, 90_000);

  it("an engine start ends a stopped agent's leftovers, never another project's or a newer generation", async () => {
    const t = await team();
    await up(t);
    await running(t, { fa: 1, dm: 1 });
    await t.p.ok(['stop', 'fa']);
    await waitForNone('every process of fa to end', () => agentProcesses(t.home, 'fa'));
    // Left by something that ended fa without hornets' sweep (an older hornets, a crash mid-stop).
    const stray = (env: Record<string, string>): number => {
      const c = spawn(process.execPath, ['-e', 'setInterval(() => undefined, 60000)'], { detached: true, stdio: 'ignore', env: { ...process.env, HORNETS_AGENT_ID: 'fa', ...env } });
      c.unref();
      strays.push(c.pid!);
      return c.pid!;
    };
    const leftover = stray({ HORNETS_HOME: t.home, HORNETS_GENERATION: '1' });
    const otherProject = stray({ HORNETS_HOME: path.join(t.dir, 'elsewhere', '.hornets'), HORNETS_GENERATION: '1' });
    const newer = stray({ HORNETS_HOME: t.home, HORNETS_GENERATION: '2' });
    await waitFor('the strays to run', () => agentProcesses(t.home, 'fa').length === 2, 10_000, 50);
    await t.p.ok(['daemon', 'start']);
    await waitForNone('the leftover of the stopped generation to end', () => agentProcesses(t.home, 'fa').filter((p: SeenProcess) => p.pid === leftover));
    await t.p.ok(['daemon', 'stop']);
    expect(agentProcesses(t.home, 'fa').map((p) => p.pid)).toEqual([newer]);
    expect(readFileSync(`/proc/${otherProject}/environ`, 'latin1')).toContain('HORNETS_AGENT_ID=fa');
  }, 90_000);
});
