/**
 * `npm run bench:hooks`: what a hook costs, measured from outside the process.
 *
 * 1. The agent's view (the figure that matters), for each real agent CLI: Claude Code (`claude -p`,
 *    the pinned devDependency), Codex (`codex exec`) and Gemini (`gemini -p`), the latter two pinned
 *    in scripts/agent-clis.json. Each runs a script of shell tool rounds against its scripted
 *    stand-in API (hook-agent-runs.ts). One tool round = the gap between two consecutive turn
 *    requests arriving at the stand-in (tool run + after-tool hooks + the CLI's own work). Median
 *    gap for
 *      - no hook,
 *      - a `true` command hook (what any command hook costs: the CLI's spawn and shell),
 *      - a bare `node -e 0` command hook (the anchor: what any Node hook costs),
 *      - hornets' hooks with the native client (dist/hornets-hook-native) and with the bash client
 *        (bin/hornets-hook), each with no daemon running (-> Node entry that opens SQLite) and with
 *        the daemon running (-> 127.0.0.1); Claude Code also with the opt-in http hook,
 *    and, with `--baseline <checkout>`, hornets' hooks of another checkout (its bash client and its
 *    daemon) in the same run, for before/after figures. Configurations run round-robin.
 *    Steady state only: the first gap of each run (the CLI still warming up) is not counted.
 * 2. The hook process alone (spawn to exit, payload on stdin), empty queue and one message waiting,
 *    beside `node -e 0` and `bash -c 'exit 0'`, interleaved.
 *
 * Flags: --cli claude|codex|gemini|all (default all), --reps N (runs per configuration, default
 * 10), --rounds N (tool rounds per run, default 8), --n N (process-level runs each, default 40),
 * --agent-only, --spawn-only, --baseline <dir> (another hornets checkout, built), --smoke (one short
 * run of four configurations per CLI, to check the script).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, existsSync, writeFileSync, realpathSync } from 'node:fs';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { numberFlag, parseFlags, repoRoot } from './bench-util.js';
import { openSqliteStore, type SqliteMessageStore } from '../../src/queue/sqlite/sqlite-store.js';
import { agentCliNames, agentRunner, type AgentCliName, type HookChoice } from './hook-agent-runs.js';
import { agentCredential, loadOrCreateAgentKey } from '../../src/hooks/credentials.js';
import { freePort } from '../helpers/ports.js';

const root = repoRoot();
const claudeBin = join(root, 'node_modules', '.bin', 'claude');

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}
const median = (xs: number[]) => pct(xs, 50);

function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, HORNETS_TMUX_SOCKET: `hornets-bench-${process.pid}` };
  // Hermetic: no developer Claude/Anthropic settings, no outer hornets agent identity.
  for (const k of Object.keys(env)) if (/^(ANTHROPIC_|CLAUDE|HORNETS_(AGENT_ID|HOME|CONFIG|GENERATION)$)/.test(k)) delete env[k];
  return env;
}

/** A hornets project (init + agent "marie" registered), optionally with its daemon running. */
interface HornetsProject {
  dir: string;
  state: string;
  cli: string;
  hook: string;
  env: NodeJS.ProcessEnv;
  /**
   * The project's store, opened for one call and closed again: with the engine down nothing holds the
   * database open, and a connection held by the bench would spare the hook work it does in real use
   * (the last connection to close checkpoints and removes the WAL).
   */
  withStore<T>(fn: (store: SqliteMessageStore) => Promise<T>): Promise<T>;
  /** The engine's fixed port when PostToolUse is an http hook (daemon.hookTransport "http"). */
  httpPort: number | null;
  stop(): void;
}

