/**
 * `npm run bench:hooks`: cost of one PostToolUse hook as Claude Code pays it (process start to
 * exit, payload on stdin), with an empty queue and with one message waiting, for
 *  - the installed command with no daemon (bash falls through to the Node entry point),
 *  - the installed command with the daemon running (bash hands over to 127.0.0.1),
 * beside a bare `node -e 0` measured in the same run.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './bench-util.js';
import { openSqliteStore } from '../../src/queue/sqlite/sqlite-store.js';

const root = repoRoot();
const cli = join(root, 'bin', 'hornets-tui.js');
const hook = join(root, 'bin', 'hornets-hook');
const quick = process.argv.includes('--quick');
const N = quick ? 40 : 200;

function run(argv: string[], input: string, env: NodeJS.ProcessEnv, cwd: string): number {
  const t = process.hrtime.bigint();
  const r = spawnSync(argv[0]!, argv.slice(1), { input, env, cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'hornets-hooks-bench-'));
  const env: NodeJS.ProcessEnv = { ...process.env, HORNETS_TMUX_SOCKET: `hornets-bench-${process.pid}` };
  delete env.HORNETS_HOME;
  delete env.HORNETS_CONFIG;
  try {
    spawnSync(process.execPath, [cli, 'init', '--agents', 'marie', '--profile', 'demo'], { cwd: dir, env });
    const state = join(dir, '.hornets');
    const store = await openSqliteStore(join(state, 'hornets.db'));
    await store.registerAgents([{ name: 'marie', profile: 'demo' }]);
    const hookEnv = { ...env, HORNETS_AGENT_ID: 'marie', HORNETS_HOME: state, HORNETS_CONFIG: join(dir, 'hornets.json'), HORNETS_GENERATION: '0' };
    const payload = JSON.stringify({
      session_id: 'bench',
      transcript_path: '/dev/null',
      cwd: dir,
      hook_event_name: 'PostToolUse',
      tool_name: 'Bash',
      tool_input: { command: 'echo hi' },
      tool_response: { stdout: 'hi' },
    });
    const hookArgv = [hook, process.execPath, 'PostToolUse'];

    const measure = async (withMessage: boolean): Promise<number[]> => {
      const xs: number[] = [];
      for (let i = 0; i < N; i++) {
        if (withMessage) await store.enqueue({ agent: 'marie', body: `bench message ${i}` });
        xs.push(run(hookArgv, payload, hookEnv, dir));
      }
      if (withMessage) {
        const left = (await store.list({ agent: 'marie', states: ['queued', 'leased'] })).length;
        if (left !== 0) throw new Error(`${left} messages were not delivered by the hook`);
      }
      return xs;
    };

    const bare: number[] = [];
    for (let i = 0; i < N; i++) bare.push(run([process.execPath, '-e', '0'], '', env, dir));
    const direct = { empty: await measure(false), one: await measure(true) };

    spawnSync(process.execPath, [cli, 'daemon', 'start'], { cwd: dir, env });
    if (!existsSync(join(state, 'run', 'hook-endpoint'))) throw new Error('daemon did not start');
    const fast = { empty: await measure(false), one: await measure(true) };
    spawnSync(process.execPath, [cli, 'daemon', 'stop'], { cwd: dir, env });
    await store.close();

    const row = (name: string, xs: number[], target: string, ok: boolean | null) =>
      `${name.padEnd(44)} ${pct(xs, 50).toFixed(1).padStart(7)} ${pct(xs, 99).toFixed(1).padStart(7)}   ${target.padEnd(22)} ${ok === null ? '' : ok ? 'PASS' : 'BELOW'}`;
    const bareP99 = pct(bare, 99);
    console.log(`hooks bench: ${N} runs each; ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}; node ${process.version}; load ${loadavg()[0]!.toFixed(2)}`);
    console.log(`${'path'.padEnd(44)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)}   target`);
    console.log(row('bare `node -e 0`', bare, '(baseline)', null));
    console.log(row('no daemon (bash -> node entry), empty queue', direct.empty, `p99 ≤ ${(1.5 * bareP99).toFixed(1)} (1.5× bare)`, pct(direct.empty, 99) <= 1.5 * bareP99));
    console.log(row('no daemon (bash -> node entry), 1 message', direct.one, `p99 ≤ ${(1.5 * bareP99).toFixed(1)} (1.5× bare)`, pct(direct.one, 99) <= 1.5 * bareP99));
    console.log(row('fast path (bash -> daemon), empty queue', fast.empty, 'p50 ≤ 15, p99 ≤ 40', pct(fast.empty, 50) <= 15 && pct(fast.empty, 99) <= 40));
    console.log(row('fast path (bash -> daemon), 1 message', fast.one, 'p50 ≤ 15, p99 ≤ 40', pct(fast.one, 50) <= 15 && pct(fast.one, 99) <= 40));
  } finally {
    spawnSync(process.execPath, [cli, 'daemon', 'stop'], { cwd: dir, env });
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
