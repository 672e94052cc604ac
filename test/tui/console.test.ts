/**
 * The real console (`hornets-tui` with no command) driven like a person would: it runs in a pane
 * of a private tmux server (its own `-L hornets-test-<random>` socket), keys go in with send-keys,
 * and the assertions read the screen with capture-pane. The agents (a demo team in a temp git repo)
 * run on a second private server (HORNETS_TMUX_SOCKET); the engine the console starts is a detached
 * daemon. afterEach kills the console's server, then the daemon (so it cannot recreate agents),
 * then the agents' server, and only then removes the temp dirs. Every wait is a screen condition
 * with a deadline.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import { Project, assertBuilt, binPath, cleanEnv } from '../helpers/cli.js';
import { TmuxFixture, initGitRepo, killServer, listPanes, tmux, tmuxOk, waitFor } from '../helpers/tmux.js';

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
  dir: string;
  p: Project;
  /** The console's server; its one pane is the console. */
  socket: string;
  /** The agents' server. */
  agents: string;
  stateDir: string;
  exitFile: string;
}

/** A demo team in a fresh git repo and the console started on it at width x height. */
async function startConsole(opts: { width?: number; height?: number; agents?: string; env?: Record<string, string | undefined>; notify?: Record<string, unknown> } = {}): Promise<Tui> {
  const dir = fx.dir('hornets-tui-');
  initGitRepo(dir);
  const agents = fx.socket();
  const socket = fx.socket();
  consoles.push(socket);
  const p = new Project(dir, { HORNETS_TMUX_SOCKET: agents });
  await p.ok(['init', '--agents', opts.agents ?? 'marie,anga,fabien']);
  if (opts.notify) {
    const file = path.join(dir, 'hornets.json');
    writeFileSync(file, JSON.stringify({ ...(JSON.parse(readFileSync(file, 'utf8')) as object), notify: opts.notify }, null, 2));
  }
  const stateDir = path.join(dir, '.hornets');
  daemons.push(stateDir);
  // The console's own server: a dead console stays visible (remain-on-exit) so a failure shows why.
  const conf = path.join(dir, 'console-tmux.conf');
  writeFileSync(conf, 'set -g remain-on-exit on\nset -g default-terminal tmux-256color\nset -g status off\n');
  const env = cleanEnv({ HORNETS_TMUX_SOCKET: agents, TMUX: undefined, TMUX_PANE: undefined, NO_COLOR: undefined, ...opts.env });
  // The console's exit status goes to a file (tmux 3.3a can lose a pane's exit status).
  const exitFile = path.join(dir, 'console.exit');
  const term = [
    'env',
    '-u',
    'TMUX',
    '-u',
    'TMUX_PANE',
    ...Object.entries(opts.env ?? {})
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${v}`),
    'sh',
    '-c',
    '"$@"; echo $? > "$0"',
    exitFile,
    process.execPath,
    binPath,
  ];
  const r = spawnSync('tmux', ['-L', socket, '-f', conf, 'new-session', '-d', '-s', 'console', '-x', String(opts.width ?? 120), '-y', String(opts.height ?? 36), '-c', dir, '--', ...term], {
    env,
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`cannot start the console's tmux server: ${r.stderr}`);
  return { dir, p, socket, agents, stateDir, exitFile };
}

/** The console's exit status once it has exited, else null. */
function exitStatus(t: Tui): string | null {
  return existsSync(t.exitFile) ? readFileSync(t.exitFile, 'utf8').trim() : null;
}

function screen(t: Tui, escapes = false): string {
  const r = tmux(t.socket, ['capture-pane', '-p', ...(escapes ? ['-e'] : []), '-t', 'console']);
  return r.code === 0 ? r.stdout : '';
}

/** Waits until the screen satisfies `check`; on timeout the error shows the last screen. */
async function waitScreen(t: Tui, what: string, check: (s: string) => boolean, timeoutMs = 15_000): Promise<string> {
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
    const status = exitStatus(t);
    throw new Error(`${(err as Error).message.split(' (last value')[0]}\n--- screen${status !== null ? ` (console exited, status ${status})` : ''} ---\n${last}`);
  }
}

function keys(t: Tui, ...k: string[]): void {
  tmuxOk(t.socket, ['send-keys', '-t', 'console', ...k]);
}

