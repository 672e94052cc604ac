/**
 * Retention for the SQLite store: deletes finished messages (with their events), finished tasks,
 * old agent events and per-message usage rows not met within the age in small write transactions,
 * then hands freed pages back to the file system.
 *
 * Why batches: a hook process waits for the write lock (busy timeout) while we hold it; one
 * transaction deleting a week of traffic would hold it for seconds. After each batch we pause as
 * long as the batch took: SQLite's busy handler polls with sleeps, so back-to-back transactions
 * with only a microsecond between them would starve another process's writer for seconds (seen in
 * the retention benchmark: 1.4 s). The pause also lets the daemon serve its own hooks meanwhile.
 *
 * Why incremental vacuum: new databases are created with `auto_vacuum = INCREMENTAL` (open.ts), so
 * `PRAGMA incremental_vacuum(n)` can shrink the file a few MiB per transaction. A database created
 * before that keeps `auto_vacuum = NONE` (the mode can only change through a full VACUUM, which
 * rewrites the whole file under an exclusive lock, not something to do behind the operator's back):
 * there the freed pages stay in the file's free list and are reused by new messages, so the file
 * stops growing but does not shrink.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { PruneOptions, PruneResult } from '../store.js';
import { checkPruneOptions } from '../prune-options.js';

export { checkPruneOptions } from '../prune-options.js';
import type { SqliteConnection } from './connection.js';

/** Longest pause between batches. */
const MAX_PAUSE_MS = 50;

/** Lets other writers in: as long as the last batch held the lock (bounded). */
function pause(batchStartedAt: number): Promise<void> {
  return sleep(Math.min(MAX_PAUSE_MS, Math.max(1, Date.now() - batchStartedAt)));
}
/** Pages (4 KiB) per incremental_vacuum step: moving pages is slow (pointer maps), so small steps. */
const VACUUM_PAGES = 256;
const FINISHED_MESSAGES = `('confirmed','dead','expired','cancelled')`;

