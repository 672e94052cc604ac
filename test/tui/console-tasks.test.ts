/**
 * The console's tasks view (issue 14): the real console in a pane of a private tmux server, a
 * project with one agent and one task worker on the demo one-shot CLI, tasks added with
 * `hornets-tui task add` as a user would. `t` switches to the tasks view and back; the view lists
 * the worker with its breaker, counts and slots, and the tasks newest first with their state; `c`
 * and `r` cancel and retry the selected task after a confirmation, through the same service as
 * `tasks cancel/retry`. Every wait is a screen condition with a deadline.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import { Project, assertBuilt, binPath, cleanEnv } from '../helpers/cli.js';
import { TmuxFixture, initGitRepo, killServer, tmux, tmuxOk, waitFor } from '../helpers/tmux.js';
import { startRedisServer } from '../helpers/redis.js';

const fx = new TmuxFixture();
const daemons: string[] = [];
const consoles: string[] = [];

beforeAll(() => assertBuilt());

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function killDaemon(stateDir: string): Promise<void> {
  const file = path.join(stateDir, 'run', 'daemon.pid');
  if (!existsSync(file)) return;
  const pid = Number(readFileSync(file, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0 || !pidAlive(pid)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 5000;
  while (pidAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
}

afterEach(async () => {
  for (const s of consoles.splice(0)) await killServer(s);
  for (const d of daemons.splice(0)) await killDaemon(d);
  await fx.cleanup();
});

interface Tui {
  p: Project;
  socket: string;
  exitFile: string;
}

/** One agent and the worker "fab" (demo one-shot CLI, 2 slots, no retries, breaker after 2 failures). */
async function startConsole(opts: { env?: Record<string, string>; args?: string[] } = {}): Promise<Tui> {
  const dir = fx.dir('hornets-tui-tasks-');
  initGitRepo(dir);
  const agents = fx.socket();
  const socket = fx.socket();
  consoles.push(socket);
  const p = new Project(dir, { HORNETS_TMUX_SOCKET: agents, ...opts.env });
  await p.ok(['init', '--agents', 'marie']);
  const configFile = path.join(dir, 'hornets.json');
  const config = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
  config.workers = [{ kind: 'worker', name: 'fab', profile: 'demo-oneshot', maxConcurrent: 2, maxRetries: 0, breakerThreshold: 2, breakerTimeout: '10m' }];
  // Heartbeats only at start (and when a breaker changes): the breaker must reach the console at once, not at an interval.
  config.daemon = { ...(config.daemon as Record<string, unknown> | undefined), heartbeatInterval: '1h' };
  writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`);
  daemons.push(path.join(dir, '.hornets'));
  const conf = path.join(dir, 'console-tmux.conf');
  writeFileSync(conf, 'set -g remain-on-exit on\nset -g default-terminal tmux-256color\nset -g status off\n');
  const env = cleanEnv({ HORNETS_TMUX_SOCKET: agents, TMUX: undefined, TMUX_PANE: undefined, NO_COLOR: undefined, ...opts.env });
  const exitFile = path.join(dir, 'console.exit');
  const extra = Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v}`);
  const term = ['env', '-u', 'TMUX', '-u', 'TMUX_PANE', ...extra, 'sh', '-c', '"$@"; echo $? > "$0"', exitFile, process.execPath, binPath, ...(opts.args ?? [])];
  const r = spawnSync('tmux', ['-L', socket, '-f', conf, 'new-session', '-d', '-s', 'console', '-x', '140', '-y', '36', '-c', dir, '--', ...term], { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cannot start the console's tmux server: ${r.stderr}`);
  return { p, socket, exitFile };
}

function screen(t: Tui): string {
  const r = tmux(t.socket, ['capture-pane', '-p', '-t', 'console']);
  return r.code === 0 ? r.stdout : '';
}

async function waitScreen(t: Tui, what: string, check: (s: string) => boolean, timeoutMs = 20_000): Promise<string> {
  let last = '';
  try {
    return await waitFor(
      what,
      () => {
        last = screen(t);
        return check(last) ? last : null;
      },
      timeoutMs,
      40,
    );
  } catch (err) {
    const status = existsSync(t.exitFile) ? readFileSync(t.exitFile, 'utf8').trim() : null;
    throw new Error(`${(err as Error).message.split(' (last value')[0]}\n--- screen${status !== null ? ` (console exited, status ${status})` : ''} ---\n${last}`);
  }
}

function keys(t: Tui, ...k: string[]): void {
  tmuxOk(t.socket, ['send-keys', '-t', 'console', ...k]);
}

/** The tasks-view row of a task: `│▸ <id>` or `│  <id>` followed by the worker. */
function taskRow(s: string, id: string): string {
  return s.split('\n').find((l) => new RegExp(`^│[▸ ] ${id.replace('.', '\\.')}\\s+fab\\s`).test(l)) ?? '';
}

function stateOf(s: string, id: string): string {
  return taskRow(s, id).trim().split(/\s+/)[3] ?? '';
}

function workerRow(s: string): string {
  return s.split('\n').find((l) => /^│\s+fab\s+\d+\s+\d+\s+\d+\s+\S/.test(l)) ?? '';
}

/** Moves the selection onto a task's row (the view lists them newest first). */
async function select(t: Tui, id: string): Promise<void> {
  for (let i = 0; i < 20; i++) {
    const s = screen(t);
    if (taskRow(s, id).startsWith('│▸')) return;
    const lines = s.split('\n');
    const at = lines.findIndex((l) => l === taskRow(s, id));
    const sel = lines.findIndex((l) => /^│▸ \S+\s+fab\s/.test(l));
    keys(t, at > sel ? 'j' : 'k');
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`cannot select ${id}\n${screen(t)}`);
}

describe('the tasks view', () => {
  it('t shows the worker and its tasks; c cancels and r retries the selected task after asking; the breaker opens after failures', async () => {
    const t = await startConsole();
    await waitScreen(t, 'the agent idle', (s) => /│[▸ ] marie\s+demo\s+idle\s/.test(s), 40_000);
    // The status bar and help name the key of the tasks view.
    expect(screen(t).split('\n').filter(Boolean).at(-1)).toMatch(/t tasks/);

    keys(t, 't');
    let s = await waitScreen(t, 'the tasks view', (x) => /Tasks/.test(x) && workerRow(x) !== '');
    expect(workerRow(s)).toMatch(/fab\s+0\s+0\s+2\s+closed/);
    expect(s).toMatch(/no tasks yet/);

    await t.p.ok(['task', 'add', 'fab', '--id', 'ok1', 'quick one']);
    await waitScreen(t, 'ok1 completed', (x) => stateOf(x, 'ok1') === 'completed');
    await t.p.ok(['task', 'add', 'fab', '--id', 'slow1', 'long one [sleep 120s]']);
    s = await waitScreen(t, 'slow1 running', (x) => stateOf(x, 'slow1') === 'running');
    expect(workerRow(s)).toMatch(/fab\s+1\s+0\s+2\s+closed/);

    // Two failed runs in a row: both tasks fail (no retries) and the breaker opens.
    await t.p.ok(['task', 'add', 'fab', '--id', 'bad1', 'first failure [fail]']);
    await waitScreen(t, 'bad1 failed', (x) => stateOf(x, 'bad1') === 'failed');
    await t.p.ok(['task', 'add', 'fab', '--id', 'bad2', 'second failure [fail]']);
    s = await waitScreen(t, 'bad2 failed and the breaker open', (x) => stateOf(x, 'bad2') === 'failed' && /\sopen\b/.test(workerRow(x)), 30_000);
    // The breaker's half-open trial counts down from the 10 minutes of breakerTimeout.
    expect(workerRow(s)).toMatch(/\sopen, trial in (9m|10m)/);
    // Failed tasks show their last error; newest first.
    expect(taskRow(s, 'bad2')).toMatch(/exit code 1/);
    const order = ['bad2', 'bad1', 'slow1', 'ok1'].map((id) => s.split('\n').indexOf(taskRow(s, id)));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(order[0]).toBeGreaterThan(0);

    // c on the running task asks first; n keeps it.
    await select(t, 'slow1');
    keys(t, 'c');
    await waitScreen(t, 'the cancel question', (x) => /Cancel task slow1\?/.test(x));
    keys(t, 'n');
    await waitScreen(t, 'the question gone', (x) => !/Cancel task slow1\?/.test(x));
    expect(stateOf(screen(t), 'slow1')).toBe('running');
    keys(t, 'c');
    await waitScreen(t, 'the cancel question again', (x) => /Cancel task slow1\?/.test(x));
    keys(t, 'y');
    await waitScreen(t, 'slow1 cancelled', (x) => stateOf(x, 'slow1') === 'cancelled');

    // r on a failed task queues it again; the open breaker holds it back, so it stays queued.
    await select(t, 'bad1');
    keys(t, 'r');
    await waitScreen(t, 'the retry question', (x) => /Retry task bad1\?/.test(x));
    keys(t, 'y');
    s = await waitScreen(t, 'bad1 queued again', (x) => stateOf(x, 'bad1') === 'queued');
    expect(workerRow(s)).toMatch(/fab\s+0\s+1\s+2\s+open\b/);
    // The CLI agrees: the console went through the same store.
    const list = JSON.parse((await t.p.ok(['tasks', '--all', '--json'])).stdout) as { tasks: { taskId: string; state: string }[] };
    expect(Object.fromEntries(list.tasks.map((x) => [x.taskId, x.state]))).toEqual({ ok1: 'completed', slow1: 'cancelled', bad1: 'queued', bad2: 'failed' });

    // r on a completed task cannot retry: the message line says why.
    await select(t, 'ok1');
    keys(t, 'r');
    await waitScreen(t, 'the retry question for ok1', (x) => /Retry task ok1\?/.test(x));
    keys(t, 'y');
    await waitScreen(t, 'why not', (x) => /cannot retry task ok1/.test(x));

    // t goes back to the agents.
    keys(t, 't');
    await waitScreen(t, 'the agents again', (x) => /│[▸ ] marie\s+demo\s/.test(x) && workerRow(x) === '');
  }, 150_000);

  it("on a team whose queue is in Redis the view shows the store's tasks and workers; c and r act on them from this host", async () => {
    const redis = await startRedisServer();
    try {
      // No engine on this host: a task added here waits in Redis for a node's engine.
      const t = await startConsole({ env: { REDIS_URL: redis.url }, args: ['--no-engine'] });
      await waitScreen(t, 'the console', (s) => /│[▸ ] marie\s/.test(s), 30_000);
      keys(t, 't');
      await waitScreen(t, 'the tasks view', (x) => /Tasks/.test(x) && workerRow(x) !== '');
      await t.p.ok(['task', 'add', 'fab', '--id', 'r1', 'wait in redis']);
      let s = await waitScreen(t, 'r1 queued', (x) => stateOf(x, 'r1') === 'queued');
      // Running/waiting/slots/breaker from the store (no heartbeat file of another node's engine is here).
      expect(workerRow(s)).toMatch(/fab\s+0\s+1\s+2\s+closed/);
      await select(t, 'r1');
      keys(t, 'c');
      await waitScreen(t, 'the cancel question', (x) => /Cancel task r1\?/.test(x));
      keys(t, 'y');
      s = await waitScreen(t, 'r1 cancelled', (x) => stateOf(x, 'r1') === 'cancelled');
      expect(workerRow(s)).toMatch(/fab\s+0\s+0\s+2\s+closed/);
      keys(t, 'r');
      await waitScreen(t, 'the retry question', (x) => /Retry task r1\?/.test(x));
      keys(t, 'y');
      await waitScreen(t, 'r1 queued again', (x) => stateOf(x, 'r1') === 'queued');
      const list = JSON.parse((await t.p.ok(['tasks', '--all', '--json'])).stdout) as { tasks: { taskId: string; state: string }[] };
      expect(list.tasks.map((x) => [x.taskId, x.state])).toEqual([['r1', 'queued']]);
      keys(t, 't');
      await waitScreen(t, 'the agents again', (x) => /│[▸ ] marie\s/.test(x));
      expect(existsSync(t.exitFile)).toBe(false);
    } finally {
      for (const s of consoles.splice(0)) await killServer(s);
      await redis.destroy();
    }
  }, 90_000);
});
