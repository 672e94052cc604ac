/**
 * `npm run bench:tasks`: task workers (issue 14) with the demo one-shot CLI, real tmux and SQLite,
 * the worker pool in this process (the engine's part that runs workers, with the task directory
 * watched as the daemon does).
 *
 *  - pickup: a task file renamed into place -> the engine recorded the run's start (startWorkerRun)
 *    -> the run's process started (pid.json); p50/p99 over `--pickups` tasks dropped one at a time
 *    with a slot free. Seed 003's target: file -> run started < 100 ms.
 *  - throughput: `--tasks` tasks of `[sleep <--work>]` at concurrency 1, 3 and 8 (tasks/s).
 *  - CPU: this process's CPU (pool, watcher and the bench's own waiting) while 8 runs of
 *    `[sleep <--hold>]` are going, as a share of one core.
 *
 * Each figure is printed beside an anchor from the same run, as a ratio (DESIGN.md §8):
 *  - pickup beside a bare run: the same wrapper and demo command in a window opened directly
 *    (TmuxRunWindows.open, one `tmux new-window`), from the call to the process's start;
 *  - throughput beside the demo CLI run directly (child processes, same prompts, same concurrency);
 *  - CPU beside the same process with the pool started and nothing running.
 *
 * Flags: --tasks 24 --work 200ms --pickups 30 --hold 10s --smoke (one task each, to check the script)
 * Do not run it on a loaded machine: the runs are Node processes and the figures measure the host.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { makeTempDir, numberFlag, parseFlags, removeDir, sleep } from './bench-util.js';
import { HORNETS_BIN, demoProfile, dropTask, readResult, resultCount, startWorkerHarness, workerSettingsFixture, type WorkerHarness } from '../helpers/workers/harness.js';
import { TmuxRunWindows } from '../../src/daemon/workers/run-windows.js';
import { RUN_FILES, type TaskRunSpec } from '../../src/proc/task-run.js';
import { packageRoot } from '../../src/config/paths.js';

const flags = parseFlags(process.argv.slice(2));
const SMOKE = flags.has('smoke');
const TASKS = SMOKE ? 1 : numberFlag(flags, 'tasks', 24);
const PICKUPS = SMOKE ? 1 : numberFlag(flags, 'pickups', 30);
const WORK = typeof flags.get('work') === 'string' ? String(flags.get('work')) : '200ms';
const HOLD = typeof flags.get('hold') === 'string' ? String(flags.get('hold')) : SMOKE ? '1s' : '10s';

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

async function withHarness<T>(max: number, fn: (h: WorkerHarness) => Promise<T>): Promise<T> {
  const dir = makeTempDir('hornets-bench-tasks-');
  const socket = `hornets-bench-${process.pid}-${max}`;
  const h = await startWorkerHarness({ dir, socket, workers: [workerSettingsFixture('fab', { maxConcurrent: max, timeoutMs: 600_000 })], pollMs: 50 });
  try {
    return await fn(h);
  } finally {
    await h.stop();
    await h.tmux.killServer().catch(() => undefined);
    // tmux 3.3 leaves its socket file behind.
    rmSync(join(process.env.TMUX_TMPDIR || '/tmp', `tmux-${process.getuid?.() ?? 0}`, socket), { force: true });
    removeDir(dir);
  }
}

const RUNNER = [process.execPath, join(packageRoot(), 'bin', 'hornets-task-run.js')];

/** The demo command of a task, as the pool expands it. */
function demoArgv(prompt: string): string[] {
  return demoProfile().oneShot.command.map((w) => w.replaceAll('{node}', process.execPath).replaceAll('{hornets}', HORNETS_BIN).replaceAll('{prompt}', prompt));
}

/** Anchor of the pickup: the same wrapper and command in a window opened directly, call -> process started. */
async function barePickup(): Promise<number[]> {
  return withHarness(8, async (h) => {
    const windows = new TmuxRunWindows(h.tmux, 'hornets');
    const out: number[] = [];
    for (let i = 0; i < PICKUPS; i++) {
      const dir = join(h.dirs.runs, 'bare', `b${i}`);
      mkdirSync(join(dir, 'work'), { recursive: true, mode: 0o700 });
      const spec: TaskRunSpec = { argv: demoArgv(`bare ${i} [sleep 50ms]`), cwd: join(dir, 'work'), env: {}, dir, timeoutMs: 60_000, killGraceMs: 500, maxOutputBytes: 1 << 20 };
      writeFileSync(join(dir, RUN_FILES.spec), `${JSON.stringify(spec)}\n`, { mode: 0o600 });
      const opened = Date.now();
      await windows.open('bare', `b${i}`, { argv: [...RUNNER, dir], cwd: dir });
      const pidFile = join(dir, RUN_FILES.pid);
      await waitUntil(() => existsSync(pidFile), 30_000, `bare ${i} started`);
      out.push((JSON.parse(readFileSync(pidFile, 'utf8')) as { startedAt: number }).startedAt - opened);
      await waitUntil(() => existsSync(join(dir, RUN_FILES.exit)), 30_000, `bare ${i} done`);
    }
    return out.sort((a, b) => a - b);
  });
}

