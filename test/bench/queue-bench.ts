/**
 * Queue throughput benchmark: SqliteMessageStore ("ours") beside a minimal better-sqlite3 queue
 * with the same pragmas ("raw", raw-queue.ts), on fresh database files in a temp directory.
 *
 *   npm run bench:queue               full run (about a minute)
 *   npm run bench:queue -- --quick    short run
 *   npm run bench:queue -- --dir /path   put the database files somewhere else (default: os.tmpdir())
 *
 * Prints figures only; nothing here is asserted by the test suite.
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';

import type { EnqueueInput } from '../../src/domain/message.js';
import { openSqliteStore, type SqliteMessageStore } from '../../src/queue/sqlite/sqlite-store.js';
import { compiledSibling, exited, fmtRate, killAll, makeTempDir, numberFlag, parseFlags, removeDir } from './bench-util.js';
import { openRawQueue } from './raw-queue.js';

const AGENT = 'bench';
const PROCS = 4;

interface Sizes {
  single: number;
  singleFull: number;
  batches: number;
  cycles: number;
  multi: number;
  capMs: number;
  multiCapMs: number;
}

const FULL_SIZES: Sizes = { single: 10_000, singleFull: 4_000, batches: 100, cycles: 10_000, multi: 20_000, capMs: 5_000, multiCapMs: 30_000 };
const QUICK_SIZES: Sizes = { single: 2_000, singleFull: 500, batches: 20, cycles: 2_000, multi: 4_000, capMs: 1_500, multiCapMs: 10_000 };

interface Measured {
  ops: number;
  ms: number;
  /** Per-operation latencies in µs when recorded. */
  lat?: Float64Array;
}

interface Row {
  name: string;
  unit: string;
  ours: Measured;
  raw: Measured;
  /** Items per operation (1,000 for a batch call). */
  perOp?: number;
  target?: number;
  note?: string;
}

const children = new Set<ChildProcess>();
let seqBody = 0;
const body = (): string => `bench message ${++seqBody} ${'x'.repeat(100)}`;

function rate(m: Measured, perOp = 1): number {
  return (m.ops * perOp * 1000) / m.ms;
}

function pct(lat: Float64Array | undefined, n: number, p: number): string {
  if (!lat || n === 0) return '';
  const sorted = Float64Array.from(lat.subarray(0, n)).sort();
  return sorted[Math.min(n - 1, Math.floor((p / 100) * n))]!.toFixed(0);
}

/** Runs fn up to `count` times or until capMs has passed, whichever comes first. */
async function timed(count: number, capMs: number, fn: (i: number) => unknown, record = false): Promise<Measured> {
  const lat = record ? new Float64Array(count) : undefined;
  const t0 = performance.now();
  const deadline = t0 + capMs;
  let i = 0;
  let last = t0;
  for (; i < count; i++) {
    const r = fn(i);
    if (r instanceof Promise) await r;
    const now = performance.now();
    if (lat) lat[i] = (now - last) * 1000;
    last = now;
    if (now >= deadline) {
      i++;
      break;
    }
  }
  return { ops: i, ms: performance.now() - t0, lat };
}

async function openOurs(file: string, synchronous: 'NORMAL' | 'FULL' = 'NORMAL'): Promise<SqliteMessageStore> {
  const store = await openSqliteStore(file, { synchronous, limits: { maxDepth: 10_000_000 } });
  await store.registerAgents([{ name: AGENT, profile: 'shell' }]);
  return store;
}

async function prefillOurs(store: SqliteMessageStore, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let done = 0; done < n; done += 1000) {
    const batch: EnqueueInput[] = Array.from({ length: Math.min(1000, n - done) }, () => ({ agent: AGENT, body: body() }));
    for (const r of await store.enqueueBatch(batch)) ids.push(r.message.id);
  }
  return ids;
}

function prefillRaw(q: ReturnType<typeof openRawQueue>, n: number): string[] {
  const ids: string[] = [];
  for (let done = 0; done < n; done += 1000) {
    ids.push(...q.enqueueBatch(AGENT, Array.from({ length: Math.min(1000, n - done) }, body)));
  }
  return ids;
}

// ------------------------------------------------------------------ single-process figures

