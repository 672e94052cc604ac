/**
 * Where an idle engine's CPU goes (issue 12's "an idle node with 20 agents ≤ 0.5 % of a core"):
 * one engine, on Redis as node n1 (a private redis-server) or on SQLite, with N demo agents, all
 * idle. Over the window it reports the engine's CPU (/proc/<pid>/stat, with the processes it ran),
 * what it sent to Redis (MONITOR: commands a second, by connection and by command, the ones Lua
 * scripts ran apart), the programs it started (strace of execve, in a window of its own so the trace
 * does not weigh on the CPU figure) and, with --profile, a V8 CPU profile of the window (the engine
 * runs under `node --cpu-prof`; the samples outside the window are left out) as self time by
 * function.
 *
 * Flags: --store redis|sqlite (default redis) --agents 20 --idle 60 (s) --monitor 30 (s)
 *        --strace 30 (s) --profile --top 40 --keep (leave the profile file and print its path)
 *        --node-args '--trace-gc' --out file (the engine's stdout) --syscalls 30 (s, strace -c)
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, copyFileSync, mkdirSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { exited, makeTempDir, numberFlag, parseFlags, removeDir, repoRoot, sleep } from './bench-util.js';
import { startRedisServer, type RedisServer } from '../helpers/redis.js';

const root = repoRoot();
const bin = join(root, 'bin', 'hornets-tui.cjs');
const flags = parseFlags(process.argv.slice(2));
const STORE = flags.get('store') === 'sqlite' ? 'sqlite' : 'redis';
const AGENTS = numberFlag(flags, 'agents', 20);
const IDLE_S = numberFlag(flags, 'idle', 60);
const MONITOR_S = numberFlag(flags, 'monitor', 30);
const STRACE_S = numberFlag(flags, 'strace', 30);
const SYSCALLS_S = numberFlag(flags, 'syscalls', 0);
const SLICE_S = numberFlag(flags, 'slice', 20);
const PROFILE = flags.has('profile');
const TOP = numberFlag(flags, 'top', 40);
const KEEP = flags.has('keep');
/** More node flags for the engine (e.g. --node-args=--trace-gc; its stdout goes to --out). */
const NODE_ARGS = typeof flags.get('node-args') === 'string' ? (flags.get('node-args') as string).split(' ').filter(Boolean) : [];
const OUT = typeof flags.get('out') === 'string' ? (flags.get('out') as string) : null;
const CLK_TCK = 100;

function baseEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, ...extra };
  for (const k of Object.keys(e)) if ((k.startsWith('HORNETS_') || k.startsWith('REDIS_')) && !(k in extra)) delete e[k];
  delete e.TMUX;
  delete e.TMUX_PANE;
  delete e.NO_COLOR;
  delete e.NODE_OPTIONS;
  return e;
}

