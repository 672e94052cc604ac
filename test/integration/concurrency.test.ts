/**
 * Several processes on one database file (DESIGN.md §3): 4 enqueue while 4 claim+ack, all at once.
 * No process may see an error (SQLITE_BUSY surfacing as QueueError 'busy' in particular), every
 * message is claimed exactly once, and the file passes integrity_check.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

import { openSqliteStore } from '../../src/queue/sqlite/sqlite-store.js';
import { compiledPath } from '../helpers/compiled.js';

const ENQUEUERS = 4;
const CLAIMERS = 4;
const PER_ENQUEUER = 1_500;
const AGENTS = ['alpha', 'beta'];

type WorkerMsg = { type: 'ready' } | { type: 'done'; ids: string[] } | { type: 'error'; code: string | null; message: string };

interface Worker {
  name: string;
  child: ChildProcess;
  ready: Promise<void>;
  done: Promise<string[]>;
  errors: string[];
}

let dir: string | undefined;
const children: ChildProcess[] = [];

afterEach(async () => {
  await Promise.all(
    children.splice(0).map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          c.once('exit', () => resolve());
          c.kill('SIGKILL');
        }),
    ),
  );
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

function start(name: string, args: string[]): Worker {
  const child = fork(compiledPath('test/helpers/workers/concurrency-worker.ts'), args, { stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
  children.push(child);
  const errors: string[] = [];
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const ready = new Promise<void>((resolve, reject) => {
    child.on('message', (m: WorkerMsg) => m.type === 'ready' && resolve());
    child.once('exit', (code) => reject(new Error(`${name} exited (${code}) before it was ready: ${stderr}`)));
  });
  const done = new Promise<string[]>((resolve, reject) => {
    child.on('message', (m: WorkerMsg) => {
      if (m.type === 'done') resolve(m.ids);
      if (m.type === 'error') errors.push(`${name}: ${m.code ?? ''} ${m.message}`);
    });
    child.once('exit', (code, signal) => {
      if (code !== 0) reject(new Error(`${name} exited with ${code ?? signal}: ${errors.join('; ') || stderr}`));
    });
  });
  ready.catch(() => undefined);
  done.catch(() => undefined);
  return { name, child, ready, done, errors };
}

describe('SqliteMessageStore under concurrent processes', () => {
  it(`${ENQUEUERS} enqueuers and ${CLAIMERS} claimers on one file: no errors, each message claimed once`, async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'hornets-concurrency-'));
    const dbPath = path.join(dir, 'hornets.db');
    const setup = await openSqliteStore(dbPath);
    await setup.registerAgents(AGENTS.map((name) => ({ name, profile: 'shell' })));
    await setup.close();

    const enqueuers = Array.from({ length: ENQUEUERS }, (_, i) => start(`enqueuer ${i}`, ['enqueuer', dbPath, String(i), String(PER_ENQUEUER), AGENTS.join(',')]));
    const claimers = Array.from({ length: CLAIMERS }, (_, i) => start(`claimer ${i}`, ['claimer', dbPath, String(i), AGENTS.join(',')]));
    const all = [...enqueuers, ...claimers];
    await Promise.all(all.map((w) => w.ready));
    for (const w of all) w.child.send({ type: 'go' });

    const enqueued = (await Promise.all(enqueuers.map((w) => w.done))).flat();
    for (const w of claimers) w.child.send({ type: 'drain' });
    const claimedPerWorker = await Promise.all(claimers.map((w) => w.done));
    const claimed = claimedPerWorker.flat();

    expect(all.flatMap((w) => w.errors)).toEqual([]);
    expect(enqueued).toHaveLength(ENQUEUERS * PER_ENQUEUER);
    expect(new Set(enqueued).size).toBe(enqueued.length);
    // Exactly once: same multiset of ids, no duplicates, nothing left over.
    expect(claimed).toHaveLength(enqueued.length);
    expect(new Set(claimed).size).toBe(claimed.length);
    expect([...claimed].sort()).toEqual([...enqueued].sort());
    // The claimers genuinely competed.
    expect(claimedPerWorker.filter((ids) => ids.length > 0).length).toBeGreaterThan(1);

    const store = await openSqliteStore(dbPath);
    try {
      expect(store.integrityCheck()).toBe('ok');
      const stats = await store.stats();
      expect(stats.totals.delivered).toBe(enqueued.length);
      expect(stats.totals.queued + stats.totals.leased + stats.totals.failed).toBe(0);
      for (const a of stats.agents) expect(a.pending).toBe(a.counts.delivered);
    } finally {
      await store.close();
    }
  });
});
