/**
 * `npm run bench:tui`: the console with 10 and 50 demo agents, running in a private tmux server.
 *
 *  - key press to repaint: `j`/`k` moves the selection through the whole team and back. Two figures
 *    per press: in the console (key event to the frame handed to the terminal, from the
 *    HORNETS_TUI_BENCH file the console appends to) and end to end (the key sent through a tmux
 *    control-mode client until tmux reports the end of the console's frame in `%output`: terminal
 *    input, the console, and tmux's output path; in bench mode the console ends each key's frame
 *    with a title sequence naming the key). capture-pane then checks that the selection really is
 *    on the row the key moved it to.
 *  - idle CPU of the console process over 60 s (/proc/<pid>/stat utime+stime; children = tmux
 *    commands it ran and reaped), with the team idle and the engine running; beside it, over the
 *    same window, the engine's CPU and two anchors: an idle Node process with a 1 s timer and a
 *    tmux control-mode client attached to the agents' session.
 *
 * Flags: --agents 10,50  --keys 200  --idle 60 (seconds)  --width 160 --height 50
 *   --before <checkout or bin/hornets-tui.js>: measure that build's console too, interleaved with
 *     this one's, on the same team (e.g. --before /work/main for the figures before a change)
 *   --rounds N: how many interleaved rounds per team size
 *   --prof-dir DIR: run the consoles with --cpu-prof into DIR (they quit with `q` to write it)
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { makeTempDir, numberFlag, parseFlags, removeDir, repoRoot, sleep } from './bench-util.js';
import { pidAlive } from '../../src/engine-client/pid.js';

const root = repoRoot();
const flags = parseFlags(process.argv.slice(2));
const builds: Build[] = [{ label: 'this', bin: join(root, 'bin', 'hornets-tui.cjs') }];
// --before /work/main: the same figures for another checkout's build, runs interleaved with this one's.
if (typeof flags.get('before') === 'string') {
  const other = String(flags.get('before'));
  builds.unshift({ label: 'before', bin: other.endsWith('.js') ? other : join(other, 'bin', 'hornets-tui.js') });
}
const ROUNDS = numberFlag(flags, 'rounds', 1);
const PROF_DIR = typeof flags.get('prof-dir') === 'string' ? String(flags.get('prof-dir')) : null;
const teamSizes = String(flags.get('agents') ?? '10,50')
  .split(',')
  .map(Number)
  .filter((n) => n > 0);
const KEYS = numberFlag(flags, 'keys', 200);
const IDLE_S = numberFlag(flags, 'idle', 60);
const WIDTH = numberFlag(flags, 'width', 160);
const HEIGHT = numberFlag(flags, 'height', 50);

function env(extra: Record<string, string>): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, ...extra };
  for (const k of Object.keys(e)) if (k.startsWith('HORNETS_') && !(k in extra)) delete e[k];
  delete e.TMUX;
  delete e.TMUX_PANE;
  delete e.NO_COLOR;
  return e;
}

function tmux(socket: string, args: string[]): { code: number | null; stdout: string } {
  const r = spawnSync('tmux', ['-L', socket, ...args], { env: env({}), encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout ?? '' };
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

function cpuTicks(pid: number): { self: number; children: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields after the command: state is index 0, so utime (14) is index 11, stime 12, cutime 13, cstime 14.
  return { self: Number(f[11]) + Number(f[12]), children: Number(f[13]) + Number(f[14]) };
}

const CLK_TCK = 100;

interface Result {
  agents: number;
  startupS: number;
  inConsole: number[];
  endToEnd: number[];
  idleSelfPct: number;
  idleWithChildrenPct: number;
  build: string;
  /** The engine (daemon) over the same window, with the tmux commands it ran. */
  enginePct: number;
  /** Anchors over the same window: `node -e "setInterval(() => {}, 1000)"`, a tmux control client on the agents' session. */
  anchorNodePct: number;
  anchorTmuxPct: number;
  /** 1-minute load average over the window. */
  load: number;
  /** The console still showed the whole team idle after the window (it is live, not frozen). */
  stillLive: boolean;
}

