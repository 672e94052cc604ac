/**
 * Task workers on a Redis team (issue 14): two node engines (`--node alpha|beta daemon start`, each
 * its own state directory and tmux server) share one worker's queue in one redis-server; tasks come
 * from a third process (`task add`), and whichever node has a free slot takes the next one. Never
 * more than maxConcurrent runs per node, every task completed once with its own result; `tasks`,
 * `tasks cancel` and `tasks retry` work from the third process. Then kill -9 of one node's engine
 * mid run: once its leases lapse the other node runs its tasks again and completes each once; the
 * killed node's copies can end no task, and an engine of that node started again while they still
 * run stops them. Real redis-server, real tmux, the demo one-shot CLI.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { Project, assertBuilt } from '../helpers/cli.js';
import { TmuxFixture, initGitRepo, waitFor } from '../helpers/tmux.js';
import { startRedisServer, type RedisServer } from '../helpers/redis.js';
import { maxOverlap, readResult } from '../helpers/workers/harness.js';
import type { WorkerTask } from '../../src/domain/worker-task.js';
import type { WorkerView } from '../../src/services/worker-tasks.js';

const fx = new TmuxFixture();
let redis: RedisServer;
beforeAll(async () => {
  assertBuilt();
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.destroy();
});
afterEach(async () => {
  await fx.cleanup();
});

const MAX = 2;

interface Node {
  name: string;
  p: Project;
  home: string;
  runLog: string;
}

/** Lines of a demo run log: which task ids started (in order). */
function starts(runLog: string): string[] {
  return existsSync(runLog)
    ? readFileSync(runLog, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('start '))
        .map((l) => l.split(' ')[1]!)
    : [];
}

/** Runs going on a node now: started, not ended (by the demo's log). */
function going(runLog: string): string[] {
  if (!existsSync(runLog)) return [];
  const open = new Map<string, number>();
  for (const l of readFileSync(runLog, 'utf8').split('\n').filter(Boolean)) {
    const [kind, id, attempt] = l.split(' ');
    const key = `${id} ${attempt}`;
    open.set(key, (open.get(key) ?? 0) + (kind === 'start' ? 1 : -1));
  }
  return [...open].filter(([, n]) => n > 0).map(([k]) => k.split(' ')[0]!);
}

