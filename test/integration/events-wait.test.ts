/**
 * Issue 17, scripting: `hornets-tui events` (history from the store's event log, `--follow` from the
 * engine's stream) and `hornets-tui wait` (exit 0 reached, 1 timeout, 2 usage error, 3 no engine).
 * Real tmux on a private socket, the demo agent, a real engine and SQLite; the CLI as users run it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Project, assertBuilt, binPath, cleanEnv } from '../helpers/cli.js';
import { TmuxFixture, initGitRepo, tmuxOk, waitFor } from '../helpers/tmux.js';

const fx = new TmuxFixture();
beforeAll(() => assertBuilt());
afterEach(async () => {
  await fx.cleanup();
});

async function team(): Promise<{ p: Project; socket: string; env: Record<string, string | undefined> }> {
  const dir = fx.dir('hornets-events-');
  initGitRepo(dir);
  const socket = fx.socket();
  const env = { HORNETS_TMUX_SOCKET: socket, TMUX: undefined, TMUX_PANE: undefined };
  const p = new Project(dir, env);
  await p.ok(['init', '--agents', 'marie,anga']);
  fx.defer(() => p.run(['daemon', 'stop']));
  return { p, socket, env };
}

/** `events --follow`: its stdout lines as they come. */
function follow(p: Project, env: Record<string, string | undefined>, args: string[]): { child: ChildProcess; lines: string[]; stderr: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [binPath, 'events', '--follow', ...args], { cwd: p.dir, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let buf = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => {
    buf += b.toString('utf8');
    const parts = buf.split('\n');
    buf = parts.pop()!;
    lines.push(...parts);
  });
  child.stderr!.on('data', (b: Buffer) => (err += b.toString('utf8')));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  fx.defer(() => child.kill('SIGKILL'));
  return { child, lines, stderr: () => err, exited };
}

interface Ev {
  agent: string;
  kind: string;
  message: string | null;
  to: string | null;
}

describe('events and wait (issue 17)', () => {
  it('wait for idle, needs-input and a confirmation; --follow streams them as they happen; history has them too', async () => {
    const { p, socket, env } = await team();
    await p.ok(['up']);
    const idle = await p.run(['wait', 'marie', '--for', 'idle', '--timeout', '60s'], { env: {} });
    expect(idle.code, idle.stderr).toBe(0);
    const f = follow(p, env, ['--json', '--agent', 'marie']);
    // Subscribed once the history (at most the last 100 events) is out and nothing more comes by itself.
    await new Promise((r) => setTimeout(r, 1500));
    const historyLines = f.lines.length;
    const id = await p.send('marie', 'hello, then confirm');
    const confirmed = await p.run(['wait', 'marie', '--for', `confirmed:${id}`, '--timeout', '60s']);
    expect(confirmed.code, confirmed.stderr).toBe(0);
    expect(JSON.parse((await p.ok(['queue', 'why', id, '--json'])).stdout)).toMatchObject({ state: 'confirmed' });
    // Already true: at once, also without anything happening.
    expect((await p.run(['wait', 'marie', '--for', `confirmed:${id}`, '--timeout', '1s'])).code).toBe(0);
    const streamed = () => f.lines.slice(historyLines).map((l) => JSON.parse(l) as Ev);
    await waitFor('the confirmation streamed', () => streamed().some((e) => e.kind === 'confirmed' && e.message === id), 20_000, 50);
    expect(streamed().every((e) => e.agent === 'marie')).toBe(true);
    expect(streamed().some((e) => e.kind === 'agent_state' && e.to === 'busy')).toBe(true);
    const kinds = streamed()
      .filter((e) => e.message === id)
      .map((e) => e.kind);
    expect(kinds.indexOf('enqueued')).toBeLessThan(kinds.indexOf('confirmed'));
    // needs-input, entered while `wait` waits.
    const pane = (JSON.parse((await p.ok(['status', '--json'])).stdout) as { name: string; paneId: string }[]).find((a) => a.name === 'marie')!.paneId;
    const asking = p.run(['wait', 'marie', '--for', 'needs-input', '--timeout', '60s']);
    await new Promise((r) => setTimeout(r, 500));
    tmuxOk(socket, ['send-keys', '-t', pane, '-l', '/ask']);
    tmuxOk(socket, ['send-keys', '-t', pane, 'Enter']);
    expect((await asking).code).toBe(0);
    await waitFor('needs-input streamed', () => streamed().some((e) => e.kind === 'agent_state' && e.to === 'needs-input'), 20_000, 50);
    // History: from the store's event log, as text and as JSON, --since in the future shows nothing.
    const hist = (await p.ok(['events', '--json', '--agent', 'marie'])).stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Ev);
    expect(hist.some((e) => e.kind === 'confirmed' && e.message === id)).toBe(true);
    expect((await p.ok(['events', '--agent', 'marie'])).stdout).toMatch(new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} marie confirmed ${id} delivered -> confirmed`, 'm'));
    expect((await p.ok(['events', '--since', '2999-01-01T00:00:00Z'])).stdout).toBe('');
    // The engine stops: the stream ends, and says so.
    await p.ok(['daemon', 'stop']);
    expect(await f.exited).toBe(1);
    expect(f.stderr()).toContain('the engine stopped');
  }, 180_000);

  it('a timeout exits 1 naming where things stand; usage errors exit 2 naming what was wrong; no engine exits 3', async () => {
    const { p } = await team();
    await p.ok(['up']);
    expect((await p.run(['wait', 'marie', '--for', 'idle', '--timeout', '60s'])).code).toBe(0);
    const t = await p.run(['wait', 'marie', '--for', 'needs-input', '--timeout', '1s']);
    expect(t.code).toBe(1);
    expect(t.stderr).toContain('timed out after 1s waiting for marie (needs-input); marie is idle');
    const usage: [string[], RegExp][] = [
      [['wait', 'nobody', '--for', 'idle'], /unknown agent "nobody" \(agents: marie, anga\)/],
      [['wait', 'marie', '--for', 'sleepy'], /invalid --for "sleepy": give idle, needs-input, confirmed:<message id> or state:<state>/],
      [['wait', 'marie', '--for', 'state:sleepy'], /invalid --for "state:sleepy"/],
      [['wait', 'marie', '--for', 'idle', '--timeout', 'soon'], /invalid --timeout "soon"/],
      [['wait', 'marie'], /wait needs --for/],
      [['wait', 'marie', '--for', 'confirmed:zzzzzzzz'], /zzzzzzzz/],
      [['events', '--agent', 'nobody'], /unknown agent "nobody"/],
      [['events', '--since', 'yesterday'], /invalid --since "yesterday"/],
    ];
    for (const [args, why] of usage) {
      const r = await p.run(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(why);
    }
    const other = await p.send('anga', 'for anga');
    const wrong = await p.run(['wait', 'marie', '--for', `confirmed:${other}`]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain(`message ${other} is for anga, not marie`);
    await p.ok(['daemon', 'stop']);
    // Already true needs no engine; anything else does, and says so.
    expect((await p.run(['wait', 'marie', '--for', 'idle', '--timeout', '1s'])).code).toBe(0);
    const noEngine = await p.run(['wait', 'marie', '--for', 'state:busy', '--timeout', '5s']);
    expect(noEngine.code).toBe(3);
    expect(noEngine.stderr).toContain('no engine is running: `wait` follows the engine');
    const follow = await p.run(['events', '--follow']);
    expect(follow.code).toBe(3);
    expect(follow.stderr).toContain('no engine is running: `events --follow` follows the engine');
  }, 180_000);
});