async function singleEnqueue(dir: string, sizes: Sizes, synchronous: 'NORMAL' | 'FULL'): Promise<[Measured, Measured]> {
  const count = synchronous === 'FULL' ? sizes.singleFull : sizes.single;
  const store = await openOurs(path.join(dir, `ours-single-${synchronous}.db`), synchronous);
  for (let i = 0; i < 50; i++) await store.enqueue({ agent: AGENT, body: body() });
  const ours = await timed(count, sizes.capMs, () => store.enqueue({ agent: AGENT, body: body() }), true);
  await store.close();

  const q = openRawQueue(path.join(dir, `raw-single-${synchronous}.db`), synchronous);
  for (let i = 0; i < 50; i++) q.enqueue(AGENT, body());
  const raw = await timed(count, sizes.capMs, () => q.enqueue(AGENT, body()), true);
  q.close();
  return [ours, raw];
}

async function batchEnqueue(dir: string, sizes: Sizes): Promise<[Measured, Measured]> {
  const store = await openOurs(path.join(dir, 'ours-batch.db'));
  const inputs = (): EnqueueInput[] => Array.from({ length: 1000 }, () => ({ agent: AGENT, body: body() }));
  await store.enqueueBatch(inputs());
  const ours = await timed(sizes.batches, sizes.capMs, () => store.enqueueBatch(inputs()));
  await store.close();

  const q = openRawQueue(path.join(dir, 'raw-batch.db'));
  const bodies = (): string[] => Array.from({ length: 1000 }, body);
  q.enqueueBatch(AGENT, bodies());
  const raw = await timed(sizes.batches, sizes.capMs, () => q.enqueueBatch(AGENT, bodies()));
  q.close();
  return [ours, raw];
}

async function claimAck(dir: string, sizes: Sizes): Promise<[Measured, Measured]> {
  const store = await openOurs(path.join(dir, 'ours-claim.db'));
  await prefillOurs(store, sizes.cycles + 50);
  const cycle = async (): Promise<void> => {
    const [m] = await store.claim(AGENT, { owner: 'bench', leaseMs: 60_000 });
    if (!m) throw new Error('queue ran dry during the claim+ack benchmark');
    if ((await store.ack({ leaseToken: m.leaseToken! })) !== 1) throw new Error(`ack of ${m.id} changed nothing`);
  };
  for (let i = 0; i < 50; i++) await cycle();
  const ours = await timed(sizes.cycles, sizes.capMs, cycle, true);
  await store.close();

  const q = openRawQueue(path.join(dir, 'raw-claim.db'));
  prefillRaw(q, sizes.cycles + 50);
  const rawCycle = (): void => {
    const m = q.claim(AGENT, 60_000);
    if (!m) throw new Error('raw queue ran dry during the claim+ack benchmark');
    if (q.ack(m.seq, m.token) !== 1) throw new Error(`raw ack of ${m.id} changed nothing`);
  };
  for (let i = 0; i < 50; i++) rawCycle();
  const raw = await timed(sizes.cycles, sizes.capMs, rawCycle, true);
  q.close();
  return [ours, raw];
}

// ------------------------------------------------------------------ competing processes

interface WorkerDone {
  type: 'done';
  acked: string[];
  lostAcks: number;
  errors: string[];
  elapsedMs: number;
}

interface MultiResult extends Measured {
  problems: string[];
}