async function waitFor<T>(what: string, fn: () => T | null | undefined | false, timeoutMs: number, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** One console build to measure: this repository's, or another checkout's (`--before`). */
interface Build {
  label: string;
  bin: string;
}

/** CPU time of a process over a window, as % of one core. */
interface CpuWindow {
  pid: number;
  a: { self: number; children: number };
}

function startWindow(pid: number): CpuWindow | null {
  try {
    return { pid, a: cpuTicks(pid) };
  } catch {
    return null;
  }
}

function endWindow(w: CpuWindow | null, secs: number): { self: number; withChildren: number } {
  if (!w) return { self: NaN, withChildren: NaN };
  const b = cpuTicks(w.pid);
  return { self: ((b.self - w.a.self) / CLK_TCK / secs) * 100, withChildren: ((b.self + b.children - w.a.self - w.a.children) / CLK_TCK / secs) * 100 };
}

async function runTeam(n: number, builds: Build[]): Promise<Result[]> {
  const dir = makeTempDir(`hornets-tui-bench-${n}-`);
  const agentsSocket = `hornets-bench-agents-${process.pid}-${n}`;
  const names = Array.from({ length: n }, (_, i) => `a${String(i + 1).padStart(2, '0')}`);
  const e = env({ HORNETS_TMUX_SOCKET: agentsSocket, GIT_AUTHOR_NAME: 'b', GIT_AUTHOR_EMAIL: 'b@b.invalid', GIT_COMMITTER_NAME: 'b', GIT_COMMITTER_EMAIL: 'b@b.invalid' });
  // Anchors, measured over the same idle windows as the console: a Node process with a 1 s timer
  // (the least a live Node program costs) and a tmux control-mode client on the agents' session
  // (what watching 50 panes costs a client that does nothing with it).
  const anchorNode = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  let anchorTmux: ReturnType<typeof spawn> | null = null;
  const consoleSockets: string[] = [];
  const results: Result[] = [];
  try {
    spawnSync('git', ['-c', 'init.defaultBranch=main', 'init', '-q'], { cwd: dir, env: e });
    spawnSync('git', ['commit', '-q', '--allow-empty', '-m', 'bench'], { cwd: dir, env: e });
    const init = spawnSync(process.execPath, [builds[0]!.bin, 'init', '--agents', names.join(',')], { cwd: dir, env: e, encoding: 'utf8' });
    if (init.status !== 0) throw new Error(`init failed: ${init.stderr}`);
    // Runs interleaved on the same team, the same engine.
    for (let round = 0; round < ROUNDS; round++) {
      // A B, B A, A B…: neither build always runs first on a team that has just come up.
      for (const build of round % 2 === 0 ? builds : [...builds].reverse()) {
        const consoleSocket = `hornets-bench-console-${process.pid}-${n}-${consoleSockets.length}`;
        consoleSockets.push(consoleSocket);
        const r = await measureConsole(
          n,
          names,
          dir,
          e,
          build,
          consoleSocket,
          () => {
            if (anchorTmux) return;
            const session = tmux(agentsSocket, ['list-sessions', '-F', '#{session_name}']).stdout.trim().split('\n')[0];
            if (!session) return;
            anchorTmux = spawn('tmux', ['-L', agentsSocket, '-C', 'attach-session', '-t', session, '-f', 'ignore-size,read-only'], { env: env({}), stdio: ['pipe', 'ignore', 'ignore'] });
          },
          anchorNode.pid!,
          () => anchorTmux?.pid ?? null,
        );
        results.push(r);
      }
    }
    return results;
  } finally {
    anchorNode.kill();
    (anchorTmux as ReturnType<typeof spawn> | null)?.kill();
    for (const s of consoleSockets) tmux(s, ['kill-server']);
    const pidFile = join(dir, '.hornets', 'run', 'daemon.pid');
    if (existsSync(pidFile)) {
      const dpid = Number(readFileSync(pidFile, 'utf8').trim());
      try {
        process.kill(dpid, 'SIGTERM');
        await waitFor(
          'the daemon to stop',
          () => {
            try {
              process.kill(dpid, 0);
              return false;
            } catch {
              return true;
            }
          },
          10_000,
          50,
        );
      } catch {
        // already gone
      }
    }
    tmux(agentsSocket, ['kill-server']);
    // tmux 3.3 leaves its socket files behind.
    for (const sock of [...consoleSockets, agentsSocket]) rmSync(join(process.env.TMUX_TMPDIR || '/tmp', `tmux-${process.getuid?.() ?? 0}`, sock), { force: true });
    await sleep(500);
    removeDir(dir);
  }
}

async function measureConsole(
  n: number,
  names: string[],
  dir: string,
  e: NodeJS.ProcessEnv,
  build: Build,
  consoleSocket: string,
  teamUp: () => void,
  anchorNodePid: number,
  anchorTmuxPid: () => number | null,
): Promise<Result> {
  const benchFile = join(dir, `tui-bench-${consoleSocket}.log`);
  writeFileSync(benchFile, '');
  const conf = join(dir, 'console-tmux.conf');
  writeFileSync(conf, 'set -g default-terminal tmux-256color\nset -g status off\n');
  const started = Date.now();
  const nodeArgs = PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROF_DIR}`, `--cpu-prof-name=console-${build.label}-${n}-${Date.now()}.cpuprofile`] : [];
  const r = spawnSync(
    'tmux',
    [
      '-L',
      consoleSocket,
      '-f',
      conf,
      'new-session',
      '-d',
      '-s',
      'console',
      '-x',
      String(WIDTH),
      '-y',
      String(HEIGHT),
      '-c',
      dir,
      '--',
      'env',
      `HORNETS_TUI_BENCH=${benchFile}`,
      process.execPath,
      ...nodeArgs,
      build.bin,
    ],
    { env: e, encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`cannot start the console: ${r.stderr}`);
  const screen = () => tmux(consoleSocket, ['capture-pane', '-p', '-t', 'console']).stdout;
  const pid = Number(tmux(consoleSocket, ['list-panes', '-t', 'console', '-F', '#{pane_pid}']).stdout.trim());
  process.stdout.write(`  ${n} agents, console ${build.label}: waiting for the team to be idle… `);
  await waitFor(`${n} idle agents`, () => new RegExp(`${n} agents \\(${n} idle\\)`).test(screen()), 300_000, 500);
  const startupS = (Date.now() - started) / 1000;
  process.stdout.write(`${startupS.toFixed(1)} s\n`);
  teamUp();
  await sleep(2000); // let the start-up messages and hook processes settle

  // --- key press to repaint
  // Keys go in and frames come out through a control-mode client of the console's server: no
  // process start per key, and `%output` says when the console wrote its frame to the terminal.
  const ctl = spawn('tmux', ['-L', consoleSocket, '-C', 'attach-session', '-t', 'console', '-f', 'ignore-size'], { env: env({}), stdio: ['pipe', 'pipe', 'ignore'] });
  let waiting: { token: string; resolve: (t: number) => void } | null = null;
  let rest = '';
  let outputTail = '';
  ctl.stdout.setEncoding('utf8');
  ctl.stdout.on('data', (chunk: string) => {
    const now = performance.now();
    const lines = (rest + chunk).split('\n');
    rest = lines.pop() ?? '';
    for (const l of lines) {
      // In bench mode the console follows each key's frame with a title sequence naming the key.
      // tmux may split it over two %output lines (a big frame, a loaded machine): look at the
      // tail of the output joined up, not at one line.
      if (!l.startsWith('%output ')) continue;
      outputTail = (outputTail + l.slice(l.indexOf(' ', 8) + 1)).slice(-400);
      if (waiting && outputTail.includes(waiting.token)) {
        const w = waiting;
        waiting = null;
        outputTail = '';
        w.resolve(now);
      }
    }
  });
  const selectedRow = (s: string) => /^│▸ (\S+)/m.exec(s)?.[1] ?? null;
  const inConsole: number[] = [];
  const endToEnd: number[] = [];
  let index = names.indexOf(selectedRow(screen()) ?? names[0]!);
  let dir_ = 1;
  let benchSize = statSync(benchFile).size;
  let keysSeen = readFileSync(benchFile, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('key ')).length;
  try {
    for (let i = 0; i < KEYS; i++) {
      if (index + dir_ < 0 || index + dir_ >= n) dir_ = -dir_;
      const key = dir_ > 0 ? 'j' : 'k';
      index += dir_;
      const want = names[index]!;
      const frame = new Promise<number>((resolve, reject) => {
        waiting = { token: `hornets-key-${i + 1}\\007`, resolve };
        setTimeout(() => reject(new Error(`no frame showing ${want} within 10 s\n${screen()}`)), 10_000).unref();
      });
      const t0 = performance.now();
      ctl.stdin.write(`send-keys -t console ${key}\n`);
      endToEnd.push((await frame) - t0);
      const line = await waitFor(
        'the console timing',
        () => {
          const size = statSync(benchFile).size;
          if (size === benchSize) return null;
          benchSize = size;
          const keyLines = readFileSync(benchFile, 'utf8')
            .split('\n')
            .filter((l) => l.startsWith('key '));
          if (keyLines.length <= keysSeen) return null;
          keysSeen = keyLines.length;
          return keyLines.at(-1)!;
        },
        5_000,
        1,
      );
      const m = /^key \S+ ([\d.]+)/.exec(line);
      if (m) inConsole.push(Number(m[1]));
      // What a person sees: the selection is on the row the key moved it to.
      await waitFor(`selection on ${want}`, () => selectedRow(screen()) === want, 5_000, 5).catch((err: unknown) => {
        throw new Error(`${String(err)}\n${screen()}`);
      });
    }
  } finally {
    ctl.kill();
  }

  // --- idle CPU: the console, the engine and the anchors over the same window
  await sleep(1000);
  const daemonPidFile = join(dir, '.hornets', 'run', 'daemon.pid');
  const daemonPid = existsSync(daemonPidFile) ? Number(readFileSync(daemonPidFile, 'utf8').trim()) : 0;
  const tmuxAnchor = anchorTmuxPid();
  const windows = { console: startWindow(pid), engine: daemonPid ? startWindow(daemonPid) : null, node: startWindow(anchorNodePid), tmux: tmuxAnchor ? startWindow(tmuxAnchor) : null };
  const t0 = Date.now();
  const load0 = loadavg()[0]!;
  await sleep(IDLE_S * 1000);
  const secs = (Date.now() - t0) / 1000;
  const idle = endWindow(windows.console, secs);
  const engine = endWindow(windows.engine, secs);
  const node = endWindow(windows.node, secs);
  const tmuxClient = endWindow(windows.tmux, secs);
  const load1 = loadavg()[0]!;
  // The screen still shows the live team after the idle window.
  const stillLive = new RegExp(`${n} agents \\(${n} idle\\)`).test(screen());

  // Quit with `q` (agents and engine stay) so a --prof-dir profile is written on a normal exit.
  tmux(consoleSocket, ['send-keys', '-t', 'console', 'q']);
  await waitFor('the console to quit', () => !pidAlive(pid), 20_000, 100).catch(() => undefined);
  tmux(consoleSocket, ['kill-server']);
  if (flags.get('keep-log')) writeFileSync(`${String(flags.get('keep-log'))}-${build.label}-${n}.log`, readFileSync(benchFile, 'utf8'));
  return {
    agents: n,
    build: build.label,
    startupS,
    inConsole,
    endToEnd,
    idleSelfPct: idle.self,
    idleWithChildrenPct: idle.withChildren,
    enginePct: engine.withChildren,
    anchorNodePct: node.self,
    anchorTmuxPct: tmuxClient.self,
    load: (load0 + load1) / 2,
    stillLive,
  };
}

async function main(): Promise<void> {
  console.log(
    `hornets-tui console benchmark: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}, ${WIDTH}x${HEIGHT}, ${KEYS} key presses, ${IDLE_S} s idle, builds ${builds.map((b) => `${b.label}=${b.bin}`).join(' ')}`,
  );
  const results: Result[] = [];
  for (const n of teamSizes) results.push(...(await runTeam(n, builds)));
  console.log('');
  console.log('agents  build   start-up  key→frame in console p50/p99/max   key→output via tmux p50/p99   idle CPU console (+children)   ×node anchor  engine   anchors: node / tmux -C   load  live');
  const f = (x: number) => x.toFixed(1).padStart(5);
  const p2 = (x: number) => `${x.toFixed(2)} %`;
  for (const r of results) {
    const ratio = r.anchorNodePct > 0 ? `${(r.idleWithChildrenPct / r.anchorNodePct).toFixed(1)}×` : '∞';
    console.log(
      `${String(r.agents).padStart(6)}  ${r.build.padEnd(6)}  ${r.startupS.toFixed(1).padStart(6)} s  ${f(pct(r.inConsole, 50))} / ${f(pct(r.inConsole, 99))} / ${f(Math.max(...r.inConsole))} ms        ${f(pct(r.endToEnd, 50))} / ${f(pct(r.endToEnd, 99))} ms          ${p2(r.idleSelfPct)} (${p2(r.idleWithChildrenPct)})`.padEnd(
        150,
      ) + `${ratio.padStart(8)}  ${p2(r.enginePct).padStart(7)}   ${p2(r.anchorNodePct)} / ${p2(r.anchorTmuxPct)}   ${r.load.toFixed(2)}  ${r.stillLive ? 'yes' : 'NO'}`,
    );
  }
  for (const n of teamSizes) {
    const mine = results.filter((r) => r.agents === n && r.build === 'this');
    if (mine.length === 0 || n !== 50) continue;
    const p99 = Math.max(...mine.map((r) => pct(r.endToEnd, 99)));
    const idle = Math.max(...mine.map((r) => r.idleWithChildrenPct));
    console.log(`\ntarget: with 50 agents key press to repaint p99 <= 50 ms: ${p99 <= 50 ? 'met' : 'NOT met'} (end to end ${p99.toFixed(1)} ms)`);
    console.log(`target: with 50 agents idle console CPU <= 1 % of a core: ${idle <= 1 ? 'met' : 'NOT met'} (${idle.toFixed(2)} % with children)`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
