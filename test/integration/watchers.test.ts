/**
 * The engine's file, pipe, heartbeat and metrics interfaces against real files, real FIFOs and a
 * real SQLite store, with a fake clock where time matters. No fixed sleeps: every wait is a
 * condition with a deadline.
 */
import { closeSync, constants, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { Socket } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { ensureStateDirs, statePaths, type StatePaths } from '../../src/config/paths.js';
import { hornetsConfigSchema, type HornetsConfig } from '../../src/config/schema.js';
import { silentLogger } from '../../src/log.js';
import { openSqliteStore, type SqliteMessageStore } from '../../src/queue/sqlite/sqlite-store.js';
import { TriggerWatcher } from '../../src/daemon/watchers/triggers.js';
import { TaskWatcher, type TaskResultFile } from '../../src/daemon/watchers/tasks.js';
import { PipeWatcher } from '../../src/daemon/watchers/pipes.js';
import { Heartbeats, storeSnapshot } from '../../src/daemon/heartbeats.js';
import { MetricsServer, collectQueueMetrics, createHornetsMetrics, metricsEndpointFile, observeDeliveries, PROMETHEUS_CONTENT_TYPE } from '../../src/daemon/metrics.js';

const T0 = 1_700_000_000_000;

async function waitFor<T>(what: string, fn: () => T | Promise<T>, timeoutMs = 5_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== null && v !== undefined && v !== false) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface Env {
  dir: string;
  paths: StatePaths;
  store: SqliteMessageStore;
  config: HornetsConfig;
  now: { t: number };
  clock: () => number;
  woken: string[];
}

let env: Env;
const stops: (() => Promise<void>)[] = [];

beforeEach(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hornets-watchers-'));
  const paths = statePaths(join(dir, '.hornets'));
  ensureStateDirs(paths);
  const now = { t: T0 };
  const clock = () => now.t;
  const config = hornetsConfigSchema.parse({
    project: 'w',
    defaults: { priority: 5 },
    agents: [
      { name: 'marie', profile: 'demo', priority: 7, ttl: '2h' },
      { name: 'anga', profile: 'demo' },
      { name: 'orch', profile: 'demo' },
    ],
  });
  const store = await openSqliteStore(paths.db, { clock, random: () => 0.5 });
  await store.registerAgents(config.agents.map((a) => ({ name: a.name, profile: a.profile })));
  env = { dir, paths, store, config, now, clock, woken: [] };
});

afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s();
  await env.store.close();
  rmSync(env.dir, { recursive: true, force: true });
});

function dlqEntry(agent: string, name: string): { error: string; at: string } | null {
  const file = join(env.paths.dlq, agent, `${name}.error.json`);
  if (!existsSync(file) || !existsSync(join(env.paths.dlq, agent, name))) return null;
  return JSON.parse(readFileSync(file, 'utf8')) as { error: string; at: string };
}

