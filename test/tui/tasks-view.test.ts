/**
 * The tasks view from fixtures (the console drives it for real in console-tasks.test.ts): what it
 * shows where workers cannot run (Redis), the breaker counting down to its half-open trial, and
 * the clock: in the tasks view every time-derived text (ages, run times, the countdown) is redrawn
 * when it changes and not later, and nothing of it costs frames in the team view.
 */
import { describe, expect, it } from 'vitest';
import { hornetsConfigSchema } from '../../src/config/schema.js';
import type { Project } from '../../src/config/load.js';
import type { QueueStats } from '../../src/queue/store.js';
import type { WorkerTask, WorkerTaskState } from '../../src/domain/worker-task.js';
import { emptyTaskUsage } from '../../src/domain/run-usage.js';
import { WORKERS_UNAVAILABLE, assembleSnapshot, type SnapshotFacts, type WorkerFacts } from '../../src/services/snapshot.js';
import type { WorkerHeartbeat } from '../../src/services/worker-tasks.js';
import { nextClockChange } from '../../src/tui/clock.js';
import { defaultKeymap, helpLines, hintsFor, resolveKey } from '../../src/tui/keymap.js';
import { makeTheme } from '../../src/tui/theme.js';
import { ViewModel, type PreviewInput } from '../../src/tui/view-model.js';
import { fixtureNow, paneFixture, recordFixture } from '../helpers/fixtures.js';

const now = fixtureNow;
const noPreview: PreviewInput = { lines: [], shownPane: null, live: false };

function project(): Project {
  const config = hornetsConfigSchema.parse({
    project: 'demo',
    agents: [{ name: 'marie', profile: 'demo' }],
    workers: [{ kind: 'worker', name: 'fab', profile: 'demo-oneshot', maxConcurrent: 3 }],
  });
  return { configPath: '/p/hornets.json', root: '/p', config, profiles: new Map(), paths: { root: '/p/.hornets' } as Project['paths'] };
}

function task(taskId: string, state: WorkerTaskState, patch: Partial<WorkerTask> = {}): WorkerTask {
  return {
    taskId,
    worker: 'fab',
    description: 'd',
    metadata: null,
    worktree: null,
    from: null,
    priority: 5,
    timeoutMs: 60_000,
    maxRetries: 0,
    state,
    attempts: 0,
    runId: null,
    startedAt: null,
    deadlineAt: null,
    retryAt: null,
    history: [],
    failuresBase: 0,
    usage: emptyTaskUsage(),
    result: null,
    lastError: null,
    source: null,
    createdAt: now - 1_000,
    updatedAt: now,
    completedAt: null,
    lease: null,
    ...patch,
  };
}

const openHeartbeat: WorkerHeartbeat = { at: new Date(now).toISOString(), state: 'worker, breaker open', activeTasks: 1, queueDepth: 1, breaker: 'open', halfOpenAt: now + 75_500 };

function facts(workers: WorkerFacts): SnapshotFacts {
  const stats: QueueStats = { agents: [], totals: {} as QueueStats['totals'] };
  return {
    now,
    project: project(),
    session: 'demo',
    socket: 'hornets-demo',
    engine: { pid: 42, running: true, endpoint: true },
    tmuxOk: true,
    records: [recordFixture('marie', { paneId: '%1', lastEventAt: now - 2_000 })],
    panes: [paneFixture('%1')],
    stats,
    pending: [],
    recent: [],
    events: [],
    worktreeOf: (n) => `/p/.hornets/worktrees/${n}`,
    workers,
  };
}

const busyWorkers: WorkerFacts = {
  available: true,
  heartbeats: new Map([['fab', openHeartbeat]]),
  counts: new Map([['fab', { queued: 1, running: 1, retrying: 0, completed: 0, failed: 1, cancelled: 0 }]]),
  tasks: [
    task('q1', 'queued', { createdAt: now - 500 }),
    task('r1', 'running', { attempts: 1, runId: 'r1.a1', startedAt: now - 2_300, createdAt: now - 2_400 }),
    task('f1', 'failed', {
      attempts: 1,
      createdAt: now - 65_000,
      completedAt: now - 60_000,
      lastError: 'exit code 1: nope\nsecond line',
      usage: { input: 1000, output: 200, cacheRead: 34, cacheCreation: 0, costUsd: 0.0312, runs: 1 },
      history: [{ attempt: 1, runId: 'f1.a1', outcome: 'failed', exitCode: 1, signal: null, startedAt: now - 64_000, endedAt: now - 63_250, error: 'exit code 1: nope' }],
    }),
  ],
};

