/**
 * kill -9 of a worker engine mid run (issue 14): runs go on in their tmux windows; the next engine
 * applies the ends that came meanwhile, adopts the runs still going, takes in the files dropped
 * while none ran, and every task ends exactly once, none lost.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { compiledPath } from '../helpers/compiled.js';
import { killServer, randomSocket, testEnv, waitFor } from '../helpers/tmux.js';
import { dropTask, readResult, resultCount } from '../helpers/workers/harness.js';
import { openSqliteStore } from '../../src/queue/sqlite/sqlite-store.js';

const engines: ChildProcess[] = [];
let cleanup: (() => Promise<void>) | null = null;
afterEach(async () => {
  for (const e of engines) if (e.exitCode === null) e.kill('SIGKILL');
  await cleanup?.();
});

function startEngine(dir: string, socket: string, runLog: string): Promise<ChildProcess> {
  const child = fork(compiledPath('test/helpers/workers/worker-engine.ts'), [dir, socket, '3'], { env: testEnv({ HORNETS_DEMO_RUN_LOG: runLog }), stdio: 'ignore' });
  engines.push(child);
  return new Promise((resolve, reject) => {
    child.once('message', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`worker engine exited ${code}`)));
  });
}

it('kill -9 of the engine mid run: every task ends exactly once, none lost', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hornets-wkill9-'));
  const socket = randomSocket();
  const runLog = join(dir, 'runs.log');
  cleanup = async () => {
    await killServer(socket);
    rmSync(dir, { recursive: true, force: true });
  };
  const e1 = await startEngine(dir, socket, runLog);
  for (let i = 0; i < 12; i++) dropTask(join(dir, 'tasks'), 'fab', { task_id: `k${i}`, description: `kill test ${i} [sleep 1500ms]` });
  // Mid run: some results in, some runs going (a pid file without an exit file).
  const running = () =>
    existsSync(join(dir, 'runs', 'fab'))
      ? readdirSync(join(dir, 'runs', 'fab')).filter((t) =>
          readdirSync(join(dir, 'runs', 'fab', t)).some((a) => existsSync(join(dir, 'runs', 'fab', t, a, 'pid.json')) && !existsSync(join(dir, 'runs', 'fab', t, a, 'exit.json'))),
        ).length
      : 0;
  await waitFor('a result in and runs going', () => resultCount(join(dir, 'results'), 'fab') >= 1 && running() >= 1, 120_000, 20);
  e1.kill('SIGKILL');
  await new Promise((r) => e1.once('exit', r));
  const before = resultCount(join(dir, 'results'), 'fab');
  expect(before).toBeLessThan(12);
  // Dropped while no engine runs.
  for (let i = 12; i < 16; i++) dropTask(join(dir, 'tasks'), 'fab', { task_id: `k${i}`, description: `kill test ${i} [sleep 100ms]` });
  const e2 = await startEngine(dir, socket, runLog);
  await waitFor('16 results', () => resultCount(join(dir, 'results'), 'fab') === 16, 180_000, 50);
  e2.kill('SIGTERM');
  await new Promise((r) => e2.once('exit', r));

  const store = await openSqliteStore(join(dir, 'hornets.db'));
  try {
    const tasks = await store.workerTasks.listWorkerTasks({ worker: 'fab' });
    expect(tasks).toHaveLength(16);
    for (const t of tasks) {
      expect(t.state, t.taskId).toBe('completed');
      // Ended exactly once: one completed attempt, and the result is this task's own.
      expect(
        t.history.filter((a) => a.outcome === 'completed'),
        t.taskId,
      ).toHaveLength(1);
      const r = readResult(join(dir, 'results'), 'fab', t.taskId)!;
      expect(r.status).toBe('completed');
      expect(r.result).toMatch(new RegExp(`^echo: kill test ${t.taskId.slice(1)} `));
    }
    // Every run that started ended (the demo logs both); a re-run would show as a second start.
    const lines = readFileSync(runLog, 'utf8').split('\n').filter(Boolean);
    const starts = lines.filter((l) => l.startsWith('start ')).map((l) => l.split(' ')[1]);
    expect(new Set(starts).size).toBe(16);
    expect(lines.filter((l) => l.startsWith('end '))).toHaveLength(starts.length);
  } finally {
    await store.close();
  }
  // The second engine found the first one's runs: still going (adopted) or ended while none watched.
  const log = readFileSync(join(dir, 'engine.log'), 'utf8');
  expect(log).toMatch(/"event":"worker_run_(adopted|ended_meanwhile)"/);
}, 300_000);
