/**
 * Reading a Tmux-Orchestrator `task_queue.db` without writing to it (read-only connection), in
 * every schema variant it had: `agent_id` or the older `agent_session`, with or without seed 002's
 * restart columns, with or without `agents` / `agent_context`. Anything else is refused by name.
 */
import { existsSync, openSync, readSync, closeSync } from 'node:fs';
import Database from 'better-sqlite3';
import { MigrationError } from '../../errors.js';
import { sqliteAddon } from '../sqlite/addon.js';
import { HORNETS_APPLICATION_ID } from '../sqlite/migrations.js';
import type { ToAgent, ToContext, ToDatabase, ToMessage } from '../../domain/tmux-orchestrator.js';

type DB = Database.Database;
type Row = Record<string, unknown>;

const SQLITE_MAGIC = 'SQLite format 3\u0000';

function fileHeader(path: string): string {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(16);
    const n = readSync(fd, buf, 0, 16, 0);
    return buf.subarray(0, n).toString('latin1');
  } finally {
    closeSync(fd);
  }
}

export function columnsOf(db: DB, table: string): string[] {
  return (db.prepare(`PRAGMA table_info("${table.replace(/"/g, '""')}")`).all() as { name: string }[]).map((c) => c.name);
}

export function tablesOf(db: DB): string[] {
  return (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[]).map((t) => t.name);
}

const text = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
const int = (v: unknown, fallback: number): number =>
  typeof v === 'number' && Number.isFinite(v) ? Math.trunc(v) : typeof v === 'bigint' ? Number(v) : typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : fallback;
const intOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : int(v, 0));

/** Opens `path` read-only after checking it is an SQLite file and not a hornets database. */
export function openToDatabase(path: string, options: { readonly: boolean } = { readonly: true }): DB {
  if (!existsSync(path)) throw new MigrationError('missing', `${path} does not exist`);
  if (fileHeader(path) !== SQLITE_MAGIC) throw new MigrationError('not_sqlite', `${path} is not an SQLite database (no SQLite header): not a Tmux-Orchestrator task_queue.db`);
  let db: DB;
  try {
    db = new Database(path, { readonly: options.readonly, fileMustExist: true, timeout: 5_000, ...sqliteAddon() });
  } catch (cause) {
    throw new MigrationError('not_sqlite', `cannot open ${path}: ${(cause as Error).message}`, { cause });
  }
  try {
    if (Number(db.pragma('application_id', { simple: true })) === HORNETS_APPLICATION_ID) {
      throw new MigrationError('hornets_db', `${path} is a hornets database, not a Tmux-Orchestrator one: move its messages with \`hornets-tui queue export\` / \`queue import\``);
    }
    const check = db.pragma('quick_check', { simple: true }) as string;
    if (check !== 'ok') throw new MigrationError('corrupt', `${path} is damaged (quick_check: ${String(check).slice(0, 200)}); nothing was read from it`);
  } catch (err) {
    db.close();
    if (err instanceof MigrationError) throw err;
    throw new MigrationError('corrupt', `${path} is damaged: ${(err as Error).message}; nothing was read from it`, { cause: err });
  }
  return db;
}

/** The whole database as hornets needs it. Throws MigrationError for anything not in the schema. */
export function readToDatabase(path: string): ToDatabase {
  const db = openToDatabase(path);
  try {
    return readOpened(db, path);
  } catch (err) {
    if (err instanceof MigrationError) throw err;
    throw new MigrationError('corrupt', `cannot read ${path}: ${(err as Error).message}; nothing was changed`, { cause: err });
  } finally {
    db.close();
  }
}