async function hornetsProject(parent: string, name: string, checkout: string, daemon: boolean, hook = join(checkout, 'bin', 'hornets-hook'), httpPort: number | null = null): Promise<HornetsProject> {
  const dir = join(parent, name);
  mkdirSync(dir);
  const cli = join(checkout, 'bin', 'hornets-tui.js');
  const env = baseEnv();
  const init = spawnSync(process.execPath, [cli, 'init', '--agents', 'marie', '--profile', 'demo'], { cwd: dir, env, encoding: 'utf8' });
  if (init.status !== 0) throw new Error(`init failed in ${dir}: ${init.stderr}`);
  if (httpPort !== null) {
    // daemon.hookTransport "http": PostToolUse goes to the engine's fixed port as a Claude Code http hook.
    const config = JSON.parse(readFileSync(join(dir, 'hornets.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(dir, 'hornets.json'), JSON.stringify({ ...config, daemon: { hookTransport: 'http', hookPort: httpPort } }, null, 2));
  }
  const state = join(dir, '.hornets');
  const withStore = async <T>(fn: (store: SqliteMessageStore) => Promise<T>): Promise<T> => {
    const store = await openSqliteStore(join(state, 'hornets.db'));
    try {
      return await fn(store);
    } finally {
      await store.close();
    }
  };
  await withStore((store) => store.registerAgents([{ name: 'marie', profile: 'demo' }]));
  if (daemon) {
    const r = spawnSync(process.execPath, [cli, 'daemon', 'start'], { cwd: dir, env, encoding: 'utf8' });
    if (r.status !== 0 || !existsSync(join(state, 'run', 'hook-endpoint'))) throw new Error(`daemon did not start in ${dir}: ${r.stderr}`);
  }
  return {
    dir,
    state,
    cli,
    hook,
    env: {
      ...env,
      HORNETS_AGENT_ID: 'marie',
      HORNETS_HOME: state,
      HORNETS_CONFIG: join(dir, 'hornets.json'),
      HORNETS_GENERATION: '0',
      HORNETS_HOOK_TOKEN: agentCredential(loadOrCreateAgentKey(state), 'marie', 0),
      HORNETS_HOOK_CLIENT: agentCredential(loadOrCreateAgentKey(state), 'marie', 0).split('.')[0]!,
    },
    httpPort,
    withStore,
    stop: () => {
      if (daemon) spawnSync(process.execPath, [cli, 'daemon', 'stop'], { cwd: dir, env });
    },
  };
}

interface AgentConfig {
  name: string;
  hooks: HookChoice;
  env: NodeJS.ProcessEnv;
}

async function agentView(cli: AgentCliName, parent: string, projects: { label: string; project: HornetsProject }[], reps: number, rounds: number, smoke: boolean): Promise<void> {
  const runner = await agentRunner(cli, join(parent, cli), claudeBin);
  try {
    const env = baseEnv();
    const nodeHook = `'${process.execPath}' -e 0`;
    const hornets = projects
      .filter(({ project }) => runner.httpHooks || project.httpPort === null)
      .map(({ label, project }) => ({ name: label, hooks: { kind: 'hornets', transport: { program: [project.hook, process.execPath], httpPort: project.httpPort } } as HookChoice, env: project.env }));
    const all: AgentConfig[] = [
      { name: 'no hook', hooks: { kind: 'none' }, env },
      { name: '`true` hook', hooks: { kind: 'command', command: 'true' }, env },
      { name: 'bare `node -e 0` hook', hooks: { kind: 'command', command: nodeHook }, env },
      ...hornets,
    ];
    // --smoke: enough to see every kind of configuration work, not to measure.
    const configs = smoke ? [all[0]!, all[2]!, hornets[0]!, hornets.find((h) => h.name.includes('daemon running'))!] : all;
    const dirs = Object.fromEntries(configs.map((c, i) => [c.name, join(parent, cli, `config-${i}`)]));
    for (const c of configs) {
      mkdirSync(dirs[c.name]!, { recursive: true });
      runner.setup(dirs[c.name]!, c.hooks);
    }
    const gaps: Record<string, number[]> = Object.fromEntries(configs.map((c) => [c.name, []]));
    const runMedians: Record<string, number[]> = Object.fromEntries(configs.map((c) => [c.name, []]));
    // One warm-up run each (first start of the binary, page cache), not counted.
    if (!smoke) for (const c of configs) await runner.run(dirs[c.name]!, c.env, 2);
    for (let rep = 0; rep < reps; rep++) {
      // Round-robin, rotating the start, so load drifts spread over every configuration.
      for (let k = 0; k < configs.length; k++) {
        const c = configs[(k + rep) % configs.length]!;
        // Steady state: the first gap still carries the CLI's own warm-up (and the hook's first
        // start after the previous configuration), which made pooled medians noisy.
        const g = (await runner.run(dirs[c.name]!, c.env, rounds)).slice(1);
        gaps[c.name]!.push(...g);
        runMedians[c.name]!.push(median(g));
      }
    }
    printAgentView(cli, runner.binary, configs, gaps, runMedians, reps, rounds);
  } finally {
    await runner.close();
  }
}

const RUN_COMMAND: Record<AgentCliName, string> = { claude: 'claude -p', codex: 'codex exec', gemini: 'gemini -p' };

function printAgentView(cli: AgentCliName, binary: string, configs: AgentConfig[], gaps: Record<string, number[]>, runMedians: Record<string, number[]>, reps: number, rounds: number): void {
  const version = spawnSync(binary, ['--version'], { encoding: 'utf8' }).stdout.trim();
  const none = median(gaps['no hook']!);
  const nodeAdded = median(gaps['bare `node -e 0` hook']!) - none;
  const noneOfRuns = median(runMedians['no hook']!);
  console.log(
    `\nagent's view: real ${cli} ${version} (${RUN_COMMAND[cli]}), ${rounds} shell rounds per run (first gap of each run skipped), ${reps} runs per configuration (round-robin); gap = one tool round; load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  console.log(
    `${'configuration'.padEnd(40)} ${'median gap'.padStart(10)} ${'p90'.padStart(7)} ${'added/round'.padStart(12)} ${'÷ node -e 0 added'.padStart(18)} ${'median of run medians (added)'.padStart(30)}   run medians`,
  );
  const signed = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(1)}`;
  for (const c of configs) {
    const m = median(gaps[c.name]!);
    const added = m - none;
    const ratio = c.name === 'no hook' ? '' : (added / nodeAdded).toFixed(2);
    const ofRuns = median(runMedians[c.name]!);
    console.log(
      `${c.name.padEnd(40)} ${m.toFixed(1).padStart(10)} ${pct(gaps[c.name]!, 90).toFixed(1).padStart(7)} ${(c.name === 'no hook' ? '' : signed(added)).padStart(12)} ${ratio.padStart(18)} ${`${ofRuns.toFixed(1)} (${c.name === 'no hook' ? '-' : signed(ofRuns - noneOfRuns)})`.padStart(30)}   ${runMedians[c.name]!.map((x) => x.toFixed(0)).join(' ')}`,
    );
  }
  if (cli === 'claude') console.log('goals: hornets with the daemon ≤ +5 ms per round; with no daemon ≤ 1.2× what `node -e 0` adds (the http row is the opt-in daemon.hookTransport "http")');
}

function runOnce(argv: string[], input: string, env: NodeJS.ProcessEnv, cwd: string): number {
  const t = process.hrtime.bigint();
  const r = spawnSync(argv[0]!, argv.slice(1), { input, env, cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

async function processView(projects: { label: string; project: HornetsProject }[], n: number): Promise<void> {
  const payload = JSON.stringify({
    session_id: 'bench',
    transcript_path: '/dev/null',
    cwd: '/tmp',
    hook_event_name: 'PostToolUse',
    tool_name: 'Bash',
    tool_input: { command: 'echo hi' },
    tool_response: { stdout: 'hi' },
  });
  const env = baseEnv();
  const rows: { name: string; run: () => Promise<number> }[] = [
    { name: 'bare `node -e 0`', run: () => Promise.resolve(runOnce([process.execPath, '-e', '0'], '', env, tmpdir())) },
    { name: "bare `bash -c 'exit 0'`", run: () => Promise.resolve(runOnce(['/bin/bash', '-c', 'exit 0'], '', env, tmpdir())) },
  ];
  for (const { label, project } of projects) {
    const argv = [project.hook, process.execPath, 'PostToolUse'];
    rows.push({ name: `${label}, empty queue`, run: () => Promise.resolve(runOnce(argv, payload, project.env, project.dir)) });
    rows.push({
      name: `${label}, 1 message`,
      run: async () => {
        await project.withStore((store) => store.enqueue({ agent: 'marie', body: 'bench message' }));
        return runOnce(argv, payload, project.env, project.dir);
      },
    });
  }
  const xs: Record<string, number[]> = Object.fromEntries(rows.map((r) => [r.name, []]));
  for (let i = 0; i < n; i++) for (const r of rows) xs[r.name]!.push(await r.run());
  for (const { label, project } of projects) {
    const left = await project.withStore(async (store) => (await store.list({ agent: 'marie', states: ['queued', 'leased'] })).length);
    if (left !== 0) throw new Error(`${label}: ${left} messages were not delivered by the hook`);
  }
  console.log(`\nthe hook process alone (spawn to exit, PostToolUse payload on stdin), ${n} runs each, interleaved`);
  console.log(`${'path'.padEnd(52)} ${'p50 ms'.padStart(7)} ${'p90 ms'.padStart(7)}`);
  for (const r of rows) console.log(`${r.name.padEnd(52)} ${median(xs[r.name]!).toFixed(1).padStart(7)} ${pct(xs[r.name]!, 90).toFixed(1).padStart(7)}`);
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  const smoke = flags.has('smoke');
  const reps = smoke ? 1 : numberFlag(flags, 'reps', 10);
  const rounds = smoke ? 2 : numberFlag(flags, 'rounds', 8);
  const n = smoke ? 2 : numberFlag(flags, 'n', 40);
  const cliFlag = flags.get('cli') ?? 'all';
  const clis = cliFlag === 'all' ? agentCliNames : agentCliNames.filter((c) => c === cliFlag);
  if (clis.length === 0) throw new Error(`--cli expects ${agentCliNames.join('|')}|all, got ${String(cliFlag)}`);
  const b = flags.get('baseline');
  const baseline = typeof b === 'string' ? realpathSync(b) : null;
  const claudeVersion = existsSync(claudeBin) ? spawnSync(claudeBin, ['--version'], { encoding: 'utf8' }).stdout.trim() : 'missing';
  console.log(
    `hooks bench; ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}; node ${process.version}; Claude Code ${claudeVersion}; load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const parent = realpathSync(mkdtempSync(join(tmpdir(), 'hornets-hooks-bench-')));
  const projects: { label: string; project: HornetsProject }[] = [];
  try {
    const native = join(root, 'dist', 'hornets-hook-native');
    if (existsSync(native)) {
      projects.push({ label: 'hornets native, no daemon', project: await hornetsProject(parent, 'native-direct', root, false, native) });
      projects.push({ label: 'hornets native, daemon running', project: await hornetsProject(parent, 'native-fast', root, true, native) });
      projects.push({ label: 'hornets http hook (opt-in), daemon', project: await hornetsProject(parent, 'http-fast', root, true, native, await freePort()) });
    } else console.log('dist/hornets-hook-native missing (no C compiler at build time): native rows left out');
    projects.push({ label: 'hornets bash, no daemon', project: await hornetsProject(parent, 'direct', root, false) });
    projects.push({ label: 'hornets bash, daemon running', project: await hornetsProject(parent, 'fast', root, true) });
    if (baseline) {
      projects.push({ label: 'baseline: hornets, no daemon', project: await hornetsProject(parent, 'base-direct', baseline, false) });
      projects.push({ label: 'baseline: hornets, daemon running', project: await hornetsProject(parent, 'base-fast', baseline, true) });
    }
    if (!flags.has('spawn-only')) for (const cli of clis) await agentView(cli, parent, projects, reps, rounds, smoke);
    if (!flags.has('agent-only')) await processView(projects, n);
    console.log(
      `load after: ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
  } finally {
    for (const { project } of projects) project.stop();
    rmSync(parent, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
