/**
 * The operator's commands for task workers against a running engine (issue 14): `task add`,
 * `tasks` (list with state, workers' runs and breaker), `tasks cancel` (a running run's process
 * group is killed), `tasks retry` (a failed task runs again), and a task's tokens and cost over its
 * runs in both forms of the list (issue 17).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { closeTeams, cliEnv, startTeam } from '../helpers/team.js';
import { waitFor } from '../helpers/tmux.js';
import { runCli } from '../helpers/cli.js';
import { readResult } from '../helpers/workers/harness.js';
import { groupAlive } from '../../src/proc/task-run.js';
import type { WorkerTask } from '../../src/domain/worker-task.js';
import { taskUsageOf } from '../../src/domain/run-usage.js';
import { totalTokens } from '../../src/domain/usage.js';
import { DEMO_SYSTEM_TOKENS } from '../../src/demo-agent/oneshot.js';

afterEach(closeTeams);

it('task add, tasks, tasks cancel and tasks retry', async () => {
  const t = await startTeam([{ name: 'lead', profile: 'demo' }], {
    config: { daemon: { heartbeatInterval: '200ms' }, workers: [{ kind: 'worker', name: 'fab', profile: 'demo-oneshot', maxConcurrent: 1, maxRetries: 0 }] },
  });
  const state = t.ctx.project.paths.root;
  const cli = (args: string[]) => runCli(args, { cwd: t.dir, env: cliEnv(t) });
  const tasks = async () => JSON.parse((await cli(['tasks', '--all', '--json'])).stdout) as { workers: { name: string; heartbeat: { activeTasks: number } | null }[]; tasks: WorkerTask[] };
  const stateOf = async (id: string) => (await tasks()).tasks.find((x) => x.taskId === id)?.state;

  const add = await cli(['task', 'add', 'fab', '--id', 'long1', '--from', 'lead', '--metadata', '{"n":1}', 'wait', 'a', 'long', 'time', '[sleep 60s]']);
  expect(add).toMatchObject({ code: 0, stdout: 'long1\n' });
  await waitFor('long1 running', async () => (await stateOf('long1')) === 'running', 30_000, 200);
  expect((await cli(['task', 'add', 'fab', '--id', 'next1', 'second'])).code).toBe(0);
  await waitFor('next1 taken in', async () => (await stateOf('next1')) === 'queued', 10_000, 200);

  const list = await cli(['tasks']);
  expect(list.code).toBe(0);
  expect(list.stdout).toMatch(/^WORKER\s+RUNNING\s+WAITING\s+BREAKER\s+HEARTBEAT$/m);
  expect(list.stdout).toMatch(/^fab\s+1\/1\s+1\s+closed\s+/m);
  expect(list.stdout).toMatch(/^long1\s+fab\s+running\s+1\s+/m);
  expect(list.stdout).toMatch(/^next1\s+fab\s+queued\s+0\s+/m);

  const pgid = (JSON.parse(readFileSync(join(state, 'runs', 'fab', 'long1', '1', 'pid.json'), 'utf8')) as { pgid: number }).pgid;
  const cancel = await cli(['tasks', 'cancel', 'long1']);
  expect(cancel).toMatchObject({ code: 0, stdout: expect.stringMatching(/^cancelled long1 \(fab\)/) });
  const r = await waitFor('long1 cancelled result', () => readResult(join(state, 'results'), 'fab', 'long1'), 20_000);
  expect(r).toMatchObject({ status: 'cancelled', attempts: [{ outcome: 'cancelled' }] });
  await waitFor('its process group gone', () => !groupAlive(pgid), 10_000);
  // The slot is free again: the next task runs.
  await waitFor('next1 completed', () => readResult(join(state, 'results'), 'fab', 'next1'), 30_000);

  expect((await cli(['task', 'add', 'fab', '--id', 'bad1', 'nope [fail]'])).code).toBe(0);
  await waitFor('bad1 failed', async () => (await stateOf('bad1')) === 'failed', 30_000, 200);
  expect((await cli(['tasks', 'retry', 'bad1'])).stdout).toMatch(/^queued bad1 \(fab\) again/);
  await waitFor('bad1 ran again and failed again', async () => (await tasks()).tasks.find((x) => x.taskId === 'bad1')?.history.length === 2, 30_000, 200);
  expect(await stateOf('bad1')).toBe('failed');
  // Tokens and cost over both runs (the operator's retry too): --json has each run's and the totals,
  // the list the totals (the demo's system prompt cached by the first run, read by the second).
  const bad1 = (await tasks()).tasks.find((x) => x.taskId === 'bad1')!;
  expect(bad1.history.map((a) => a.usage?.costSource)).toEqual(['cli', 'cli']);
  expect(bad1.usage).toEqual(taskUsageOf(bad1.history));
  expect(bad1.usage).toMatchObject({ cacheCreation: DEMO_SYSTEM_TOKENS, cacheRead: DEMO_SYSTEM_TOKENS, runs: 2 });
  expect(bad1.usage.costUsd).toBeGreaterThan(0.01);
  const shown = `${(totalTokens(bad1.usage) / 1000).toFixed(1)}k $${bad1.usage.costUsd.toFixed(2)}`;
  expect((await cli(['tasks', '--all'])).stdout).toMatch(
    new RegExp(`^TASK\\s+WORKER\\s+STATE\\s+RUNS\\s+AGE\\s+USAGE\\s+INFO$[\\s\\S]*^bad1\\s+fab\\s+failed\\s+2\\s+\\S+\\s+${shown.replace('$', '\\$')}\\s`, 'm'),
  );

  // watch redraws until stopped.
  const watch = await runCli(['tasks', 'watch', '--all', '--interval', '0.2'], { cwd: t.dir, env: cliEnv(t), timeoutMs: 4_000 });
  expect(watch.stdout.split('\x1b[H\x1b[2J').filter((f) => /^bad1\s+fab\s+failed\s+2\s+/m.test(f)).length).toBeGreaterThanOrEqual(2);

  const bad = await cli(['tasks', 'cancel', 'nope']);
  expect(bad.code).not.toBe(0);
  expect(bad.stderr).toMatch(/no worker task "nope"/);
  const done = await cli(['tasks', 'cancel', 'next1']);
  expect(done.stderr).toMatch(/cannot cancel task next1: worker task next1 is completed/);
  const unknown = await cli(['task', 'add', 'nobody', 'x']);
  expect(unknown.stderr).toMatch(/unknown worker "nobody" \(workers: fab\)/);
}, 180_000);