export async function pruneStore(c: SqliteConnection, options: PruneOptions): Promise<PruneResult> {
  const { olderThanMs, batchSize } = checkPruneOptions(options);
  c.assertOpen();
  const started = Date.now();
  const cutoff = c.now() - olderThanMs;
  const result: PruneResult = { cutoff, messages: 0, events: 0, tasks: 0, agentEvents: 0, usageMessages: 0, reclaimedBytes: null, ms: 0, longestBatchMs: 0 };
  /** One write transaction, timed. */
  const write = <T>(fn: () => T): T => {
    const t = Date.now();
    try {
      return c.write(fn);
    } finally {
      result.longestBatchMs = Math.max(result.longestBatchMs, Date.now() - t);
    }
  };

  // Messages: walk the table once in seq order (a cursor, not a rescan per batch), so old pending
  // messages near the start are passed over once rather than in every batch.
  const pickMessages = c.stmt(`SELECT seq, id FROM messages WHERE seq > @after AND state IN ${FINISHED_MESSAGES} AND updated_at < @cutoff ORDER BY seq LIMIT @limit`);
  const openTaskMessages = c.stmt(`SELECT message_id FROM tasks WHERE state IN ('queued','running','retrying') AND message_id IS NOT NULL`);
  const deleteEvents = c.stmt(`DELETE FROM message_events WHERE message_seq = ?`);
  // Re-checked under the lock: another process may have retried the message since we picked it.
  const deleteMessage = c.stmt(`DELETE FROM messages WHERE seq = ? AND state IN ${FINISHED_MESSAGES} AND updated_at < ?`);
  let after = 0;
  for (;;) {
    const t = Date.now();
    const batch = write(() => {
      const rows = pickMessages.all({ after, cutoff, limit: batchSize }) as { seq: number; id: string }[];
      // The task watcher still reads the message of an open task (rare: its attempt outlived the age).
      const keep = rows.length ? new Set((openTaskMessages.all() as { message_id: string }[]).map((r) => r.message_id)) : new Set<string>();
      for (const r of rows) {
        if (keep.has(r.id)) continue;
        if (deleteMessage.run(r.seq, cutoff).changes === 0) continue;
        result.messages++;
        result.events += deleteEvents.run(r.seq).changes;
      }
      return rows;
    });
    if (batch.length === 0) break;
    after = batch[batch.length - 1]!.seq;
    if (batch.length < batchSize || options.signal?.aborted) break;
    await pause(t);
  }

  const deleteTasks = c.stmt(`DELETE FROM tasks WHERE task_id IN (SELECT task_id FROM tasks WHERE state IN ('completed','failed') AND completed_at < @cutoff LIMIT @limit)`);
  // Agent events are appended in time order, so the old ones are at the start of the id range.
  const deleteAgentEvents = c.stmt(`DELETE FROM agent_events WHERE id IN (SELECT id FROM agent_events WHERE ts < @cutoff ORDER BY id LIMIT @limit)`);
  // Task workers' finished tasks count as tasks (their results stay in results/<worker>/).
  const deleteWorkerTasks = c.stmt(
    `DELETE FROM worker_tasks WHERE task_id IN (SELECT task_id FROM worker_tasks WHERE state IN ('completed','failed','cancelled') AND completed_at < @cutoff LIMIT @limit)`,
  );
  for (const [del, key] of [
    [deleteTasks, 'tasks'],
    [deleteWorkerTasks, 'tasks'],
    [deleteAgentEvents, 'agentEvents'],
  ] as const) {
    for (;;) {
      if (options.signal?.aborted) break;
      const t = Date.now();
      const n = write(() => del.run({ cutoff, limit: batchSize }).changes);
      result[key] += n;
      if (n < batchSize) break;
      await pause(t);
    }
  }

  // Usage rows: the agent's pruned_before moves up in the same transaction as its rows go, so a read
  // from a transcript's start never counts a pruned message again (domain/usage.ts UsageGuard). The
  // running totals of cumulative ids (Codex sessions) stay: their next figure counts only growth.
  const pickUsage = c.stmt(`SELECT agent, message_id FROM usage_messages WHERE seen_at < @cutoff AND NOT (message_id LIKE 'codex:%' AND message_id NOT LIKE 'codex:%:%') LIMIT @limit`);
  const markPruned = c.stmt(`UPDATE agent_usage SET pruned_before = MAX(COALESCE(pruned_before, 0), @cutoff) WHERE agent = @agent`);
  const deleteUsage = c.stmt(`DELETE FROM usage_messages WHERE agent = ? AND message_id = ? AND seen_at < ?`);
  for (;;) {
    if (options.signal?.aborted) break;
    const t = Date.now();
    const batch = write(() => {
      const rows = pickUsage.all({ cutoff, limit: batchSize }) as { agent: string; message_id: string }[];
      for (const agent of new Set(rows.map((r) => r.agent))) markPruned.run({ cutoff, agent });
      let removed = 0;
      for (const r of rows) removed += deleteUsage.run(r.agent, r.message_id, cutoff).changes;
      return { picked: rows.length, removed };
    });
    result.usageMessages += batch.removed;
    if (batch.picked < batchSize) break;
    await pause(t);
  }

  result.reclaimedBytes = options.compact ? compact(c) : await reclaim(c, write, options.signal);
  result.ms = Date.now() - started;
  return result;
}

/** VACUUM (outside any transaction), switching to incremental auto-vacuum on the way; returns bytes freed. */
function compact(c: SqliteConnection): number {
  const pageSize = Number(c.db.pragma('page_size', { simple: true }));
  const before = Number(c.db.pragma('page_count', { simple: true }));
  c.exclusive(() => {
    c.db.pragma('auto_vacuum = INCREMENTAL');
    c.db.exec('VACUUM');
  });
  try {
    c.db.pragma('wal_checkpoint(TRUNCATE)');
  } catch {
    // Busy: the next automatic checkpoint shrinks the file.
  }
  return Math.max(0, before - Number(c.db.pragma('page_count', { simple: true }))) * pageSize;
}

/** Gives free pages back to the file system when the database allows it; returns bytes freed. */
async function reclaim(c: SqliteConnection, write: <T>(fn: () => T) => T, signal: AbortSignal | undefined): Promise<number> {
  const pageSize = Number(c.db.pragma('page_size', { simple: true }));
  if (Number(c.db.pragma('auto_vacuum', { simple: true })) !== 2) return 0;
  const pagesBefore = Number(c.db.pragma('page_count', { simple: true }));
  for (;;) {
    const free = c.read(() => Number(c.db.pragma('freelist_count', { simple: true })));
    if (free === 0 || signal?.aborted) break;
    const t = Date.now();
    write(() => c.db.pragma(`incremental_vacuum(${Math.min(free, VACUUM_PAGES)})`));
    await pause(t);
  }
  // The file shrinks when the WAL is checkpointed; PASSIVE never waits for other connections.
  try {
    c.db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // Busy: the next automatic checkpoint does it.
  }
  const pagesAfter = Number(c.db.pragma('page_count', { simple: true }));
  return Math.max(0, pagesBefore - pagesAfter) * pageSize;
}