it('two nodes share a worker queue: a free slot takes the next task, at most maxConcurrent per node, each task completed once; kill -9 of a node: the other completes its tasks, once', async () => {
  const dir = fx.dir('hornets-rworkers-');
  initGitRepo(dir);
  const base = { TMUX: undefined, TMUX_PANE: undefined, REDIS_URL: redis.url, HORNETS_NODE: undefined };
  const client = new Project(dir, { ...base, HORNETS_TMUX_SOCKET: fx.socket(), HORNETS_HOME: fx.dir('hornets-rworkers-c-') });
  await client.ok(['init', '--agents', 'lead']);
  const configPath = path.join(dir, 'hornets.json');
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown> & { agents: { node?: string }[]; defaults: Record<string, unknown>; daemon?: Record<string, unknown> };
  delete config.defaults.node;
  config.agents[0]!.node = 'alpha';
  config.workers = [{ kind: 'worker', name: 'fab', profile: 'demo-oneshot', maxConcurrent: MAX, maxRetries: 2, initialRetryDelay: '100ms' }];
  config.daemon = { ...config.daemon, workerLease: '2s' };
  writeFileSync(configPath, JSON.stringify(config, null, 2));

  const node = (name: string): Node => {
    const home = fx.dir(`hornets-rworkers-${name}-`);
    const runLog = path.join(home, 'demo-runs.log');
    const p = new Project(dir, { ...base, HORNETS_TMUX_SOCKET: fx.socket(), HORNETS_HOME: home, HORNETS_DEMO_RUN_LOG: runLog });
    fx.defer(() => p.run(['--node', name, 'daemon', 'stop']));
    return { name, p, home, runLog };
  };
  const alpha = node('alpha');
  const beta = node('beta');
  await alpha.p.ok(['--node', 'alpha', 'daemon', 'start']);
  await beta.p.ok(['--node', 'beta', 'daemon', 'start']);

  const tasks = async () => JSON.parse((await client.ok(['tasks', '--all', '--json', '--limit', '1000'])).stdout) as { workers: WorkerView[]; tasks: WorkerTask[] };
  const add = async (ids: string[], text: (id: string) => string) => {
    for (let i = 0; i < ids.length; i += 4) await Promise.all(ids.slice(i, i + 4).map((id) => client.ok(['task', 'add', 'fab', '--id', id, text(id)])));
  };
  const completedOnce = (t: WorkerTask) => t.state === 'completed' && t.history.filter((a) => a.outcome === 'completed').length === 1;

  // --- N tasks from the third process.
  const first = Array.from({ length: 12 }, (_, i) => `t${String(i).padStart(2, '0')}`);
  await add(first, (id) => `count ${id} [sleep 1200ms]`);
  await waitFor('12 tasks completed', async () => (await tasks()).tasks.filter((t) => first.includes(t.taskId) && t.state === 'completed').length === 12, 120_000, 250);
  let s = await tasks();
  for (const id of first) {
    const t = s.tasks.find((x) => x.taskId === id)!;
    expect(completedOnce(t), id).toBe(true);
    expect(t.result, id).toMatch(new RegExp(`^echo: count ${id} `));
    // One result file, on the node that ran it.
    const files = [alpha, beta].filter((n) => readResult(path.join(n.home, 'results'), 'fab', id) !== null);
    expect(files, id).toHaveLength(1);
    expect(readResult(path.join(files[0]!.home, 'results'), 'fab', id)!.result).toBe(t.result);
  }
  expect(new Set(s.tasks.map((t) => t.result)).size).toBe(12);
  // Each task ran once, somewhere; both nodes took some; never more than MAX at once on a node.
  const ran = [...starts(alpha.runLog), ...starts(beta.runLog)].sort();
  expect(ran).toEqual(first);
  expect(starts(alpha.runLog).length).toBeGreaterThan(0);
  expect(starts(beta.runLog).length).toBeGreaterThan(0);
  expect(maxOverlap(alpha.runLog)).toBeLessThanOrEqual(MAX);
  expect(maxOverlap(beta.runLog)).toBeLessThanOrEqual(MAX);
  // The workers' view from a host with no engine: the store's, not a heartbeat file.
  expect(s.workers.map((w) => [w.name, w.heartbeat?.breaker, w.heartbeat?.queueDepth])).toEqual([['fab', 'closed', 0]]);

  // --- cancel and retry from the third process.
  await add(['long'], () => 'long one [sleep 60000ms]');
  await waitFor('long running', async () => (await tasks()).tasks.find((t) => t.taskId === 'long')?.state === 'running', 30_000, 200);
  await waitFor('long started', () => going(alpha.runLog).includes('long') || going(beta.runLog).includes('long'), 30_000, 100);
  await client.ok(['tasks', 'cancel', 'long']);
  await waitFor(
    'long cancelled with its run recorded',
    async () => {
      const t = (await tasks()).tasks.find((x) => x.taskId === 'long')!;
      return t.state === 'cancelled' && t.history.some((a) => a.outcome === 'cancelled');
    },
    30_000,
    250,
  );

  // --- kill -9 of alpha's engine with runs going.
  const second = Array.from({ length: 8 }, (_, i) => `k${i}`);
  await add(second, (id) => `kill ${id} [sleep 4000ms]`);
  await waitFor('alpha running tasks', () => going(alpha.runLog).filter((id) => second.includes(id)).length > 0, 60_000, 50);
  const alphaPid = Number(
    readFileSync(path.join(alpha.home, 'run', 'daemon.pid'), 'utf8')
      .trim()
      .split(/\s/)[0],
  );
  expect(alphaPid).toBeGreaterThan(0);
  process.kill(alphaPid, 'SIGKILL');
  const orphaned = going(alpha.runLog).filter((id) => second.includes(id));
  expect(orphaned.length).toBeGreaterThan(0);
  await waitFor('8 tasks completed', async () => (await tasks()).tasks.filter((t) => second.includes(t.taskId) && t.state === 'completed').length === 8, 120_000, 250);
  s = await tasks();
  for (const id of second) {
    const t = s.tasks.find((x) => x.taskId === id)!;
    expect(completedOnce(t), id).toBe(true);
    expect(t.result, id).toMatch(new RegExp(`^echo: kill ${id} `));
  }
  for (const id of orphaned) {
    const t = s.tasks.find((x) => x.taskId === id)!;
    // Alpha's run was taken over (lost, not counted as a failure), then beta completed it.
    expect(
      t.history.map((a) => a.outcome),
      id,
    ).toEqual(['lost', 'completed']);
    expect(readResult(path.join(beta.home, 'results'), 'fab', id)?.result, id).toBe(t.result);
    expect(readResult(path.join(alpha.home, 'results'), 'fab', id), id).toBeNull();
    expect(starts(beta.runLog), id).toContain(id);
  }
  // Over this batch's runs: the cancelled run above logged no end.
  expect(maxOverlap(beta.runLog, second)).toBeLessThanOrEqual(MAX);
  // Alpha's own copies ran on in its tmux server and ended; they completed nothing.
  await waitFor('alpha runs ended', () => going(alpha.runLog).filter((id) => second.includes(id)).length === 0, 30_000, 200);
  s = await tasks();
  for (const id of orphaned) expect(completedOnce(s.tasks.find((x) => x.taskId === id)!), id).toBe(true);

  // --- a node that comes back after its runs were taken over stops its copies still going.
  // Alpha must run them: whichever node has a free slot takes the next task, so with beta up (both
  // its slots free) it could take both first. Beta stops meanwhile (no run of its own is out) and
  // comes back once alpha's engine is killed, to take its runs over when their leases lapse.
  await beta.p.ok(['--node', 'beta', 'daemon', 'stop']);
  await alpha.p.ok(['--node', 'alpha', 'daemon', 'start']);
  // Two tasks, so beta has a free slot for each run alpha had: another node's lapsed run takes a free
  // slot of the claimer (never more than maxConcurrent on a node), so with beta full the takeover
  // would wait for a slot, and alpha's copies could end first.
  const third = ['x0', 'x1'];
  await add(third, (id) => `long kill ${id} [sleep 12000ms]`);
  await waitFor('alpha running both x tasks', () => third.every((id) => going(alpha.runLog).includes(id)), 60_000, 50);
  process.kill(Number(readFileSync(path.join(alpha.home, 'run', 'daemon.pid'), 'utf8').trim()), 'SIGKILL');
  const copies = going(alpha.runLog).filter((id) => third.includes(id));
  expect([...copies].sort()).toEqual(third);
  await beta.p.ok(['--node', 'beta', 'daemon', 'start']);
  await waitFor(
    'beta took them over',
    async () => {
      const all = (await tasks()).tasks;
      return copies.every((id) => all.find((t) => t.taskId === id)?.history.some((a) => a.outcome === 'lost'));
    },
    60_000,
    100,
  );
  const alive = going(alpha.runLog).filter((id) => copies.includes(id));
  expect(alive).toEqual(copies);
  await alpha.p.ok(['--node', 'alpha', 'daemon', 'start']);
  const alphaLog = () => readFileSync(path.join(alpha.home, 'logs', 'hornets.log'), 'utf8');
  await waitFor('alpha stopped its copies', () => copies.every((id) => alphaLog().includes(`"event":"worker_foreign_run_stopped","worker":"fab","run":"${id}.a1"`)), 30_000, 100);
  await waitFor('both tasks completed', async () => (await tasks()).tasks.filter((t) => third.includes(t.taskId) && t.state === 'completed').length === third.length, 120_000, 250);
  s = await tasks();
  for (const id of third) expect(completedOnce(s.tasks.find((x) => x.taskId === id)!), id).toBe(true);
  // The stopped copies never ended (the demo logs an end only when it finishes).
  for (const id of copies) expect(readFileSync(alpha.runLog, 'utf8'), id).not.toMatch(new RegExp(`^end ${id} 1 `, 'm'));

  // --- the cancelled task put back from the third process runs again on a node.
  await client.ok(['tasks', 'retry', 'long']);
  await waitFor(
    'long running again',
    async () => {
      const t = (await tasks()).tasks.find((x) => x.taskId === 'long')!;
      return t.state === 'running' && t.attempts === 2;
    },
    30_000,
    200,
  );
  await waitFor('long run again', () => [...starts(alpha.runLog), ...starts(beta.runLog)].filter((id) => id === 'long').length === 2, 30_000, 100);
  await client.ok(['tasks', 'cancel', 'long']);
  await waitFor('long cancelled again', async () => (await tasks()).tasks.find((t) => t.taskId === 'long')?.history.length === 2, 30_000, 250);
}, 400_000);
