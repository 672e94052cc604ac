/**
 * Tmux-Orchestrator `task_queue.db` fixtures in each schema variant it had (dancegit/Tmux-Orchestrator
 * migrate_queue_db.py): `current` (agent_id, seed 002's restart columns, agent_context),
 * `no-restart` (agent_id, agents without seed 002's columns), `agent-session` (before the rename:
 * agent_session, no sequence_number, agents keyed by session_name).
 */
import Database from 'better-sqlite3';

export type ToVariant = 'current' | 'no-restart' | 'agent-session';

export interface ToRow {
  agent: string;
  message: string;
  priority?: number;
  status?: 'pending' | 'pulled' | 'delivered';
  dependency?: number;
  enqueuedAt?: string;
}

export function buildToDatabase(
  file: string,
  variant: ToVariant,
  rows: ToRow[],
  extra: { agents?: { id: string; restarts?: number; lastError?: string }[]; context?: { id: string; briefing: string; summary: string } } = {},
): void {
  const db = new Database(file);
  try {
    if (variant === 'agent-session') {
      db.exec(`CREATE TABLE message_queue (id INTEGER PRIMARY KEY AUTOINCREMENT, agent_session TEXT NOT NULL, message TEXT NOT NULL, priority INTEGER DEFAULT 0,
        dependency_id INTEGER, project_name TEXT, status TEXT DEFAULT 'pending', enqueued_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, pulled_at TIMESTAMP, delivered_at TIMESTAMP);
        CREATE TABLE agents (session_name TEXT PRIMARY KEY, project_name TEXT, status TEXT DEFAULT 'active', last_heartbeat TIMESTAMP);`);
    } else {
      db.exec(`CREATE TABLE message_queue (id INTEGER PRIMARY KEY AUTOINCREMENT, agent_id TEXT NOT NULL, message TEXT NOT NULL, priority INTEGER DEFAULT 0,
        sequence_number INTEGER NOT NULL DEFAULT 0, dependency_id INTEGER, project_name TEXT, status TEXT DEFAULT 'pending', enqueued_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
        pulled_at TIMESTAMP, delivered_at TIMESTAMP, delivery_method TEXT DEFAULT 'queued', fifo_scope TEXT DEFAULT 'agent', FOREIGN KEY (dependency_id) REFERENCES message_queue(id));
        CREATE INDEX idx_agent_fifo ON message_queue(agent_id, priority DESC, sequence_number);
        CREATE TABLE sequence_generator (name TEXT PRIMARY KEY, current_value INTEGER DEFAULT 0);
        INSERT INTO sequence_generator VALUES ('message_sequence', 0);
        CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP);
        INSERT INTO migrations (name) VALUES ('agent_id_rename');`);
      db.exec(
        variant === 'current'
          ? `CREATE TABLE agents (agent_id TEXT PRIMARY KEY, project_name TEXT, status TEXT DEFAULT 'active', ready_since TIMESTAMP, last_heartbeat TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
              direct_delivery_pipe TEXT, last_sequence_delivered INTEGER DEFAULT 0, restart_count INTEGER DEFAULT 0, last_restart TIMESTAMP, last_error TEXT, context_preserved TEXT);
             CREATE TABLE agent_context (agent_id TEXT PRIMARY KEY, last_briefing TIMESTAMP, briefing_content TEXT, activity_summary TEXT, checkpoint_data TEXT,
              created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP);`
          : `CREATE TABLE agents (agent_id TEXT PRIMARY KEY, project_name TEXT, status TEXT DEFAULT 'active', ready_since TIMESTAMP, last_heartbeat TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
              direct_delivery_pipe TEXT, last_sequence_delivered INTEGER DEFAULT 0);`,
      );
    }
    const col = variant === 'agent-session' ? 'agent_session' : 'agent_id';
    rows.forEach((r, i) => {
      const seq = variant === 'agent-session' ? [] : ['sequence_number'];
      const values: unknown[] = [r.agent, r.message, r.priority ?? 0, r.dependency ?? null, 'oldproj', r.status ?? 'pending', r.enqueuedAt ?? `2026-11-30 10:00:${String(i).padStart(2, '0')}`];
      if (seq.length) values.push(i + 1);
      db.prepare(
        `INSERT INTO message_queue (${col}, message, priority, dependency_id, project_name, status, enqueued_at${seq.length ? ', sequence_number' : ''}) VALUES (${values.map(() => '?').join(', ')})`,
      ).run(...values);
    });
    if (variant !== 'agent-session') db.prepare("UPDATE sequence_generator SET current_value = ? WHERE name = 'message_sequence'").run(rows.length);
    for (const a of extra.agents ?? []) {
      if (variant === 'current')
        db.prepare('INSERT INTO agents (agent_id, project_name, restart_count, last_restart, last_error) VALUES (?, ?, ?, ?, ?)').run(
          a.id,
          'oldproj',
          a.restarts ?? 0,
          '2026-11-29 08:00:00',
          a.lastError ?? null,
        );
      else if (variant === 'no-restart') db.prepare('INSERT INTO agents (agent_id, project_name) VALUES (?, ?)').run(a.id, 'oldproj');
      else db.prepare('INSERT INTO agents (session_name, project_name) VALUES (?, ?)').run(a.id, 'oldproj');
    }
    if (extra.context && variant === 'current') {
      db.prepare('INSERT INTO agent_context (agent_id, last_briefing, briefing_content, activity_summary, checkpoint_data) VALUES (?, ?, ?, ?, ?)').run(
        extra.context.id,
        '2026-11-29 07:00:00',
        extra.context.briefing,
        extra.context.summary,
        '{"step": 3}',
      );
    }
  } finally {
    db.close();
  }
}

/** What the old `check_queue` hook would deliver next, in its order: pending rows by priority, then sequence. */
export function toPending(file: string): { agent: string; message: string; priority: number }[] {
  const db = new Database(file, { readonly: true });
  try {
    const cols = (db.prepare('PRAGMA table_info(message_queue)').all() as { name: string }[]).map((c) => c.name);
    const agent = cols.includes('agent_id') ? 'agent_id' : 'agent_session';
    const order = cols.includes('sequence_number') ? 'sequence_number' : 'id';
    return db.prepare(`SELECT ${agent} AS agent, message, priority FROM message_queue WHERE status = 'pending' ORDER BY ${agent}, priority DESC, ${order} ASC`).all() as {
      agent: string;
      message: string;
      priority: number;
    }[];
  } finally {
    db.close();
  }
}