function cli(args: string[], cwd: string, env: NodeJS.ProcessEnv): string {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd, env, encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`hornets-tui ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
}

/** Each thread's CPU ticks (utime + stime) and name: the main thread, V8's compiler and GC helpers, libuv's pool. */
function threadTicks(pid: number): Map<string, { comm: string; ticks: number }> {
  const out = new Map<string, { comm: string; ticks: number }>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(tid, { comm: Number(tid) === pid ? `${comm} (main)` : comm, ticks: Number(f[11]) + Number(f[12]) });
    } catch {
      // The thread ended meanwhile.
    }
  }
  return out;
}

async function waitFor<T>(what: string, fn: () => T | null | undefined | false, timeoutMs: number, everyMs = 1000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Counts of MONITOR lines over `seconds`, by client address and by command ("lua" for commands scripts ran). */
async function monitor(redis: RedisServer, seconds: number): Promise<{ byClient: Map<string, Map<string, number>>; lines: number }> {
  const child = spawn('redis-cli', ['-p', String(redis.port), 'monitor'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const byClient = new Map<string, Map<string, number>>();
  let lines = 0;
  let rest = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    const all = (rest + chunk).split('\n');
    rest = all.pop() ?? '';
    for (const l of all) {
      const m = /^[\d.]+ \[\d+ ([^\]]+)\] "([^"]+)"(?: "([^"]*)")?/.exec(l);
      if (!m) continue;
      lines++;
      const client = m[1]!;
      let cmd = m[2]!.toUpperCase();
      if (cmd === 'CLIENT' || cmd === 'XREAD' || cmd === 'SUBSCRIBE') cmd = `${cmd} ${m[3] ?? ''}`.trim();
      const per = byClient.get(client) ?? new Map<string, number>();
      per.set(cmd, (per.get(cmd) ?? 0) + 1);
      byClient.set(client, per);
    }
  });
  await sleep(seconds * 1000);
  child.kill();
  await exited(child);
  return { byClient, lines };
}

/** Syscalls of the engine (all its threads) over `seconds`, by count: strace -c's table. */
async function syscalls(pid: number, seconds: number): Promise<string> {
  const child = spawn('strace', ['-c', '-f', '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let text = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (c: string) => (text += c));
  await sleep(seconds * 1000);
  child.kill('SIGINT');
  await exited(child);
  return text;
}

/** Programs the engine started over `seconds` (strace -f of execve), by program name. */
async function execs(pid: number, seconds: number): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const child = spawn('strace', ['-f', '-qq', '-e', 'trace=execve', '-e', 'signal=none', '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let text = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (c: string) => (text += c));
  await sleep(seconds * 1000);
  child.kill('SIGINT');
  await exited(child);
  for (const m of text.matchAll(/execve\("([^"]+)", \[([^\]]*)\]/g)) {
    const args = m[2]!.split(', ').slice(0, 4).join(' ');
    const k = `${m[1]!.split('/').pop()} ${args}`;
    out.set(k, (out.get(k) ?? 0) + 1);
  }
  return out;
}

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Self time by function (and by inclusive caller chain's top frames) of the samples within [from, to] (µs, the profile's clock). */
function summarize(p: CpuProfile, fromUs: number, toUs: number): void {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let t = p.startTime;
  let total = 0;
  let idle = 0;
  const name = (id: number): string => {
    const n = byId.get(id)!;
    const f = n.callFrame;
    const file = f.url.split('/').slice(-2).join('/');
    return `${f.functionName || '(anonymous)'} ${file}:${f.lineNumber + 1}`;
  };
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i]!;
    if (t < fromUs || t > toUs) continue;
    const id = p.samples[i]!;
    const dt = p.timeDeltas[i + 1] ?? 0;
    const fn = byId.get(id)!.callFrame.functionName;
    if (fn === '(idle)') {
      idle += dt;
      continue;
    }
    total += dt;
    self.set(name(id), (self.get(name(id)) ?? 0) + dt);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const k = name(cur);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + dt);
    }
  }
  const win = (toUs - fromUs) / 1e6;
  console.log(
    `\nprofile: ${(total / 1e3).toFixed(0)} ms busy, ${(idle / 1e3).toFixed(0)} ms idle over ${win.toFixed(0)} s (${((total / 1e6 / win) * 100).toFixed(2)} % of a core in JS/VM/GC as sampled)`,
  );
  const show = (m: Map<string, number>, title: string) => {
    console.log(`  ${title}:`);
    for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, TOP)) console.log(`    ${(v / 1e3).toFixed(1).padStart(8)} ms  ${((v / total) * 100).toFixed(1).padStart(5)} %  ${k}`);
  };
  show(self, 'self time');
  show(inclusive, 'inclusive time');
}

async function main(): Promise<void> {
  console.log(`idle profile: one engine on ${STORE}, ${AGENTS} demo agents; node ${process.version}; load ${loadavg()[0]!.toFixed(2)}`);
  const dir = makeTempDir('hornets-idle-profile-');
  const profDir = join(dir, 'prof');
  mkdirSync(profDir);
  const socket = `hornets-idle-profile-${process.pid}`;
  let redis: RedisServer | null = null;
  let daemon: ChildProcess | null = null;
  const git = baseEnv({ GIT_AUTHOR_NAME: 'b', GIT_AUTHOR_EMAIL: 'b@b.invalid', GIT_COMMITTER_NAME: 'b', GIT_COMMITTER_EMAIL: 'b@b.invalid' });
  const home = join(dir, '.state');
  mkdirSync(home);
  let env: NodeJS.ProcessEnv = baseEnv({ ...git, HORNETS_HOME: home, HORNETS_TMUX_SOCKET: socket });
  try {
    if (STORE === 'redis') {
      redis = await startRedisServer({ aof: 'everysec' });
      env = baseEnv({ ...git, HORNETS_HOME: home, HORNETS_TMUX_SOCKET: socket, REDIS_URL: redis.url, HORNETS_NODE: 'n1' });
    }
    spawnSync('git', ['-c', 'init.defaultBranch=main', 'init', '-q'], { cwd: dir, env: git });
    spawnSync('git', ['commit', '-q', '--allow-empty', '-m', 'bench'], { cwd: dir, env: git });
    const names = Array.from({ length: AGENTS }, (_, i) => `a${String(i + 1).padStart(2, '0')}`);
    cli(['init', '--agents', names.join(','), '--project', 'idleprofile'], dir, env);
    // The engine in the foreground of a process of ours, so it can run under --cpu-prof (which
    // writes the profile when it exits cleanly); `up` finds it running and starts the agents.
    const execArgv = PROFILE ? ['--cpu-prof', '--cpu-prof-dir', profDir, '--cpu-prof-interval', '500'] : [];
    const out = OUT ? openSync(OUT, 'w') : 'ignore';
    daemon = spawn(process.execPath, [...execArgv, ...NODE_ARGS, bin, 'daemon', 'run'], { cwd: dir, env, stdio: ['ignore', out, 'inherit'] });
    if (typeof out === 'number') closeSync(out);
    const t0 = Date.now();
    await waitFor(
      'the engine',
      () => {
        try {
          return Number(readFileSync(join(home, 'run', 'daemon.pid'), 'utf8').trim()) === daemon!.pid;
        } catch {
          return false;
        }
      },
      60_000,
      200,
    );
    cli(['up'], dir, env);
    await waitFor(
      'every agent idle',
      () => {
        const rows = JSON.parse(cli(['status', '--json'], dir, env)) as { name: string; state: string }[];
        return rows.length === names.length && rows.every((r) => r.state === 'idle');
      },
      600_000,
    );
    console.log(`  ${names.length} agents up and idle in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    await sleep(5_000);
    const pid = daemon.pid!;
    const perfNow = () => Number(process.hrtime.bigint() / 1000n);
    // The profile's clock is the engine's monotonic clock in µs, as hrtime here on the same machine.
    const w0 = perfNow();
    const c0 = cpuTicks(pid);
    const th0 = threadTicks(pid);
    const at0 = Date.now();
    // The window in slices: how the cost moves over the engine's first minutes (V8 tiering the
    // periodic code up, heaps settling) shows in the per-slice figures.
    for (let left = IDLE_S; left > 0; left -= SLICE_S) {
      const s0 = threadTicks(pid);
      const t0 = Date.now();
      await sleep(Math.min(SLICE_S, left) * 1000);
      const s1 = threadTicks(pid);
      const dt = (Date.now() - t0) / 1000;
      const main = (s1.get(String(pid))?.ticks ?? 0) - (s0.get(String(pid))?.ticks ?? 0);
      let rest = 0;
      for (const [tid, t] of s1) if (tid !== String(pid)) rest += t.ticks - (s0.get(tid)?.ticks ?? 0);
      console.log(
        `  slice at +${((t0 - at0) / 1000).toFixed(0)} s: main thread ${((main / CLK_TCK / dt) * 100).toFixed(2)} %, other threads ${((rest / CLK_TCK / dt) * 100).toFixed(2)} %; load ${loadavg()[0]!.toFixed(2)}`,
      );
    }
    const secs = (Date.now() - at0) / 1000;
    const w1 = perfNow();
    const cpu = ((cpuTicks(pid) - c0) / CLK_TCK / secs) * 100;
    const th1 = threadTicks(pid);
    console.log(`\nidle: ${cpu.toFixed(2)} % of one core over ${secs.toFixed(0)} s (with the processes it ran); load ${loadavg()[0]!.toFixed(2)}`);
    const byComm = new Map<string, number>();
    for (const [tid, t] of th1) byComm.set(t.comm, (byComm.get(t.comm) ?? 0) + t.ticks - (th0.get(tid)?.ticks ?? 0));
    console.log(`  by thread: ${[...byComm].map(([c, t]) => `${c} ${((t / CLK_TCK / secs) * 100).toFixed(2)} %`).join(', ')}`);
    if (redis && MONITOR_S > 0) {
      const { byClient, lines } = await monitor(redis, MONITOR_S);
      console.log(`\nredis MONITOR over ${MONITOR_S} s: ${lines} commands (${(lines / MONITOR_S).toFixed(1)}/s)`);
      for (const [client, per] of byClient) {
        const n = [...per.values()].reduce((a, b) => a + b, 0);
        console.log(`  ${client}: ${n} (${(n / MONITOR_S).toFixed(2)}/s)`);
        for (const [cmd, k] of [...per].sort((a, b) => b[1] - a[1])) console.log(`      ${String(k).padStart(6)}  ${(k / MONITOR_S).toFixed(2).padStart(6)}/s  ${cmd}`);
      }
    }
    if (STRACE_S > 0) {
      const ex = await execs(pid, STRACE_S);
      const n = [...ex.values()].reduce((a, b) => a + b, 0);
      console.log(`\nprograms started over ${STRACE_S} s: ${n}`);
      for (const [k, v] of [...ex].sort((a, b) => b[1] - a[1])) console.log(`  ${String(v).padStart(5)}  ${k}`);
    }
    if (SYSCALLS_S > 0) console.log(`\nsyscalls over ${SYSCALLS_S} s (strace -c -f):\n${await syscalls(pid, SYSCALLS_S)}`);
    cli(['down', '--timeout', '1'], dir, env);
    daemon.kill('SIGTERM');
    await exited(daemon);
    daemon = null;
    if (PROFILE) {
      const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
      if (!file) throw new Error('the engine wrote no profile');
      const p = JSON.parse(readFileSync(join(profDir, file), 'utf8')) as CpuProfile;
      summarize(p, w0, w1);
      if (KEEP) {
        const kept = join('/tmp', `idle-${STORE}-${process.pid}.cpuprofile`);
        copyFileSync(join(profDir, file), kept);
        console.log(`\nprofile kept: ${kept}`);
      }
    }
  } finally {
    if (daemon) {
      spawnSync(process.execPath, [bin, 'down', '--timeout', '1'], { cwd: dir, env, timeout: 120_000 });
      daemon.kill('SIGTERM');
      await exited(daemon);
    }
    spawnSync('tmux', ['-L', socket, 'kill-server'], { stdio: 'ignore' });
    await redis?.destroy();
    removeDir(dir);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
