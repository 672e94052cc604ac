/**
 * The multi-process run of test/integration/concurrency.test.ts (SQLite) and
 * redis-concurrency.test.ts: enqueuers and claimers (test/helpers/workers/concurrency-worker.ts)
 * on one store at once. The caller checks the outcome and its backend's own invariants.
 */
import { fork, type ChildProcess } from 'node:child_process';

import { compiledPath } from './compiled.js';

type WorkerMsg = { type: 'ready' } | { type: 'done'; ids: string[] } | { type: 'error'; code: string | null; message: string };

interface Worker {
  name: string;
  child: ChildProcess;
  ready: Promise<void>;
  done: Promise<string[]>;
  errors: string[];
}

export interface ConcurrencyRun {
  enqueued: string[];
  claimedPerWorker: string[][];
  claimed: string[];
  errors: string[];
}

const children: ChildProcess[] = [];

/** Kills what a failed run left behind (call from afterEach). */
export async function killConcurrencyWorkers(): Promise<void> {
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
}

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

/** `spec`: the store as concurrency-worker takes it (a SQLite path or a Redis spec); agents registered. */
export async function runConcurrentWorkers(spec: string, o: { enqueuers: number; claimers: number; perEnqueuer: number; agents: string[] }): Promise<ConcurrencyRun> {
  const enqueuers = Array.from({ length: o.enqueuers }, (_, i) => start(`enqueuer ${i}`, ['enqueuer', spec, String(i), String(o.perEnqueuer), o.agents.join(',')]));
  const claimers = Array.from({ length: o.claimers }, (_, i) => start(`claimer ${i}`, ['claimer', spec, String(i), o.agents.join(',')]));
  const all = [...enqueuers, ...claimers];
  await Promise.all(all.map((w) => w.ready));
  for (const w of all) w.child.send({ type: 'go' });

  const enqueued = (await Promise.all(enqueuers.map((w) => w.done))).flat();
  for (const w of claimers) w.child.send({ type: 'drain' });
  const claimedPerWorker = await Promise.all(claimers.map((w) => w.done));
  return { enqueued, claimedPerWorker, claimed: claimedPerWorker.flat(), errors: all.flatMap((w) => w.errors) };
}
