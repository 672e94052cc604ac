/**
 * tmux benchmark, on private servers (`-L hornets-bench-<random>`) in temp git repos:
 *
 *   (a) `hornets-tui up` of 20 demo agents: wall time until `up` returns and until every pane shows
 *       the `demo> ` prompt, per agent; then a reconciling `up` (all running) and `down`.
 *   (b) push latency to an idle demo agent, from the call to the prompt verified in the agent's
 *       transcript: pushText (paste + check + Enter + check) for one line and for five lines,
 *       beside the classic `send-keys -l text; sleep 0.5; send-keys Enter`.
 *
 *   npm run bench:tmux                       full run
 *   npm run bench:tmux -- --agents 10 --pushes 50 --classic 10
 *
 * Prints figures only; nothing here is asserted by the test suite. Servers and temp dirs are
 * removed at the end, also after a failure or Ctrl-C.
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { loadProfiles } from '../../src/config/load.js';
import { builtinProfilesDir } from '../../src/config/paths.js';
import { pushText } from '../../src/services/push.js';
import { TmuxClient } from '../../src/tmux/client.js';
import { makeTempDir, numberFlag, parseFlags, removeDir, repoRoot, sleep } from './bench-util.js';

const execFileP = promisify(execFile);
const BIN = path.join(repoRoot(), 'bin', 'hornets-tui.js');

// Nothing here may reach the user's own tmux server or inherit a hornets setup.
const baseEnv: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
for (const k of Object.keys(baseEnv)) if (k.startsWith('HORNETS_') || k === 'TMUX' || k === 'TMUX_PANE' || k === 'NODE_OPTIONS') delete baseEnv[k];
delete process.env.TMUX;
delete process.env.TMUX_PANE;

const sockets = new Set<string>();
const dirs = new Set<string>();

function socketPath(socket: string): string {
  return path.join(process.env.TMUX_TMPDIR || '/tmp', `tmux-${process.getuid?.() ?? 0}`, socket);
}

function tmuxSync(socket: string, args: string[]): { code: number | null; stdout: string } {
  const r = spawnSync('tmux', ['-L', socket, ...args], { env: baseEnv, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout ?? '' };
}

async function tmuxAsync(socket: string, args: string[]): Promise<string> {
  try {
    return (await execFileP('tmux', ['-L', socket, ...args], { env: baseEnv, maxBuffer: 64 * 1024 * 1024 })).stdout;
  } catch {
    return '';
  }
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function killServer(socket: string): Promise<void> {
  const pids = tmuxSync(socket, ['list-panes', '-a', '-F', '#{pane_pid}']).stdout.split('\n').filter(Boolean).map(Number);
  tmuxSync(socket, ['kill-server']);
  try {
    unlinkSync(socketPath(socket));
  } catch {
    // not there
  }
  const deadline = Date.now() + 5000;
  while (pids.some(running) && Date.now() < deadline) await sleep(20);
  sockets.delete(socket);
}

async function cleanup(): Promise<void> {
  for (const s of [...sockets]) await killServer(s);
  for (const d of [...dirs]) {
    removeDir(d);
    dirs.delete(d);
  }
}

function cli(dir: string, socket: string, args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: dir, env: { ...baseEnv, HORNETS_TMUX_SOCKET: socket }, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

function cliOk(dir: string, socket: string, args: string[]): string {
  const r = cli(dir, socket, args);
  if (r.code !== 0) throw new Error(`hornets-tui ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

function gitRepo(prefix: string): string {
  const dir = makeTempDir(prefix);
  dirs.add(dir);
  const env = { ...baseEnv, GIT_AUTHOR_NAME: 'bench', GIT_AUTHOR_EMAIL: 'bench@hornets.invalid', GIT_COMMITTER_NAME: 'bench', GIT_COMMITTER_EMAIL: 'bench@hornets.invalid' };
  for (const args of [
    ['-c', 'init.defaultBranch=main', 'init', '-q'],
    ['commit', '-q', '--allow-empty', '-m', 'initial'],
  ]) {
    const r = spawnSync('git', args, { cwd: dir, env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  }
  return dir;
}

function newSocket(): string {
  const s = `hornets-bench-${randomBytes(5).toString('hex')}`;
  sockets.add(s);
  return s;
}

function lastLine(screen: string): string {
  return (
    screen
      .split('\n')
      .map((l) => l.replace(/\s+$/, ''))
      .filter((l) => l !== '')
      .at(-1) ?? ''
  );
}

/**
 * Panes (by window name) now showing the demo prompt, from one tmux process for all of them:
 * `display-message` prints a marker before each pane's capture.
 */
async function panesAtPrompt(socket: string, panes: Map<string, string>): Promise<Set<string>> {
  const args: string[] = [];
  const names = [...panes.keys()];
  // The marker carries an index, not the pane id: display-message pads "%<n>" in its output.
  names.forEach((name, i) => args.push('display-message', '-p', '-t', panes.get(name)!, `@@pane ${i}`, ';', 'capture-pane', '-p', '-t', panes.get(name)!, ';'));
  const out = await tmuxAsync(socket, args.slice(0, -1));
  const ready = new Set<string>();
  for (const block of out.split(/^@@pane /m).slice(1)) {
    const nl = block.indexOf('\n');
    const name = names[Number(block.slice(0, nl).trim())];
    if (name !== undefined && lastLine(block.slice(nl + 1)) === 'demo>') ready.add(name);
  }
  return ready;
}

