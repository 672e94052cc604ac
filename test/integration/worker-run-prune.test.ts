/**
 * Run directories of ended tasks are pruned after the retention (issue 14): real tmux on a private
 * socket, real SQLite, the real run wrapper and the demo one-shot CLI, the pool's clock moved on by
 * hand. What an engine could still need is never removed: a running task's runs (an engine that
 * restarts adopts them by their directory), an ended task whose result file is not there.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { killServer, randomSocket, waitFor } from '../helpers/tmux.js';
import { dropTask, readResult, startWorkerHarness, workerSettingsFixture } from '../helpers/workers/harness.js';
import { Project, assertBuilt } from '../helpers/cli.js';
import { openSqliteStore } from '../../src/queue/sqlite/sqlite-store.js';
import { RetentionTimer } from '../../src/daemon/retention.js';
import { silentLogger } from '../../src/log.js';
import { pruneRunDirs } from '../../src/services/worker-runs.js';

const HOUR = 3_600_000;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe('run directories', () => {
  it("the engine's retention removes ended tasks' run directories once they are older than retention.maxAge, never a running task's", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hornets-runs-prune-'));
    const socket = randomSocket();
    let offset = 0;
    const h = await startWorkerHarness({ dir, socket, workers: [workerSettingsFixture('fab', { maxConcurrent: 3 })], clock: () => Date.now() + offset });
    cleanups.push(async () => {
      await h.stop();
      await killServer(socket);
      rmSync(dir, { recursive: true, force: true });
    });
    const runs = (id: string) => join(h.dirs.runs, 'fab', id);
    dropTask(h.dirs.tasks, 'fab', { task_id: 'done1', description: 'fine', worker: 'fab' });
    dropTask(h.dirs.tasks, 'fab', { task_id: 'done2', description: 'fine too', worker: 'fab' });
    dropTask(h.dirs.tasks, 'fab', { task_id: 'bad1', description: 'no [fail]', worker: 'fab' });
    // A long deadline: the moved clock must not make the engine stop it as timed out.
    dropTask(h.dirs.tasks, 'fab', { task_id: 'slow1', description: 'long [sleep 120s]', worker: 'fab', timeout: '10h' });
    for (const id of ['done1', 'done2', 'bad1']) await waitFor(`${id} ended`, () => readResult(h.dirs.results, 'fab', id), 30_000);
    await waitFor('slow1 started', () => existsSync(join(runs('slow1'), '1', 'pid.json')), 30_000);
    expect((await h.store.workerTasks.getWorkerTask('slow1'))?.state).toBe('running');
    for (const id of ['done1', 'done2', 'bad1', 'slow1']) expect(existsSync(join(runs(id), '1', 'spec.json')), id).toBe(true);
    // done2's result file went (someone moved it): its runs are the only record left, so they stay.
    unlinkSync(join(h.dirs.results, 'fab', 'done2.json'));
    // A task long gone from the store (pruned with the queue history) left its directory behind.
    mkdirSync(join(runs('ghost'), '1'), { recursive: true });
    writeFileSync(join(runs('ghost'), '1', 'exit.json'), '{}');

    // Within the retention nothing goes.
    expect(await h.pool.pruneRuns(HOUR)).toMatchObject({ removed: 0 });
    for (const id of ['done1', 'done2', 'bad1', 'slow1', 'ghost']) expect(existsSync(runs(id)), id).toBe(true);

    // Two hours on: the engine's retention pass (retention.maxAge 1h) takes them, before the queue's prune.
    offset = 2 * HOUR;
    const calls: string[] = [];
    const retention = new RetentionTimer({
      store: { prune: (o) => (calls.push('store'), h.store.prune(o)) },
      retention: { maxAge: '1h', interval: '1h' },
      log: silentLogger(),
      pruneRunDirs: async (ms) => {
        calls.push(`runs ${ms}`);
        const r = await h.pool.pruneRuns(ms);
        expect(r).toMatchObject({ removed: 3 });
        return r;
      },
    });
    await retention.runOnce();
    expect(calls).toEqual([`runs ${HOUR}`, 'store']);
    expect(existsSync(runs('done1'))).toBe(false);
    expect(existsSync(runs('bad1'))).toBe(false);
    expect(existsSync(runs('ghost'))).toBe(false);
    expect(existsSync(runs('done2'))).toBe(true);
    expect(existsSync(join(runs('slow1'), '1', 'pid.json'))).toBe(true);
    // The results stay: only the runs' scratch files went.
    expect(readResult(h.dirs.results, 'fab', 'done1')).toMatchObject({ status: 'completed' });
    // The running task is untouched and still ends normally.
    await h.store.workerTasks.cancelWorkerTask('slow1', 'test over');
    await waitFor('slow1 cancelled', () => readResult(h.dirs.results, 'fab', 'slow1'), 30_000);
  }, 120_000);

  it('`queue prune` removes the run directories of tasks that ended before the cutoff, keeping running ones', async () => {
    assertBuilt();
    const dir = mkdtempSync(join(tmpdir(), 'hornets-runs-cli-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const p = new Project(dir);
    await p.ok(['init', '--agents', 'marie']);
    const configFile = join(dir, 'hornets.json');
    const config = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
    config.workers = [{ kind: 'worker', name: 'fab', profile: 'demo-oneshot' }];
    writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`);
    const state = join(dir, '.hornets');
    // Tasks of three hours ago, recorded as an engine would: one ended (with its result), one still running.
    const store = await openSqliteStore(join(state, 'hornets.db'), { clock: () => Date.now() - 3 * HOUR });
    const input = { worker: 'fab', description: 'x', priority: 5, timeoutMs: 60_000, maxRetries: 0 };
    await store.workerTasks.createWorkerTask({ ...input, taskId: 'old1' });
    await store.workerTasks.createWorkerTask({ ...input, taskId: 'run1' });
    const at = Date.now() - 3 * HOUR;
    await store.workerTasks.startWorkerRun('old1', { runId: 'old1.a1', startedAt: at, deadlineAt: at + 60_000 });
    await store.workerTasks.startWorkerRun('run1', { runId: 'run1.a1', startedAt: at, deadlineAt: at + 60_000 });
    const attempt = { attempt: 1, runId: 'old1.a1', outcome: 'completed' as const, exitCode: 0, signal: null, startedAt: at, endedAt: at + 1000, error: null };
    await store.workerTasks.endWorkerRun('old1', 'old1.a1', { next: 'completed', attempt, result: 'ok' });
    await store.close();
    for (const id of ['old1', 'run1']) {
      mkdirSync(join(state, 'runs', 'fab', id, '1'), { recursive: true });
      writeFileSync(join(state, 'runs', 'fab', id, '1', 'spec.json'), '{}');
    }
    mkdirSync(join(state, 'results', 'fab'), { recursive: true });
    writeFileSync(join(state, 'results', 'fab', 'old1.json'), '{"status":"completed"}');

    const r = await p.ok(['queue', 'prune', '--older-than', '1h']);
    expect(r.stdout).toMatch(/1 run directory/);
    expect(existsSync(join(state, 'runs', 'fab', 'old1'))).toBe(false);
    expect(existsSync(join(state, 'runs', 'fab', 'run1', '1', 'spec.json'))).toBe(true);
    const json = JSON.parse((await p.ok(['queue', 'prune', '--older-than', '1h', '--json'])).stdout) as { runDirs: number };
    expect(json.runDirs).toBe(0);
  }, 60_000);

  it('a run started by a requeue while the prune looks is left alone: only the attempts the ended task had go', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hornets-runs-race-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const store = await openSqliteStore(join(dir, 'hornets.db'), { clock: () => Date.now() - 3 * HOUR });
    cleanups.push(() => store.close());
    const at = Date.now() - 3 * HOUR;
    await store.workerTasks.createWorkerTask({ taskId: 'x1', worker: 'fab', description: 'x', priority: 5, timeoutMs: 60_000, maxRetries: 0 });
    await store.workerTasks.startWorkerRun('x1', { runId: 'x1.a1', startedAt: at, deadlineAt: at + 60_000 });
    const attempt = { attempt: 1, runId: 'x1.a1', outcome: 'failed' as const, exitCode: 1, signal: null, startedAt: at, endedAt: at + 1000, error: 'no' };
    await store.workerTasks.endWorkerRun('x1', 'x1.a1', { next: 'failed', attempt });
    const runs = join(dir, 'runs');
    mkdirSync(join(runs, 'fab', 'x1', '1'), { recursive: true });
    writeFileSync(join(runs, 'fab', 'x1', '1', 'exit.json'), '{}');
    mkdirSync(join(dir, 'results', 'fab'), { recursive: true });
    writeFileSync(join(dir, 'results', 'fab', 'x1.json'), '{}');
    // The task is read as failed; right then an operator's retry starts attempt 2 in the same task directory.
    const racing = {
      getWorkerTask: async (id: string) => {
        const t = await store.workerTasks.getWorkerTask(id);
        mkdirSync(join(runs, 'fab', id, '2'), { recursive: true });
        writeFileSync(join(runs, 'fab', id, '2', 'spec.json'), '{}');
        return t;
      },
    };
    const r = await pruneRunDirs({ runs, results: join(dir, 'results'), store: racing, olderThanMs: HOUR, now: Date.now() });
    expect(r).toMatchObject({ removed: 0, kept: 1 });
    expect(existsSync(join(runs, 'fab', 'x1', '1'))).toBe(false);
    expect(existsSync(join(runs, 'fab', 'x1', '2', 'spec.json'))).toBe(true);
  });
});
