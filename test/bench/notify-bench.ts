/**
 * `npm run bench:notify` (issue 17):
 *  1. latency: a demo agent enters needs-input (`/ask` typed into its pane; the time is the state
 *     change's own timestamp in the store's event log) -> the webhook POST received by a local
 *     receiver, p50/p99; beside two anchors from the same run: the same state change -> its line on
 *     the engine's event stream (what `events --follow` reads), and a plain HTTP POST round trip from
 *     this process to the same receiver;
 *  2. engine CPU (from /proc/<pid>/stat) of a real `hornets-tui daemon run` with 50 demo agents
 *     driven through the same rounds of needs-input and back, notifications off, then on (webhook,
 *     tmux status line; quiet period 1 ms so every change is told), as a ratio.
 * `--rounds N` (default 20) and `--agents N` (default 50) size it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuTicks, percentile, repoRoot, sleep } from './bench-util.js';
import { openEventStream } from '../../src/engine-client/event-stream.js';
import { openProject } from '../../src/services/context.js';

const root = repoRoot();
const cli = join(root, 'bin', 'hornets-tui.cjs');
const flag = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 && Number.isFinite(Number(process.argv[i + 1])) ? Number(process.argv[i + 1]) : fallback;
};
const ROUNDS = flag('--rounds', 20);
const AGENTS = flag('--agents', 50);

interface Receiver {
  url: string;
  /** Per POST: receipt time and body. */
  got: { at: number; body: Record<string, unknown> }[];
  close(): Promise<void>;
}

