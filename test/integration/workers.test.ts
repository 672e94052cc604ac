/**
 * Task workers end to end (issue 14): real tmux on a private socket, real SQLite, the real run
 * wrapper and the demo one-shot CLI (compiled: `npm run build` first).
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { killServer, randomSocket, waitFor, listPanes, tmuxOk } from '../helpers/tmux.js';
import { dropTask, maxOverlap, readResult, resultCount, startWorkerHarness, workerSettingsFixture, type WorkerHarness } from '../helpers/workers/harness.js';
import { groupAlive } from '../../src/proc/task-run.js';
import type { WorkerSettings } from '../../src/config/workers.js';
import { createHornetsMetrics } from '../../src/daemon/metrics.js';
import { workerMetricsSink } from '../../src/daemon/workers/wire.js';
import { DEMO_SYSTEM_TOKENS } from '../../src/demo-agent/oneshot.js';

interface Env {
  dir: string;
  socket: string;
  runLog: string;
  h: WorkerHarness;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function setup(workers: WorkerSettings[], extra: Partial<Parameters<typeof startWorkerHarness>[0]> = {}): Promise<Env> {
  const dir = mkdtempSync(join(tmpdir(), 'hornets-workers-'));
  const socket = randomSocket();
  const runLog = join(dir, 'runs.log');
  const h = await startWorkerHarness({ dir, socket, workers, env: { HORNETS_DEMO_RUN_LOG: runLog }, ...extra });
  cleanups.push(async () => {
    await h.stop();
    await killServer(socket);
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, socket, runLog, h };
}

function dlqEntries(e: Env, worker: string): string[] {
  const d = join(e.h.dirs.dlq, worker);
  return existsSync(d) ? readdirSync(d).filter((n) => n.endsWith('.error.json')) : [];
}

function dlqError(e: Env, worker: string, name: string): { error: string; last_output?: string; outcome?: string } {
  return JSON.parse(readFileSync(join(e.h.dirs.dlq, worker, `${name}.error.json`), 'utf8')) as { error: string; last_output?: string; outcome?: string };
}

describe('task workers', () => {
  it('100 tasks with maxConcurrent 3: never more than 3 running, 100 distinct correct results', async () => {
    const e = await setup([workerSettingsFixture('fab', { maxConcurrent: 3 })]);
    for (let i = 0; i < 100; i++) dropTask(e.h.dirs.tasks, 'fab', { task_id: `t${i}`, description: `compute item ${i} [sleep 30ms]`, worker: 'fab' });
    let windowsSeen = 0;
    let slotsSeen = 0;
    await waitFor(
      '100 results',
      () => {
        slotsSeen = Math.max(slotsSeen, e.h.pool.activeCount('fab'));
        windowsSeen = Math.max(windowsSeen, listPanes(e.socket).filter((p) => p.session === 'hornets-w-fab').length);
        return resultCount(e.h.dirs.results, 'fab') === 100;
      },
      240_000,
      50,
    );
    const results = Array.from({ length: 100 }, (_, i) => readResult(e.h.dirs.results, 'fab', `t${i}`)!);
    for (const [i, r] of results.entries()) {
      // The error says which way a run went wrong (start, lost, crash), should one ever fail here.
      expect(r, `t${i}: ${String((r as { error?: unknown }).error)}`).toMatchObject({
        task_id: `t${i}`,
        worker: 'fab',
        status: 'completed',
        exit_code: 0,
        result: `echo: compute item ${i} [sleep 30ms]`,
      });
      // Which way an extra run went (lost, timeout...), should a task ever run twice here.
      expect(r.attempts, `t${i}: ${r.attempts.map((a) => `${a.outcome}: ${a.error}`).join('; ')}`).toHaveLength(1);
      expect(r.usage).toMatchObject({ input_tokens: expect.any(Number) });
    }
    expect(new Set(results.map((r) => r.result)).size).toBe(100);
    expect(maxOverlap(e.runLog)).toBeLessThanOrEqual(3);
    expect(maxOverlap(e.runLog)).toBeGreaterThanOrEqual(1);
    expect(slotsSeen).toBeLessThanOrEqual(3);
    // A window may linger a moment after its run reported its end: at most 3 runs plus those.
    expect(windowsSeen).toBeLessThanOrEqual(6);
    const tasks = await e.h.store.workerTasks.listWorkerTasks({ worker: 'fab', limit: 1000 });
    expect(tasks.filter((t) => t.state === 'completed')).toHaveLength(100);
    // The run windows went with their runs.
    await waitFor('no run windows left', () => listPanes(e.socket).filter((p) => p.session === 'hornets-w-fab').length === 0, 10_000);
  }, 300_000);

  it('a hanging run is killed with its whole process group at the timeout, retried, then dead-lettered with its reason', async () => {
    const e = await setup([workerSettingsFixture('fab', { maxRetries: 1 })]);
    dropTask(e.h.dirs.tasks, 'fab', { task_id: 'hang1', description: 'never ends [hang] [sleep 10ms]', timeout: 1 });
    const r = await waitFor('the hang result', () => readResult(e.h.dirs.results, 'fab', 'hang1'), 60_000);
    expect(r.status).toBe('failed');
    expect(r.attempts.map((a) => a.outcome)).toEqual(['timeout', 'timeout']);
    expect(r.error).toMatch(/timed out after 1s \(attempt 2\); its process group was killed; gave up after 2 failed runs/);
    for (const n of [1, 2]) {
      const pid = JSON.parse(readFileSync(join(e.h.dirs.runs, 'fab', 'hang1', String(n), 'pid.json'), 'utf8')) as { pgid: number };
      await waitFor(`run ${n}'s process group gone`, () => !groupAlive(pid.pgid), 5_000);
    }
    expect(dlqEntries(e, 'fab')).toEqual(['hang1.json.error.json']);
    expect(dlqError(e, 'fab', 'hang1.json')).toMatchObject({ error: expect.stringMatching(/timed out/), outcome: 'timeout' });
    expect((await e.h.store.workerTasks.getWorkerTask('hang1'))!.state).toBe('failed');
  }, 90_000);

  it('a crashing run fails with the signal; a failing run is retried with backoff and completes, its tokens and cost summed over both runs', async () => {
    const metrics = createHornetsMetrics();
    const e = await setup([workerSettingsFixture('fab', { maxRetries: 2 })], { metrics: workerMetricsSink(metrics) });
    dropTask(e.h.dirs.tasks, 'fab', { task_id: 'crash1', description: 'dies [crash]', max_retries: 0 });
    dropTask(e.h.dirs.tasks, 'fab', { task_id: 'flaky1', description: 'works the second time [fail-until 2]' });
    const crash = await waitFor('crash result', () => readResult(e.h.dirs.results, 'fab', 'crash1'), 60_000);
    expect(crash).toMatchObject({ status: 'failed', exit_code: null, attempts: [{ outcome: 'crashed', signal: 'SIGKILL' }] });
    expect(crash.error).toMatch(/the run died by SIGKILL/);
    expect(dlqError(e, 'fab', 'crash1.json').error).toMatch(/SIGKILL/);
    const flaky = await waitFor('flaky result', () => readResult(e.h.dirs.results, 'fab', 'flaky1'), 60_000);
    expect(flaky.status).toBe('completed');
    expect(flaky.attempts.map((a) => a.outcome)).toEqual(['failed', 'completed']);
    expect(flaky.attempts[0]!.error).toMatch(/exit code 1: demo failure on attempt 1/);
    expect(flaky.result).toBe('echo: works the second time [fail-until 2]');
    // The retry waited its backoff (100 ms × jitter ≥ 80 ms) after the failed run.
    expect(Date.parse(flaky.attempts[1]!.started_at) - Date.parse(flaky.attempts[0]!.ended_at)).toBeGreaterThanOrEqual(80);

    // Each run's usage with its attempt (the demo: the first run writes its system prompt to the
    // cache, the retry reads it); the totals over both; `usage`/`cost_usd` stay the last run's.
    const sys = DEMO_SYSTEM_TOKENS;
    const [u1, u2] = flaky.attempts.map((a) => a.usage!);
    expect(u1).toMatchObject({ cache_creation_tokens: sys, cache_read_tokens: 0, cost_source: 'cli' });
    expect(u2).toMatchObject({ cache_creation_tokens: 0, cache_read_tokens: sys, cost_source: 'cli' });
    expect(u1!.output_tokens).toBe('demo failure on attempt 1'.length);
    expect(flaky.totals).toMatchObject({
      input_tokens: u1!.input_tokens + u2!.input_tokens,
      output_tokens: u1!.output_tokens + u2!.output_tokens,
      cache_read_tokens: sys,
      cache_creation_tokens: sys,
      runs: 2,
    });
    expect(flaky.totals.cost_usd).toBeCloseTo(u1!.cost_usd + u2!.cost_usd, 12);
    expect(flaky.cost_usd).toBe(u2!.cost_usd);
    expect(flaky.usage).toMatchObject({ input_tokens: u2!.input_tokens, cache_read_input_tokens: sys });
    const stored = (await e.h.store.workerTasks.getWorkerTask('flaky1'))!;
    expect(stored.usage).toMatchObject({ input: flaky.totals.input_tokens, output: flaky.totals.output_tokens, cacheRead: sys, cacheCreation: sys, runs: 2 });
    // A run killed before it printed anything reported no usage.
    expect(crash.attempts[0]!.usage).toBeNull();
    expect(crash.totals).toMatchObject({ input_tokens: 0, cost_usd: 0, runs: 0 });
    // The metrics count each run once: the worker's counters are the two tasks' totals.
    expect(metrics.workerTokens.get({ worker: 'fab', kind: 'input' })).toBe(flaky.totals.input_tokens);
    expect(metrics.workerTokens.get({ worker: 'fab', kind: 'cache_read' })).toBe(sys);
    expect(metrics.workerCost.get({ worker: 'fab' })).toBeCloseTo(flaky.totals.cost_usd, 12);
  }, 90_000);

  it('malformed tasks go to the DLQ with the reason and never run; malformed output fails the run', async () => {
    const e = await setup([workerSettingsFixture('fab')]);
    dropTask(e.h.dirs.tasks, 'fab', { task_id: 'nodesc' }, 'nodesc.json');
    dropTask(e.h.dirs.tasks, 'fab', { task_id: 'elsewhere', description: 'x', worker: 'anga' }, 'elsewhere.json');
    dropTask(e.h.dirs.tasks, 'fab', { task_id: 'badfrom', description: 'x', from: 'nobody' }, 'badfrom.json');
    writeFileSync(join(e.h.dirs.tasks, 'fab', 'array.json'), '[1,2,3]');
    dropTask(e.h.dirs.tasks, 'fab', { task_id: 'garbage1', description: 'prints junk [garbage]' });
    const g = await waitFor('garbage result', () => readResult(e.h.dirs.results, 'fab', 'garbage1'), 60_000);
    expect(g).toMatchObject({ status: 'failed', exit_code: 0 });
    expect(g.error).toMatch(/malformed output: its output is not a JSON result: "this is not JSON"/);
    await waitFor('4 bad files dead-lettered', () => dlqEntries(e, 'fab').length >= 5, 10_000);
    expect(dlqError(e, 'fab', 'nodesc.json').error).toMatch(/description: is required/);
    expect(dlqError(e, 'fab', 'elsewhere.json').error).toMatch(/worker: "anga" but the file is in tasks\/fab\//);
    expect(dlqError(e, 'fab', 'badfrom.json').error).toMatch(/from: "nobody" is not a configured agent/);
    expect(dlqError(e, 'fab', 'array.json').error).toMatch(/expected a JSON object/);
    expect((await e.h.store.workerTasks.listWorkerTasks()).map((t) => t.taskId)).toEqual(['garbage1']);
    expect(readFileSync(e.runLog, 'utf8')).not.toMatch(/nodesc|elsewhere|badfrom/);
  }, 90_000);

  it('the breaker opens after N consecutive failures, half-opens after its timeout and closes on a passed trial', async () => {
    const e = await setup([workerSettingsFixture('fab', { maxConcurrent: 1, breaker: { threshold: 2, openMs: 3_000 } })]);
    dropTask(e.h.dirs.tasks, 'fab', { task_id: 'bad1', description: 'no [fail]' });
    await waitFor('bad1 failed', () => readResult(e.h.dirs.results, 'fab', 'bad1'), 30_000);
    expect(e.h.pool.status()[0]).toMatchObject({ breaker: 'closed', consecutiveFailures: 1 });
    dropTask(e.h.dirs.tasks, 'fab', { task_id: 'bad2', description: 'no [fail]' });
    await waitFor('bad2 failed', () => readResult(e.h.dirs.results, 'fab', 'bad2'), 30_000);
    const openedAt = Date.now();
    expect(e.h.pool.status()[0]).toMatchObject({ breaker: 'open', consecutiveFailures: 2 });
    dropTask(e.h.dirs.tasks, 'fab', { task_id: 'good1', description: 'fine' });
    await waitFor('good1 taken in', async () => (await e.h.store.workerTasks.getWorkerTask('good1')) !== null, 10_000);
    // While open, nothing starts.
    if (Date.now() - openedAt < 2_500) expect((await e.h.store.workerTasks.getWorkerTask('good1'))!.state).toBe('queued');
    const good = await waitFor('the half-open trial ran good1', () => readResult(e.h.dirs.results, 'fab', 'good1'), 30_000);
    expect(good.status).toBe('completed');
    expect(Date.parse(good.attempts[0]!.started_at) - openedAt).toBeGreaterThanOrEqual(2_500);
    expect(e.h.pool.status()[0]).toMatchObject({ breaker: 'closed', consecutiveFailures: 0 });
  }, 90_000);

  it('a failed half-open trial opens the breaker again', async () => {
    const e = await setup([workerSettingsFixture('fab', { maxConcurrent: 1, breaker: { threshold: 1, openMs: 1_000 } })]);
    dropTask(e.h.dirs.tasks, 'fab', { task_id: 'bad1', description: 'no [fail]' });
    await waitFor('bad1 failed', () => readResult(e.h.dirs.results, 'fab', 'bad1'), 30_000);
    expect(e.h.pool.status()[0]!.breaker).toBe('open');
    dropTask(e.h.dirs.tasks, 'fab', { task_id: 'bad2', description: 'no again [fail]' });
    await waitFor('bad2 (the trial) failed', () => readResult(e.h.dirs.results, 'fab', 'bad2'), 30_000);
    expect(e.h.pool.status()[0]!.breaker).toBe('open');
  }, 60_000);

  it('an open breaker stays open across an engine restart: the next engine starts nothing until its timeout, then the trial closes it', async () => {
    const settings = [workerSettingsFixture('fab', { maxConcurrent: 1, breaker: { threshold: 1, openMs: 4_000 } })];
    const e = await setup(settings);
    dropTask(e.h.dirs.tasks, 'fab', { task_id: 'bad1', description: 'no [fail]' });
    await waitFor('bad1 failed', () => readResult(e.h.dirs.results, 'fab', 'bad1'), 30_000);
    const openedAt = Date.now();
    expect(e.h.pool.status()[0]!.breaker).toBe('open');
    await e.h.stop();
    // The next engine, on the same state: a task waiting for it must not start while the breaker is open.
    const h2 = await startWorkerHarness({ dir: e.dir, socket: e.socket, workers: settings, env: { HORNETS_DEMO_RUN_LOG: e.runLog } });
    cleanups.push(() => h2.stop());
    expect(h2.pool.status()[0]).toMatchObject({ breaker: 'open', consecutiveFailures: 1 });
    dropTask(h2.dirs.tasks, 'fab', { task_id: 'good1', description: 'fine' });
    await waitFor('good1 taken in', async () => (await h2.store.workerTasks.getWorkerTask('good1')) !== null, 10_000);
    if (Date.now() - openedAt < 3_500) expect((await h2.store.workerTasks.getWorkerTask('good1'))!.state).toBe('queued');
    const good = await waitFor('the trial ran good1', () => readResult(h2.dirs.results, 'fab', 'good1'), 30_000);
    expect(Date.parse(good.attempts[0]!.started_at) - openedAt).toBeGreaterThanOrEqual(3_500);
    expect(h2.pool.status()[0]).toMatchObject({ breaker: 'closed', consecutiveFailures: 0 });
    expect((await h2.store.workerTasks.workerBreakers()).get('fab')).toMatchObject({ state: 'closed', failures: 0 });
  }, 90_000);

  it('runs lost with the tmux server run again, without counting against retries or the breaker', async () => {
    const e = await setup([workerSettingsFixture('fab', { maxRetries: 0, breaker: { threshold: 1, openMs: 60_000 } })]);
    dropTask(e.h.dirs.tasks, 'fab', { task_id: 'l1', description: 'long enough [sleep 4s]' });
    await waitFor('run 1 going', () => existsSync(join(e.h.dirs.runs, 'fab', 'l1', '1', 'pid.json')), 30_000);
    tmuxOk(e.socket, ['kill-server']);
    const r = await waitFor('l1 result', () => readResult(e.h.dirs.results, 'fab', 'l1'), 60_000);
    expect(r.status).toBe('completed');
    expect(r.attempts.map((a) => a.outcome)).toEqual(['lost', 'completed']);
    expect(r.attempts[0]!.error).toMatch(/stopped from outside/);
    expect(e.h.pool.status()[0]).toMatchObject({ breaker: 'closed', consecutiveFailures: 0 });
  }, 90_000);

  it("a window tmux fails to open is the run's loss, not the task's failure: closed if it appeared after all, run again after a pause, the attempt kept", async () => {
    const failures = { left: 2 };
    const opened: string[] = [];
    const given: string[] = [];
    let runsDir = '';
    const runDir = (id: string) => join(runsDir, 'fab', id.replace(/\.a(\d+)$/, '/$1'));
    const e = await setup([workerSettingsFixture('fab', { maxRetries: 0, breaker: { threshold: 1, openMs: 60_000 } })], {
      windows: (real) => ({
        ...real,
        live: (w) => real.live(w),
        // A given-up window's wrapper, killed with it, writes its own end ("killed") at once here,
        // as it may under load before the engine writes its "not started": the engine's must count.
        close: async (w, id) => {
          await real.close(w, id);
          if (given.includes(id)) await waitFor(`${id}'s end written`, () => existsSync(join(runDir(id), 'exit.json')), 10_000, 10).catch(() => undefined);
        },
        // The first two opens make the window, then report a failure (a tmux call that timed out
        // after tmux did it, its run going by then): the run must not go on in a window the engine gave up on.
        open: async (w, id, spec) => {
          opened.push(id);
          const pane = await real.open(w, id, spec);
          if (failures.left-- > 0) {
            given.push(id);
            await waitFor(`${id} going`, () => existsSync(join(runDir(id), 'pid.json')), 30_000, 10);
            throw new Error(`tmux new-window timed out after 10000 ms (${id})`);
          }
          return pane;
        },
      }),
    });
    runsDir = e.h.dirs.runs;
    dropTask(e.h.dirs.tasks, 'fab', { task_id: 'w1', description: 'hello [sleep 1s]' });
    const r = await waitFor('w1 result', () => readResult(e.h.dirs.results, 'fab', 'w1'), 60_000);
    expect(r.status).toBe('completed');
    expect(r.result).toBe('echo: hello [sleep 1s]');
    expect(r.attempts.map((a) => a.outcome)).toEqual(['lost', 'lost', 'completed']);
    expect(r.attempts[0]!.error).toMatch(/cannot start the run: tmux new-window timed out/);
    // One run of it ever got to do its work: the two given-up windows were closed with their runs.
    expect(
      readFileSync(e.runLog, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('end ')).length,
    ).toBe(1);
    // A pause before each new try (1 s, then 2 s): tmux is likely busy.
    expect(Date.parse(r.attempts[2]!.started_at) - Date.parse(r.attempts[0]!.started_at)).toBeGreaterThanOrEqual(3_000);
    expect(opened).toHaveLength(3);
    expect(e.h.pool.status()[0]).toMatchObject({ breaker: 'closed', consecutiveFailures: 0 });
  }, 90_000);

  it('a run recorded but never started (the engine died in between) is started by the next engine', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hornets-workers-'));
    const socket = randomSocket();
    const { openSqliteStore } = await import('../../src/queue/sqlite/sqlite-store.js');
    const s = await openSqliteStore(join(dir, 'hornets.db'));
    await s.workerTasks.createWorkerTask({ taskId: 'n1', worker: 'fab', description: 'never started', priority: 5, timeoutMs: 60_000, maxRetries: 0 });
    await s.workerTasks.startWorkerRun('n1', { runId: 'n1.a1', startedAt: Date.now(), deadlineAt: Date.now() + 60_000 });
    await s.close();
    const h = await startWorkerHarness({ dir, socket, workers: [workerSettingsFixture('fab')] });
    cleanups.push(async () => {
      await h.stop();
      await killServer(socket);
      rmSync(dir, { recursive: true, force: true });
    });
    const r = await waitFor('n1 result', () => readResult(h.dirs.results, 'fab', 'n1'), 60_000);
    expect(r).toMatchObject({ status: 'completed', result: 'echo: never started', attempts: [{ run_id: 'n1.a1', outcome: 'completed' }] });
  }, 90_000);

  it("a profile with the prompt on stdin: the run gets it whole and no process's argv shows it (`ps`)", async () => {
    const secret = `launch-code-${Math.random().toString(36).slice(2)}`;
    const e = await setup([workerSettingsFixture('fab')], {
      profile: { env: {}, oneShot: { command: ['{node}', '{hornets}', 'demo-oneshot', '-p', '--output-format', 'json'], prompt: 'stdin', output: 'claude-json' } },
    });
    const description = `use ${secret} with "quotes", $HOME and\na second line [sleep 2s]`;
    dropTask(e.h.dirs.tasks, 'fab', { task_id: 's1', description });
    await waitFor('run going', () => existsSync(join(e.h.dirs.runs, 'fab', 's1', '1', 'pid.json')), 30_000);
    const argvs = readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .map((pid) => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        } catch {
          return '';
        }
      });
    expect(argvs.some((c) => c.includes('demo-oneshot'))).toBe(true);
    expect(argvs.filter((c) => c.includes(secret))).toEqual([]);
    const r = await waitFor('s1 result', () => readResult(e.h.dirs.results, 'fab', 's1'), 30_000);
    expect(r).toMatchObject({ status: 'completed', result: `echo: ${description}` });
  }, 60_000);

  it('tells the asking agent the result', async () => {
    const told: { from: string; text: string; meta: Record<string, unknown> }[] = [];
    const e = await setup([workerSettingsFixture('fab')], { notify: async (from, text, meta) => void told.push({ from, text, meta }) });
    dropTask(e.h.dirs.tasks, 'fab', { task_id: 'ask1', description: 'answer me', from: 'lead', metadata: { ticket: 42 } });
    const r = await waitFor('ask1 result', () => readResult(e.h.dirs.results, 'fab', 'ask1'), 30_000);
    expect(r.metadata).toEqual({ ticket: 42 });
    expect(r.result).toBe('echo: answer me\n\nTask metadata (JSON): {"ticket":42}');
    expect(told).toEqual([{ from: 'lead', text: `task ask1 for fab completed: ${r.result}`, meta: expect.objectContaining({ task_id: 'ask1', status: 'completed' }) }]);
  }, 60_000);
});