async function multiProcess(dir: string, mode: 'ours' | 'raw', sizes: Sizes): Promise<MultiResult> {
  const dbPath = path.join(dir, `${mode}-multi.db`);
  let ids: string[];
  if (mode === 'ours') {
    const store = await openOurs(dbPath);
    ids = await prefillOurs(store, sizes.multi);
    await store.close();
  } else {
    const q = openRawQueue(dbPath);
    ids = prefillRaw(q, sizes.multi);
    q.close();
  }

  const workerPath = compiledSibling(import.meta.url, 'queue-bench-worker.js');
  const procs = Array.from({ length: PROCS }, () => {
    const child = fork(workerPath, [mode, dbPath, AGENT, String(sizes.multiCapMs)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.add(child);
    const ready = new Promise<void>((resolve, reject) => {
      child.on('message', (m: { type?: string }) => m?.type === 'ready' && resolve());
      child.once('exit', (code, sig) => reject(new Error(`bench worker exited before ready (${code ?? sig})`)));
    });
    const done = new Promise<WorkerDone>((resolve, reject) => {
      child.on('message', (m: WorkerDone) => m?.type === 'done' && resolve(m));
      child.once('exit', (code, sig) => reject(new Error(`bench worker exited without a result (${code ?? sig})`)));
    });
    done.catch(() => undefined);
    return { child, ready, done };
  });
  await Promise.all(procs.map((p) => p.ready));
  const t0 = performance.now();
  for (const p of procs) p.child.send({ type: 'go' });
  const results = await Promise.all(procs.map((p) => p.done));
  const ms = performance.now() - t0;
  await Promise.all(procs.map((p) => exited(p.child)));
  for (const p of procs) children.delete(p.child);

  // Exactly once: every prefilled message acked by one worker, none twice, none lost.
  const problems: string[] = [];
  const seen = new Map<string, number>();
  let total = 0;
  for (const r of results) {
    problems.push(...r.errors.map((e) => `worker error: ${e}`));
    if (r.lostAcks > 0) problems.push(`${r.lostAcks} acks changed nothing`);
    for (const id of r.acked) {
      seen.set(id, (seen.get(id) ?? 0) + 1);
      total++;
    }
  }
  const twice = [...seen.values()].filter((n) => n > 1).length;
  const lost = ids.filter((id) => !seen.has(id)).length;
  const enqueued = new Set(ids);
  const stray = [...seen.keys()].filter((id) => !enqueued.has(id)).length;
  if (twice > 0) problems.push(`${twice} messages acked more than once`);
  if (lost > 0) problems.push(`${lost} messages never acked`);
  if (stray > 0) problems.push(`${stray} acked ids that were never enqueued`);
  const db = new Database(dbPath, { readonly: true });
  try {
    const table = mode === 'ours' ? 'messages' : 'q';
    const delivered = (db.prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE state = 'delivered'`).get() as { n: number }).n;
    if (delivered !== ids.length) problems.push(`${delivered} delivered rows in the db, expected ${ids.length}`);
    const integrity = String(db.pragma('integrity_check', { simple: true }));
    if (integrity !== 'ok') problems.push(`integrity_check: ${integrity}`);
  } finally {
    db.close();
  }
  return { ops: total, ms, problems };
}

// ------------------------------------------------------------------ report

function machineInfo(dir: string): string[] {
  const require = createRequire(import.meta.url);
  const bsqlVersion = (require('better-sqlite3/package.json') as { version: string }).version;
  const mem = new Database(':memory:');
  const sqliteVersion = (mem.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
  mem.close();
  let fsType = 'unknown';
  try {
    fsType = execFileSync('stat', ['-f', '-c', '%T', dir], { encoding: 'utf8' }).trim();
  } catch {
    // stat -f is GNU/Linux; elsewhere the line just says unknown.
  }
  const cpus = os.cpus();
  return [
    `cpus      ${cpus.length} x ${cpus[0]?.model ?? 'unknown'}`,
    `memory    ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ${os.platform()} ${os.release()} ${os.arch()}`,
    `node      ${process.version}`,
    `sqlite    ${sqliteVersion} (better-sqlite3 ${bsqlVersion})`,
    `db dir    ${dir} (${fsType})`,
    `load avg  ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} at start (other work on the machine skews every figure)`,
  ];
}

function printTable(rows: Row[]): boolean {
  const header = ['operation', 'unit', 'ours', 'raw', 'ours/raw', 'ours p50/p99 µs', 'target', ''];
  const lines: string[][] = [header];
  let allPass = true;
  for (const r of rows) {
    const ours = rate(r.ours, r.perOp);
    const raw = rate(r.raw, r.perOp);
    const verdict = r.target === undefined ? '' : ours >= r.target ? 'PASS' : 'BELOW';
    if (verdict === 'BELOW') allPass = false;
    const lat = r.ours.lat ? `${pct(r.ours.lat, r.ours.ops, 50)} / ${pct(r.ours.lat, r.ours.ops, 99)}` : '';
    lines.push([
      r.name,
      r.unit,
      fmtRate(ours),
      fmtRate(raw),
      `${((ours / raw) * 100).toFixed(0)}%`,
      lat,
      r.target === undefined ? '—' : `≥ ${fmtRate(r.target)}`,
      verdict + (r.note ? ` ${r.note}` : ''),
    ]);
  }
  const widths = header.map((_, c) => Math.max(...lines.map((l) => l[c]!.length)));
  const numeric = new Set([2, 3, 4, 5, 6]);
  for (const [i, l] of lines.entries()) {
    console.log(
      l
        .map((cell, c) => (numeric.has(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
        .join('  ')
        .trimEnd(),
    );
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
  return allPass;
}

async function main(): Promise<number> {
  const flags = parseFlags(process.argv.slice(2));
  const quick = flags.has('quick');
  const sizes = { ...(quick ? QUICK_SIZES : FULL_SIZES) };
  sizes.capMs = numberFlag(flags, 'cap-ms', sizes.capMs);
  const parent = typeof flags.get('dir') === 'string' ? (flags.get('dir') as string) : os.tmpdir();
  const dir = makeTempDir('hornets-bench-', parent);
  const started = performance.now();
  const onSignal = (): void => {
    void killAll(children).finally(() => {
      removeDir(dir);
      process.exit(130);
    });
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    console.log(`hornets-tui queue benchmark${quick ? ' (--quick)' : ''}`);
    for (const l of machineInfo(dir)) console.log(`  ${l}`);
    console.log('  ours = SqliteMessageStore (events, housekeeping, fencing); raw = minimal table, same pragmas, plain statements');
    console.log('');

    const rows: Row[] = [];
    const step = (s: string): void => {
      process.stderr.write(`  measuring ${s}...\n`);
    };
    step('single enqueue (NORMAL)');
    const [sn, rn] = await singleEnqueue(dir, sizes, 'NORMAL');
    rows.push({ name: 'enqueue, 1 txn/msg, synchronous=NORMAL', unit: 'ops/s', ours: sn, raw: rn, target: 5_000 });
    step('single enqueue (FULL)');
    const [sf, rf] = await singleEnqueue(dir, sizes, 'FULL');
    rows.push({ name: 'enqueue, 1 txn/msg, synchronous=FULL', unit: 'ops/s', ours: sf, raw: rf });
    step('batched enqueue');
    const [sb, rb] = await batchEnqueue(dir, sizes);
    rows.push({ name: 'enqueueBatch, 1,000 msgs/call', unit: 'msgs/s', ours: sb, raw: rb, perOp: 1000, target: 50_000 });
    step('claim+ack, 1 process');
    const [sc, rc] = await claimAck(dir, sizes);
    rows.push({ name: 'claim+ack, 1 process', unit: 'cycles/s', ours: sc, raw: rc, target: 5_000 });
    step(`claim+ack, ${PROCS} competing processes (ours)`);
    const mo = await multiProcess(dir, 'ours', sizes);
    step(`claim+ack, ${PROCS} competing processes (raw)`);
    const mr = await multiProcess(dir, 'raw', sizes);
    const verified = mo.problems.length === 0 && mr.problems.length === 0;
    rows.push({
      name: `claim+ack, ${PROCS} processes, 1 agent`,
      unit: 'cycles/s',
      ours: mo,
      raw: mr,
      target: 2_000,
      note: verified ? `(exactly once: ${mo.ops}/${sizes.multi} ours, ${mr.ops}/${sizes.multi} raw)` : '(VERIFY FAILED)',
    });

    const pass = printTable(rows);
    console.log('');
    for (const p of mo.problems) console.log(`  ours multi-process problem: ${p}`);
    for (const p of mr.problems) console.log(`  raw multi-process problem: ${p}`);
    console.log(`  ${pass ? 'all targets met' : 'some figures BELOW target'}; exactly-once check ${verified ? 'passed' : 'FAILED'}; total ${((performance.now() - started) / 1000).toFixed(1)} s`);
    // Figures below a target are reported, not fatal; a broken exactly-once check is.
    return verified ? 0 : 1;
  } finally {
    await killAll(children);
    removeDir(dir);
  }
}

process.exitCode = await main();