function type(t: Tui, text: string): void {
  tmuxOk(t.socket, ['send-keys', '-t', 'console', '-l', text]);
}

/** The agents-panel row of an agent (the line with its name and profile). */
function row(s: string, agent: string): string {
  return s.split('\n').find((l) => new RegExp(`^│[▸ ] ${agent}\\s+demo\\s`).test(l)) ?? '';
}

const idle = (s: string, agent: string) => /\sidle\s/.test(row(s, agent));

async function teamIdle(t: Tui, names = ['marie', 'anga', 'fabien']): Promise<string> {
  return waitScreen(t, `agents ${names.join(', ')} idle`, (s) => names.every((n) => idle(s, n)), 30_000);
}

function agentPane(t: Tui, agent: string): string {
  const pane = listPanes(t.agents).find((p) => p.window === agent);
  if (!pane) throw new Error(`no pane for ${agent} on ${t.agents}`);
  return pane.paneId;
}

/** Column of a panel row, by its header. */
function rstOf(s: string, agent: string): number {
  const cells = row(s, agent)
    .replace(/^│[▸ ]/, '')
    .trim()
    .split(/\s+/);
  // AGENT PROFILE STATE [countdown] HB QUEUE RST BREAKER
  const i = cells.indexOf('demo');
  const rest = cells.slice(i + 2);
  const offset = /^\d+s$/.test(rest[0] ?? '') && cells[i + 1] === 'backing-off' ? 1 : 0;
  return Number(rest[offset + 2]);
}