/** Written elsewhere, renamed into place: what writers are told to do. */
function dropAtomically(dir: string, name: string, content: string | Buffer): void {
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${name}.tmp`);
  writeFileSync(tmp, content);
  renameSync(tmp, join(dir, name));
}

// ------------------------------------------------------------------------------------ triggers

describe('trigger files', () => {
  async function startTriggers(): Promise<TriggerWatcher> {
    const metrics = createHornetsMetrics();
    const w = new TriggerWatcher({ store: env.store, paths: env.paths, config: env.config, log: silentLogger(), clock: env.clock, wake: (a) => env.woken.push(a), metrics, scanIntervalMs: 60_000 });
    await w.start();
    stops.push(() => w.stop());
    return w;
  }

  it('creates a directory per agent and picks a dropped file up through the watch, without a scan', async () => {
    await startTriggers();
    for (const a of ['marie', 'anga', 'orch']) expect(existsSync(join(env.paths.triggers, a))).toBe(true);
    dropAtomically(join(env.paths.triggers, 'anga'), 'hello.trigger', JSON.stringify({ message: 'run the tests', priority: 'high', key: 'ci-1', ttl: '10m', from: 'ci' }));
    const [m] = await waitFor('the trigger message', async () => {
      const l = await env.store.list({ agent: 'anga' });
      return l.length > 0 ? l : null;
    });
    expect(m).toMatchObject({ body: 'run the tests', priority: 20, key: 'ci-1', sender: 'ci', expiresAt: T0 + 600_000, state: 'queued' });
    expect(m!.meta).toEqual({ source: 'trigger', file: 'hello.trigger' });
    await waitFor('the file removed', () => !existsSync(join(env.paths.triggers, 'anga', 'hello.trigger')));
    expect(env.woken).toEqual(['anga']);
  });

  it('honours the hornets.json defaults and accepts "text"', async () => {
    const w = await startTriggers();
    dropAtomically(join(env.paths.triggers, 'marie'), 'a.trigger', JSON.stringify({ text: 'defaults please' }));
    await w.scan();
    const [m] = await env.store.list({ agent: 'marie' });
    expect(m).toMatchObject({ body: 'defaults please', priority: 7, sender: 'trigger', expiresAt: T0 + 7_200_000 });
    expect(m!.key).toMatch(/^trigger:[0-9a-f]{24}$/);
  });

  it('the same idempotency key twice queues one message and removes both files', async () => {
    const w = await startTriggers();
    dropAtomically(join(env.paths.triggers, 'marie'), 'one.trigger', JSON.stringify({ message: 'once', key: 'k' }));
    dropAtomically(join(env.paths.triggers, 'marie'), 'two.trigger', JSON.stringify({ message: 'once', key: 'k' }));
    await w.scan();
    expect(await env.store.list({ agent: 'marie' })).toHaveLength(1);
    expect(readdirSync(join(env.paths.triggers, 'marie'))).toEqual([]);
    expect(env.woken).toEqual(['marie']);
  });

  it.each([
    ['wrong fields', JSON.stringify({ msg: 'hi' }), /^wrong fields: "message" \(or "text"\) is missing; keys present: msg$/],
    ['wrong type', JSON.stringify({ message: 42 }), /^wrong fields: message: must be a string/],
    ['both message and text', JSON.stringify({ message: 'a', text: 'b' }), /not both/],
    ['an array', JSON.stringify(['hi']), /expected a JSON object .* got an array/],
    ['empty text', JSON.stringify({ message: '   ' }), /^empty text/],
    ['bad priority', JSON.stringify({ message: 'x', priority: 999 }), /priority 999 is invalid/],
    ['bad ttl', JSON.stringify({ message: 'x', ttl: 'soon' }), /ttl "soon" is not a duration/],
    ['binary', Buffer.from([0x7b, 0x00, 0x01, 0xff, 0x7d]), /^binary content \(NUL bytes\)/],
    ['huge', JSON.stringify({ message: 'x'.repeat(1024 * 1024 + 10) }), /^file is \d+ bytes; the limit is 1048576 bytes \(1 MiB\)$/],
    ['larger than a message may be', JSON.stringify({ message: 'y'.repeat(300 * 1024) }), /the limit is 262144 bytes \(256 KiB\)$/],
  ])('%s goes to the DLQ with the reason', async (_name, content, reason) => {
    const w = await startTriggers();
    dropAtomically(join(env.paths.triggers, 'marie'), 'bad.trigger', content);
    await w.scan();
    const e = await waitFor('the DLQ entry', () => dlqEntry('marie', 'bad.trigger'));
    expect(e.error).toMatch(reason);
    expect(e.at).toBe(new Date(T0).toISOString());
    expect(existsSync(join(env.paths.triggers, 'marie', 'bad.trigger'))).toBe(false);
    expect(await env.store.list({ agent: 'marie' })).toEqual([]);
    expect(env.woken).toEqual([]);
  });

  it('a file that is not JSON gets one more scan before the DLQ (it may still be being written)', async () => {
    const w = await startTriggers();
    dropAtomically(join(env.paths.triggers, 'marie'), 'broken.trigger', '{"message": oops}');
    await w.scan();
    expect(existsSync(join(env.paths.triggers, 'marie', 'broken.trigger'))).toBe(true);
    // Unchanged a scan interval later: dead-lettered.
    env.now.t += 60_000;
    await w.scan();
    expect(dlqEntry('marie', 'broken.trigger')!.error).toMatch(/^not JSON: /);
  });

  it('a partly written file is taken in once complete, not dead-lettered', async () => {
    const w = await startTriggers();
    const file = join(env.paths.triggers, 'marie', 'slow.trigger');
    writeFileSync(file, '{"message": "written in');
    await w.scan();
    env.now.t += 5_000;
    appendFileSync(file, ' two parts"}');
    await w.scan();
    const [m] = await waitFor('the message', async () => {
      const l = await env.store.list({ agent: 'marie' });
      return l.length > 0 ? l : null;
    });
    expect(m!.body).toBe('written in two parts');
    expect(existsSync(join(env.paths.dlq, 'marie'))).toBe(false);
  });

  it('an empty file is retried once, then dead-lettered', async () => {
    const w = await startTriggers();
    dropAtomically(join(env.paths.triggers, 'marie'), 'empty.trigger', '');
    await w.scan();
    expect(dlqEntry('marie', 'empty.trigger')).toBeNull();
    env.now.t += 60_000;
    await w.scan();
    expect(dlqEntry('marie', 'empty.trigger')!.error).toMatch(/^empty file/);
  });

  it('files of an unknown agent and stray files go to the DLQ; other names are left alone', async () => {
    const w = await startTriggers();
    dropAtomically(join(env.paths.triggers, 'ghost'), 'x.trigger', JSON.stringify({ message: 'hi' }));
    dropAtomically(env.paths.triggers, 'stray.trigger', JSON.stringify({ message: 'hi' }));
    writeFileSync(join(env.paths.triggers, 'marie', 'notes.txt'), 'not a trigger');
    writeFileSync(join(env.paths.triggers, 'marie', 'half.trigger.tmp'), '{"mess');
    await w.scan();
    expect(dlqEntry('ghost', 'x.trigger')!.error).toBe('unknown agent "ghost" (configured agents: marie, anga, orch)');
    expect(dlqEntry('_unassigned', 'stray.trigger')!.error).toMatch(/go in .*<agent>/);
    expect(readdirSync(join(env.paths.triggers, 'marie')).sort()).toEqual(['half.trigger.tmp', 'notes.txt']);
  });

  it('a file swapped for a symlink or a FIFO between check and read: the outside file is never queued and nothing hangs', async () => {
    const w = await startTriggers();
    const outside = join(env.dir, 'outside.json');
    writeFileSync(outside, JSON.stringify({ message: 'OUTSIDE SECRET' }));
    const dir = join(env.paths.triggers, 'marie');
    // Another process swaps files while the watcher reads them: the race has to be real, and the
    // watcher only ever sees what a second process does, never what this one does synchronously.
    const flipper = `
      const fs = require('fs'); const path = require('path'); const { execFileSync } = require('child_process');
      const [dir, outside, n] = process.argv.slice(1);
      for (let i = 0; i < Number(n); i++) {
        const f = path.join(dir, 'r' + i + '.trigger');
        const tmp = path.join(dir, '.swap' + i);
        if (i % 10 === 7) execFileSync('mkfifo', [tmp]); else fs.symlinkSync(outside, tmp);
        fs.writeFileSync(f, JSON.stringify({ message: 'inside ' + i }));
        const until = process.hrtime.bigint() + BigInt(50000 + (i % 7) * 100000);
        while (process.hrtime.bigint() < until);
        fs.renameSync(tmp, f);
      }`;
    const child = spawn(process.execPath, ['-e', flipper, dir, outside, '400'], { stdio: 'ignore' });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(0);
    // Not hung: a plain file after the storm is still taken in, through the watch or a scan.
    dropAtomically(dir, 'after.trigger', JSON.stringify({ message: 'after the storm' }));
    await w.scan();
    await waitFor('the file after the storm', async () => (await env.store.list({ agent: 'marie' })).some((m) => m.body === 'after the storm'), 10_000);
    const bodies = (await env.store.list({ agent: 'marie' })).map((m) => m.body);
    expect(bodies.filter((b) => b === 'OUTSIDE SECRET')).toEqual([]);
    expect(bodies.every((b) => b === 'after the storm' || /^inside \d+$/.test(b))).toBe(true);
    // What was swapped is dead-lettered as what it is, never read.
    const errors = readdirSync(join(env.paths.dlq, 'marie'))
      .filter((n) => n.endsWith('.error.json'))
      .map((n) => (JSON.parse(readFileSync(join(env.paths.dlq, 'marie', n), 'utf8')) as { error: string }).error);
    for (const e of errors) expect(e).toMatch(/^not a regular file \((symlink|special file)\)$/);
  }, 30_000);

  it('a second dead letter of the same name does not overwrite the first', async () => {
    const w = await startTriggers();
    dropAtomically(join(env.paths.triggers, 'marie'), 'dup.trigger', '[]');
    await w.scan();
    dropAtomically(join(env.paths.triggers, 'marie'), 'dup.trigger', '{}');
    await w.scan();
    const names = readdirSync(join(env.paths.dlq, 'marie')).sort();
    expect(names).toHaveLength(4);
    expect(names.filter((n) => n.endsWith('.error.json'))).toHaveLength(2);
  });
});

// ------------------------------------------------------------------------------------ tasks

describe('tasks and results', () => {
  async function startTasks(settings: Partial<{ taskTimeoutMs: number; taskMaxRetries: number; taskRetryBackoffMs: number }> = {}) {
    const metrics = createHornetsMetrics();
    const w = new TaskWatcher({
      store: env.store,
      paths: env.paths,
      config: env.config,
      settings: { taskTimeoutMs: 1_800_000, taskMaxRetries: 2, taskRetryBackoffMs: 10_000, ...settings },
      log: silentLogger(),
      clock: env.clock,
      random: () => 1,
      wake: (a) => env.woken.push(a),
      metrics,
      scanIntervalMs: 60_000,
      checkIntervalMs: 60_000,
    });
    await w.start();
    stops.push(() => w.stop());
    return { w, metrics };
  }

  /** What the agent's hooks do: claim + ack the task message (delivery). */
  async function deliver(agent: string): Promise<string> {
    const [m] = await env.store.claim(agent, { owner: 'test', leaseMs: 30_000 });
    expect(m).toBeDefined();
    await env.store.ack({ leaseToken: m!.leaseToken!, sessionId: 's1' });
    return m!.id;
  }

  /** What the Stop hook records. */
  async function agentStops(agent: string, last: string): Promise<void> {
    await env.store.saveAgentContext(agent, { checkpointData: { lastAssistantMessage: last, lastStopAt: env.clock() } });
  }

  function result(agent: string, id: string): TaskResultFile | null {
    const f = join(env.paths.results, agent, `${id}.json`);
    return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as TaskResultFile) : null;
  }

  it('a task file becomes a task and a message; delivery then Stop writes the result and tells the orchestrator', async () => {
    const { w, metrics } = await startTasks();
    dropAtomically(join(env.paths.tasks, 'marie'), 't1.json', JSON.stringify({ task_id: 't1', description: 'Count the files', priority: 30, timeout: '10m', max_retries: 1, from: 'orch' }));
    const task = await waitFor('the task', () => env.store.getTask('t1'));
    await waitFor('the file removed', () => !existsSync(join(env.paths.tasks, 'marie', 't1.json')));
    expect(task).toMatchObject({ agent: 'marie', state: 'queued', attempts: 1, priority: 30, timeoutMs: 600_000, maxRetries: 1, from: 'orch' });
    const msg = await env.store.get(task.messageId!);
    expect(msg).toMatchObject({ agent: 'marie', key: 'task:t1', priority: 30, sender: 'orch', meta: { task_id: 't1', attempt: 1 } });
    expect(msg.body).toMatch(/^Task t1 from orch:\nCount the files\n/);
    expect(env.woken).toEqual(['marie']);

    // A Stop from before the delivery does not count.
    await agentStops('marie', 'an earlier answer');
    env.now.t += 1_000;
    await deliver('marie');
    await w.checkCompletions();
    expect(await env.store.getTask('t1')).toMatchObject({ state: 'running', startedAt: T0 + 1_000, deadlineAt: T0 + 601_000 });
    expect(result('marie', 't1')).toBeNull();

    env.now.t += 4_000;
    await agentStops('marie', 'There are 42 files.');
    await w.checkCompletions();
    expect(result('marie', 't1')).toEqual({
      task_id: 't1',
      agent: 'marie',
      status: 'completed',
      result: 'There are 42 files.',
      duration_ms: 5_000,
      attempts: 1,
      from: 'orch',
      completed_at: new Date(T0 + 5_000).toISOString(),
    });
    expect(await env.store.getTask('t1')).toMatchObject({ state: 'completed', result: 'There are 42 files.' });
    const [note] = await env.store.list({ agent: 'orch' });
    expect(note).toMatchObject({ body: 'task t1 for marie completed: There are 42 files.', sender: 'marie', key: 'task-result:t1' });
    expect(env.woken).toEqual(['marie', 'orch']);
    expect(metrics.tasksProcessed.get({ worker: 'marie', status: 'completed' })).toBe(1);
    expect(metrics.taskDuration.get({ worker: 'marie' })).toEqual({ count: 1, sum: 5 });

    // Checking again changes nothing; the same id again is refused.
    await w.checkCompletions();
    expect(await env.store.list({ agent: 'orch' })).toHaveLength(1);
    dropAtomically(join(env.paths.tasks, 'marie'), 't1.json', JSON.stringify({ task_id: 't1', description: 'again' }));
    await w.scan();
    expect(dlqEntry('marie', 't1.json')!.error).toMatch(/task id "t1" was already used \(that task completed/);
  });

  it('defect 5: three tasks dropped at once each get their own result (handed over one at a time)', async () => {
    const { w } = await startTasks();
    for (const id of ['t1', 't2', 't3']) dropAtomically(join(env.paths.tasks, 'marie'), `${id}.json`, JSON.stringify({ task_id: id, description: `answer ${id}` }));
    await w.scan();
    await waitFor('three tasks', async () => (await env.store.listTasks({ agent: 'marie' })).length === 3);
    // A faithful agent: each turn its hooks hand over everything claimable (as the hooks do, up to
    // 20 at once), it works on what it got and its final message answers exactly that.
    for (let turn = 0; turn < 3; turn++) {
      env.now.t += 1_000;
      const claimed = await env.store.claim('marie', { owner: 'hook', leaseMs: 10_000, limit: 20 });
      if (claimed.length === 0) break;
      await env.store.ack({ leaseToken: claimed[0]!.leaseToken!, sessionId: 's1' });
      await w.checkCompletions();
      env.now.t += 1_000;
      const answered = claimed.map((m) => /^Task ([^\s:]+)/.exec(m.body)![1]).join(',');
      await agentStops('marie', `done: ${answered}`);
      await w.checkCompletions();
    }
    for (const id of ['t1', 't2', 't3']) {
      expect(result('marie', id), id).toMatchObject({ status: 'completed', result: `done: ${id}` });
    }
    expect(await env.store.list({ agent: 'marie', states: ['queued', 'failed', 'leased'] })).toEqual([]);
    expect((await env.store.listTasks({ agent: 'marie' })).map((t) => t.state)).toEqual(['completed', 'completed', 'completed']);
  });

  it('the orchestrator notification carries the first 2000 characters of the result', async () => {
    const { w } = await startTasks();
    dropAtomically(join(env.paths.tasks, 'anga'), 'long.json', JSON.stringify({ description: 'write a lot', from: 'orch' }));
    await w.scan();
    expect((await env.store.getTask('long'))!.agent).toBe('anga');
    env.now.t += 1;
    await deliver('anga');
    env.now.t += 1;
    await agentStops('anga', 'z'.repeat(5_000));
    await w.checkCompletions();
    expect(result('anga', 'long')!.result).toHaveLength(5_000);
    const [note] = await env.store.list({ agent: 'orch' });
    expect(note!.body).toBe(`task long for anga completed: ${'z'.repeat(2_000)}`);
  });

  it('a timeout retries with backoff, then fails: result "failed", the task file in the DLQ, the orchestrator told', async () => {
    const { w, metrics } = await startTasks({ taskRetryBackoffMs: 10_000 });
    const source = JSON.stringify({ task_id: 't2', description: 'Never finishes', timeout: 60, max_retries: 1, from: 'orch' });
    dropAtomically(join(env.paths.tasks, 'marie'), 't2.json', source);
    await w.scan();
    const first = await deliver('marie');
    await w.checkCompletions();
    env.now.t += 60_000;
    await w.checkCompletions();
    let t = (await env.store.getTask('t2'))!;
    expect(t).toMatchObject({ state: 'retrying', attempts: 1, retryAt: T0 + 70_000 });
    expect(t.lastError).toBe('timed out after 1m0s (attempt 1)');
    expect(metrics.tasksFailed.get({ worker: 'marie', reason: 'timeout' })).toBe(1);

    // Still backing off: no new message yet.
    env.now.t += 9_999;
    await w.checkCompletions();
    expect((await env.store.getTask('t2'))!.state).toBe('retrying');
    env.now.t += 1;
    await w.checkCompletions();
    t = (await env.store.getTask('t2'))!;
    expect(t).toMatchObject({ state: 'queued', attempts: 2 });
    expect(t.messageId).not.toBe(first);
    const retry = await env.store.get(t.messageId!);
    expect(retry).toMatchObject({ key: 'task:t2#2', meta: { task_id: 't2', attempt: 2 } });
    expect(retry.body).toMatch(/^Task t2 from orch \(attempt 2\):/);

    await deliver('marie');
    await w.checkCompletions();
    env.now.t += 60_000;
    await w.checkCompletions();
    const r = result('marie', 't2')!;
    expect(r).toMatchObject({ task_id: 't2', agent: 'marie', status: 'failed', result: null, attempts: 2 });
    expect(r.error).toBe('timed out after 1m0s (attempt 2); gave up after 2 attempts');
    expect(readFileSync(join(env.paths.dlq, 'marie', 't2.json'), 'utf8')).toBe(source);
    expect(dlqEntry('marie', 't2.json')).toMatchObject({ error: r.error });
    expect(await env.store.getTask('t2')).toMatchObject({ state: 'failed' });
    const [note] = await env.store.list({ agent: 'orch' });
    expect(note!.body).toBe(`task t2 for marie failed: ${r.error}`);
    expect(metrics.tasksProcessed.get({ worker: 'marie', status: 'failed' })).toBe(1);
    expect(metrics.tasksFailed.get({ worker: 'marie', reason: 'timeout' })).toBe(2);
  });

  it('a dead message is a failed attempt and retries; a message requeued by a session end restarts the clock', async () => {
    const { w } = await startTasks({ taskMaxRetries: 0 });
    dropAtomically(join(env.paths.tasks, 'anga'), 't3.json', JSON.stringify({ task_id: 't3', description: 'poison', max_retries: 1 }));
    await w.scan();
    const [m] = await env.store.claim('anga', { owner: 'test', leaseMs: 30_000 });
    await env.store.fail({ leaseToken: m!.leaseToken!, error: 'cannot render', retryable: false });
    await w.checkCompletions();
    expect((await env.store.getTask('t3'))!.lastError).toMatch(/was dead-lettered: rejected as not retryable: cannot render/);
    env.now.t += 20_000;
    await w.checkCompletions();
    expect(await env.store.getTask('t3')).toMatchObject({ state: 'queued', attempts: 2 });

    // Delivered, then the session ends before the agent stopped: back to queued, then running again.
    await deliver('anga');
    await w.checkCompletions();
    expect((await env.store.getTask('t3'))!.state).toBe('running');
    await env.store.requeueUnconfirmed('anga', { reason: 'session ended' });
    await w.checkCompletions();
    expect(await env.store.getTask('t3')).toMatchObject({ state: 'queued', startedAt: null, deadlineAt: null });
    env.now.t += 5;
    await deliver('anga');
    await w.checkCompletions();
    expect(await env.store.getTask('t3')).toMatchObject({ state: 'running', startedAt: env.now.t });
    // No orchestrator: nothing is queued for anyone else.
    expect(await env.store.list({ agent: 'orch' })).toEqual([]);
  });

  it.each([
    ['no description', JSON.stringify({ task_id: 'a1' }), /^wrong fields: description: is required/],
    ['empty description', JSON.stringify({ task_id: 'a2', description: ' ' }), /^empty text/],
    ['bad task id', JSON.stringify({ task_id: '../etc', description: 'x' }), /^wrong fields: task_id: must be 1–128 characters/],
    ['unknown orchestrator', JSON.stringify({ task_id: 'a3', description: 'x', from: 'nobody' }), /from: "nobody" is not a configured agent/],
    ['bad retries', JSON.stringify({ task_id: 'a4', description: 'x', max_retries: -2 }), /^wrong fields: max_retries/],
    ['bad timeout', JSON.stringify({ task_id: 'a5', description: 'x', timeout: 'later' }), /timeout "later" is not a duration/],
    ['binary', Buffer.from([0, 1, 2, 3]), /binary/],
    ['huge', JSON.stringify({ task_id: 'a6', description: 'd'.repeat(1_100_000) }), /limit is 1048576 bytes/],
  ])('an invalid task file (%s) goes to the DLQ with the reason', async (_n, content, reason) => {
    const { w } = await startTasks();
    dropAtomically(join(env.paths.tasks, 'marie'), 'bad.json', content);
    await w.scan();
    expect(dlqEntry('marie', 'bad.json')!.error).toMatch(reason);
    expect(await env.store.listTasks()).toEqual([]);
  });

  it('the same task file again is a no-op while the task is open; another task under an open id is refused', async () => {
    const { w } = await startTasks();
    const file = JSON.stringify({ task_id: 'd1', description: 'once' });
    dropAtomically(join(env.paths.tasks, 'marie'), 'd1.json', file);
    await w.scan();
    // As after a crash between taking the task in and removing its file.
    dropAtomically(join(env.paths.tasks, 'marie'), 'd1.json', file);
    await w.scan();
    expect(existsSync(join(env.paths.tasks, 'marie', 'd1.json'))).toBe(false);
    expect(await env.store.list({ agent: 'marie' })).toHaveLength(1);
    expect((await env.store.getTask('d1'))!.attempts).toBe(1);
    dropAtomically(join(env.paths.tasks, 'marie'), 'd1.json', JSON.stringify({ task_id: 'd1', description: 'something else' }));
    await w.scan();
    expect(dlqEntry('marie', 'd1.json')!.error).toMatch(/already in use by an open task \(queued, attempt 1\)/);
    dropAtomically(join(env.paths.tasks, 'anga'), 'd1.json', file);
    await w.scan();
    expect(dlqEntry('anga', 'd1.json')!.error).toBe('task id "d1" is already used by a task for marie');
  });

  it('an idle watcher (no open task) does not read the store on every tick; a task taken in makes it check every tick again', async () => {
    let lists = 0;
    const store = new Proxy(env.store, {
      get(target, prop, receiver) {
        if (prop === 'listTasks') return (...args: Parameters<SqliteMessageStore['listTasks']>) => (lists++, target.listTasks(...args));
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const w = new TaskWatcher({
      store,
      paths: env.paths,
      config: env.config,
      settings: { taskTimeoutMs: 1_800_000, taskMaxRetries: 2, taskRetryBackoffMs: 10_000 },
      log: silentLogger(),
      clock: env.clock,
      wake: (a) => env.woken.push(a),
      scanIntervalMs: 60_000,
      checkIntervalMs: 10,
    });
    await w.start();
    stops.push(() => w.stop());
    expect(lists).toBe(1); // the check at start
    await new Promise((r) => setTimeout(r, 300)); // ~30 ticks: the safety net checks on every 15th
    expect(lists).toBeGreaterThanOrEqual(2);
    expect(lists).toBeLessThanOrEqual(4);
    dropAtomically(join(env.paths.tasks, 'marie'), 'busy.json', JSON.stringify({ task_id: 'busy', description: 'x' }));
    await waitFor('the task', () => env.store.getTask('busy'));
    const after = lists;
    await new Promise((r) => setTimeout(r, 300));
    expect(lists - after).toBeGreaterThanOrEqual(10);
  });

  it("a node of a Redis team (ownAgentsOnly) checks only the tasks of its own agents; the agent's node times them out", async () => {
    const watcher = async (agents: string[]) => {
      const w = new TaskWatcher({
        store: env.store,
        paths: env.paths,
        config: { ...env.config, agents: env.config.agents.filter((a) => agents.includes(a.name)) },
        settings: { taskTimeoutMs: 1_800_000, taskMaxRetries: 0, taskRetryBackoffMs: 10_000 },
        log: silentLogger(),
        clock: env.clock,
        wake: (a) => env.woken.push(a),
        scanIntervalMs: 60_000,
        checkIntervalMs: 60_000,
        ownAgentsOnly: true,
      });
      await w.start();
      stops.push(() => w.stop());
      return w;
    };
    const alpha = await watcher(['marie']);
    const beta = await watcher(['anga', 'orch']);
    dropAtomically(join(env.paths.tasks, 'marie'), 't9.json', JSON.stringify({ task_id: 't9', description: 'Slow', timeout: 60 }));
    await alpha.scan();
    await deliver('marie');
    await alpha.checkCompletions();
    expect((await env.store.getTask('t9'))!.state).toBe('running');
    env.now.t += 61_000;
    // beta does not touch marie's task, however overdue it is.
    await beta.checkCompletions();
    expect((await env.store.getTask('t9'))!.state).toBe('running');
    await alpha.checkCompletions();
    expect((await env.store.getTask('t9'))!.state).toBe('failed');
  });

  it('counts waiting and running tasks per agent (heartbeats and gauges)', async () => {
    const { w, metrics } = await startTasks();
    dropAtomically(join(env.paths.tasks, 'marie'), 'c1.json', JSON.stringify({ description: 'one' }));
    dropAtomically(join(env.paths.tasks, 'marie'), 'c2.json', JSON.stringify({ description: 'two' }));
    await w.scan();
    env.now.t += 1;
    await deliver('marie');
    await w.checkCompletions();
    expect((await w.counts()).get('marie')).toEqual({ waiting: 1, running: 1 });
    expect(metrics.activeTasks.get({ worker: 'marie' })).toBe(1);
    expect(metrics.taskQueueSize.get({ worker: 'marie' })).toBe(1);
    const snap = await storeSnapshot(
      env.store,
      env.config.agents.map((a) => a.name),
    );
    // One task per agent at a time: the second task's message is not queued while the first runs.
    expect(snap.find((a) => a.name === 'marie')).toMatchObject({ queueDepth: 1, activeTasks: 1 });
  });
});

// ------------------------------------------------------------------------------------ pipes

describe('named pipes', () => {
  async function startPipes(maxLineBytes?: number) {
    const calls: string[] = [];
    const p = new PipeWatcher({
      store: env.store,
      paths: env.paths,
      config: env.config,
      log: silentLogger(),
      clock: env.clock,
      wake: (a) => env.woken.push(a),
      onControl: async (action, a) => void calls.push(`${action}:${a}`),
      maxLineBytes,
    });
    await p.start();
    stops.push(() => p.stop());
    return { p, calls };
  }

  it('control lines enqueue messages and call the callbacks; bad lines are skipped', async () => {
    const { p, calls } = await startPipes();
    expect(readdirSync(env.paths.pipes).sort()).toEqual(['anga-control', 'anga-status', 'marie-control', 'marie-status', 'orch-control', 'orch-status']);
    const control = p.controlPath('marie');
    await appendFile(
      control,
      [
        JSON.stringify({ type: 'message', text: 'from the pipe', priority: 'critical' }),
        'not json',
        JSON.stringify({ type: 'explode' }),
        JSON.stringify({ type: 'message', text: '' }),
        JSON.stringify({ type: 'rebrief' }),
        JSON.stringify({ type: 'pause' }),
        '',
      ].join('\n'),
    );
    // A second writer after the first closed: the daemon's end never saw EOF.
    await appendFile(
      control,
      `${JSON.stringify({ type: 'resume' })}\n${JSON.stringify({ type: 'restart' })}\n${JSON.stringify({ type: 'message', message: 'defaults' })}\n${JSON.stringify({ type: 'reset' })}\n${JSON.stringify({ type: 'stop' })}\n`,
    );
    await waitFor('all commands', () => calls.length === 6);
    expect(calls).toEqual(['rebrief:marie', 'pause:marie', 'resume:marie', 'restart:marie', 'reset:marie', 'stop:marie']);
    const msgs = await waitFor('two messages', async () => {
      const l = await env.store.list({ agent: 'marie', order: 'recent' });
      return l.length === 2 ? l.reverse() : null;
    });
    expect(msgs.map((m) => [m.body, m.priority, m.sender])).toEqual([
      ['from the pipe', 50, 'pipe'],
      ['defaults', 7, 'pipe'],
    ]);
    expect(env.woken).toEqual(['marie', 'marie']);
  });

  it('a line split across writes is joined; an overlong line is dropped', async () => {
    const { p } = await startPipes(200);
    const control = p.controlPath('anga');
    await appendFile(control, '{"type":"message",');
    await appendFile(control, '"text":"joined"}\n');
    await waitFor('the joined message', async () => (await env.store.list({ agent: 'anga' })).length === 1);
    // 300 bytes in pieces, over the 200-byte limit: dropped whole, and the next line still works.
    await appendFile(control, `{"type":"message","text":"${'a'.repeat(150)}`);
    await appendFile(control, `${'b'.repeat(150)}"}\n{"type":"message","text":"after"}\n`);
    const msgs = await waitFor('the message after', async () => {
      const l = await env.store.list({ agent: 'anga' });
      return l.length === 2 ? l : null;
    });
    expect(msgs.map((m) => m.body)).toEqual(['joined', 'after']);
  });

  it('a writer that dies mid-line does not swallow the next command: the stream resynchronises', async () => {
    const { p, calls } = await startPipes();
    const control = p.controlPath('orch');
    // The fragment a killed writer left, then two whole lines from others.
    await appendFile(control, '{"type":"mess');
    await appendFile(control, `${JSON.stringify({ type: 'message', text: 'next writer' })}\n`);
    await appendFile(control, '{"type":"message","text":"cut {\\"a');
    await appendFile(control, `${JSON.stringify({ type: 'pause' })}\n${JSON.stringify({ type: 'message', text: 'third' })}\n`);
    const msgs = await waitFor('both messages', async () => {
      const l = await env.store.list({ agent: 'orch' });
      return l.length === 2 ? l : null;
    });
    expect(msgs.map((m) => m.body).sort()).toEqual(['next writer', 'third']);
    await waitFor('the pause', () => calls.includes('pause:orch'));
  });

  it('an unused control pipe blocks nothing: timers run and stop() returns', async () => {
    const { p } = await startPipes();
    const t0 = Date.now();
    await new Promise((r) => setTimeout(r, 0));
    await new Promise((r) => setImmediate(r));
    expect(Date.now() - t0).toBeLessThan(500);
    const s0 = Date.now();
    await p.stop();
    expect(Date.now() - s0).toBeLessThan(1_000);
    // Once stopped, nobody holds the pipe: a non-blocking writer finds no reader.
    expect(() => openSync(p.controlPath('marie'), constants.O_WRONLY | constants.O_NONBLOCK)).toThrow(/ENXIO/);
  });

  it('start-up work is linear in the team: the 600 pipes of 300 agents are made in one batch (a mkfifo process per 512), not a process each (issue 11, 14)', async () => {
    const names = Array.from({ length: 300 }, (_, i) => `a${i}`);
    const config = hornetsConfigSchema.parse({ project: 'big', agents: names.map((name) => ({ name, profile: 'demo' })) });
    const batches: number[] = [];
    const p = new PipeWatcher({
      store: env.store,
      paths: env.paths,
      config,
      log: silentLogger(),
      wake: () => undefined,
      onControl: () => undefined,
      mkfifo: async (paths) => {
        batches.push(paths.length);
        const { mkfifos } = await import('../../src/proc/fifo.js');
        await mkfifos(paths);
      },
    });
    await p.start();
    stops.push(() => p.stop());
    expect(batches).toEqual([600]);
    for (const n of [names[0]!, names[299]!]) expect(lstatSync(p.controlPath(n)).isFIFO()).toBe(true);
    // A second start finds them all made: no mkfifo at all.
    await p.stop();
    await p.start();
    expect(batches).toEqual([600]);
  });

  it('a pipe that cannot be made does not stop the others from starting', async () => {
    const p = new PipeWatcher({
      store: env.store,
      paths: env.paths,
      config: env.config,
      log: silentLogger(),
      wake: (a) => env.woken.push(a),
      onControl: () => undefined,
      mkfifo: async (paths) => {
        const { mkfifos } = await import('../../src/proc/fifo.js');
        await mkfifos(paths.filter((path) => !path.includes('anga')));
        if (paths.some((path) => path.includes('anga'))) throw new Error('no mkfifo here');
      },
    });
    await p.start();
    stops.push(() => p.stop());
    expect(readdirSync(env.paths.pipes).sort()).toEqual(['marie-control', 'marie-status', 'orch-control', 'orch-status']);
    expect(p.publish('anga', { to: 'busy' })).toBe(false);
    await appendFile(p.controlPath('orch'), `${JSON.stringify({ type: 'message', text: 'still works' })}\n`);
    await waitFor('the message', async () => (await env.store.list({ agent: 'orch' })).length === 1);
  });

  it('replaces a plain file left where a pipe belongs', async () => {
    writeFileSync(join(env.paths.pipes, 'marie-control'), 'written before the daemon ran');
    const { p } = await startPipes();
    await appendFile(p.controlPath('marie'), `${JSON.stringify({ type: 'message', text: 'ok' })}\n`);
    await waitFor('the message', async () => (await env.store.list({ agent: 'marie' })).length === 1);
  });

  it('the status pipe: dropped without a reader, delivered to a reader, never blocks on a full pipe', async () => {
    const { p } = await startPipes();
    const t0 = Date.now();
    for (let i = 0; i < 200; i++) expect(p.publish('marie', { from: 'idle', to: 'busy' })).toBe(false);
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(p.publish('nobody', { to: 'busy' })).toBe(false);

    // A reader attaches.
    const fd = openSync(p.statusPath('marie'), constants.O_RDONLY | constants.O_NONBLOCK);
    const reader = new Socket({ fd, readable: true, writable: false });
    let got = '';
    reader.on('data', (c: Buffer) => (got += c.toString()));
    expect(p.publish('marie', { from: 'idle', to: 'busy', reason: 'UserPromptSubmit' })).toBe(true);
    await waitFor('the status line', () => got.includes('\n'));
    expect(JSON.parse(got.trim())).toEqual({ ts: new Date(T0).toISOString(), agent: 'marie', from: 'idle', to: 'busy', reason: 'UserPromptSubmit' });
    reader.destroy();

    // A reader that never reads: the pipe fills, then lines are dropped, quickly.
    const stuck = openSync(p.statusPath('anga'), constants.O_RDONLY | constants.O_NONBLOCK);
    const t1 = Date.now();
    let written = 0;
    let dropped = 0;
    for (let i = 0; i < 2_000; i++) {
      if (p.publish('anga', { to: 'busy', pad: 'x'.repeat(100) })) written++;
      else dropped++;
    }
    expect(Date.now() - t1).toBeLessThan(2_000);
    expect(written).toBeGreaterThan(0);
    expect(dropped).toBeGreaterThan(0);
    // The reader leaves: EPIPE, then ENXIO; neither throws.
    closeSync(stuck);
    expect(p.publish('anga', { to: 'idle' })).toBe(false);
    expect(p.publish('anga', { to: 'idle' })).toBe(false);
  });
});

