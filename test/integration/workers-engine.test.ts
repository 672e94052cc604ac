/**
 * Task workers inside the real engine (issue 14): the task watcher hands tasks/<worker>/ files to
 * the worker pool, the `from` agent gets the result summary, heartbeats carry active_tasks and the
 * metrics endpoint the seed's watcher_* names for the worker.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { closeTeams, startTeam } from '../helpers/team.js';
import { waitFor } from '../helpers/tmux.js';
import { dropTask, readResult } from '../helpers/workers/harness.js';

afterEach(closeTeams);

async function metrics(stateDir: string): Promise<string> {
  const url = readFileSync(join(stateDir, 'run', 'metrics-endpoint'), 'utf8').trim();
  return (await fetch(`${url}/metrics`)).text();
}

it('a worker task through the engine: run, result, from-notification, heartbeat, watcher_* and usage metrics', async () => {
  const t = await startTeam([{ name: 'lead', profile: 'demo' }], {
    config: { daemon: { heartbeatInterval: '200ms' }, workers: [{ kind: 'worker', name: 'fab', profile: 'demo-oneshot', maxConcurrent: 2 }] },
  });
  const state = t.ctx.project.paths.root;
  dropTask(join(state, 'tasks'), 'fab', { task_id: 'e1', description: 'hello engine [sleep 2s]', worker: 'fab', from: 'lead' });
  const hb = await waitFor(
    'a heartbeat with the run',
    () => {
      try {
        const h = JSON.parse(readFileSync(join(state, 'heartbeats', 'fab.json'), 'utf8')) as { active_tasks: number; state: string; status: string; pid: number };
        return h.active_tasks === 1 ? h : null;
      } catch {
        return null;
      }
    },
    30_000,
  );
  expect(hb.state).toBe('worker');
  // As seed 003's probe reads it: healthy (breaker closed), with the engine's pid, rewritten every interval.
  expect(hb.status).toBe('healthy');
  expect(hb.pid).toBeGreaterThan(0);
  // The gauge follows once the run's window is open (the slot is taken a moment before).
  await waitFor('watcher_active_tasks 1', async () => /^watcher_active_tasks\{worker="fab"\} 1$/m.test(await metrics(state)), 10_000);
  const r = await waitFor('the result', () => readResult(join(state, 'results'), 'fab', 'e1'), 30_000);
  expect(r).toMatchObject({ status: 'completed', result: 'echo: hello engine [sleep 2s]', from: 'lead' });
  const told = await waitFor('the message to lead', async () => (await t.ctx.store.list({ agent: 'lead', limit: 100 })).find((m) => m.key === 'worker-result:e1'), 10_000);
  expect(told.body).toBe('task e1 for fab completed: echo: hello engine [sleep 2s]');
  expect(told.sender).toBe('fab');
  const text = await waitFor('metrics after the run', async () => {
    const m = await metrics(state);
    return /watcher_tasks_processed_total\{worker="fab",status="completed"\} 1/.test(m) ? m : null;
  });
  expect(text).toMatch(/^watcher_active_tasks\{worker="fab"\} 0$/m);
  expect(text).toMatch(/^watcher_task_queue_size\{worker="fab"\} 0$/m);
  expect(text).toMatch(/^watcher_circuit_breaker_state\{worker="fab"\} 0$/m);
  expect(text).toMatch(/^watcher_task_duration_seconds_count\{worker="fab"\} 1$/m);
  // The run's tokens and cost, counted once, as the result file has them.
  expect(r.totals.runs).toBe(1);
  expect(text).toMatch(new RegExp(`^hornets_worker_tokens_total\\{worker="fab",kind="input"\\} ${r.totals.input_tokens}$`, 'm'));
  expect(text).toMatch(new RegExp(`^hornets_worker_tokens_total\\{worker="fab",kind="cache_creation"\\} ${r.totals.cache_creation_tokens}$`, 'm'));
  expect(text).toMatch(new RegExp(`^hornets_worker_cost_usd_total\\{worker="fab"\\} ${r.totals.cost_usd}$`, 'm'));
  expect(r.totals.cost_usd).toBeGreaterThan(0);
  // The file was the worker's, not an unknown agent's.
  expect(() => readFileSync(join(state, 'dlq', 'fab', 'e1.json.error.json'))).toThrow();
}, 90_000);

it("a worker run gets its profile's hooks: they report to the engine (result file), go with a scratch directory, and leave an interactive agent's shared worktree as it was", async () => {
  const t = await startTeam([{ name: 'lead', profile: 'demo' }], {
    config: { workers: [{ kind: 'worker', name: 'fab', profile: 'demo-oneshot', maxConcurrent: 2 }] },
  });
  const state = t.ctx.project.paths.root;
  // A scratch run: the demo one-shot CLI runs the hooks of .claude/settings.local.json as `claude -p` does.
  dropTask(join(state, 'tasks'), 'fab', { task_id: 'k1', description: 'hooks [sleep 100ms]' });
  const r = await waitFor('k1 result', () => readResult(join(state, 'results'), 'fab', 'k1'), 30_000);
  expect(r).toMatchObject({ status: 'completed', hooks: { calls: 3, events: { SessionStart: 1, UserPromptSubmit: 1, Stop: 1 } } });
  const scratch = join(state, 'runs', 'fab', 'k1', '1', 'work');
  expect(existsSync(join(scratch, '.claude', 'settings.local.json'))).toBe(false);

  // A run in lead's worktree: the same settings lead has; lead's file is byte for byte as before.
  const lead = t.ctx.project.config.agents.find((a) => a.name === 'lead')!;
  const worktree = t.daemon.engine.agents.worktreePath(lead);
  const settings = join(worktree, '.claude', 'settings.local.json');
  const before = readFileSync(settings, 'utf8');
  dropTask(join(state, 'tasks'), 'fab', { task_id: 'k2', description: 'shared [sleep 100ms]', worktree });
  const r2 = await waitFor('k2 result', () => readResult(join(state, 'results'), 'fab', 'k2'), 30_000);
  expect(r2).toMatchObject({ status: 'completed', hooks: { calls: 3 } });
  expect(readFileSync(settings, 'utf8')).toBe(before);
  // lead's own hooks still work: a message reaches it.
  const sent = await t.svc.send('lead', 'still yours');
  await waitFor('delivered to lead', async () => ['delivered', 'confirmed'].includes((await t.ctx.store.get(sent.message.id)).state), 30_000);
}, 120_000);
