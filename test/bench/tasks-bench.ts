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
 * Flags: --tasks 24 --work 200ms --pickups 30 --hold 10s --smoke (one task each, to check the script)
 * Do not run it on a loaded machine: the runs are Node processes and the figures measure the host.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { makeTempDir, numberFlag, parseFlags, removeDir, sleep } from './bench-util.js';
import { dropTask, readResult, resultCount, startWorkerHarness, workerSettingsFixture, type WorkerHarness } from '../helpers/workers/harness.js';

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
  console.log(`file -> run recorded by the engine: p50 ${pct(p.engine, 50)} ms, p99 ${pct(p.engine, 99)} ms (n=${p.engine.length})`);
  console.log(`file -> run process started:       p50 ${pct(p.process, 50)} ms, p99 ${pct(p.process, 99)} ms`);
  for (const c of [1, 3, 8]) console.log(`throughput at concurrency ${c}: ${(await throughput(c)).toFixed(2)} tasks/s (${TASKS} tasks of [sleep ${WORK}])`);
  console.log(`engine CPU with 8 runs going: ${((await cpuWith8()) * 100).toFixed(2)} % of a core`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
