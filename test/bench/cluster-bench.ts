/**
 * `npm run bench:cluster`: one team on Redis over several nodes on this machine (issue 12), each
 * node a real engine with its own state directory and tmux server, demo agents spread over them,
 * the CLI of a further process (node "client", no agents) sending.
 *
 *  - cross-node wake: `hornets-tui send` from the client to an idle agent of another node; from the
 *    message's enqueue (its createdAt) to the owning engine acting on it (the delivery pass that
 *    decided to nudge: `decidedAt` of its `nudge_sent` event), to the nudge typed and seen on the
 *    screen (that event's time) and to the message being handed over by the agent's hook
 *    (`deliveredAt`). Target: enqueue → engine acts p99 ≤ 20 ms (issue 12).
 *  - console: the console of node n1, in a tmux server, showing every node's agents; key press to
 *    frame (in the console, from its HORNETS_TUI_BENCH file; end to end through a tmux control
 *    client). Target p99 ≤ 50 ms with 60 agents over 3 nodes.
 *  - idle: CPU of each node's engine (/proc/<pid>/stat) over the same window, all agents idle.
 *    Target ≤ 0.5 % of a core per node with 20 agents.
 *
 * Anchors from the same run, so a loaded machine's figures still compare: the wake beside a raw
 * Redis pub/sub round trip (plain ioredis, publish → message, on the same redis-server), and each
 * node's idle CPU beside a single-host engine on SQLite with as many demo agents, measured over the
 * same window. Each figure is printed with its ratio to its anchor.
 *
 * Flags: --nodes 3 --per-node 20 --wakes 60 --keys 100 --idle 30 (seconds) --skip-console
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { makeTempDir, numberFlag, parseFlags, removeDir, repoRoot, sleep } from './bench-util.js';
import { Redis } from 'ioredis';
import { startRedisServer, type RedisServer } from '../helpers/redis.js';
import { openRedisStore } from '../../src/queue/redis/redis-store.js';

const root = repoRoot();
const bin = join(root, 'bin', 'hornets-tui.cjs');
const flags = parseFlags(process.argv.slice(2));
const NODES = numberFlag(flags, 'nodes', 3);
const PER_NODE = numberFlag(flags, 'per-node', 20);
const WAKES = numberFlag(flags, 'wakes', 60);
const KEYS = numberFlag(flags, 'keys', 100);
const IDLE_S = numberFlag(flags, 'idle', 30);
const SKIP_CONSOLE = flags.has('skip-console');
const CLK_TCK = 100;

function baseEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, ...extra };
  for (const k of Object.keys(e)) if ((k.startsWith('HORNETS_') || k.startsWith('REDIS_')) && !(k in extra)) delete e[k];
  delete e.TMUX;
  delete e.TMUX_PANE;
  delete e.NO_COLOR;
  return e;
}

function cli(args: string[], cwd: string, env: NodeJS.ProcessEnv): string {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd, env, encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`hornets-tui ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

function tmux(socket: string, args: string[]): { code: number | null; stdout: string } {
  const r = spawnSync('tmux', ['-L', socket, ...args], { env: baseEnv({}), encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout ?? '' };
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime, stime, cutime, cstime: the engine's own work and the tmux commands it ran.
  return Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
}

async function waitFor<T>(what: string, fn: () => T | null | undefined | false | Promise<T | null | undefined | false>, timeoutMs: number, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

interface Node {
  name: string;
  env: NodeJS.ProcessEnv;
  home: string;
  socket: string;
  agents: string[];
}

const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-');
const ratio = (x: number, anchor: number) => (Number.isFinite(x) && Number.isFinite(anchor) && anchor > 0 ? `${(x / anchor).toFixed(2)}×` : '-');

/** The anchor of the wake: publish → message on a second connection, plain ioredis, ms. */
async function pubSubRoundTrips(url: string, count: number): Promise<number[]> {
  const sub = new Redis(url);
  const pub = new Redis(url);
  try {
    let resolveOne: ((ms: number) => void) | null = null;
    let sentAt = 0n;
    sub.on('message', () => resolveOne?.(Number(process.hrtime.bigint() - sentAt) / 1e6));
    await sub.subscribe('bench:anchor');
    const out: number[] = [];
    for (let i = 0; i < count; i++) {
      const got = new Promise<number>((r) => (resolveOne = r));
      sentAt = process.hrtime.bigint();
      await pub.publish('bench:anchor', String(i));
      out.push(await got);
      await sleep(20);
    }
    return out;
  } finally {
    sub.disconnect();
    pub.disconnect();
  }
}

