/**
 * `npm run bench:cli`: the CLI as a user meets it, measured from outside: wall time from spawn to
 * exit and peak RSS of whole `hornets-tui` processes (`--version`, `send`, `status`,
 * `queue list --json`), beside a bare `node -e 0` from the same rounds, each as a ratio to it.
 * Rounds are interleaved (every command once per round, the order rotating) so machine load hits
 * the anchor and the commands alike. `send` pokes a running engine, so it is measured twice:
 * with no engine, then with one started by `daemon start`.
 *
 *   npm run bench:cli
 *   npm run bench:cli -- --rounds 30
 *   npm run bench:cli -- --compare /other/checkout/bin/hornets-tui.js   (another build, same rounds)
 *
 * It runs the launcher package.json's `bin` names (bin/hornets-tui.cjs), as an installed
 * `hornets-tui` does; bin/hornets-tui.js, the ES module name kept for scripts, starts slower.
 *
 * Peak RSS comes from /usr/bin/time (`%M`) when it exists; without it the column says n/a.
 * Prints figures only; nothing is asserted. The temp project, the engine and any tmux server on the
 * private socket are removed at the end, also after a failure.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeTempDir, numberFlag, parseFlags, removeDir, repoRoot } from './bench-util.js';

const flags = parseFlags(process.argv.slice(2));
const ROUNDS = Math.max(10, numberFlag(flags, 'rounds', 15));
// What `hornets-tui` runs once installed: package.json's `bin` (the CommonJS launcher).
const BIN = path.join(repoRoot(), (JSON.parse(readFileSync(path.join(repoRoot(), 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin['hornets-tui']!);
const compare = typeof flags.get('compare') === 'string' ? path.resolve(flags.get('compare') as string) : null;
const TIME = '/usr/bin/time';
const haveTime = existsSync(TIME) && spawnSync(TIME, ['-f', '%M', 'true'], { encoding: 'utf8' }).status === 0;
const SOCKET = `hornets-bench-cli-${process.pid}`;
const RSS_MARK = 'HORNETS_BENCH_RSS_KB=';

// Nothing here may reach the user's own tmux server or inherit a hornets setup.
const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', HORNETS_TMUX_SOCKET: SOCKET };
for (const k of Object.keys(env)) if ((k.startsWith('HORNETS_') && k !== 'HORNETS_TMUX_SOCKET') || k === 'TMUX' || k === 'TMUX_PANE' || k === 'NODE_OPTIONS') delete env[k];

interface Case {
  name: string;
  argv: string[];
  /** Its own project: each build keeps a validated-config cache keyed on the build, so two builds on one project would wipe each other's and both take the full CLI path. */
  cwd?: string;
}

interface Sample {
  ms: number;
  rssKiB: number | null;
}

/** One whole process: wall ms from spawn to exit (as seen by this parent) and its peak RSS. */
function measure(argv: string[], cwd: string): Promise<Sample> {
  const [cmd, args] = haveTime ? [TIME, ['-f', `${RSS_MARK}%M`, ...argv]] : [argv[0]!, argv.slice(1)];
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const err: Buffer[] = [];
    child.stdout.resume();
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      const stderr = Buffer.concat(err).toString('utf8');
      if (code !== 0) return reject(new Error(`${argv.join(' ')} exited ${code}: ${stderr}`));
      const m = new RegExp(`${RSS_MARK}(\\d+)`).exec(stderr);
      resolve({ ms, rssKiB: m ? Number(m[1]) : null });
    });
  });
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/** Runs every case once per round, rotating the order each round. */
async function rounds(cases: Case[], cwd: string, n: number): Promise<Map<string, Sample[]>> {
  const samples = new Map<string, Sample[]>(cases.map((c) => [c.name, []]));
  for (const c of cases) await measure(c.argv, c.cwd ?? cwd); // warm the page cache and the config cache; not counted
  for (let r = 0; r < n; r++) {
    for (let i = 0; i < cases.length; i++) {
      const c = cases[(i + r) % cases.length]!;
      samples.get(c.name)!.push(await measure(c.argv, c.cwd ?? cwd));
    }
  }
  return samples;
}