// ------------------------------------------------------------------------------------ heartbeats

describe('heartbeats', () => {
  it('writes one file per agent and daemon.json on start, on every interval, and a last one on stop', async () => {
    let state = 'idle';
    const hb = new Heartbeats({
      paths: env.paths,
      log: silentLogger(),
      intervalMs: 20,
      clock: env.clock,
      snapshot: async () =>
        (
          await storeSnapshot(
            env.store,
            env.config.agents.map((a) => a.name),
            (a) => (a === 'marie' ? 4242 : null),
          )
        ).map((a) => ({ ...a, state: a.name === 'marie' ? state : a.state })),
      daemonInfo: () => ({ hook_port: 1234 }),
    });
    await env.store.enqueue({ agent: 'marie', body: 'x' });
    await hb.start();
    stops.push(() => hb.stop());
    const read = (f: string) => JSON.parse(readFileSync(join(env.paths.heartbeats, f), 'utf8')) as Record<string, unknown>;
    expect(read('marie.json')).toEqual({
      timestamp: T0 / 1000,
      ts: T0,
      time: new Date(T0).toISOString(),
      agent: 'marie',
      status: 'healthy',
      state: 'idle',
      pid: 4242,
      generation: 0,
      queue_depth: 1,
      active_tasks: 0,
      daemon_pid: process.pid,
    });
    expect(read('anga.json')).toMatchObject({ pid: null, queue_depth: 0, state: 'unknown', status: 'down' });
    expect(read('daemon.json')).toMatchObject({ status: 'healthy', state: 'running', pid: process.pid, agents: 3, uptime_s: 0, interval_ms: 20, hook_port: 1234 });
    // Seed 000's probes read <agent>-watcher.json: the same file, through a link.
    expect(lstatSync(join(env.paths.heartbeats, 'marie-watcher.json')).isSymbolicLink()).toBe(true);
    expect(read('marie-watcher.json')).toEqual(read('marie.json'));

    env.now.t += 30_000;
    state = 'busy';
    // daemon.json is written last in a pass.
    await waitFor('a later heartbeat', () => read('daemon.json').uptime_s === 30);
    expect(read('marie.json')).toMatchObject({ ts: T0 + 30_000, timestamp: (T0 + 30_000) / 1000, state: 'busy', status: 'healthy' });
    expect(read('marie-watcher.json')).toMatchObject({ ts: T0 + 30_000 });
    expect(readdirSync(env.paths.heartbeats).filter((f) => f.includes('.tmp'))).toEqual([]);
    await hb.stop();
    expect(read('daemon.json')).toMatchObject({ state: 'stopped', status: 'stopped' });
  });

  it('an agent with no process (stopped, failed, not started) has its file written when it changes, not every interval (thousands of them cost nothing)', async () => {
    const states: Record<string, string> = { marie: 'stopped', anga: 'failed' };
    const hb = new Heartbeats({
      paths: env.paths,
      log: silentLogger(),
      intervalMs: 60_000,
      clock: env.clock,
      snapshot: async () =>
        (
          await storeSnapshot(
            env.store,
            env.config.agents.map((a) => a.name),
            (name) => ((states[name] ?? 'idle') === 'idle' ? 4242 : null),
          )
        ).map((a) => ({ ...a, state: states[a.name] ?? 'idle' })),
      daemonInfo: () => ({}),
    });
    await hb.start();
    stops.push(() => hb.stop());
    const ts = (f: string) => (JSON.parse(readFileSync(join(env.paths.heartbeats, f), 'utf8')) as { ts: number }).ts;
    env.now.t += 10_000;
    await hb.beat();
    expect([ts('marie.json'), ts('anga.json'), ts('orch.json')]).toEqual([T0, T0, T0 + 10_000]);
    // A change is written at once; then it rests again.
    states.marie = 'idle';
    env.now.t += 10_000;
    await hb.beat();
    expect([ts('marie.json'), ts('anga.json')]).toEqual([T0 + 20_000, T0]);
    states.marie = 'stopped';
    env.now.t += 10_000;
    await hb.beat();
    env.now.t += 10_000;
    await hb.beat();
    expect(ts('marie.json')).toBe(T0 + 30_000);
  });
});