async function main(): Promise<void> {
  console.log(`cluster bench: ${NODES} nodes × ${PER_NODE} demo agents; ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}; node ${process.version}; load ${loadavg()[0]!.toFixed(2)}`);
  const dir = makeTempDir('hornets-cluster-bench-');
  let redis: RedisServer | null = null;
  const nodes: Node[] = [];
  const consoleSocket = `hornets-cluster-console-${process.pid}`;
  // The idle anchor: one single-host engine on SQLite (no REDIS_URL) with PER_NODE demo agents.
  const anchorDir = join(dir, 'sqlite-anchor');
  const anchorSocket = `hornets-cluster-anchor-${process.pid}`;
  let anchorEnv: NodeJS.ProcessEnv | null = null;
  try {
    redis = await startRedisServer({ aof: 'everysec' });
    const git = baseEnv({ GIT_AUTHOR_NAME: 'b', GIT_AUTHOR_EMAIL: 'b@b.invalid', GIT_COMMITTER_NAME: 'b', GIT_COMMITTER_EMAIL: 'b@b.invalid' });
    spawnSync('git', ['-c', 'init.defaultBranch=main', 'init', '-q'], { cwd: dir, env: git });
    spawnSync('git', ['commit', '-q', '--allow-empty', '-m', 'bench'], { cwd: dir, env: git });
    const names = Array.from({ length: NODES * PER_NODE }, (_, i) => `a${String(i + 1).padStart(2, '0')}`);
    const clientHome = join(dir, '.state-client');
    mkdirSync(clientHome);
    const client = baseEnv({ ...git, REDIS_URL: redis.url, HORNETS_HOME: clientHome, HORNETS_NODE: 'client', HORNETS_TMUX_SOCKET: `hornets-cluster-client-${process.pid}` });
    cli(['init', '--agents', names.join(','), '--project', 'clusterbench'], dir, client);
    const configPath = join(dir, 'hornets.json');
    const config = JSON.parse(readFileSync(configPath, 'utf8')) as { agents: { name: string; node?: string }[]; defaults: Record<string, unknown> };
    delete config.defaults.node;
    config.agents = config.agents.map((a, i) => ({ ...a, node: `n${Math.floor(i / PER_NODE) + 1}` }));
    writeFileSync(configPath, JSON.stringify(config, null, 2));
    for (let k = 1; k <= NODES; k++) {
      const home = join(dir, `.state-n${k}`);
      mkdirSync(home);
      const socket = `hornets-cluster-n${k}-${process.pid}`;
      nodes.push({ name: `n${k}`, home, socket, env: { ...client, HORNETS_HOME: home, HORNETS_NODE: `n${k}`, HORNETS_TMUX_SOCKET: socket }, agents: names.slice((k - 1) * PER_NODE, k * PER_NODE) });
    }
    const t0 = Date.now();
    for (const n of nodes) cli(['up'], dir, n.env);
    await waitFor(
      'every agent idle',
      () => {
        const rows = JSON.parse(cli(['status', '--json'], dir, client)) as { name: string; state: string }[];
        return rows.length === names.length && rows.every((r) => r.state === 'idle');
      },
      600_000,
      1_000,
    );
    console.log(`  ${names.length} agents up and idle on ${NODES} nodes in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    mkdirSync(join(anchorDir, '.state'), { recursive: true });
    spawnSync('git', ['-c', 'init.defaultBranch=main', 'init', '-q'], { cwd: anchorDir, env: git });
    spawnSync('git', ['commit', '-q', '--allow-empty', '-m', 'bench'], { cwd: anchorDir, env: git });
    const env = baseEnv({ ...git, HORNETS_HOME: join(anchorDir, '.state'), HORNETS_TMUX_SOCKET: anchorSocket });
    anchorEnv = env;
    const anchorNames = names.slice(0, PER_NODE);
    cli(['init', '--agents', anchorNames.join(','), '--project', 'sqliteanchor'], anchorDir, env);
    cli(['up'], anchorDir, env);
    await waitFor(
      'every SQLite anchor agent idle',
      () => {
        const rows = JSON.parse(cli(['status', '--json'], anchorDir, env)) as { name: string; state: string }[];
        return rows.length === anchorNames.length && rows.every((r) => r.state === 'idle');
      },
      600_000,
      1_000,
    );
    await sleep(3_000);

    // --- cross-node wake
    const prefix = (JSON.parse(readFileSync(join(nodes[0]!.home, 'store.json'), 'utf8')) as { prefix: string }).prefix;
    const store = await openRedisStore({ url: redis.url, prefix });
    const acted: number[] = [];
    const typed: number[] = [];
    const delivered: number[] = [];
    const sendMs: number[] = [];
    try {
      // Agents of every node but the first, in turn: each gets a message only every few rounds,
      // so it is idle again when its turn comes.
      const remote = nodes.slice(1).flatMap((n) => n.agents);
      for (let i = 0; i < WAKES; i++) {
        const agent = remote[i % remote.length]!;
        const before = Date.now();
        const out = cli(['send', agent, `bench wake ${i}`, '--json'], dir, client);
        sendMs.push(Date.now() - before);
        const id = (JSON.parse(out) as { id: string }).id;
        const m = await waitFor(
          `message ${id} delivered`,
          async () => {
            const msg = await store.get(id);
            return msg.deliveredAt !== null ? msg : null;
          },
          60_000,
          5,
        );
        const events = await store.events({ agent, kinds: ['nudge_sent'], limit: 50 });
        const nudge = events.filter((e) => e.ts >= m.createdAt).sort((a, b) => a.ts - b.ts)[0];
        if (nudge) {
          typed.push(nudge.ts - m.createdAt);
          const decidedAt = nudge.detail?.['decidedAt'];
          if (typeof decidedAt === 'number') acted.push(decidedAt - m.createdAt);
        }
        delivered.push(m.deliveredAt! - m.createdAt);
        await sleep(100);
      }
    } finally {
      await store.close();
    }
    console.log(`\ncross-node wake: ${WAKES} sends from a fourth process to idle agents of other nodes (ms from enqueue)`);
    console.log(
      `  owning engine acts (decides to nudge)  p50 ${fmt(pct(acted, 50))}  p99 ${fmt(pct(acted, 99))}  (n ${acted.length}; target p99 ≤ 20 ms: ${pct(acted, 99) <= 20 ? 'PASS' : 'MISSED'})`,
    );
    console.log(`  nudge typed and verified on screen     p50 ${fmt(pct(typed, 50))}  p99 ${fmt(pct(typed, 99))}`);
    console.log(`  handed over by the hook                p50 ${fmt(pct(delivered, 50))}  p99 ${fmt(pct(delivered, 99))}`);
    console.log(`  the send command, whole process        p50 ${fmt(pct(sendMs, 50))}  p99 ${fmt(pct(sendMs, 99))}`);
    const anchor = await pubSubRoundTrips(redis.url, WAKES);
    console.log(`  anchor: raw Redis pub/sub round trip   p50 ${fmt(pct(anchor, 50))}  p99 ${fmt(pct(anchor, 99))}  (plain ioredis, same server)`);
    console.log(`  owning engine acts ÷ anchor            p50 ${ratio(pct(acted, 50), pct(anchor, 50))}  p99 ${ratio(pct(acted, 99), pct(anchor, 99))}`);

    // --- console of node n1 over every node's agents
    if (!SKIP_CONSOLE) {
      const benchFile = join(dir, 'tui-bench.log');
      writeFileSync(benchFile, '');
      const conf = join(dir, 'console-tmux.conf');
      writeFileSync(conf, 'set -g default-terminal tmux-256color\nset -g status off\n');
      const n1 = nodes[0]!;
      const envArgs = Object.entries({ HORNETS_HOME: n1.home, HORNETS_NODE: n1.name, HORNETS_TMUX_SOCKET: n1.socket, REDIS_URL: redis.url, HORNETS_TUI_BENCH: benchFile }).map(([k, v]) => `${k}=${v}`);
      const r = spawnSync('tmux', ['-L', consoleSocket, '-f', conf, 'new-session', '-d', '-s', 'console', '-x', '160', '-y', '80', '-c', dir, '--', 'env', ...envArgs, process.execPath, bin], {
        env: baseEnv({}),
        encoding: 'utf8',
      });
      if (r.status !== 0) throw new Error(`cannot start the console: ${r.stderr}`);
      const screen = () => tmux(consoleSocket, ['capture-pane', '-p', '-t', 'console']).stdout;
      await waitFor(`the console showing ${names.length} agents`, () => new RegExp(`${names.length} agents`).test(screen()), 120_000, 500).catch((err: unknown) => {
        throw new Error(`${String(err)}\n${screen()}`);
      });
      await sleep(2_000);
      const ctl = spawn('tmux', ['-L', consoleSocket, '-C', 'attach-session', '-t', 'console', '-f', 'ignore-size'], { env: baseEnv({}), stdio: ['pipe', 'pipe', 'ignore'] });
      let waiting: { token: string; resolve: (t: number) => void } | null = null;
      let rest = '';
      let tail = '';
      ctl.stdout.setEncoding('utf8');
      ctl.stdout.on('data', (chunk: string) => {
        const now = performance.now();
        const lines = (rest + chunk).split('\n');
        rest = lines.pop() ?? '';
        for (const l of lines) {
          if (!l.startsWith('%output ')) continue;
          tail = (tail + l.slice(l.indexOf(' ', 8) + 1)).slice(-400);
          if (waiting && tail.includes(waiting.token)) {
            const w = waiting;
            waiting = null;
            tail = '';
            w.resolve(now);
          }
        }
      });
      const endToEnd: number[] = [];
      const keysBefore = readFileSync(benchFile, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('key ')).length;
      try {
        let down = true;
        for (let i = 0; i < KEYS; i++) {
          if (i % (names.length - 1) === 0 && i > 0) down = !down;
          const frame = new Promise<number>((resolve, reject) => {
            waiting = { token: `hornets-key-${keysBefore + i + 1}\\007`, resolve };
            setTimeout(() => reject(new Error(`no frame within 10 s\n${screen()}`)), 10_000).unref();
          });
          const k0 = performance.now();
          ctl.stdin.write(`send-keys -t console ${down ? 'j' : 'k'}\n`);
          endToEnd.push((await frame) - k0);
        }
      } finally {
        ctl.kill();
      }
      await sleep(500);
      const inConsole = readFileSync(benchFile, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('key '))
        .slice(keysBefore)
        .map((l) => Number(/^key \S+ ([\d.]+)/.exec(l)?.[1]))
        .filter((x) => Number.isFinite(x));
      console.log(`\nconsole of n1 with ${names.length} agents over ${NODES} nodes: ${KEYS} key presses (j/k), ms`);
      console.log(`  in the console (key → frame)  p50 ${fmt(pct(inConsole, 50))}  p99 ${fmt(pct(inConsole, 99))}  (target p99 ≤ 50 ms: ${pct(inConsole, 99) <= 50 ? 'PASS' : 'MISSED'})`);
      console.log(`  end to end (tmux in → out)     p50 ${fmt(pct(endToEnd, 50))}  p99 ${fmt(pct(endToEnd, 99))}`);
      tmux(consoleSocket, ['send-keys', '-t', 'console', 'q']);
      await sleep(1_000);
      tmux(consoleSocket, ['kill-server']);
    }

    // --- each node's engine, idle
    await sleep(3_000);
    const pids = nodes.map((n) => Number(readFileSync(join(n.home, 'run', 'daemon.pid'), 'utf8').trim()));
    const anchorPid = Number(readFileSync(join(anchorDir, '.state', 'run', 'daemon.pid'), 'utf8').trim());
    const a = pids.map(cpuTicks);
    const anchorTicks = cpuTicks(anchorPid);
    const w0 = Date.now();
    await sleep(IDLE_S * 1000);
    const secs = (Date.now() - w0) / 1000;
    const anchorPct = ((cpuTicks(anchorPid) - anchorTicks) / CLK_TCK / secs) * 100;
    console.log(`\nidle: each node's engine over ${secs.toFixed(0)} s, ${PER_NODE} idle agents each (with the tmux commands it ran)`);
    pids.forEach((pid, i) => {
      const p = ((cpuTicks(pid) - a[i]!) / CLK_TCK / secs) * 100;
      console.log(`  ${nodes[i]!.name}: ${p.toFixed(2)} % of one core (target ≤ 0.5 %: ${p <= 0.5 ? 'PASS' : 'MISSED'}); ${ratio(p, anchorPct)} the SQLite anchor`);
    });
    console.log(`  anchor: a single-host engine on SQLite, ${PER_NODE} idle agents, same window: ${anchorPct.toFixed(2)} % of one core`);
    console.log(`load after: ${loadavg()[0]!.toFixed(2)}`);
  } finally {
    tmux(consoleSocket, ['kill-server']);
    if (anchorEnv) {
      spawnSync(process.execPath, [bin, 'down', '--timeout', '1'], { cwd: anchorDir, env: anchorEnv, timeout: 120_000 });
      spawnSync(process.execPath, [bin, 'daemon', 'stop'], { cwd: anchorDir, env: anchorEnv, timeout: 60_000 });
    }
    tmux(anchorSocket, ['kill-server']);
    for (const n of nodes) {
      spawnSync(process.execPath, [bin, 'down', '--timeout', '1'], { cwd: dir, env: n.env, timeout: 120_000 });
      spawnSync(process.execPath, [bin, 'daemon', 'stop'], { cwd: dir, env: n.env, timeout: 60_000 });
      tmux(n.socket, ['kill-server']);
    }
    for (const s of [consoleSocket, anchorSocket, ...nodes.map((n) => n.socket)]) {
      const f = join(process.env.TMUX_TMPDIR || '/tmp', `tmux-${process.getuid?.() ?? 0}`, s);
      if (existsSync(f) && statSync(f).isSocket()) rmSync(f, { force: true });
    }
    await redis?.destroy();
    removeDir(dir);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