function tasksView(f: SnapshotFacts, t: number): ViewModel {
  const v = new ViewModel(defaultKeymap, makeTheme(false), 120, 30, 1);
  v.setSnapshot(assembleSnapshot({ ...f, now: t }));
  v.toggleTasks();
  return v;
}

describe('the tasks view', () => {
  it('lists the worker (counts, slots, breaker countdown) and the tasks newest first with state, runs, age, time, usage and last error', () => {
    const text = tasksView(facts(busyWorkers), now).frame(now, noPreview).tasks.content;
    const lines = text.split('\n');
    expect(lines.find((l) => /^\s+fab\s/.test(l))).toMatch(/^\s+fab\s+1\s+1\s+3\s+open, trial in 1m16s/);
    const rows = lines.filter((l) => /^[▸{ ]/.test(l) && /\b(q1|r1|f1)\b/.test(l)).map((l) => l.replace(/\{\/?inverse\}/g, ''));
    expect(rows.map((l) => l.trim().split(/\s+/)[l.startsWith('▸') ? 1 : 0])).toEqual(['q1', 'r1', 'f1']);
    expect(rows[1]).toMatch(/r1\s+fab\s+running\s+1\s+2s\s+2s\s+-\s*$/);
    // Tokens and cost over all the task's runs.
    expect(rows[2]).toMatch(/f1\s+fab\s+failed\s+1\s+1m\s+0\.8s\s+1\.2k \$0\.03\s+exit code 1: nope ⏎ second line/);
  });

  it('the open breaker shows half-open once its trial time has come', () => {
    const text = tasksView(facts(busyWorkers), now + 76_000).frame(now + 76_000, noPreview).tasks.content;
    expect(text).toMatch(/fab\s+1\s+1\s+3\s+half-open/);
  });

  it('on a store without worker tasks it says so, and the keys act on nothing', () => {
    const f = facts({ available: false, heartbeats: new Map(), counts: new Map(), tasks: [] });
    const v = tasksView(f, now);
    const frame = v.frame(now, noPreview);
    expect(frame.tasks.content).toContain(WORKERS_UNAVAILABLE);
    expect(v.selectedTask()).toBeNull();
  });

  it('keys: t in every panel, c and r only in the tasks view, where the agent keys do nothing', () => {
    for (const panel of ['agents', 'queue', 'tasks'] as const) expect(resolveKey(defaultKeymap, panel, { ch: 't', full: 't' })).toBe('tasks');
    expect(resolveKey(defaultKeymap, 'tasks', { ch: 'c', full: 'c' })).toBe('cancelTask');
    expect(resolveKey(defaultKeymap, 'tasks', { ch: 'r', full: 'r' })).toBe('retryTask');
    expect(resolveKey(defaultKeymap, 'agents', { ch: 'c', full: 'c' })).toBeNull();
    expect(resolveKey(defaultKeymap, 'tasks', { ch: 'x', full: 'x' })).toBeNull();
    expect(resolveKey(defaultKeymap, 'tasks', { ch: 'j', full: 'j' })).toBe('down');
    expect(hintsFor(defaultKeymap, 'tasks').map((h) => h.label)).toEqual(['cancel', 'retry', 'tasks', 'help', 'quit']);
    expect(helpLines(defaultKeymap).join('\n')).toMatch(/Task workers\n\s+t\s+the tasks view/);
  });

  it('the clock: in the tasks view no change is missed over three minutes; in the team view its texts cost no wake-up', () => {
    const f = facts(busyWorkers);
    const frameAt = (t: number) => {
      const fr = tasksView(f, t).frame(t, noPreview);
      return `${fr.header}\n${fr.tasks.content}`;
    };
    let t = now;
    let wakeUps = 0;
    while (t < now + 3 * 60_000) {
      const s = assembleSnapshot({ ...f, now: t });
      const d = nextClockChange({ snapshot: s, now: t, messageExpiresAt: null, exact: true, tasks: true });
      expect(frameAt(t + d - 1), `changed before ${t + d - now} ms (planned at ${t - now} ms)`).toBe(frameAt(t));
      t += d;
      wakeUps++;
    }
    expect(wakeUps).toBeGreaterThan(60);
    // Team view: the breaker countdown and task ages are not on screen, so they ask for nothing.
    const team = nextClockChange({ snapshot: assembleSnapshot({ ...f, now: now + 2 * 60_000 }), now: now + 2 * 60_000, messageExpiresAt: null, exact: true });
    const withTasks = nextClockChange({ snapshot: assembleSnapshot({ ...f, now: now + 2 * 60_000 }), now: now + 2 * 60_000, messageExpiresAt: null, exact: true, tasks: true });
    expect(team).toBeGreaterThan(withTasks);
  });
});
