/**
 * Task workers follow a team change while the engine runs (issue 14): hornets.json edited by hand,
 * the engine's reload (the same one that serves added agents) gives the pool the new workers. Real
 * engine in this process, real tmux on a private socket, real SQLite, the demo one-shot CLI.
 *
 * The rule (README, "Task workers"): an added worker starts at once; a removed one starts no new
 * run, its running runs finish and are recorded, its queued tasks stay queued (and run when it comes
 * back); changed maxConcurrent, retry and breaker settings apply to the next run at once.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { closeTeams, startTeam, type Team } from '../helpers/team.js';
import { waitFor } from '../helpers/tmux.js';
import { dropTask, readResult } from '../helpers/workers/harness.js';
import { workerTaskStoreOf } from '../../src/services/worker-tasks.js';

afterEach(closeTeams);

function editWorkers(t: Team, workers: Record<string, unknown>[]): void {
  const file = join(t.dir, 'hornets.json');
  const config = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  writeFileSync(file, JSON.stringify({ ...config, workers }, null, 2));
}

async function taskState(t: Team, id: string): Promise<string | undefined> {
  return (await workerTaskStoreOf(t.ctx.store)!.getWorkerTask(id))?.state;
}

it('workers added, resized and removed in hornets.json while the engine runs: nothing is lost', async () => {
  const t = await startTeam([{ name: 'lead', profile: 'demo' }]);
  const state = t.ctx.project.paths.root;
  const tasks = join(state, 'tasks');
  const pool = t.daemon.workers!;
  expect(pool.names()).toEqual([]);

  // Added: a team with no worker gets one; its task folder is watched and its tasks run.
  editWorkers(t, [{ kind: 'worker', name: 'fab', profile: 'demo-oneshot', maxConcurrent: 1 }]);
  await t.daemon.reloadTeam('poke');
  expect(pool.names()).toEqual(['fab']);
  dropTask(tasks, 'fab', { task_id: 'a1', description: 'first [sleep 100ms]' });
  expect(await waitFor('a1 result', () => readResult(join(state, 'results'), 'fab', 'a1'), 30_000)).toMatchObject({ status: 'completed' });

  // maxConcurrent 1 -> 2 applies at once: a second run starts beside the first.
  dropTask(tasks, 'fab', { task_id: 'h1', description: 'hold [sleep 30s]' });
  dropTask(tasks, 'fab', { task_id: 'h2', description: 'hold [sleep 30s]' });
  await waitFor('h1 running, h2 waiting', async () => (await taskState(t, 'h1')) === 'running' && (await taskState(t, 'h2')) === 'queued', 20_000);
  expect(pool.activeCount('fab')).toBe(1);
  editWorkers(t, [{ kind: 'worker', name: 'fab', profile: 'demo-oneshot', maxConcurrent: 2 }]);
  await t.daemon.reloadTeam('poke');
  await waitFor('h2 running beside h1', async () => (await taskState(t, 'h2')) === 'running' && pool.activeCount('fab') === 2, 20_000);
  expect(pool.status()[0]).toMatchObject({ name: 'fab', maxConcurrent: 2 });

  // Removed while two run and one waits: no new run; the running ones finish and are recorded.
  editWorkers(t, [
    { kind: 'worker', name: 'fab', profile: 'demo-oneshot', maxConcurrent: 2 },
    { kind: 'worker', name: 'gina', profile: 'demo-oneshot' },
  ]);
  await t.daemon.reloadTeam('poke');
  dropTask(tasks, 'fab', { task_id: 'w1', description: 'waits [sleep 100ms]' });
  await waitFor('w1 taken in', async () => (await taskState(t, 'w1')) === 'queued', 20_000);
  // h1/h2 hold the two slots: w1 waits. Now fab goes and gina stays.
  editWorkers(t, [{ kind: 'worker', name: 'gina', profile: 'demo-oneshot' }]);
  await t.daemon.reloadTeam('poke');
  expect(pool.names()).toEqual(['gina']);
  await t.ctx.store.listAgents(); // a round trip: the pool's next pass has had its turn
  expect(await taskState(t, 'w1')).toBe('queued');
  // The runs out go on to their end; speed them up by cancelling one (recorded as cancelled), the other completes.
  await workerTaskStoreOf(t.ctx.store)!.cancelWorkerTask('h2', 'test: speed up');
  expect(await waitFor('h2 result', () => readResult(join(state, 'results'), 'fab', 'h2'), 30_000)).toMatchObject({ status: 'cancelled' });
  expect(await waitFor('h1 result', () => readResult(join(state, 'results'), 'fab', 'h1'), 60_000)).toMatchObject({ status: 'completed' });
  // Both slots are free and the worker is gone: w1 is still queued, never run.
  expect(await taskState(t, 'w1')).toBe('queued');
  expect(readResult(join(state, 'results'), 'fab', 'w1')).toBeNull();
  // gina still works.
  dropTask(tasks, 'gina', { task_id: 'g1', description: 'gina [sleep 100ms]' });
  expect(await waitFor('g1 result', () => readResult(join(state, 'results'), 'gina', 'g1'), 30_000)).toMatchObject({ status: 'completed' });

  // fab back (by a hand edit, seen by the engine's poll): its queued task runs.
  editWorkers(t, [
    { kind: 'worker', name: 'gina', profile: 'demo-oneshot' },
    { kind: 'worker', name: 'fab', profile: 'demo-oneshot' },
  ]);
  expect(await waitFor('w1 result', () => readResult(join(state, 'results'), 'fab', 'w1'), 30_000)).toMatchObject({ status: 'completed', result: 'echo: waits [sleep 100ms]' });
}, 180_000);
