/**
 * `npm run bench:daemon`:
 *  1. wake-up: a message enqueued by another process (through QueueService.send, which pokes the
 *     daemon) to the daemon's engine acting on it, p50/p99, beside a 1 s polling loop;
 *  2. idle cost: CPU of a real `hornets-tui daemon run` (from /proc/<pid>/stat) over 60 s (--quick:
 *     20 s) with 20 and with 50 idle demo agents in tmux;
 *  3. a team of 50 (--team-agents): whole `up` and `down` CLI processes, wall time, success and
 *     leftover panes, and the time until every agent shows its prompt; beside `node -e 0` and a bare
 *     tmux server making the same 50 demo-agent windows in one batched call (see bareTmux).
 * `--before <checkout>` runs 2 and 3 with that checkout's CLI too (e.g. /work/main, built), interleaved,
 * for before/after figures from the same run; `--only wake,idle,team` picks sections.
 * The idle push to a real Claude Code pane is measured by test/bench/push-bench.ts (`--cli claude`)
 * (`npm run bench:claude-push`).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { cpuTicks, repoRoot, sleep } from './bench-util.js';
import { openProject } from '../../src/services/context.js';
import { Daemon } from '../../src/daemon/daemon.js';

const root = repoRoot();
const cli = join(root, 'bin', 'hornets-tui.cjs');
const quick = process.argv.includes('--quick');

/** Removes a bench's temp dir; a late hook writer that keeps it busy costs a warning, not the figures. */
function tidy(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 500 });
  } catch (err) {
    console.error(`warning: could not remove ${dir}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

const epochMs = () => performance.timeOrigin + performance.now();

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

function project(agents: number, cliFile = cli): { dir: string; env: NodeJS.ProcessEnv } {
  const dir = mkdtempSync(join(tmpdir(), 'hornets-daemon-bench-'));
  const env: NodeJS.ProcessEnv = { ...process.env, HORNETS_TMUX_SOCKET: `hornets-bench-${process.pid}-${agents}-${Math.random().toString(36).slice(2, 8)}` };
  delete env.HORNETS_HOME;
  delete env.HORNETS_CONFIG;
  delete env.TMUX;
  delete env.TMUX_PANE;
  const git = (...args: string[]) => spawnSync('git', ['-c', 'user.email=bench@hornets', '-c', 'user.name=bench', ...args], { cwd: dir });
  git('init', '-q');
  git('commit', '-q', '--allow-empty', '-m', 'init');
  const names = Array.from({ length: agents }, (_, i) => `a${i}`).join(',');
  spawnSync(process.execPath, [cliFile, 'init', '--agents', names, '--profile', 'demo'], { cwd: dir, env });
  return { dir, env };
}

/** A child that enqueues `n` messages, one every ~20 ms, printing the epoch time of each send. */
const producerSource = `
import { openProject } from ${JSON.stringify(join(root, 'dist/src/services/context.js'))};
import { QueueService } from ${JSON.stringify(join(root, 'dist/src/services/queue-service.js'))};
import { performance } from 'node:perf_hooks';

const ctx = await openProject({ configPath: process.argv[2] });
const svc = new QueueService(ctx.project, ctx.store, ctx.log);
for (let i = 0; i < Number(process.argv[3]); i++) {
  const r = await svc.send('a0', 'wake ' + i);
  // createdAt is stamped inside the enqueue transaction: the moment the message exists.
  process.stdout.write(JSON.stringify({ id: r.message.id, t: r.message.createdAt }) + '\\n');
  await new Promise((res) => setTimeout(res, 20));
}
await ctx.close();
`;

async function wakeBench(): Promise<{ ours: number[]; polling: number[] }> {
  const { dir, env } = project(1);
  const configPath = join(dir, 'hornets.json');
  const n = quick ? 50 : 200;
  const producerFile = join(dir, 'producer.mjs');
  writeFileSync(producerFile, producerSource);
  try {
    // Ours: the daemon's engine is woken by the poke that follows the commit.
    const ctx = await openProject({ configPath, env: {} });
    const daemon = new Daemon(ctx, { reconcileMs: 60_000 });
    const woke: number[] = [];
    const original = daemon.engine.wake.bind(daemon.engine);
    daemon.engine.wake = (agent: string | null) => {
      if (agent === 'a0') woke.push(epochMs());
      original(agent);
    };
    await daemon.start();
    const out = await runChild(producerFile, [configPath, String(n)], dir, env);
    const sent = out
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { t: number });
    await sleep(200);
    await daemon.stop();
    const ours = pairWithWakes(
      sent.map((s) => s.t),
      woke,
    );

    // Baseline: a loop that looks at the queue once a second.
    const seen = new Map<string, number>();
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const msgs = await ctx.store.list({ agent: 'a0', states: ['queued'], limit: 10_000 });
        for (const m of msgs) if (!seen.has(m.id)) seen.set(m.id, epochMs());
        await sleep(1000);
      }
    })();
    const out2 = await runChild(producerFile, [configPath, String(quick ? 30 : 60)], dir, env);
    await sleep(1100);
    polling = false;
    await poller;
    const sent2 = out2
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { id: string; t: number });
    await ctx.close();
    return { ours, polling: sent2.map((s) => (seen.get(s.id) ?? Infinity) - s.t) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs a child without blocking our event loop (the in-process daemon must keep serving). */
function runChild(file: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`producer exited ${code}`))));
  });
}

/** For each send, the first wake-up at or after it. */
function pairWithWakes(sends: number[], wakes: number[]): number[] {
  const sorted = [...wakes].sort((a, b) => a - b);
  return sends.map((t) => {
    const w = sorted.find((x) => x >= t);
    return w === undefined ? Infinity : w - t;
  });
}

/** The hornets-tui launcher of a checkout: ours, or `--before <dir>` (e.g. /work/main) for the same figures from the code before. */
const checkouts: { label: string; cli: string }[] = [{ label: 'this checkout', cli }];
const beforeFlag = process.argv.indexOf('--before');
if (beforeFlag > 0 && process.argv[beforeFlag + 1]) checkouts.push({ label: `before (${process.argv[beforeFlag + 1]})`, cli: join(process.argv[beforeFlag + 1]!, 'bin', 'hornets-tui.js') });
const only = (() => {
  const i = process.argv.indexOf('--only');
  return i > 0 ? new Set(process.argv[i + 1]!.split(',')) : null;
})();
const flagNumber = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 && Number.isFinite(Number(process.argv[i + 1])) ? Number(process.argv[i + 1]) : fallback;
};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** Whole-process wall time of a command, from outside (spawn to exit), without blocking the loop. */
function timed(file: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<{ ms: number; code: number | null; out: string }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(file, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.on('close', (code) => resolve({ ms: performance.now() - t0, code, out }));
  });
}

async function idleBench(cliFile: string, agents: number, seconds: number): Promise<{ cpuPercent: number; started: number }> {
  const { dir, env } = project(agents, cliFile);
  let daemon: ChildProcess | null = null;
  try {
    const up = spawnSync(process.execPath, [cliFile, 'up', '--no-engine'], { cwd: dir, env, encoding: 'utf8' });
    if (up.status !== 0) throw new Error(`up failed: ${up.stderr}`);
    daemon = spawn(process.execPath, [cliFile, 'daemon', 'run'], { cwd: dir, env, stdio: 'ignore' });
    const endpoint = join(dir, '.hornets', 'run', 'hook-endpoint');
    const deadline = Date.now() + 15_000;
    while (!existsSync(endpoint) && Date.now() < deadline) await sleep(50);
    await waitAllIdle(env.HORNETS_TMUX_SOCKET!, agents, 60_000);
    await sleep(3000); // let start-up work (first reconcile, SessionStart hooks) finish
    const t0 = cpuTicks(daemon.pid!);
    await sleep(seconds * 1000);
    const used = cpuTicks(daemon.pid!) - t0;
    const hz = 100; // USER_HZ on Linux
    return { cpuPercent: (used / hz / seconds) * 100, started: agents };
  } finally {
    daemon?.kill('SIGTERM');
    spawnSync(process.execPath, [cliFile, 'down', '--timeout', '1'], { cwd: dir, env });
    spawnSync('tmux', ['-L', env.HORNETS_TMUX_SOCKET!, 'kill-server']);
    await sleep(2000); // the agents' last hook processes may still write logs there
    tidy(dir);
  }
}

/**
 * Every agent window's last line is the demo prompt. One tmux process per look: a capture of each
 * pane, each followed by a separator line, in one batch (a capture per pane per look would load the
 * machine the measurement runs on).
 */
async function waitAllIdle(socket: string, agents: number, timeoutMs: number): Promise<boolean> {
  const SEP = 'hornets-bench-separator'; // no leading dash: display-message would read it as a flag
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const panes = spawnSync('tmux', ['-L', socket, 'list-panes', '-a', '-F', '#{window_name} #{pane_id}'], { encoding: 'utf8' })
      .stdout.split('\n')
      .filter((l) => l && !l.startsWith('hornets ') && !l.startsWith('bare '))
      .map((l) => l.split(' ')[1]!);
    if (panes.length >= agents) {
      const args = panes.flatMap((p, i) => [...(i ? [';'] : []), 'capture-pane', '-p', '-t', p, ';', 'display-message', '-p', SEP]);
      const screens = spawnSync('tmux', ['-L', socket, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }).stdout.split(`${SEP}\n`);
      const ready = screens.filter((screen) => screen.trimEnd().split('\n').at(-1)?.trim() === 'demo>');
      if (ready.length >= agents) return true;
    }
    await sleep(250);
  }
  return false;
}

interface TeamRun {
  upMs: number;
  /** From `up` starting until every agent shows its prompt. */
  readyMs: number;
  downMs: number;
  upOk: boolean;
  downOk: boolean;
  leftover: number;
}

/** `up` (engine included, as a user runs it), all prompts up, then `down`; leftover windows or dead panes counted after. */
async function teamRun(cliFile: string, dir: string, env: NodeJS.ProcessEnv, agents: number): Promise<TeamRun> {
  const socket = env.HORNETS_TMUX_SOCKET!;
  const t0 = performance.now();
  const up = await timed(process.execPath, [cliFile, 'up'], dir, env);
  const allUp = await waitAllIdle(socket, agents, 120_000);
  const readyMs = allUp ? performance.now() - t0 : Number.NaN;
  const down = await timed(process.execPath, [cliFile, 'down', '--timeout', '5'], dir, env);
  const left = spawnSync('tmux', ['-L', socket, 'list-panes', '-a', '-F', '#{pane_id}'], { encoding: 'utf8' });
  const leftover = left.status === 0 ? left.stdout.split('\n').filter(Boolean).length : 0;
  spawnSync(process.execPath, [cliFile, 'daemon', 'stop'], { cwd: dir, env });
  spawnSync('tmux', ['-L', socket, 'kill-server']);
  return { upMs: up.ms, readyMs, downMs: down.ms, upOk: up.code === 0 && !/failed:/.test(up.out), downOk: down.code === 0, leftover };
}

/**
 * The floor for `up`: a bare tmux server making the same `agents` windows running the same demo
 * agent, in ONE batched tmux call as `up` does (no worktrees, no hooks, no database, no engine, no
 * hold-back of the agents). `windowsMs` is the tmux call (what a plain batched `up` would wait for:
 * the agents it started first compete with the server making the rest); `readyMs` is until every
 * demo prompt is up (a condition, not a fixed sleep), so the agents are gone before the next run.
 */
async function bareTmux(cliFile: string, agents: number): Promise<{ windowsMs: number; readyMs: number }> {
  const socket = `hornets-bench-bare-${process.pid}`;
  const t0 = performance.now();
  spawnSync('tmux', ['-L', socket, '-f', '/dev/null', 'new-session', '-d', '-s', 'bare']);
  const cmds = Array.from({ length: agents }, (_, i) => [...(i ? [';'] : []), 'new-window', '-d', '-t', '=bare:', '-n', `w${i}`, '--', process.execPath, cliFile, 'demo-agent']);
  spawnSync('tmux', ['-L', socket, ...cmds.flat()]);
  const windowsMs = performance.now() - t0;
  const allUp = await waitAllIdle(socket, agents, 120_000);
  const readyMs = allUp ? performance.now() - t0 : Number.NaN;
  spawnSync('tmux', ['-L', socket, 'kill-server']);
  return { windowsMs, readyMs };
}

async function teamBench(agents: number, runs: number): Promise<void> {
  console.log(`\nteam of ${agents} demo agents: whole \`up\` (with engine start) and \`down\` CLI processes, wall time, ${runs} runs interleaved`);
  const anchors: number[] = [];
  const bare: { windowsMs: number; readyMs: number }[] = [];
  const loads: number[] = [];
  const results = checkouts.map(() => [] as TeamRun[]);
  const projects = checkouts.map((c) => project(agents, c.cli));
  try {
    for (let r = 0; r < runs; r++) {
      loads.push(loadavg()[0]!);
      anchors.push((await timed(process.execPath, ['-e', '0'], tmpdir(), process.env)).ms);
      bare.push(await bareTmux(cli, agents));
      for (const [i, c] of checkouts.entries()) {
        // The first `up` of a checkout also makes the agents' git worktrees; later ones reuse them.
        results[i]!.push(await teamRun(c.cli, projects[i]!.dir, projects[i]!.env, agents));
      }
    }
  } finally {
    // The agents' last hook processes may still write logs there for a moment.
    await sleep(2000);
    for (const p of projects) tidy(p.dir);
  }
  const a = median(anchors);
  const b = median(bare.map((x) => x.windowsMs));
  const bReady = median(bare.map((x) => x.readyMs));
  console.log(
    `  anchors: node -e 0 p50 ${a.toFixed(0)} ms; bare tmux, ${agents} demo-agent windows in one batched call: call returns p50 ${b.toFixed(0)} ms, every prompt up p50 ${bReady.toFixed(0)} ms; ` +
      `load average during the runs ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}`,
  );
  for (const [i, c] of checkouts.entries()) {
    const rs = results[i]!;
    const up = median(rs.map((x) => x.upMs));
    const ready = median(rs.map((x) => x.readyMs));
    const down = median(rs.map((x) => x.downMs));
    const failures = rs.filter((x) => !x.upOk || !x.downOk).length;
    const leftovers = rs.reduce((n, x) => n + x.leftover, 0);
    console.log(
      `  ${c.label}: up p50 ${up.toFixed(0)} ms (${(up / a).toFixed(1)}× node -e 0, ${(up / b).toFixed(2)}× the bare batched call; first run, worktrees made: ${rs[0]!.upMs.toFixed(0)} ms)   ` +
        `every prompt up p50 ${ready.toFixed(0)} ms (${(ready / bReady).toFixed(2)}× bare)   ` +
        `down p50 ${down.toFixed(0)} ms (${(down / a).toFixed(1)}× node -e 0)   failed runs ${failures}/${rs.length}, leftover panes ${leftovers}   ` +
        `(target ≤ 5 s each, never failing: ${up <= 5000 && down <= 5000 && failures === 0 && leftovers === 0 ? 'PASS' : 'MISSED'})`,
    );
  }
}