describe('the console', () => {
  it('without a terminal says so instead of drawing (exit 2, no stack trace)', async () => {
    const dir = fx.dir('hornets-tui-notty-');
    const p = new Project(dir);
    await p.ok(['init', '--agents', 'marie']);
    const r = await p.run([]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^hornets-tui: the console needs a terminal .*--headless/);
    expect(r.stderr).not.toMatch(/\bat .*\.js:\d+/);
    expect(existsSync(path.join(dir, '.hornets', 'run', 'daemon.pid'))).toBe(false);
  });

  it('starts the engine and the demo team: a row per agent, idle; q leaves them running', async () => {
    const t = await startConsole();
    const s = await teamIdle(t);
    expect(s).toMatch(/Agents 3/);
    expect(s).toMatch(/engine pid \d+/);
    expect(s).toMatch(/Preview · marie %\d+/);
    expect(s).toMatch(/Queue · marie · 0 pending/);
    // The live preview shows the agent's own screen.
    await waitScreen(t, 'the demo prompt in the preview', (x) => /│demo> /.test(x) || /│demo>\s*│/.test(x));
    // Colour on a colour terminal: idle is green.
    // eslint-disable-next-line no-control-regex -- the escape sequence is what is checked
    expect(screen(t, true)).toMatch(/\x1b\[32m\s*idle/);
    // The status bar names the keys.
    expect(s.split('\n').filter(Boolean).at(-1)).toMatch(/\[Agents\].*attach.*send.*rebrief.*restart.*help.*quit/);

    keys(t, 'q');
    await waitFor('the console to exit', () => exitStatus(t) !== null, 10_000);
    expect(exitStatus(t)).toBe('0');
    // Only a client: agents and engine keep running.
    const panes = listPanes(t.agents).filter((p) => ['marie', 'anga', 'fabien'].includes(p.window));
    expect(panes).toHaveLength(3);
    expect(panes.every((p) => !p.dead)).toBe(true);
    const pid = Number(readFileSync(path.join(t.stateDir, 'run', 'daemon.pid'), 'utf8'));
    expect(pidAlive(pid)).toBe(true);
  });

  it('idle, it reads the state only when it changed and redraws for the clock alone; a message sent from outside shows at once', async () => {
    const bench = path.join(fx.dir('hornets-tui-bench-'), 'console.log');
    const t = await startConsole({ env: { HORNETS_TUI_BENCH: bench } });
    await teamIdle(t);
    const log = () => (existsSync(bench) ? readFileSync(bench, 'utf8').split('\n') : []);
    const from = log().length;
    const since = () => log().slice(from);
    // The heartbeats are seconds old: their ages move once a second, with nothing else changing.
    await waitFor('three redraws for the clock alone', () => since().filter((l) => l.startsWith('refresh clock')).length >= 3 || null, 20_000);
    // Reading the state (five queries and a tmux look-up) happens when the store changed, not on a
    // fixed tick (before: every 500 ms, about six times in this window).
    expect(since().filter((l) => l.startsWith('refresh build')).length).toBeLessThanOrEqual(1);
    // Another process changes the store: the console sees it on its next tick.
    await t.p.ok(['send', 'marie', 'hello from outside']);
    await waitScreen(t, 'the message from outside in the queue panel', (s) => /hello from outside/.test(s), 10_000);
  });

  it('q during start-up quits only once the team is up: every agent runs and the engine delivers (defect 7)', async () => {
    const t = await startConsole();
    // q as soon as the console has drawn its first frame: bringing the team up (engine, worktrees,
    // panes) takes seconds, so the key lands in the middle of it.
    await waitScreen(t, 'the first frame', (s) => s.includes('hornets-tui · '));
    keys(t, 'q');
    // The console says it goes once the team is up…
    await waitScreen(t, 'the quit deferred until the team is up', (x) => x.includes('quitting when done'));
    await waitFor('the console to exit', () => exitStatus(t) !== null, 30_000);
    expect(exitStatus(t)).toBe('0');
    // …and the whole team is up, not half of it, and stays up without the console.
    const status = async () => new Map((JSON.parse((await t.p.ok(['status', '--json'])).stdout) as { name: string; alive: boolean; state: string }[]).map((a) => [a.name, a]));
    const s = await status();
    for (const n of ['marie', 'anga', 'fabien']) expect(s.get(n), n).toMatchObject({ alive: true });
    await waitFor('the team idle', async () => [...(await status()).values()].every((a) => a.state === 'idle'), 30_000, 100);
    // The engine the console started keeps delivering.
    const pid = Number(readFileSync(path.join(t.stateDir, 'run', 'daemon.pid'), 'utf8'));
    expect(pidAlive(pid)).toBe(true);
    const id = await t.p.send('marie', 'still there after the console quit?');
    await waitFor(
      'the message confirmed',
      async () => {
        const list = JSON.parse((await t.p.ok(['queue', 'list', 'marie', '--all', '--json'])).stdout) as { id: string; state: string }[];
        return list.find((m) => m.id === id)?.state === 'confirmed';
      },
      30_000,
      100,
    );
  });

  it('s sends a message: queued (while paused) with its why, then delivered and confirmed', async () => {
    // Wide enough for the queue panel to show the whole why.
    const t = await startConsole({ width: 170, height: 40 });
    await teamIdle(t);
    // Pause marie first so the message visibly waits in the queue.
    keys(t, 'p');
    await waitScreen(t, 'marie paused', (s) => /\spaused\s/.test(row(s, 'marie')));
    keys(t, 's');
    await waitScreen(t, 'the send dialog', (s) => s.includes('Send to marie') && s.includes('Ctrl-S send'));
    type(t, 'please review the plan');
    keys(t, 'Enter');
    type(t, 'second line {braces}');
    keys(t, 'Tab', 'Right');
    await waitScreen(t, 'priority high chosen', (s) => /\[high 20\]/.test(s) && s.includes('second line {braces}'));
    keys(t, 'C-s');
    let s = await waitScreen(t, 'the message queued', (x) => /queued \S+ for marie at priority 20/.test(x) && !x.includes('Send to marie'));
    s = await waitScreen(
      t,
      'a queued row with its why',
      (x) => /20\s+\d+s 0\/5\s+queued\s+console: please review the plan ⏎ second/.test(x) && /↳ queued for marie at priority 20, next in line; marie is paused/.test(x),
    );
    expect(s).toMatch(/Queue · marie · 1 pending/);
    expect(row(s, 'marie')).toMatch(/paused\s+\S+\s+1\s/);

    keys(t, 'p');
    s = await waitScreen(t, 'the message confirmed', (x) => /20\s+\d+s 1\/5\s+confirmed\s+console: please review/.test(x) && /↳ done: confirmed by marie/.test(x));
    expect(s).toMatch(/Queue · marie · 0 pending/);
    // The agent really got it: the preview shows what the demo agent printed.
    await waitScreen(t, 'the message in the preview', (x) => /\[msg \S+ \| from console\] please review the plan/.test(x));
  });

  it('b rebriefs: a priority-200 rebrief is queued, delivered and shown by the agent', async () => {
    const t = await startConsole();
    await teamIdle(t);
    keys(t, 'j');
    await waitScreen(t, 'anga selected', (s) => row(s, 'anga').startsWith('│▸') && s.includes('Preview · anga'));
    keys(t, 'b');
    await waitScreen(t, 'rebrief queued', (s) => /rebrief queued for anga as \S+/.test(s));
    await waitScreen(t, 'the rebrief row confirmed', (s) => /200\s+\d+s 1\/5\s+confirmed\s+hornets:rebrief: /.test(s));
    await waitScreen(t, 'the rebrief in the preview', (s) => s.includes('## Rebrief') || s.includes('The operator asked for a rebrief'));
    await waitScreen(t, 'rebrief in the recovery panel', (s) => /anga\s+rebrief queued/.test(s));
  });

  it('R restarts after a confirmation; a crash shows the backoff countdown, then the restart', async () => {
    const t = await startConsole();
    await teamIdle(t);
    keys(t, 'R');
    await waitScreen(t, 'the restart confirmation', (s) => s.includes('Restart marie?') && s.includes('y yes'));
    keys(t, 'y');
    let s = await waitScreen(t, 'marie restarted', (x) => x.includes('marie restarted') && rstOf(x, 'marie') === 1);
    expect(rstOf(s, 'anga')).toBe(0);
    s = await waitScreen(t, 'marie idle again', (x) => idle(x, 'marie'));

    // Crash the agent behind the console's back: recovery backs off, the console counts down.
    const pane = agentPane(t, 'marie');
    tmuxOk(t.agents, ['send-keys', '-t', pane, '-l', '/crash']);
    tmuxOk(t.agents, ['send-keys', '-t', pane, 'Enter']);
    s = await waitScreen(
      t,
      'backing-off with a countdown',
      (x) => /backing-off \d+s/.test(row(x, 'marie')) && /! marie: backing off, restart in \d+s/.test(x) && /marie\s+restart scheduled/.test(x),
      20_000,
    );
    s = await waitScreen(t, 'restarted by recovery', (x) => idle(x, 'marie') && rstOf(x, 'marie') === 2, 30_000);
    expect(row(s, 'marie')).toMatch(/closed/);
  });

  it('Enter attaches to the agent (full tmux client); prefix d comes back to the console', async () => {
    const t = await startConsole();
    await teamIdle(t);
    keys(t, 'Enter');
    // The agents' own tmux client: its status line and the agent's prompt, no console chrome.
    await waitScreen(t, 'attached to marie', (s) => /\[hornets [^\]]+\]/.test(s) && /\d+:marie\*/.test(s) && !s.includes('Agents 3'));
    // Interactive: what we type reaches the agent.
    type(t, 'typed while attached');
    keys(t, 'Enter');
    await waitScreen(t, 'the agent answered', (s) => s.includes('done: typed while attached'));
    keys(t, 'C-b', 'd');
    const s = await waitScreen(t, 'the console back', (x) => x.includes('Agents 3') && x.includes('back from marie'));
    expect(idle(s, 'marie') || /\sbusy\s/.test(row(s, 'marie'))).toBe(true);
    // Still responsive after the round trip.
    keys(t, 'j');
    await waitScreen(t, 'selection moved', (x) => row(x, 'anga').startsWith('│▸'));
  });

  it('an agent that needs you: bell and OSC 777 reach the terminal once; ! jumps to it and attaches (issue 17)', async () => {
    const t = await startConsole({ notify: { bell: true, desktop: 'osc777', quiet: '10m' } });
    await teamIdle(t);
    // Everything the console writes to its terminal, raw.
    const raw = path.join(t.dir, 'console.raw');
    tmuxOk(t.socket, ['pipe-pane', '-o', '-t', 'console', `cat >> '${raw}'`]);
    const written = () => (existsSync(raw) ? readFileSync(raw, 'latin1') : '');
    keys(t, '!');
    await waitScreen(t, 'nobody needs you yet', (s) => s.includes('no agent needs you'));
    const anga = agentPane(t, 'anga');
    tmuxOk(t.agents, ['send-keys', '-t', anga, '-l', '/ask']);
    tmuxOk(t.agents, ['send-keys', '-t', anga, 'Enter']);
    await waitScreen(t, 'anga marked as needing you', (s) => /^│[▸ ]!anga\s+demo\s+needs-input/m.test(s) && /1 needs you/.test(s));
    // eslint-disable-next-line no-control-regex -- the escape sequences are what is checked
    const alert = /\x1b\]777;notify;hornets [^;\x07]+;hornets [^;\x07]+: anga needs input[^\x07]*\x07\x07/;
    await waitFor('the OSC 777 notification and the bell', () => alert.test(written()), 15_000, 50);
    keys(t, '!');
    await waitScreen(t, 'attached to anga', (s) => /\d+:anga\*/.test(s) && !s.includes('Agents 3'));
    // The prompt is anga's: answered from here.
    type(t, 'y');
    keys(t, 'Enter');
    keys(t, 'C-b', 'd');
    await waitScreen(t, 'the console back, anga no longer needs you', (x) => x.includes('Agents 3') && !/!anga/.test(x) && !/needs? you ·/.test(x), 20_000);
    // Told once.
    expect(written().split('\x1b]777;notify;').length - 1).toBe(1);
  });

  it('redraws cleanly when resized to 80x24 and 160x50, colourless with NO_COLOR', async () => {
    const t = await startConsole({ width: 120, height: 36, env: { NO_COLOR: '1' } });
    await teamIdle(t);

    /** Every line where the layout puts it: header, boxed panels, message line, status bar. */
    const frameOk = (s: string, w: number, h: number) => {
      const lines = s.replace(/\n$/, '').split('\n');
      if (lines.length !== h) return false;
      if (!lines[0]!.startsWith(' hornets-tui · ')) return false;
      const body = lines.slice(1, h - 2);
      if (!body.every((l) => /^[┌│└]/.test(l) && /[┐│┘]$/.test(l) && [...l].length === w)) return false;
      if (!/^┌─ ▶ Agents 3 ─+┐$/.test(lines[1]!)) return false;
      if (!/^ \[Agents\] /.test(lines[h - 1]!)) return false;
      return ['marie', 'anga', 'fabien'].every((n) => idle(s, n));
    };

    tmuxOk(t.socket, ['resize-window', '-t', 'console', '-x', '80', '-y', '24']);
    let s = await waitScreen(t, 'a clean 80x24 frame', (x) => frameOk(x, 80, 24));
    expect(s).toMatch(/Preview · marie/);
    expect(s).toMatch(/Queue · marie/);
    expect(s).toMatch(/Recovery/);

    tmuxOk(t.socket, ['resize-window', '-t', 'console', '-x', '160', '-y', '50']);
    s = await waitScreen(t, 'a clean 160x50 frame', (x) => frameOk(x, 160, 50));
    expect(s).toMatch(/LAST ERROR/);

    // No colour: only attributes (bold, inverse) and resets.
    // eslint-disable-next-line no-control-regex -- the escape sequence is what is checked
    const sgr = [...screen(t, true).matchAll(/\x1b\[([0-9;]*)m/g)].flatMap((m) => m[1]!.split(';').filter(Boolean).map(Number));
    expect(sgr.filter((n) => (n >= 30 && n <= 37) || (n >= 40 && n <= 47) || (n >= 90 && n <= 107) || n === 38 || n === 48)).toEqual([]);
  });

  it('? shows help generated from the keymap; Esc closes it', async () => {
    const t = await startConsole({ agents: 'marie' });
    await teamIdle(t, ['marie']);
    keys(t, '?');
    const expected = [
      /Enter, a\s+attach to the agent's pane/,
      /s\s+send a message/,
      /b\s+rebrief now/,
      /R\s+restart the agent \(asks first\)/,
      /p\s+pause or resume delivery/,
      /x\s+stop the agent/,
      /n\s+new agent from a profile/,
      /d\s+the agent worktree's git status and diff/,
      /\/\s+filter agents/,
      /Tab\s+next panel/,
      /j, ↓\s+move down/,
      /q, Ctrl-C\s+quit the console; agents and the engine keep running/,
      /Q\s+quit and stop everything/,
    ];
    // A frame this big can be captured half drawn: wait for all of it.
    const s = await waitScreen(t, 'the help dialog with every key', (x) => x.includes('─ Keys ─') && expected.every((re) => re.test(x)));
    expect(s).toMatch(/The selected agent/);
    keys(t, 'Escape');
    await waitScreen(t, 'help closed', (x) => !x.includes('─ Keys ─') && x.includes('Agents 1'));
  });
});