/** Anchor of the throughput: the demo CLI run directly, `max` at a time, the same prompts. */
async function directThroughput(max: number): Promise<number> {
  const started = Date.now();
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < TASKS) {
      const i = next++;
      const [cmd, ...args] = demoArgv(`throughput ${i} [sleep ${WORK}]`);
      await new Promise<void>((res, rej) => execFile(cmd!, args, (err) => (err ? rej(err) : res())));
    }
  };
  await Promise.all(Array.from({ length: max }, lane));
  return TASKS / ((Date.now() - started) / 1000);
}

/** Anchor of the CPU: this process with the pool started and nothing running. */
async function cpuIdle(): Promise<number> {
  return withHarness(8, async () => {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await sleep(SMOKE ? 200 : 3_000);
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / (Number(process.hrtime.bigint() - t0) / 1000);
  });
}

const ratio = (x: number, anchor: number) => (anchor > 0 ? `${(x / anchor).toFixed(2)}×` : 'n/a');

async function pickup(): Promise<{ engine: number[]; process: number[] }> {
  return withHarness(8, async (h) => {
    const engine: number[] = [];
    const proc: number[] = [];
    for (let i = 0; i < PICKUPS; i++) {
      const id = `p${i}`;
      const dropped = Date.now();
      dropTask(h.dirs.tasks, 'fab', { task_id: id, description: `pickup ${i} [sleep 50ms]` });
      const pidFile = join(h.dirs.runs, 'fab', id, '1', 'pid.json');
      await waitUntil(() => existsSync(pidFile), 30_000, `${id} started`);
      const t = (await h.store.workerTasks.getWorkerTask(id))!;
      engine.push((t.startedAt ?? NaN) - dropped);
      proc.push((JSON.parse(readFileSync(pidFile, 'utf8')) as { startedAt: number }).startedAt - dropped);
      await waitUntil(() => readResult(h.dirs.results, 'fab', id) !== null, 30_000, `${id} done`);
    }
    return { engine: engine.sort((a, b) => a - b), process: proc.sort((a, b) => a - b) };
  });
}

async function throughput(max: number): Promise<number> {
  return withHarness(max, async (h) => {
    const started = Date.now();
    for (let i = 0; i < TASKS; i++) dropTask(h.dirs.tasks, 'fab', { task_id: `t${i}`, description: `throughput ${i} [sleep ${WORK}]` });
    await waitUntil(() => resultCount(h.dirs.results, 'fab') === TASKS, 600_000, 'all results');
    return TASKS / ((Date.now() - started) / 1000);
  });
}

async function cpuWith8(): Promise<number> {
  return withHarness(8, async (h) => {
    for (let i = 0; i < 8; i++) dropTask(h.dirs.tasks, 'fab', { task_id: `c${i}`, description: `hold ${i} [sleep ${HOLD}]` });
    await waitUntil(() => h.pool.activeCount('fab') === 8 && [...Array(8).keys()].every((i) => existsSync(join(h.dirs.runs, 'fab', `c${i}`, '1', 'pid.json'))), 60_000, '8 runs going');
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await sleep(SMOKE ? 200 : 3_000);
    const c = process.cpuUsage(c0);
    const wallUs = Number(process.hrtime.bigint() - t0) / 1000;
    const share = (c.user + c.system) / wallUs;
    await waitUntil(() => resultCount(h.dirs.results, 'fab') === 8, 120_000, 'the 8 runs');
    return share;
  });
}

async function main(): Promise<void> {
  console.log(
    `bench:tasks — ${cpus().length} cores, load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}${SMOKE ? ' (smoke)' : ''}`,
  );
  const p = await pickup();
  const bare = await barePickup();
  const [b50, b99] = [pct(bare, 50), pct(bare, 99)];
  console.log(`anchor: bare tmux new-window of the same run -> process started: p50 ${b50} ms, p99 ${b99} ms (n=${bare.length})`);
  console.log(`file -> run recorded by the engine: p50 ${pct(p.engine, 50)} ms, p99 ${pct(p.engine, 99)} ms (n=${p.engine.length})`);
  console.log(
    `file -> run process started:       p50 ${pct(p.process, 50)} ms (${ratio(pct(p.process, 50), b50)} the anchor), p99 ${pct(p.process, 99)} ms (${ratio(pct(p.process, 99), b99)} the anchor)`,
  );
  for (const c of [1, 3, 8]) {
    const direct = await directThroughput(c);
    const pool = await throughput(c);
    console.log(`throughput at concurrency ${c}: ${pool.toFixed(2)} tasks/s; demo CLI run directly ${direct.toFixed(2)} tasks/s; ratio ${ratio(pool, direct)} (${TASKS} tasks of [sleep ${WORK}])`);
  }
  const idle = await cpuIdle();
  const busy = await cpuWith8();
  console.log(`engine CPU with 8 runs going: ${(busy * 100).toFixed(2)} % of a core; anchor, the pool idle: ${(idle * 100).toFixed(2)} %; ratio ${ratio(busy, idle)}`);
  console.log(
    `load after: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