function report(title: string, samples: Map<string, Sample[]>, anchor: string): void {
  const base = median(samples.get(anchor)!.map((s) => s.ms));
  const rows = [...samples].map(([name, list]) => {
    const ms = list.map((s) => s.ms);
    const rss = list.map((s) => s.rssKiB).filter((x): x is number => x !== null);
    return [
      name,
      String(list.length),
      median(ms).toFixed(0),
      pct(ms, 90).toFixed(0),
      `${(median(ms) / base).toFixed(2)}×`,
      rss.length ? (median(rss) / 1024).toFixed(1) : 'n/a',
      rss.length ? (Math.max(...rss) / 1024).toFixed(1) : 'n/a',
    ];
  });
  const head = ['command', 'n', 'p50 ms', 'p90 ms', 'p50 / node -e 0', 'RSS p50 MiB', 'RSS max MiB'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  process.stdout.write(`\n${title}\n${line(head)}\n${rows.map(line).join('\n')}\n`);
}

function cliCases(bin: string, label: string, cwd?: string): Case[] {
  const node = process.execPath;
  return [
    { name: `${label}--version`, argv: [node, bin, '--version'], cwd },
    { name: `${label}send`, argv: [node, bin, 'send', 'marie', 'bench message'], cwd },
    { name: `${label}status`, argv: [node, bin, 'status'], cwd },
    { name: `${label}queue list --json`, argv: [node, bin, 'queue', 'list', '--json'], cwd },
  ];
}

function cliSync(dir: string, args: string[], bin = BIN): void {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: dir, env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`hornets-tui ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
}

function cleanup(dir: string, other: { dir: string; bin: string } | null): void {
  spawnSync(process.execPath, [BIN, 'daemon', 'stop'], { cwd: dir, env });
  if (other) spawnSync(process.execPath, [other.bin, 'daemon', 'stop'], { cwd: other.dir, env });
  spawnSync('tmux', ['-L', SOCKET, 'kill-server'], { env, stdio: 'ignore' });
  removeDir(dir);
  if (other) removeDir(other.dir);
}

async function main(): Promise<void> {
  const dir = makeTempDir('hornets-cli-bench-');
  const other = compare ? { dir: makeTempDir('hornets-cli-bench-compare-'), bin: compare } : null;
  try {
    cliSync(dir, ['init', '--agents', 'marie', '--profile', 'demo']);
    if (other) cliSync(other.dir, ['init', '--agents', 'marie', '--profile', 'demo'], other.bin);
    const anchor: Case = { name: 'node -e 0', argv: [process.execPath, '-e', '0'] };
    const ours = cliCases(BIN, '');
    const theirs = other ? cliCases(other.bin, 'compare: ', other.dir) : [];
    process.stdout.write(
      `cli bench: ${ROUNDS} interleaved rounds; node ${process.version}; ${os.cpus().length} cpus; load ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}; RSS ${haveTime ? 'from /usr/bin/time' : 'n/a (no /usr/bin/time)'}\n`,
    );
    if (compare) process.stdout.write(`compare: ${compare}\n`);

    report('engine not running', await rounds([anchor, ...ours, ...theirs], dir, ROUNDS), anchor.name);

    cliSync(dir, ['daemon', 'start']);
    if (other) cliSync(other.dir, ['daemon', 'start'], other.bin);
    // `send` pokes the engine (/wake); `status` only reads its pid file.
    const pick = (list: Case[]) => list.filter((c) => /send|status/.test(c.name));
    report('engine running (send pokes it)', await rounds([anchor, ...pick(ours), ...pick(theirs)], dir, ROUNDS), anchor.name);
    const log = path.join(dir, '.hornets', 'logs', 'hornets.log');
    if (existsSync(log) && /"level":50/.test(readFileSync(log, 'utf8'))) process.stdout.write('\nnote: the log has errors (level 50); see it before trusting these figures\n');
    process.stdout.write(
      `\nload after: ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}\n`,
    );
  } finally {
    cleanup(dir, other);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`cli bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
