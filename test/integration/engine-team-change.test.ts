/**
 * Issue 11 (5): an agent added with `hornets-tui add` while the engine ran was never served — no
 * trigger folder, no pipes, its messages never delivered, `queue why` saying "starting" — until the
 * engine restarted. The engine now reloads its team when hornets.json changes (`add` and `remove`
 * tell it at once). Real CLI and daemon processes, demo agents, real tmux on a private socket.
 */
import { existsSync, lstatSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Project, assertBuilt } from '../helpers/cli.js';
import { TmuxFixture, initGitRepo, waitFor } from '../helpers/tmux.js';

const fx = new TmuxFixture();
beforeAll(() => assertBuilt());
afterEach(async () => {
  await fx.cleanup();
});

async function team(agents: string): Promise<Project> {
  const dir = fx.dir('hornets-team-change-');
  initGitRepo(dir);
  const p = new Project(dir, { HORNETS_TMUX_SOCKET: fx.socket(), TMUX: undefined, TMUX_PANE: undefined });
  await p.ok(['init', '--agents', agents]);
  fx.defer(() => p.run(['daemon', 'stop']));
  return p;
}

async function agentState(p: Project, agent: string): Promise<string | undefined> {
  const r = await p.ok(['status', '--json']);
  return (JSON.parse(r.stdout) as { name: string; state: string }[]).find((a) => a.name === agent)?.state;
}

async function messageState(p: Project, id: string): Promise<string> {
  return (JSON.parse((await p.ok(['queue', 'why', id, '--json'])).stdout) as { state: string }).state;
}

const isFifo = (file: string) => existsSync(file) && lstatSync(file).isFIFO();

describe('the team changes while the engine runs', () => {
  it('an agent added with `add` is served at once: trigger folder, pipes, delivery; `remove` takes its pipes away', async () => {
    const p = await team('marie');
    await p.ok(['up']);
    const pipes = path.join(p.stateDir, 'pipes');
    await waitFor('marie idle', async () => (await agentState(p, 'marie')) === 'idle', 30_000, 100);
    await p.ok(['add', 'anga', '--profile', 'demo']);
    // `add` returns after the engine took the new team: no waiting for a poll.
    expect(existsSync(path.join(p.stateDir, 'triggers', 'anga'))).toBe(true);
    expect(isFifo(path.join(pipes, 'anga-control'))).toBe(true);
    expect(isFifo(path.join(pipes, 'anga-status'))).toBe(true);
    const id = await p.send('anga', 'hello, new agent');
    await waitFor('message delivered to anga', async () => ['delivered', 'confirmed'].includes(await messageState(p, id)), 30_000, 100);
    // Its trigger folder is watched too.
    writeFileSync(path.join(p.stateDir, 'triggers', 'anga', 'one.trigger'), JSON.stringify({ message: 'from a trigger' }));
    await waitFor(
      'trigger queued for anga',
      async () => {
        const list = JSON.parse((await p.ok(['queue', 'list', 'anga', '--all', '--json'])).stdout) as { body: string }[];
        return list.some((m) => m.body === 'from a trigger');
      },
      20_000,
      100,
    );

    await p.ok(['remove', 'anga']);
    expect(existsSync(path.join(pipes, 'anga-control'))).toBe(false);
    expect(existsSync(path.join(pipes, 'anga-status'))).toBe(false);
    expect(isFifo(path.join(pipes, 'marie-control'))).toBe(true);
    // marie is still served.
    const again = await p.send('marie', 'still here');
    await waitFor('message delivered to marie', async () => ['delivered', 'confirmed'].includes(await messageState(p, again)), 30_000, 100);
  }, 120_000);

  it('an edit of hornets.json by hand is picked up without a restart', async () => {
    const p = await team('marie');
    await p.ok(['up']);
    const file = path.join(p.dir, 'hornets.json');
    const config = JSON.parse(readFileSync(file, 'utf8')) as { agents: Record<string, unknown>[] };
    config.agents.push({ name: 'fabien', profile: 'demo' });
    writeFileSync(file, JSON.stringify(config, null, 2));
    await waitFor('fabien pipes', () => isFifo(path.join(p.stateDir, 'pipes', 'fabien-control')), 20_000, 100);
    expect(existsSync(path.join(p.stateDir, 'triggers', 'fabien'))).toBe(true);
  }, 60_000);
});