async function main(): Promise<void> {
  console.log(`daemon bench; ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}; node ${process.version}; load ${loadavg()[0]!.toFixed(2)}`);
  const f = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : 'missed');
  if (!only || only.has('wake')) {
    const wake = await wakeBench();
    console.log('\nwake-up: enqueue in another process -> daemon acting on it');
    console.log(
      `  ours (poke over 127.0.0.1)   p50 ${f(pct(wake.ours, 50))} ms   p99 ${f(pct(wake.ours, 99))} ms   (${wake.ours.length} messages; target p99 ≤ 10 ms: ${pct(wake.ours, 99) <= 10 ? 'PASS' : 'MISSED'})`,
    );
    console.log(`  1 s polling loop             p50 ${f(pct(wake.polling, 50))} ms   p99 ${f(pct(wake.polling, 99))} ms   (${wake.polling.length} messages)`);
  }
  if (!only || only.has('idle')) {
    const seconds = quick ? 20 : 60;
    console.log(`\nidle cost: engine (\`daemon run\`) CPU from /proc/<pid>/stat over ${seconds} s, all demo agents at their prompt`);
    for (const [agents, target] of [
      [20, 0.5],
      [50, 1],
    ] as const) {
      for (const c of checkouts) {
        const idle = await idleBench(c.cli, agents, seconds);
        console.log(
          `  ${c.label}, ${agents} agents: ${idle.cpuPercent.toFixed(2)} % of one core (target ≤ ${target} %: ${idle.cpuPercent <= target ? 'PASS' : 'MISSED'}; load ${loadavg()[0]!.toFixed(2)})`,
        );
      }
    }
  }
  if (!only || only.has('team')) await teamBench(flagNumber('--team-agents', 50), flagNumber('--team-runs', quick ? 3 : 10));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