interface UpFigures {
  agents: number;
  upMs: number;
  promptsMs: number;
  reconcileMs: number;
  downMs: number;
  firstPromptMs: number;
}

async function benchUp(count: number): Promise<UpFigures> {
  const dir = gitRepo('hornets-bench-up-');
  const socket = newSocket();
  const names = Array.from({ length: count }, (_, i) => `agent${String(i + 1).padStart(2, '0')}`);
  cliOk(dir, socket, ['init', '--agents', names.join(','), '--project', `bench-${randomBytes(3).toString('hex')}`]);

  const t0 = performance.now();
  const child = spawn(process.execPath, [BIN, 'up', '--no-engine', '--json'], { cwd: dir, env: { ...baseEnv, HORNETS_TMUX_SOCKET: socket }, stdio: ['ignore', 'pipe', 'pipe'] });
  let upMs = 0;
  let upOut = '';
  let upErr = '';
  child.stdout.on('data', (d: Buffer) => (upOut += d.toString()));
  child.stderr.on('data', (d: Buffer) => (upErr += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.on('close', (code) => {
      upMs = performance.now() - t0;
      resolve(code);
    }),
  );

  const ready = new Set<string>();
  let firstPromptMs = 0;
  let promptsMs = 0;
  const deadline = t0 + 120_000;
  while (ready.size < count) {
    if (performance.now() > deadline) throw new Error(`only ${ready.size}/${count} agents showed the prompt within 120 s`);
    const panes = new Map<string, string>();
    for (const line of (await tmuxAsync(socket, ['list-panes', '-a', '-F', '#{window_name}\t#{pane_id}'])).split('\n')) {
      const [name, id] = line.split('\t');
      if (name && id && names.includes(name) && !ready.has(name)) panes.set(name, id);
    }
    if (panes.size > 0) {
      for (const name of await panesAtPrompt(socket, panes)) {
        ready.add(name);
        if (ready.size === 1) firstPromptMs = performance.now() - t0;
      }
    }
    if (ready.size === count) promptsMs = performance.now() - t0;
    else await sleep(20);
  }
  const code = await exited;
  if (code !== 0) throw new Error(`up exited ${code}: ${upErr}`);
  const report = JSON.parse(upOut) as { created: string[] };
  if (report.created.length !== count) throw new Error(`up created ${report.created.length} agents, expected ${count}`);

  let t = performance.now();
  const again = JSON.parse(cliOk(dir, socket, ['up', '--no-engine', '--json'])) as { running: string[] };
  const reconcileMs = performance.now() - t;
  if (again.running.length !== count) throw new Error('the second up did not find every agent running');

  t = performance.now();
  cliOk(dir, socket, ['down']);
  const downMs = performance.now() - t;
  await killServer(socket);
  removeDir(dir);
  dirs.delete(dir);
  return { agents: count, upMs, promptsMs, reconcileMs, downMs, firstPromptMs };
}

interface Series {
  name: string;
  ms: number[];
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Prompts recorded in a demo transcript, in order. */
function transcriptPrompts(file: string): string[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { type: string; text: string })
    .filter((e) => e.type === 'prompt')
    .map((e) => e.text);
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000, intervalMs = 2): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(intervalMs);
  }
}

