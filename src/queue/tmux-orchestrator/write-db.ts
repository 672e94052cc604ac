/**
 * Rolling back out: hornets' pending messages written into a Tmux-Orchestrator database (created,
 * with its tables, when missing) so its own `check_queue` hooks deliver them, and the rows migrate
 * took in settled (src/domain/tmux-orchestrator.ts planRollback). One transaction; each new row is
 * recorded in the old schema's own `migrations` table as `hornets:<message id>`, so running the
 * rollback again writes nothing twice.
 */
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { MigrationError } from '../../errors.js';
import type { RollbackRow } from '../../domain/tmux-orchestrator.js';
import { sqliteTimestamp } from '../../domain/tmux-orchestrator.js';
import { sqliteAddon } from '../sqlite/addon.js';
import { columnsOf, openToDatabase, tablesOf } from './read-db.js';
import { TO_AUX_SQL, TO_QUEUE_SQL } from './schema.js';

export interface RollbackWriteResult {
  written: number;
  /** Old rows marked delivered (hornets finished them) / set back from pulled to pending. */
  settled: number;
  requeued: number;
  /** Already written by an earlier rollback (found in `migrations`). */
  already: number;
  created: boolean;
}

const marker = (id: string) => `hornets:${id}`;

function openForWrite(path: string): { db: Database.Database; created: boolean } {
  if (!existsSync(path)) {
    const db = new Database(path, { timeout: 5_000, ...sqliteAddon() });
    return { db, created: true };
  }
  const db = openToDatabase(path, { readonly: false });
  const tables = tablesOf(db);
  if (tables.length > 0 && !tables.includes('message_queue')) {
    db.close();
    throw new MigrationError('not_tmux_orchestrator', `${path} is not a Tmux-Orchestrator task queue: it has no message_queue table (its tables: ${tables.join(', ')}); nothing was written`);
  }
  return { db, created: false };
}

/** Which rows an earlier rollback wrote already (without writing anything). */
export function rolledBackAlready(path: string, rows: readonly RollbackRow[]): Set<string> {
  if (!existsSync(path)) return new Set();
  const db = openToDatabase(path);
  try {
    if (!tablesOf(db).includes('migrations')) return new Set();
    const has = db.prepare('SELECT 1 FROM migrations WHERE name = ?').pluck();
    return new Set(rows.filter((r) => has.get(marker(r.hornetsId)) !== undefined).map((r) => r.hornetsId));
  } finally {
    db.close();
  }
}

export function writeRollback(path: string, rows: readonly RollbackRow[], old: { settle: readonly number[]; requeue: readonly number[] } = { settle: [], requeue: [] }): RollbackWriteResult {
  const { db, created } = openForWrite(path);
  try {
    if (!tablesOf(db).includes('message_queue')) db.exec(TO_QUEUE_SQL);
    db.exec(TO_AUX_SQL);
    const mq = columnsOf(db, 'message_queue');
    // An installation that never ran migrate_queue_db.py still names the agent agent_session.
    const agentColumn = mq.includes('agent_id') ? 'agent_id' : 'agent_session';
    const cols = [agentColumn, 'message', 'priority', ...['sequence_number', 'project_name', 'status', 'enqueued_at'].filter((c) => mq.includes(c))];
    const insert = db.prepare(`INSERT INTO message_queue (${cols.map((c) => `"${c}"`).join(', ')}) VALUES (${cols.map((c) => `@${c}`).join(', ')})`);
    const nextSeq = db.prepare("UPDATE sequence_generator SET current_value = current_value + 1 WHERE name = 'message_sequence' RETURNING current_value").pluck();
    const seen = db.prepare('SELECT 1 FROM migrations WHERE name = ?').pluck();
    const record = db.prepare('INSERT INTO migrations (name) VALUES (?)');
    let written = 0;
    let already = 0;
    let settled = 0;
    let requeued = 0;
    const settle = db.prepare(
      `UPDATE message_queue SET status = 'delivered'${mq.includes('delivered_at') ? ', delivered_at = CURRENT_TIMESTAMP' : ''} WHERE id = ? AND status IN ('pending', 'pulled')`,
    );
    const requeue = db.prepare(`UPDATE message_queue SET status = 'pending'${mq.includes('pulled_at') ? ', pulled_at = NULL' : ''} WHERE id = ? AND status = 'pulled'`);
    db.transaction(() => {
      for (const id of old.settle) settled += settle.run(id).changes;
      for (const id of old.requeue) requeued += requeue.run(id).changes;
      // Sequence numbers continue the old generator, past every number already used.
      const maxUsed = mq.includes('sequence_number') ? Number(db.prepare('SELECT COALESCE(MAX(sequence_number), 0) FROM message_queue').pluck().get()) : 0;
      db.prepare("UPDATE sequence_generator SET current_value = MAX(current_value, ?) WHERE name = 'message_sequence'").run(maxUsed);
      for (const r of rows) {
        if (seen.get(marker(r.hornetsId)) !== undefined) {
          already++;
          continue;
        }
        const values: Record<string, unknown> = { [agentColumn]: r.agentId, message: r.message, priority: r.priority };
        if (cols.includes('sequence_number')) values.sequence_number = nextSeq.get();
        if (cols.includes('project_name')) values.project_name = r.project;
        if (cols.includes('status')) values.status = 'pending';
        if (cols.includes('enqueued_at')) values.enqueued_at = sqliteTimestamp(r.enqueuedAt);
        insert.run(values);
        record.run(marker(r.hornetsId));
        written++;
      }
    })();
    return { written, already, created, settled, requeued };
  } finally {
    db.close();
  }
}