// ------------------------------------------------------------------------------------ metrics

describe('metrics endpoint', () => {
  it('serves /metrics and /healthz on 127.0.0.1 and publishes the endpoint', async () => {
    const metrics = createHornetsMetrics();
    metrics.agentRestarts.inc({ agent: 'marie' });
    await env.store.enqueue({ agent: 'marie', body: 'one' });
    // Delivered 250 ms after it was queued.
    await env.store.enqueue({ agent: 'anga', body: 'two' });
    env.now.t += 250;
    const [m] = await env.store.claim('anga', { owner: 't', leaseMs: 1000 });
    await env.store.ack({ leaseToken: m!.leaseToken! });
    await observeDeliveries(metrics, env.store, [m!.id, 'no-such-id']);
    const server = new MetricsServer({
      registry: metrics.registry,
      port: 0,
      runDir: env.paths.run,
      log: silentLogger(),
      collect: () => collectQueueMetrics(metrics, env.store),
      health: () => ({ status: 'ok', agents: { marie: 'idle' } }),
    });
    await server.start();
    stops.push(() => server.stop());
    expect(server.port).toBeGreaterThan(0);
    expect(readFileSync(metricsEndpointFile(env.paths.run), 'utf8')).toBe(`http://127.0.0.1:${server.port}\n`);

    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(PROMETHEUS_CONTENT_TYPE);
    const text = await res.text();
    expect(text).toContain('hornets_messages{agent="marie",state="queued"} 1\n');
    expect(text).toContain('hornets_messages{agent="anga",state="queued"} 0\n');
    expect(text).toContain('hornets_agent_restarts_total{agent="marie"} 1\n');
    expect(text).toContain('hornets_delivery_latency_seconds_bucket{agent="anga",le="0.25"} 1\n');
    expect(text).toContain('hornets_delivery_latency_seconds_bucket{agent="anga",le="0.1"} 0\n');
    expect(text).toContain('hornets_delivery_latency_seconds_sum{agent="anga"} 0.25\n');
    expect(text).toContain('# TYPE watcher_tasks_processed_total counter\n');

    const h = await fetch(`${server.url}/healthz`);
    expect(h.status).toBe(200);
    const body = (await h.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ status: 'ok', pid: process.pid, agents: { marie: 'idle' } });
    expect(typeof body.uptime_s).toBe('number');

    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
    expect((await fetch(`${server.url}/metrics`, { method: 'POST' })).status).toBe(405);

    // Not reachable on any other interface.
    const external = Object.values(networkInterfaces())
      .flat()
      .find((i) => i && i.family === 'IPv4' && !i.internal);
    if (external) await expect(fetch(`http://${external.address}:${server.port}/healthz`)).rejects.toThrow();

    await server.stop();
    expect(existsSync(metricsEndpointFile(env.paths.run))).toBe(false);
  });

  it('/healthz answers 503 when the health callback fails or reports unhealthy', async () => {
    let mode: 'throw' | 'unhealthy' = 'throw';
    const server = new MetricsServer({
      registry: createHornetsMetrics().registry,
      port: 0,
      runDir: env.paths.run,
      log: silentLogger(),
      health: () => {
        if (mode === 'throw') throw new Error('database is gone');
        return { status: 'unhealthy', agents: {} };
      },
    });
    await server.start();
    stops.push(() => server.stop());
    const r1 = await fetch(`${server.url}/healthz`);
    expect(r1.status).toBe(503);
    expect(await r1.json()).toMatchObject({ status: 'unhealthy', error: 'database is gone' });
    mode = 'unhealthy';
    expect((await fetch(`${server.url}/healthz`)).status).toBe(503);
  });
});

