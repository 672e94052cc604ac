/**
 * Retention benchmark: a week of traffic (1M messages with their events, plus agent events and
 * tasks) written straight into a fresh hornets database with fake timestamps, then one prune as
 * the engine runs it. Prints the file size before and after, how long the prune took, the longest
 * wait another process saw for the write lock meanwhile (a stand-in for hooks), and checks that
 * every pending message is untouched.
 *
 *   npm run bench:retention                    1M messages, prune everything finished > 1 day old
 *   npm run bench:retention -- --messages 200000 --age-hours 24 --dir /path
 *
 * The traffic is inserted with plain SQL in large transactions (the store's API would take an hour
 * to make a million messages reach their final states); the prune is the store's own.
 */
import { mulberry32 as rng } from '../helpers/random.js';
import { fork, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

import { openSqliteStore } from '../../src/queue/sqlite/sqlite-store.js';
import { sequentialId } from '../../src/util/ids.js';
import { compiledSibling, exited, killAll, makeTempDir, numberFlag, parseFlags, removeDir } from './bench-util.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 5);
const AGENTS = Array.from({ length: 10 }, (_, i) => `agent${i}`);

/** Final state mix of a week of traffic; the rest is still pending. */
const MIX: [string, number][] = [
  ['confirmed', 0.85],
  ['dead', 0.03],
  ['expired', 0.03],
  ['cancelled', 0.02],
  ['queued', 0.04],
  ['failed', 0.015],
  ['delivered', 0.015],
];
const EVENTS: Record<string, string[]> = {
  confirmed: ['enqueued', 'claimed', 'delivered', 'confirmed'],
  dead: ['enqueued', 'claimed', 'failed', 'claimed', 'failed'],
  expired: ['enqueued', 'expired'],
  cancelled: ['enqueued', 'cancelled'],
  queued: ['enqueued'],
  failed: ['enqueued', 'claimed', 'failed'],
  delivered: ['enqueued', 'claimed', 'delivered'],
};
const PENDING = new Set(['queued', 'failed', 'delivered']);

function fileBytes(db: string): number {
  let n = 0;
  for (const f of [db, `${db}-wal`]) {
    try {
      n += statSync(f).size;
    } catch {
      // No WAL right now.
    }
  }
  return n;
}

const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

function pendingDigest(db: Database.Database): { count: number; digest: string } {
  const h = createHash('sha256');
  let count = 0;
  for (const r of db
    .prepare(
      `SELECT m.id, m.state, m.updated_at, (SELECT COUNT(*) FROM message_events e WHERE e.message_seq = m.seq) AS ev FROM messages m WHERE m.state IN ('queued','failed','leased','delivered') AND m.agent != 'probe' ORDER BY m.seq`,
    )
    .iterate() as Iterable<{ id: string; state: string; updated_at: number; ev: number }>) {
    h.update(`${r.id}|${r.state}|${r.updated_at}|${r.ev}\n`);
    count++;
  }
  return { count, digest: h.digest('hex').slice(0, 16) };
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  const total = numberFlag(flags, 'messages', 1_000_000);
  const ageMs = numberFlag(flags, 'age-hours', 24) * 3_600_000;
  const dir = makeTempDir('hornets-retention-', typeof flags.get('dir') === 'string' ? (flags.get('dir') as string) : undefined);
  const file = path.join(dir, 'hornets.db');
  const children = new Set<ChildProcess>();
  try {
    const end = T0 + 7 * DAY;
    const now = { t: end };
    // The store creates the schema (and incremental auto-vacuum) as in production.
    const setup = await openSqliteStore(file, { clock: () => T0 });
    await setup.registerAgents([...AGENTS, 'probe'].map((name) => ({ name, profile: 'demo' })));
    await setup.close();

    const started = Date.now();
    const db = new Database(file);
    // Bulk load without a journal (a crash here only loses the benchmark), then back to WAL.
    db.pragma('journal_mode = DELETE');
    db.pragma('journal_mode = OFF');
    db.pragma('synchronous = OFF');
    db.pragma('cache_size = -262144');
    const insMsg = db.prepare(
      `INSERT INTO messages (seq, id, agent, priority, body, sender, state, attempts, max_attempts, available_at, expires_at, delivered_at, confirmed_at, created_at, updated_at)
       VALUES (?, ?, ?, 5, ?, 'cli', ?, ?, 5, ?, ?, ?, ?, ?, ?)`,
    );
    const insEv = db.prepare(`INSERT INTO message_events (message_seq, n, ts, agent, kind, from_state, to_state, detail) VALUES (?, ?, ?, ?, ?, NULL, NULL, NULL)`);
    const insAgentEv = db.prepare(`INSERT INTO agent_events (ts, agent, kind, from_state, to_state, detail) VALUES (?, ?, ?, 'idle', 'working', NULL)`);
    const insTask = db.prepare(
      `INSERT INTO tasks (task_id, agent, description, priority, timeout_ms, max_retries, state, attempts, result, created_at, updated_at, completed_at)
       VALUES (?, ?, 'bench task', 5, 1800000, 2, 'completed', 1, 'ok', ?, ?, ?)`,
    );
    const rand = rng(42);
    const filler = 'lorem ipsum dolor sit amet '.repeat(40);
    const step = (7 * DAY) / total;
    let events = 0;
    const CHUNK = 20_000;
    for (let base = 0; base < total; base += CHUNK) {
      db.transaction(() => {
        for (let i = base; i < Math.min(total, base + CHUNK); i++) {
          const seq = i + 1;
          const created = Math.round(T0 + i * step);
          let x = rand();
          let state = MIX[MIX.length - 1]![0];
          for (const [s, p] of MIX) {
            if (x < p) {
              state = s;
              break;
            }
            x -= p;
          }
          const done = created + Math.round(rand() * 60_000);
          const agent = AGENTS[i % AGENTS.length]!;
          const body = filler.slice(0, 100 + Math.floor(rand() * 700));
          const delivered = state === 'confirmed' || state === 'delivered' ? done - 1000 : null;
          insMsg.run(
            seq,
            sequentialId(seq),
            agent,
            body,
            state,
            state === 'queued' ? 0 : 1,
            created,
            state === 'expired' ? done : null,
            delivered,
            state === 'confirmed' ? done : null,
            created,
            PENDING.has(state) && state === 'queued' ? created : done,
          );
          const kinds = EVENTS[state]!;
          kinds.forEach((k, n) => insEv.run(seq, n + 1, n === 0 ? created : done, agent, k));
          events += kinds.length;
          if (i % 20 === 0) insAgentEv.run(created, agent, 'agent_state');
          if (i % 100 === 0) insTask.run(`task-${i}`, agent, created, done, done);
        }
      })();
    }
    db.pragma('journal_mode = WAL');
    const before = pendingDigest(db);
    const stateCounts = db.prepare(`SELECT state, COUNT(*) AS n FROM messages GROUP BY state ORDER BY n DESC`).all() as { state: string; n: number }[];
    db.close();
    const sizeBefore = fileBytes(file);
    console.log(
      `wrote ${total.toLocaleString('en-US')} messages over 7 days (${events.toLocaleString('en-US')} message events, ${Math.ceil(total / 20).toLocaleString('en-US')} agent events, ${Math.ceil(total / 100).toLocaleString('en-US')} tasks) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    console.log(`states: ${stateCounts.map((r) => `${r.state} ${r.n.toLocaleString('en-US')}`).join(', ')}`);
    console.log(`file size before:  ${mib(sizeBefore)}`);

    // Another process enqueueing every 20 ms the whole time, as hooks and `send` would.
    const writer = fork(compiledSibling(import.meta.url, 'retention-bench-writer.js'), [file], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.add(writer);
    await new Promise<void>((resolve) => writer.once('message', () => resolve()));

    const store = await openSqliteStore(file, { clock: () => now.t });
    const r = await store.prune({ olderThanMs: ageMs });
    await store.close();

    const waits = await new Promise<{ n: number; max: number; p99: number }>((resolve) => {
      writer.once('message', (m) => resolve(m as { n: number; max: number; p99: number }));
      writer.send('stop');
    });
    await exited(writer);
    children.delete(writer);

    const check = new Database(file);
    check.pragma('wal_checkpoint(TRUNCATE)');
    const after = pendingDigest(check);
    const integrity = String(check.pragma('quick_check', { simple: true }));
    check.close();
    const sizeAfter = fileBytes(file);

    console.log(
      `prune --older-than ${ageMs / 3_600_000}h at the end of the week: ${r.messages.toLocaleString('en-US')} messages, ${r.events.toLocaleString('en-US')} message events, ${r.tasks.toLocaleString('en-US')} tasks, ${r.agentEvents.toLocaleString('en-US')} agent events removed`,
    );
    console.log(
      `prune time:        ${(r.ms / 1000).toFixed(1)} s (${Math.round(r.messages / (r.ms / 1000)).toLocaleString('en-US')} messages/s), ${mib(r.reclaimedBytes ?? 0)} given back by incremental vacuum`,
    );
    console.log(`file size after:   ${mib(sizeAfter)} (${((1 - sizeAfter / sizeBefore) * 100).toFixed(0)}% smaller)`);
    console.log(`longest prune transaction: ${r.longestBatchMs} ms; other process's enqueues during the prune: ${waits.n}, longest ${waits.max.toFixed(1)} ms, p99 ${waits.p99.toFixed(1)} ms`);
    console.log(
      `pending messages: ${before.count.toLocaleString('en-US')} before, ${after.count.toLocaleString('en-US')} after, ${before.digest === after.digest ? 'identical (ids, states, timestamps, event counts)' : 'CHANGED'}; quick_check ${integrity}`,
    );
    if (before.digest !== after.digest || integrity !== 'ok') process.exitCode = 1;
  } finally {
    await killAll(children);
    removeDir(dir);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