async function benchPush(pushes: number, classicRuns: number): Promise<Series[]> {
  const dir = gitRepo('hornets-bench-push-');
  const socket = newSocket();
  // The demo agent as a push-only profile (no hooks): the figures are the typing path alone.
  const demo = JSON.parse(readFileSync(path.join(builtinProfilesDir(), 'demo.json'), 'utf8')) as Record<string, unknown>;
  delete demo.$schema;
  mkdirSync(path.join(dir, 'profiles'));
  writeFileSync(path.join(dir, 'profiles', 'demo-push.json'), JSON.stringify({ ...demo, name: 'demo-push', delivery: 'push', hooks: { kind: 'none' } }));
  writeFileSync(
    path.join(dir, 'hornets.json'),
    JSON.stringify({ project: `benchpush-${randomBytes(3).toString('hex')}`, profilesDir: 'profiles', agents: [{ name: 'bee', profile: 'demo-push', env: { HORNETS_DEMO_WORK_MS: '0' } }] }),
  );
  cliOk(dir, socket, ['up', '--no-engine']);
  const status = JSON.parse(cliOk(dir, socket, ['status', '--json'])) as { name: string; paneId: string }[];
  const pane = status.find((s) => s.name === 'bee')!.paneId;
  const transcript = path.join(dir, '.hornets', 'demo', 'bee.jsonl');
  const client = new TmuxClient({ server: { socket, configFile: path.join(dir, '.hornets', 'tmux.conf') } });
  const patterns = loadProfiles([builtinProfilesDir()]).get('demo')!.patterns;

  const idle = () => until('the demo prompt', async () => lastLine(await tmuxAsync(socket, ['capture-pane', '-p', '-t', pane])) === 'demo>', 20_000, 5);
  let seen = 0;
  let size = 0;
  /** Waits for the next prompt and checks it is exactly `text`; polls the file size (cheap) at 1 ms. */
  const arrival = async (text: string) => {
    await until(
      'the prompt in the transcript',
      () => {
        const s = existsSync(transcript) ? statSync(transcript).size : 0;
        if (s === size) return false;
        size = s;
        return transcriptPrompts(transcript).length > seen;
      },
      20_000,
      1,
    );
    const prompts = transcriptPrompts(transcript);
    if (prompts.length !== seen + 1 || prompts[seen] !== text) throw new Error(`expected exactly ${JSON.stringify(text)}, transcript has ${JSON.stringify(prompts.slice(seen))}`);
    seen++;
  };

  await idle();
  const oneLine: Series = { name: 'pushText, one line (paste, verify, Enter, verify)', ms: [] };
  const multi: Series = { name: 'pushText, five lines (bracketed paste)', ms: [] };
  const classic: Series = { name: 'classic: send-keys -l, sleep 0.5 s, send-keys Enter', ms: [] };

  // A few unmeasured rounds first so process start-up and JIT do not land in the figures.
  for (let i = 0; i < 3; i++) {
    const text = `warm-up ${i}`;
    await pushText(client, pane, text, { patterns });
    await arrival(text);
    await idle();
  }
  for (let i = 0; i < pushes; i++) {
    const text = `bench push ${i}: please look at src/tmux/client.ts and report ${randomBytes(4).toString('hex')}`;
    const t = performance.now();
    await pushText(client, pane, text, { patterns });
    await arrival(text);
    oneLine.ms.push(performance.now() - t);
    await idle();
  }
  for (let i = 0; i < Math.max(10, Math.round(pushes / 3)); i++) {
    const text = Array.from({ length: 5 }, (_, j) => `multi ${i} line ${j}: ${randomBytes(6).toString('hex')}`).join('\n');
    const t = performance.now();
    await pushText(client, pane, text, { patterns });
    await arrival(text);
    multi.ms.push(performance.now() - t);
    await idle();
  }
  for (let i = 0; i < classicRuns; i++) {
    const text = `classic ${i}: please look at src/tmux/client.ts and report ${randomBytes(4).toString('hex')}`;
    const t = performance.now();
    await execFileP('tmux', ['-L', socket, 'send-keys', '-t', pane, '-l', text], { env: baseEnv });
    await sleep(500);
    await execFileP('tmux', ['-L', socket, 'send-keys', '-t', pane, 'Enter'], { env: baseEnv });
    await arrival(text);
    classic.ms.push(performance.now() - t);
    await idle();
  }
  await killServer(socket);
  removeDir(dir);
  dirs.delete(dir);
  return [oneLine, multi, classic];
}

function fmt(ms: number): string {
  return ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(0)} ms`;
}

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  const agents = numberFlag(flags, 'agents', 20);
  const pushes = numberFlag(flags, 'pushes', 100);
  const classicRuns = numberFlag(flags, 'classic', 20);
  const tmuxVersion = spawnSync('tmux', ['-V'], { encoding: 'utf8' }).stdout.trim();
  console.log(
    `${tmuxVersion}, node ${process.version}, ${os.cpus().length} CPUs, load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );

  const up = await benchUp(agents);
  console.log(`\n(a) hornets-tui up, ${up.agents} demo agents (shipped demo profile: hooks installed, SessionStart runs at start-up)\n`);
  console.log(
    table(
      ['step', 'wall', 'per agent'],
      [
        ['up returns (server, worktrees, windows)', fmt(up.upMs), fmt(up.upMs / up.agents)],
        ['first pane shows "demo> "', fmt(up.firstPromptMs), ''],
        [`all ${up.agents} panes show "demo> "`, fmt(up.promptsMs), fmt(up.promptsMs / up.agents)],
        [`up again (reconcile, ${up.agents} running)`, fmt(up.reconcileMs), fmt(up.reconcileMs / up.agents)],
        [`down (${up.agents} agents, SIGTERM + kill-server)`, fmt(up.downMs), fmt(up.downMs / up.agents)],
      ],
    ),
  );

  const series = await benchPush(pushes, classicRuns);
  console.log('\n(b) push to an idle demo agent (push-only demo profile), call -> prompt verified in its transcript\n');
  console.log(
    table(
      ['method', 'n', 'p50', 'p90', 'p99', 'min', 'max'],
      series.map((s) => {
        const sorted = [...s.ms].sort((a, b) => a - b);
        return [s.name, String(sorted.length), fmt(pct(sorted, 50)), fmt(pct(sorted, 90)), fmt(pct(sorted, 99)), fmt(sorted[0]!), fmt(sorted.at(-1)!)];
      }),
    ),
  );
}

let interrupted = false;
process.on('SIGINT', () => {
  if (interrupted) return;
  interrupted = true;
  void cleanup().finally(() => process.exit(130));
});

main()
  .catch((err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exitCode = 1;
  })
  .finally(() => cleanup());
