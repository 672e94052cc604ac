/**
 * `npm run bench:daemon`:
 *  1. wake-up: a message enqueued by another process (through QueueService.send, which pokes the
 *     daemon) to the daemon's engine acting on it, p50/p99, beside a 1 s polling loop;
 *  2. idle cost: CPU of a real `hornets-tui daemon run` over 60 s (--quick: 20 s) with 20 idle demo
 *     agents in tmux.
 * The idle push to a real Claude Code pane is measured by test/bench/claude-push-bench.ts
 * (`npm run bench:claude-push`).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { repoRoot, sleep } from './bench-util.js';
import { openProject } from '../../src/services/context.js';
import { Daemon } from '../../src/daemon/daemon.js';

const root = repoRoot();
const cli = join(root, 'bin', 'hornets-tui.js');
const quick = process.argv.includes('--quick');

const epochMs = () => performance.timeOrigin + performance.now();

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

function project(agents: number): { dir: string; env: NodeJS.ProcessEnv } {
  const dir = mkdtempSync(join(tmpdir(), 'hornets-daemon-bench-'));
  const env: NodeJS.ProcessEnv = { ...process.env, HORNETS_TMUX_SOCKET: `hornets-bench-${process.pid}-${agents}` };
  delete env.HORNETS_HOME;
  delete env.HORNETS_CONFIG;
  delete env.TMUX;
  delete env.TMUX_PANE;
  const git = (...args: string[]) => spawnSync('git', ['-c', 'user.email=bench@hornets', '-c', 'user.name=bench', ...args], { cwd: dir });
  git('init', '-q');
  git('commit', '-q', '--allow-empty', '-m', 'init');
  const names = Array.from({ length: agents }, (_, i) => `a${i}`).join(',');
  spawnSync(process.execPath, [cli, 'init', '--agents', names, '--profile', 'demo'], { cwd: dir, env });
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

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime, clock ticks
}

async function idleBench(agents: number, seconds: number): Promise<{ cpuPercent: number; started: number }> {
  const { dir, env } = project(agents);
  let daemon: ChildProcess | null = null;
  try {
    const up = spawnSync(process.execPath, [cli, 'up', '--no-engine'], { cwd: dir, env, encoding: 'utf8' });
    if (up.status !== 0) throw new Error(`up failed: ${up.stderr}`);
    daemon = spawn(process.execPath, [cli, 'daemon', 'run'], { cwd: dir, env, stdio: 'ignore' });
    const endpoint = join(dir, '.hornets', 'run', 'hook-endpoint');
    const deadline = Date.now() + 15_000;
    while (!existsSync(endpoint) && Date.now() < deadline) await sleep(50);
    await sleep(3000); // let start-up work (first reconcile, SessionStart hooks) finish
    const t0 = cpuTicks(daemon.pid!);
    await sleep(seconds * 1000);
    const used = cpuTicks(daemon.pid!) - t0;
    const hz = 100; // USER_HZ on Linux
    return { cpuPercent: (used / hz / seconds) * 100, started: agents };
  } finally {
    daemon?.kill('SIGTERM');
    spawnSync(process.execPath, [cli, 'down', '--timeout', '1'], { cwd: dir, env });
    spawnSync('tmux', ['-L', env.HORNETS_TMUX_SOCKET!, 'kill-server']);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  console.log(`daemon bench; ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}; node ${process.version}; load ${loadavg()[0]!.toFixed(2)}`);
  const wake = await wakeBench();
  const f = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : 'missed');
  console.log('\nwake-up: enqueue in another process -> daemon acting on it');
  console.log(
    `  ours (poke over 127.0.0.1)   p50 ${f(pct(wake.ours, 50))} ms   p99 ${f(pct(wake.ours, 99))} ms   (${wake.ours.length} messages; target p99 ≤ 10 ms: ${pct(wake.ours, 99) <= 10 ? 'PASS' : 'BELOW'})`,
  );
  console.log(`  1 s polling loop             p50 ${f(pct(wake.polling, 50))} ms   p99 ${f(pct(wake.polling, 99))} ms   (${wake.polling.length} messages)`);
  const seconds = quick ? 20 : 60;
  const idle = await idleBench(20, seconds);
  console.log(
    `\nidle cost: daemon CPU over ${seconds} s with ${idle.started} idle demo agents: ${idle.cpuPercent.toFixed(2)} % of one core (target ≤ 0.5 %: ${idle.cpuPercent <= 0.5 ? 'PASS' : 'BELOW'})`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