// ------------------------------------------------------------------------------------ poll mode

describe('poll watch mode (directories on network volumes, where other hosts write without inotify)', () => {
  it('trigger files: no directory watch runs; a dropped file is found by the poll alone', async () => {
    const w = new TriggerWatcher({
      store: env.store,
      paths: env.paths,
      config: env.config,
      log: silentLogger(),
      clock: env.clock,
      wake: (a) => env.woken.push(a),
      watch: { mode: 'poll', intervalMs: 100 },
    });
    await w.start();
    stops.push(() => w.stop());
    expect(w.watchState()).toEqual({ mode: 'poll', intervalMs: 100, watchedDirs: 0 });
    dropAtomically(join(env.paths.triggers, 'marie'), 'polled.trigger', JSON.stringify({ message: 'from another host' }));
    const [m] = await waitFor('the polled trigger message', async () => {
      const l = await env.store.list({ agent: 'marie' });
      return l.length > 0 ? l : null;
    });
    expect(m).toMatchObject({ body: 'from another host', state: 'queued' });
    await waitFor('the file removed', () => !existsSync(join(env.paths.triggers, 'marie', 'polled.trigger')));
    expect(w.watchState().watchedDirs).toBe(0);
  });

  it('task files: the poll takes a task in with no directory watch', async () => {
    const w = new TaskWatcher({
      store: env.store,
      paths: env.paths,
      config: env.config,
      settings: { taskTimeoutMs: 1_800_000, taskMaxRetries: 2, taskRetryBackoffMs: 10_000 },
      log: silentLogger(),
      clock: env.clock,
      wake: (a) => env.woken.push(a),
      checkIntervalMs: 60_000,
      watch: { mode: 'poll', intervalMs: 100 },
    });
    await w.start();
    stops.push(() => w.stop());
    expect(w.watchState()).toEqual({ mode: 'poll', intervalMs: 100, watchedDirs: 0 });
    dropAtomically(join(env.paths.tasks, 'anga'), 'p1.json', JSON.stringify({ task_id: 'p1', description: 'polled task' }));
    const task = await waitFor('the polled task', () => env.store.getTask('p1'));
    expect(task).toMatchObject({ agent: 'anga', state: 'queued' });
  });

  it('events mode (the default) watches each agent directory', async () => {
    const w = new TriggerWatcher({ store: env.store, paths: env.paths, config: env.config, log: silentLogger(), clock: env.clock, wake: (a) => env.woken.push(a), scanIntervalMs: 60_000 });
    await w.start();
    stops.push(() => w.stop());
    expect(w.watchState()).toEqual({ mode: 'events', intervalMs: 60_000, watchedDirs: 3 });
  });
});