function readOpened(db: DB, path: string): ToDatabase {
  const tables = tablesOf(db);
  if (!tables.includes('message_queue')) {
    throw new MigrationError('not_tmux_orchestrator', `${path} is not a Tmux-Orchestrator task queue: it has no message_queue table (its tables: ${tables.length ? tables.join(', ') : 'none'})`);
  }
  const mq = columnsOf(db, 'message_queue');
  const agentColumn = mq.includes('agent_id') ? 'agent_id' : mq.includes('agent_session') ? 'agent_session' : null;
  const missing = ['id', 'message', 'priority', 'status'].filter((c) => !mq.includes(c));
  if (!agentColumn || missing.length > 0) {
    throw new MigrationError(
      'not_tmux_orchestrator',
      `${path}: message_queue is not Tmux-Orchestrator's (missing ${[...(agentColumn ? [] : ['agent_id (or agent_session)']), ...missing].join(', ')}; its columns: ${mq.join(', ')})`,
    );
  }
  const has = (c: string) => mq.includes(c);
  // Older databases have no sequence_number: their order was the id's (migrate_queue_db.py).
  const rows = db
    .prepare(
      `SELECT id, "${agentColumn}" AS agent, message, priority, ${has('sequence_number') ? 'sequence_number' : 'id'} AS seq,
        ${has('dependency_id') ? 'dependency_id' : 'NULL'} AS dependency_id, ${has('project_name') ? 'project_name' : 'NULL'} AS project_name, status,
        ${has('enqueued_at') ? 'enqueued_at' : 'NULL'} AS enqueued_at, ${has('pulled_at') ? 'pulled_at' : 'NULL'} AS pulled_at,
        ${has('delivered_at') ? 'delivered_at' : 'NULL'} AS delivered_at
       FROM message_queue ORDER BY id`,
    )
    .all() as Row[];
  const messages: ToMessage[] = rows.map((r) => ({
    id: int(r.id, 0),
    agentId: String(r.agent ?? ''),
    message: String(r.message ?? ''),
    priority: int(r.priority, 0),
    sequence: int(r.seq, int(r.id, 0)),
    dependencyId: intOrNull(r.dependency_id),
    project: text(r.project_name),
    status: String(r.status ?? 'pending'),
    enqueuedAt: text(r.enqueued_at),
    pulledAt: text(r.pulled_at),
    deliveredAt: text(r.delivered_at),
  }));

  let agents: ToAgent[] = [];
  let restartColumns = false;
  if (tables.includes('agents')) {
    const ac = columnsOf(db, 'agents');
    const id = ac.includes('agent_id') ? 'agent_id' : ac.includes('session_name') ? 'session_name' : null;
    if (id) {
      restartColumns = ac.includes('restart_count');
      const col = (c: string) => (ac.includes(c) ? c : 'NULL');
      agents = (
        db
          .prepare(
            `SELECT "${id}" AS agent, ${col('project_name')} AS project_name, ${col('status')} AS status, ${col('last_heartbeat')} AS last_heartbeat,
              ${col('restart_count')} AS restart_count, ${col('last_restart')} AS last_restart, ${col('last_error')} AS last_error, ${col('context_preserved')} AS context_preserved
             FROM agents ORDER BY 1`,
          )
          .all() as Row[]
      ).map((r) => ({
        agentId: String(r.agent ?? ''),
        project: text(r.project_name),
        status: text(r.status),
        lastHeartbeat: text(r.last_heartbeat),
        restartCount: intOrNull(r.restart_count),
        lastRestart: text(r.last_restart),
        lastError: text(r.last_error),
        contextPreserved: text(r.context_preserved),
      }));
    }
  }

  let contexts: ToContext[] = [];
  if (tables.includes('agent_context')) {
    const cc = columnsOf(db, 'agent_context');
    if (cc.includes('agent_id')) {
      const col = (c: string) => (cc.includes(c) ? c : 'NULL');
      contexts = (
        db
          .prepare(
            `SELECT agent_id, ${col('last_briefing')} AS last_briefing, ${col('briefing_content')} AS briefing_content, ${col('activity_summary')} AS activity_summary, ${col('checkpoint_data')} AS checkpoint_data FROM agent_context ORDER BY agent_id`,
          )
          .all() as Row[]
      ).map((r) => ({
        agentId: String(r.agent_id ?? ''),
        lastBriefing: text(r.last_briefing),
        briefingContent: text(r.briefing_content),
        activitySummary: text(r.activity_summary),
        checkpointData: text(r.checkpoint_data),
      }));
    }
  }
  return { path, agentColumn, restartColumns, messages, agents, contexts };
}
