/**
 * Issue 17, notifications from the engine, with real parts: real tmux on a private socket, the demo
 * agent speaking Claude Code's hooks (`/ask` puts up a permission prompt, `/limit <s>` a usage
 * limit), a real engine and SQLite, a local HTTP receiver for the webhook, and a stand-in
 * `notify-send` on PATH that records its argv. The tmux status line is read back from the agents'
 * own server.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { appendFileSync, chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Project, assertBuilt } from '../helpers/cli.js';
import { TmuxFixture, initGitRepo, tmux, tmuxOk, waitFor } from '../helpers/tmux.js';
import { openProject } from '../../src/services/context.js';

const fx = new TmuxFixture();
const closers: (() => unknown)[] = [];
beforeAll(() => assertBuilt());
afterEach(async () => {
  await fx.cleanup();
  for (const c of closers.splice(0).reverse()) await c();
});

interface Received {
  url: string;
  bodies: Record<string, unknown>[];
  requests: number;
  /** Requests the receiver holds without answering. */
  hanging: number;
}

/** A webhook receiver on 127.0.0.1; `answer(n)` gives each request's status, or 'hang'. */
async function receiver(answer: (n: number) => number | 'hang' = () => 200): Promise<Received> {
  const r: Received = { url: '', bodies: [], requests: 0, hanging: 0 };
  const open: ServerResponse[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let data = '';
    req.on('data', (c: Buffer) => (data += c.toString('utf8')));
    req.on('end', () => {
      const a = answer(++r.requests);
      if (a === 'hang') {
        r.hanging++;
        open.push(res);
        return;
      }
      if (a < 300) r.bodies.push(JSON.parse(data) as Record<string, unknown>);
      res.statusCode = a;
      res.end('{}');
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  closers.push(() => {
    for (const res of open) res.destroy();
    server.closeAllConnections();
    return new Promise((ok) => server.close(ok));
  });
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook/secret-token`;
  return r;
}

async function team(notify: Record<string, unknown>, agents = 'marie', budget?: Record<string, number>): Promise<{ p: Project; socket: string; dir: string; argvFile: string }> {
  const dir = fx.dir('hornets-notify-');
  initGitRepo(dir);
  const socket = fx.socket();
  // The stand-in notify-send: one line per run, its arguments NUL-separated.
  const bin = path.join(dir, 'stand-in-bin');
  mkdirSync(bin);
  const argvFile = path.join(dir, 'notify-send.argv');
  writeFileSync(path.join(bin, 'notify-send'), `#!/bin/sh\nprintf '%s\\0' "$@" >> '${argvFile}'\nprintf '\\n' >> '${argvFile}'\n`);
  chmodSync(path.join(bin, 'notify-send'), 0o755);
  const p = new Project(dir, { HORNETS_TMUX_SOCKET: socket, TMUX: undefined, TMUX_PANE: undefined, PATH: `${bin}:${process.env.PATH ?? ''}` });
  await p.ok(['init', '--agents', agents]);
  const configFile = path.join(dir, 'hornets.json');
  const config = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
  if (budget) config.agents = (config.agents as Record<string, unknown>[]).map((a) => ({ ...a, budget }));
  writeFileSync(configFile, JSON.stringify({ ...config, notify }, null, 2));
  fx.defer(() => p.run(['daemon', 'stop']));
  return { p, socket, dir, argvFile };
}

async function state(p: Project, agent: string): Promise<{ state: string; paneId: string | null }> {
  return (JSON.parse((await p.ok(['status', '--json'])).stdout) as { name: string; state: string; paneId: string | null }[]).find((a) => a.name === agent)!;
}

async function until(p: Project, agent: string, wanted: string): Promise<{ state: string; paneId: string | null }> {
  return waitFor(
    `${agent} ${wanted}`,
    async () => {
      const s = await state(p, agent);
      return s.state === wanted ? s : null;
    },
    30_000,
    100,
  );
}

function type(socket: string, pane: string, line: string): void {
  tmuxOk(socket, ['send-keys', '-t', pane, '-l', line]);
  tmuxOk(socket, ['send-keys', '-t', pane, 'Enter']);
}

function statusRight(socket: string): string {
  return tmux(socket, ['show-options', '-gv', 'status-right']).stdout.trim();
}

function notifySendRuns(file: string): string[][] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('\0').filter(Boolean));
}

describe('notifications from the engine (issue 17)', () => {
  it('needs-input: one webhook POST (documented body, Slack text), notify-send, the tmux status line; flapping within the quiet period is told once; a limit is news', async () => {
    const r = await receiver();
    const { p, socket, argvFile } = await team({ quiet: '10m', tmuxStatus: true, notifySend: true, webhook: { url: r.url, timeout: '5s', retries: 2, backoff: '100ms' } });
    await p.ok(['up']);
    const idle = await until(p, 'marie', 'idle');
    const pane = idle.paneId!;
    const defaultStatus = statusRight(socket);
    expect(defaultStatus).not.toMatch(/need/);

    type(socket, pane, '/ask');
    await until(p, 'marie', 'needs-input');
    await waitFor('the webhook POST', () => r.bodies.length >= 1, 20_000, 50);
    const body = r.bodies[0]!;
    expect(body).toMatchObject({ agent: 'marie', state: 'needs-input', node: expect.any(String) as unknown, project: expect.any(String) as unknown });
    expect(['idle', 'busy']).toContain(body.previousState);
    expect(body.reason).toMatch(/^hook:/);
    expect(Date.parse(body.since as string)).not.toBeNaN();
    expect(body.resetAt).toBeNull();
    expect(body.text).toMatch(/marie needs input/);
    await waitFor('the status line', () => statusRight(socket) === '1 needs you: marie (needs-input)', 20_000, 50);
    await waitFor('notify-send ran', () => notifySendRuns(argvFile).length >= 1, 20_000, 50);
    const argv = notifySendRuns(argvFile)[0]!;
    expect(argv).toContain('--app-name=hornets-tui');
    expect(argv.at(-1)).toMatch(/marie needs input/);

    // Answered: the status line goes back to tmux's default.
    type(socket, pane, 'y');
    await waitFor('marie works again', async () => ['busy', 'idle'].includes((await state(p, 'marie')).state), 20_000, 100);
    await waitFor('the status line cleared', () => statusRight(socket) === defaultStatus, 20_000, 50);
    await until(p, 'marie', 'idle');

    // Flapping back into needs-input within the quiet period: the status line shows it, nothing is sent.
    type(socket, pane, '/ask');
    await until(p, 'marie', 'needs-input');
    await waitFor('the status line again', () => statusRight(socket) === '1 needs you: marie (needs-input)', 20_000, 50);
    type(socket, pane, 'y');
    await until(p, 'marie', 'idle');

    // Another state is news: the next POST is the limit (the sender keeps order, so a repeat of
    // needs-input would have come first).
    type(socket, pane, '/limit 3');
    await until(p, 'marie', 'limited');
    await waitFor('the limit POST', () => r.bodies.length >= 2, 20_000, 50);
    expect(r.bodies.map((b) => b.state)).toEqual(['needs-input', 'limited']);
    expect(r.bodies[1]!.resetAt).toEqual(expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/));
    expect(r.bodies[1]!.text).toMatch(/marie hit a usage limit until/);
    expect(notifySendRuns(argvFile).length).toBe(2);
    // The engine's log names the webhook's host only, never its token.
    const logs = readFileSync(path.join(p.stateDir, 'logs', 'hornets.log'), 'utf8');
    expect(logs).not.toMatch(/secret-token/);
  }, 150_000);

  it('over budget: one webhook POST with the reason, notify-send, the status line and the needs-you count; once per crossing', async () => {
    const r = await receiver();
    const { p, socket, argvFile } = await team({ quiet: '10m', tmuxStatus: true, notifySend: true, webhook: { url: r.url, timeout: '5s', retries: 2, backoff: '100ms' } }, 'marie', { tokens: 1000 });
    await p.ok(['up']);
    const pane = (await until(p, 'marie', 'idle')).paneId!;
    const defaultStatus = statusRight(socket);
    // What Claude Code writes to the transcript the hooks name (the demo agent's): a response's usage.
    const transcript = path.join(p.stateDir, 'demo', 'marie.jsonl');
    const usageLine = (id: string, input: number) =>
      `${JSON.stringify({ type: 'assistant', timestamp: new Date().toISOString(), message: { id, model: 'claude-sonnet-4-5', usage: { input_tokens: input, output_tokens: 10 } } })}\n`;
    appendFileSync(transcript, usageLine('msg_budget_1', 1500));
    type(socket, pane, 'hello');

    await waitFor('the over-budget POST', () => r.bodies.length >= 1, 30_000, 50);
    expect(r.bodies[0]).toMatchObject({ agent: 'marie', state: 'over-budget', reason: '1510 tokens exceed the budget of 1000', resetAt: null });
    expect(r.bodies[0]!.text).toBe(`hornets ${r.bodies[0]!.project as string}: marie is over its budget, delivery paused: 1510 tokens exceed the budget of 1000`);
    await waitFor('the status line', () => statusRight(socket) === '1 needs you: marie (over budget)', 20_000, 50);
    await waitFor('notify-send ran', () => notifySendRuns(argvFile).length >= 1, 20_000, 50);
    expect(notifySendRuns(argvFile)[0]).toContain('--urgency=critical');
    const row = (JSON.parse((await p.ok(['status', '--json'])).stdout) as { name: string; needsYou: boolean; overBudget: boolean; tokens: { total: number } }[]).find((a) => a.name === 'marie')!;
    expect(row).toMatchObject({ needsYou: true, overBudget: true });

    // More spent while over: no second crossing, nothing more told.
    appendFileSync(transcript, usageLine('msg_budget_2', 100));
    type(socket, pane, 'again');
    await waitFor(
      'the second response counted',
      async () => (JSON.parse((await p.ok(['status', '--json'])).stdout) as { name: string; tokens: { total: number } }[]).find((a) => a.name === 'marie')!.tokens.total === 1620,
      30_000,
      100,
    );
    // Resumed by the operator: the status line clears; the POST of a later prompt comes next in order,
    // so a repeat of over-budget would have come before it.
    await p.ok(['resume', 'marie']);
    await waitFor('the status line cleared', () => statusRight(socket) === defaultStatus, 20_000, 50);
    await until(p, 'marie', 'idle');
    type(socket, pane, '/ask');
    await waitFor('the needs-input POST', () => r.bodies.length >= 2, 30_000, 50);
    expect(r.bodies.map((b) => b.state)).toEqual(['over-budget', 'needs-input']);
    expect(notifySendRuns(argvFile)).toHaveLength(2);
  }, 150_000);

  it('an engine restart tells nothing of before; a change another process writes to the database is told (the sweep)', async () => {
    const r = await receiver();
    const { p, socket, dir } = await team({ quiet: '10m', webhook: { url: r.url, timeout: '5s', retries: 2, backoff: '100ms' } });
    await p.ok(['up']);
    const pane = (await until(p, 'marie', 'idle')).paneId!;
    type(socket, pane, '/ask');
    await until(p, 'marie', 'needs-input');
    await waitFor('the needs-input POST', () => r.bodies.length >= 1, 20_000, 50);

    // Restarted while marie waits on her prompt: that change is history.
    await p.ok(['daemon', 'stop']);
    await p.ok(['daemon', 'start']);
    await until(p, 'marie', 'needs-input');
    type(socket, pane, 'y');
    await until(p, 'marie', 'idle');
    type(socket, pane, '/limit 3');
    await until(p, 'marie', 'limited');
    await waitFor('the limit POST', () => r.bodies.length >= 2, 20_000, 50);
    expect(r.bodies.map((b) => b.state)).toEqual(['needs-input', 'limited']);
    await until(p, 'marie', 'idle');

    // Another process (what a hook's Node fallback does when the engine's port does not answer)
    // writes a permission prompt to the database: no engine code runs for it, the sweep finds it.
    const ctx = await openProject({ configPath: path.join(dir, 'hornets.json'), env: {} });
    closers.push(() => ctx.close());
    await ctx.store.transitionAgent('marie', { type: 'hook', event: 'Notification', notification: 'permission_prompt' });
    await waitFor('the POST of the change written elsewhere', () => r.bodies.length >= 3, 30_000, 100);
    expect(r.bodies[2]).toMatchObject({ agent: 'marie', state: 'needs-input', reason: 'hook:Notification' });
  }, 150_000);

  it('a receiver that never answers: the engine keeps delivering messages; the POST times out and is retried', async () => {
    const r = await receiver(() => 'hang');
    const { p, socket } = await team({ webhook: { url: r.url, timeout: '3s', retries: 1, backoff: '100ms' } });
    await p.ok(['up']);
    const idle = await until(p, 'marie', 'idle');
    type(socket, idle.paneId!, '/ask');
    await until(p, 'marie', 'needs-input');
    await waitFor('the POST hangs', () => r.hanging >= 1, 20_000, 50);
    // While it hangs: the prompt is answered and a message goes through, confirmed.
    type(socket, idle.paneId!, 'y');
    const id = await p.send('marie', 'delivered while the webhook hangs');
    await waitFor('the message confirmed', async () => (JSON.parse((await p.ok(['queue', 'why', id, '--json'])).stdout) as { state: string }).state === 'confirmed', 30_000, 100);
    // The timed-out POST is tried again.
    await waitFor('the retry', () => r.requests >= 2, 20_000, 50);
    expect(r.bodies).toEqual([]);
    const logs = readFileSync(path.join(p.stateDir, 'logs', 'hornets.log'), 'utf8');
    expect(logs).toMatch(/webhook_retry/);
    expect(logs).not.toMatch(/secret-token/);
  }, 120_000);

  // On a host with notify-send installed a PATH without it cannot be made from /usr/bin.
  it.skipIf(existsSync('/usr/bin/notify-send') || existsSync('/bin/notify-send'))(
    'notify-send missing: skipped, said once in the log; the webhook still goes',
    async () => {
      const r = await receiver();
      const { p, socket, dir } = await team({ notifySend: true, webhook: { url: r.url } });
      // No stand-in this time: a PATH without notify-send.
      const bare = new Project(dir, { ...p.env, PATH: path.dirname(process.execPath) + ':/usr/bin:/bin' });
      await bare.ok(['up']);
      const idle = await until(bare, 'marie', 'idle');
      type(socket, idle.paneId!, '/ask');
      await waitFor('the webhook POST', () => r.bodies.length >= 1, 30_000, 50);
      type(socket, idle.paneId!, 'y');
      await until(bare, 'marie', 'idle');
      type(socket, idle.paneId!, '/limit 2');
      await waitFor('the second POST', () => r.bodies.length >= 2, 30_000, 50);
      const logs = readFileSync(path.join(p.stateDir, 'logs', 'hornets.log'), 'utf8');
      expect(logs.match(/notify_send_missing/g)?.length).toBe(1);
    },
    120_000,
  );

  it('turned on, changed and off by editing hornets.json while the engine runs: no restart needed', async () => {
    const first = await receiver();
    const second = await receiver();
    const { p, socket, dir } = await team({});
    await p.ok(['up']);
    const pane = (await until(p, 'marie', 'idle')).paneId!;
    const configFile = path.join(dir, 'hornets.json');
    const logs = (): string => readFileSync(path.join(p.stateDir, 'logs', 'hornets.log'), 'utf8');
    const taken = (): number => logs().match(/"event":"notify_settings"/g)?.length ?? 0;
    // An edit by hand is seen within a second; the engine logs when notifications took it.
    const edit = async (notify: Record<string, unknown>): Promise<void> => {
      const before = taken();
      const config = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
      writeFileSync(configFile, JSON.stringify({ ...config, notify }, null, 2));
      await waitFor('the engine took the edit', () => taken() > before, 20_000, 50);
    };

    // Off at start: a prompt is not told.
    type(socket, pane, '/ask');
    await until(p, 'marie', 'needs-input');
    type(socket, pane, 'y');
    await until(p, 'marie', 'idle');

    // On by an edit: the next prompt reaches the webhook and the status line; the earlier one is history.
    await edit({ quiet: '100ms', tmuxStatus: true, webhook: { url: first.url, timeout: '5s' } });
    type(socket, pane, '/ask');
    await until(p, 'marie', 'needs-input');
    await waitFor('the first receiver', () => first.bodies.length >= 1, 20_000, 50);
    expect(first.bodies.map((b) => b.state)).toEqual(['needs-input']);
    await waitFor('the status line', () => statusRight(socket) === '1 needs you: marie (needs-input)', 20_000, 50);
    type(socket, pane, 'y');
    await until(p, 'marie', 'idle');

    // The webhook moved and the status line turned off: the old receiver hears nothing more.
    await edit({ quiet: '100ms', webhook: { url: second.url, timeout: '5s' } });
    type(socket, pane, '/ask');
    await until(p, 'marie', 'needs-input');
    await waitFor('the second receiver', () => second.bodies.length >= 1, 20_000, 50);
    expect(first.bodies).toHaveLength(1);
    expect(statusRight(socket)).not.toMatch(/needs you/);
    type(socket, pane, 'y');
    await until(p, 'marie', 'idle');
  }, 150_000);
});