describe('the engine runs the watch mode hornets.json names', () => {
  it('watch.mode "poll" with its interval reaches the trigger and task watchers; the default is events', async () => {
    const { openProject } = await import('../../src/services/context.js');
    const { Daemon } = await import('../../src/daemon/daemon.js');
    const open = async (watch: Record<string, unknown> | undefined) => {
      const root = mkdtempSync(join(env.dir, 'p-'));
      writeFileSync(join(root, 'hornets.json'), JSON.stringify({ project: 'w', ...(watch ? { watch } : {}), agents: [{ name: 'marie', profile: 'demo', worktree: '.' }] }));
      const ctx = await openProject({ configPath: join(root, 'hornets.json'), env: { ...process.env, HORNETS_HOME: join(root, '.hornets') } });
      stops.push(() => ctx.close());
      return new Daemon(ctx);
    };
    const polled = await open({ mode: 'poll', interval: '250ms' });
    expect(polled.triggers.watchState()).toMatchObject({ mode: 'poll', intervalMs: 250 });
    expect(polled.tasks.watchState()).toMatchObject({ mode: 'poll', intervalMs: 250 });
    const plain = await open(undefined);
    expect(plain.triggers.watchState()).toMatchObject({ mode: 'events' });
    expect(plain.tasks.watchState()).toMatchObject({ mode: 'events' });
  });
});
