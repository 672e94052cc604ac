/**
 * Issue 17, the states that need someone: real tmux on a private socket, the demo agent speaking
 * Claude Code's hooks, a real engine and SQLite. A permission prompt puts the agent in needs-input
 * and its answer takes it out, with the message sent meanwhile held and then delivered; a usage
 * limit makes it limited until the reset it states, then the engine resumes it with a message.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Project, assertBuilt } from '../helpers/cli.js';
import { TmuxFixture, initGitRepo, tmuxOk, waitFor } from '../helpers/tmux.js';

const fx = new TmuxFixture();
beforeAll(() => assertBuilt());
afterEach(async () => {
  await fx.cleanup();
});

interface Status {
  name: string;
  state: string;
  paneId: string | null;
  needsYou: boolean;
  resetAt: string | null;
  lastError: string | null;
}

async function team(agents = 'marie'): Promise<{ p: Project; socket: string; dir: string }> {
  const dir = fx.dir('hornets-needs-you-');
  initGitRepo(dir);
  const socket = fx.socket();
  const p = new Project(dir, { HORNETS_TMUX_SOCKET: socket, TMUX: undefined, TMUX_PANE: undefined });
  await p.ok(['init', '--agents', agents]);
  fx.defer(() => p.run(['daemon', 'stop']));
  return { p, socket, dir };
}

async function status(p: Project, agent: string): Promise<Status> {
  return (JSON.parse((await p.ok(['status', '--json'])).stdout) as Status[]).find((a) => a.name === agent)!;
}

async function messageState(p: Project, id: string): Promise<string> {
  return (JSON.parse((await p.ok(['queue', 'why', id, '--json'])).stdout) as { state: string }).state;
}

function type(socket: string, pane: string, line: string): void {
  tmuxOk(socket, ['send-keys', '-t', pane, '-l', line]);
  tmuxOk(socket, ['send-keys', '-t', pane, 'Enter']);
}

function transcript(dir: string, agent: string): string {
  return readFileSync(path.join(dir, '.hornets', 'demo', `${agent}.jsonl`), 'utf8');
}

describe('needs you (issue 17)', () => {
  it('a permission prompt: needs-input while it is up (messages wait), left when it is answered', async () => {
    const { p, socket } = await team();
    await p.ok(['up']);
    const idle = await waitFor('marie idle', async () => ((await status(p, 'marie')).state === 'idle' ? await status(p, 'marie') : null), 30_000, 100);
    type(socket, idle.paneId!, '/ask');
    const asking = await waitFor('marie needs input', async () => ((await status(p, 'marie')).state === 'needs-input' ? await status(p, 'marie') : null), 20_000, 100);
    expect(asking.needsYou).toBe(true);
    const id = /^queued ([0-9a-z]+)/.exec((await p.ok(['send', 'marie', 'while you were asked'])).stdout)![1]!;
    // Nothing is typed into a pane that asks: a second look after the engine had its chances.
    await new Promise((r) => setTimeout(r, 1500));
    expect(await messageState(p, id)).toBe('queued');
    expect((await status(p, 'marie')).state).toBe('needs-input');
    type(socket, idle.paneId!, 'y');
    await waitFor('the prompt answered: marie works again', async () => ['busy', 'idle'].includes((await status(p, 'marie')).state), 20_000, 100);
    await waitFor('the waiting message handed over', async () => ['delivered', 'confirmed'].includes(await messageState(p, id)), 20_000, 100);
    expect((await status(p, 'marie')).needsYou).toBe(false);
  }, 120_000);

  it('a usage limit: limited with its reset time, messages wait, resumed at the reset with a message', async () => {
    const { p, socket, dir } = await team();
    await p.ok(['up']);
    const idle = await waitFor('marie idle', async () => ((await status(p, 'marie')).state === 'idle' ? await status(p, 'marie') : null), 30_000, 100);
    const before = Date.now();
    type(socket, idle.paneId!, '/limit 4');
    const limited = await waitFor('marie limited', async () => ((await status(p, 'marie')).state === 'limited' ? await status(p, 'marie') : null), 20_000, 100);
    expect(limited.needsYou).toBe(true);
    expect(limited.resetAt).not.toBeNull();
    const resetAt = Date.parse(limited.resetAt!);
    expect(resetAt).toBeGreaterThanOrEqual(before + 4000);
    expect(resetAt).toBeLessThanOrEqual(Date.now() + 4000);
    const human = await p.ok(['status']);
    expect(human.stdout).toMatch(/marie\s+demo\s+limited \d+s/);
    const id = /^queued ([0-9a-z]+)/.exec((await p.ok(['send', 'marie', 'after the limit'])).stdout)![1]!;
    expect(await messageState(p, id)).toBe('queued');
    await waitFor('the message handed over after the reset', async () => ['delivered', 'confirmed'].includes(await messageState(p, id)), 30_000, 100);
    // Not before the reset the CLI stated.
    expect(Date.now()).toBeGreaterThanOrEqual(resetAt);
    await waitFor('the resume message reached marie', () => transcript(dir, 'marie').includes('Your usage limit reset at'), 20_000, 100);
    expect((await status(p, 'marie')).state).not.toBe('limited');
  }, 120_000);
});