async function receiver(): Promise<Receiver> {
  const got: Receiver['got'] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let data = '';
    req.on('data', (c: Buffer) => (data += c.toString('utf8')));
    req.on('end', () => {
      const at = Date.now();
      try {
        got.push({ at, body: JSON.parse(data) as Record<string, unknown> });
      } catch {
        // the anchor's POST carries no JSON worth keeping
      }
      res.end('ok');
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/notify`,
    got,
    close: () => {
      server.closeAllConnections();
      return new Promise((ok) => server.close(() => ok()));
    },
  };
}

function postRoundTrip(url: string): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(performance.now() - t0));
    });
    req.on('error', reject);
    req.end('{"anchor":true}');
  });
}

function project(agents: number, notify: Record<string, unknown> | null): { dir: string; env: NodeJS.ProcessEnv; socket: string } {
  const dir = mkdtempSync(join(tmpdir(), 'hornets-notify-bench-'));
  const socket = `hornets-nbench-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const env: NodeJS.ProcessEnv = { ...process.env, HORNETS_TMUX_SOCKET: socket };
  for (const k of ['HORNETS_HOME', 'HORNETS_CONFIG', 'TMUX', 'TMUX_PANE']) delete env[k];
  const git = (...args: string[]) => spawnSync('git', ['-c', 'user.email=bench@hornets', '-c', 'user.name=bench', ...args], { cwd: dir });
  git('init', '-q');
  git('commit', '-q', '--allow-empty', '-m', 'init');
  const names = Array.from({ length: agents }, (_, i) => `a${i}`).join(',');
  const r = spawnSync(process.execPath, [cli, 'init', '--agents', names, '--profile', 'demo'], { cwd: dir, env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`init failed: ${r.stderr}`);
  if (notify) {
    const file = join(dir, 'hornets.json');
    writeFileSync(file, JSON.stringify({ ...(JSON.parse(readFileSync(file, 'utf8')) as object), notify }, null, 2));
  }
  return { dir, env, socket };
}

interface Team {
  dir: string;
  socket: string;
  daemon: ChildProcess;
  panes: Map<string, string>;
  states: () => Promise<Map<string, string>>;
  close(): Promise<void>;
}

async function startTeam(agents: number, notify: Record<string, unknown> | null): Promise<Team> {
  const { dir, env, socket } = project(agents, notify);
  const up = spawnSync(process.execPath, [cli, 'up', '--no-engine'], { cwd: dir, env, encoding: 'utf8' });
  if (up.status !== 0) throw new Error(`up failed: ${up.stderr}`);
  const daemon = spawn(process.execPath, [cli, 'daemon', 'run'], { cwd: dir, env, stdio: 'ignore' });
  const endpoint = join(dir, '.hornets', 'run', 'hook-endpoint');
  const deadline = Date.now() + 20_000;
  while (!existsSync(endpoint) && Date.now() < deadline) await sleep(50);
  const ctx = await openProject({ configPath: join(dir, 'hornets.json'), env: {} });
  const states = async () => new Map((await ctx.store.listAgents()).map((r) => [r.name, r.state]));
  const names = Array.from({ length: agents }, (_, i) => `a${i}`);
  await waitStates(states, names, (s) => s === 'idle', 120_000, 'every agent idle');
  const panes = new Map(
    spawnSync('tmux', ['-L', socket, 'list-panes', '-a', '-F', '#{window_name} #{pane_id}'], { encoding: 'utf8' })
      .stdout.split('\n')
      .filter(Boolean)
      .map((l) => l.split(' ') as [string, string]),
  );
  await sleep(2000); // start-up work (first reconcile, SessionStart hooks) settles
  return {
    dir,
    socket,
    daemon,
    panes,
    states,
    close: async () => {
      daemon.kill('SIGTERM');
      await new Promise((r) => daemon.once('exit', r));
      await ctx.close();
      // tmux can leave its socket file behind when killed.
      const socketPath = spawnSync('tmux', ['-L', socket, 'display-message', '-p', '#{socket_path}'], { encoding: 'utf8' }).stdout.trim();
      spawnSync('tmux', ['-L', socket, 'kill-server']);
      if (socketPath) rmSync(socketPath, { force: true });
      rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 300 });
    },
  };
}

async function waitStates(states: () => Promise<Map<string, string>>, names: string[], ok: (s: string) => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const m = await states();
    if (names.every((n) => ok(m.get(n) ?? ''))) return;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Types a line into each pane, in one tmux call. */
function typeAll(socket: string, panes: string[], line: string): void {
  const args = panes.flatMap((p, i) => [...(i ? [';'] : []), 'send-keys', '-t', p, '-l', line, ';', 'send-keys', '-t', p, 'Enter']);
  const r = spawnSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`send-keys failed: ${r.stderr}`);
}

async function latencyBench(): Promise<{ webhook: number[]; stream: number[]; post: number[] }> {
  const rx = await receiver();
  const team = await startTeam(1, { quiet: '1ms', webhook: { url: rx.url, timeout: '5s', retries: 0 } });
  const streamed: { at: number; ts: number }[] = [];
  const stream = await openEventStream(join(team.dir, '.hornets'), 'a0', (e) => {
    if (e.kind === 'agent_state' && e.to === 'needs-input') streamed.push({ at: Date.now(), ts: e.ts });
  });
  if (!stream) throw new Error('no event stream');
  const webhook: number[] = [];
  const streamLat: number[] = [];
  const post: number[] = [];
  const pane = team.panes.get('a0')!;
  try {
    for (let i = 0; i < ROUNDS; i++) {
      const before = rx.got.length;
      typeAll(team.socket, [pane], '/ask');
      const deadline = Date.now() + 20_000;
      while ((rx.got.length === before || streamed.length <= i) && Date.now() < deadline) await sleep(5);
      const hit = rx.got[before];
      const s = streamed[i];
      if (hit && s) {
        webhook.push(hit.at - Date.parse(hit.body.since as string));
        streamLat.push(s.at - s.ts);
      }
      post.push(await postRoundTrip(rx.url));
      typeAll(team.socket, [pane], 'y');
      await waitStates(team.states, ['a0'], (x) => x === 'idle', 20_000, 'a0 idle');
    }
  } finally {
    stream.close();
    await team.close();
    await rx.close();
  }
  return { webhook, stream: streamLat, post };
}

async function cpuBench(notify: boolean): Promise<{ cpuSeconds: number; wallSeconds: number; posts: number }> {
  const rx = await receiver();
  const team = await startTeam(AGENTS, notify ? { quiet: '1ms', tmuxStatus: true, webhook: { url: rx.url, timeout: '5s', retries: 1 } } : null);
  const names = Array.from({ length: AGENTS }, (_, i) => `a${i}`);
  const panes = names.map((n) => team.panes.get(n)!);
  try {
    const t0 = cpuTicks(team.daemon.pid!);
    const w0 = performance.now();
    const rounds = Math.max(2, Math.round(ROUNDS / 4));
    for (let r = 0; r < rounds; r++) {
      typeAll(team.socket, panes, '/ask');
      await waitStates(team.states, names, (s) => s === 'needs-input', 60_000, 'every agent needs-input');
      typeAll(team.socket, panes, 'y');
      await waitStates(team.states, names, (s) => s === 'idle', 60_000, 'every agent idle again');
    }
    const used = cpuTicks(team.daemon.pid!) - t0;
    const wall = (performance.now() - w0) / 1000;
    await sleep(500);
    return { cpuSeconds: used / 100, wallSeconds: wall, posts: rx.got.length };
  } finally {
    await team.close();
    await rx.close();
  }
}

const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
const f = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-');

console.log(`notify bench: ${ROUNDS} rounds, ${AGENTS} agents for the CPU part; load at start ${load()}`);
const lat = await latencyBench();
const p = (xs: number[], q: number) => percentile(xs, q);
console.log(`\n1. state change -> delivered (ms), ${lat.webhook.length} changes; load ${load()}`);
console.log(`  needs-input -> webhook POST received        p50 ${f(p(lat.webhook, 50))}  p99 ${f(p(lat.webhook, 99))}`);
console.log(`  anchor: needs-input -> event stream line     p50 ${f(p(lat.stream, 50))}  p99 ${f(p(lat.stream, 99))}`);
console.log(`  anchor: plain HTTP POST round trip           p50 ${f(p(lat.post, 50))}  p99 ${f(p(lat.post, 99))}`);
console.log(`  ratio webhook/event-stream p50 ${(p(lat.webhook, 50) / p(lat.stream, 50)).toFixed(2)}, webhook/POST p50 ${(p(lat.webhook, 50) / p(lat.post, 50)).toFixed(1)}`);

const off = await cpuBench(false);
const offLoad = load();
const on = await cpuBench(true);
const onLoad = load();
console.log(`\n2. engine CPU, ${AGENTS} demo agents, the same rounds of needs-input and back`);
console.log(`  notifications off: ${off.cpuSeconds.toFixed(2)} s CPU in ${off.wallSeconds.toFixed(1)} s (load ${offLoad})`);
console.log(`  notifications on:  ${on.cpuSeconds.toFixed(2)} s CPU in ${on.wallSeconds.toFixed(1)} s, ${on.posts} webhook POSTs (load ${onLoad})`);
console.log(`  ratio on/off CPU: ${(on.cpuSeconds / off.cpuSeconds).toFixed(2)}; per wall second ${(on.cpuSeconds / on.wallSeconds / (off.cpuSeconds / off.wallSeconds)).toFixed(2)}`);
