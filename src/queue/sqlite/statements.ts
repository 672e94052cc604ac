/**
 * The prepared statements of the SQLite store, compiled lazily, and the one helper that splices
 * checked state literals into dynamic SQL.
 */
import type Database from 'better-sqlite3';
import { QueueError } from '../../errors.js';

type DB = Database.Database;
type Stmt = Database.Statement;

export const PENDING_STATES = ['queued', 'failed', 'leased', 'delivered'] as const;
export const PENDING_SQL = `(${PENDING_STATES.map((st) => `'${st}'`).join(',')})`;

export type Statements = ReturnType<typeof prepareStatements>;

/**
 * WHERE terms for "this agent, these states". States are checked against the known list before they
 * are spliced into the SQL, so only our own literals ever reach it.
 */
export function agentStateWhere(filter: { agent?: string; states?: readonly string[] }, known: readonly string[], what: string): { where: string[]; params: Record<string, unknown> } {
  const where: string[] = [];
  const params: Record<string, unknown> = {};
  if (filter.agent !== undefined) {
    where.push('agent = @agent');
    params.agent = filter.agent;
  }
  if (filter.states && filter.states.length > 0) {
    for (const st of filter.states) if (!known.includes(st)) throw new QueueError('invalid_input', `unknown ${what} state "${st}" (one of ${known.join(', ')})`);
    where.push(`state IN (${filter.states.map((st) => `'${st}'`).join(',')})`);
  }
  return { where, params };
}

/**
 * Statements are compiled on first use: a hook process opens the store for one event and needs a
 * handful of the ~50 statements, and compiling all of them up front costs milliseconds on every
 * tool call.
 */
function lazy(db: DB): Pick<DB, 'prepare'> {
  return {
    prepare: ((sql: string) => {
      let compiled: Stmt | null = null;
      const real = () => (compiled ??= db.prepare(sql));
      return {
        run: (...args: unknown[]) => real().run(...args),
        get: (...args: unknown[]) => real().get(...args),
        all: (...args: unknown[]) => real().all(...args),
      } as unknown as Stmt;
    }) as DB['prepare'],
  };
}

export function prepareStatements(eager: DB) {
  const db = lazy(eager);
  const waiting = `state IN ('queued','failed')`;
  return {
    insertMessageEvent: db.prepare(
      `INSERT INTO message_events (message_seq, n, ts, agent, kind, from_state, to_state, detail)
       SELECT @seq, COALESCE(MAX(n), 0) + 1, @ts, @agent, @kind, @from_state, @to_state, @detail FROM message_events WHERE message_seq = @seq`,
    ),
    insertAgentEvent: db.prepare(`INSERT INTO agent_events (ts, agent, kind, from_state, to_state, detail) VALUES (@ts, @agent, @kind, @from_state, @to_state, @detail)`),
    getAgent: db.prepare(`SELECT * FROM agents WHERE name = ?`),
    listAgents: db.prepare(`SELECT * FROM agents ORDER BY name`),
    upsertAgent: db.prepare(
      `INSERT INTO agents (name, profile, max_depth, created_at, updated_at) VALUES (@name, @profile, @max_depth, @now, @now)
       ON CONFLICT(name) DO UPDATE SET profile = excluded.profile, max_depth = excluded.max_depth, updated_at = excluded.updated_at
       WHERE profile IS NOT excluded.profile OR max_depth IS NOT excluded.max_depth`,
    ),
    getContext: db.prepare(`SELECT * FROM agent_context WHERE agent = ?`),
    upsertContext: db.prepare(
      `INSERT INTO agent_context (agent, last_briefing, briefing_content, activity_summary, checkpoint_data, created_at, updated_at)
       VALUES (@agent, @last_briefing, @briefing_content, @activity_summary, @checkpoint_data, @now, @now)
       ON CONFLICT(agent) DO UPDATE SET last_briefing = excluded.last_briefing, briefing_content = excluded.briefing_content,
         activity_summary = excluded.activity_summary, checkpoint_data = excluded.checkpoint_data, updated_at = excluded.updated_at`,
    ),
    getById: db.prepare(`SELECT * FROM messages WHERE id = ?`),
    lastSeq: db.prepare(`SELECT seq FROM sqlite_sequence WHERE name = 'messages'`),
    getByPrefix: db.prepare(`SELECT * FROM messages WHERE id >= @lo AND id < @hi ORDER BY id LIMIT 5`),
    getByKey: db.prepare(`SELECT * FROM messages WHERE agent = ? AND idem_key = ?`),
    insertMessage: db.prepare(
      `INSERT INTO messages (seq, id, agent, priority, body, sender, idem_key, state, attempts, max_attempts, available_at, expires_at, meta, created_at, updated_at)
       VALUES (@seq, @id, @agent, @priority, @body, @sender, @idem_key, 'queued', 0, @max_attempts, @available_at, @expires_at, @meta, @created_at, @updated_at)`,
    ),
    insertFirstEvent: db.prepare(`INSERT INTO message_events (message_seq, n, ts, agent, kind, from_state, to_state, detail) VALUES (@seq, 1, @ts, @agent, 'enqueued', NULL, 'queued', NULL)`),
    importMessage: db.prepare(
      `INSERT INTO messages (id, agent, priority, body, sender, idem_key, state, attempts, max_attempts, redeliveries, available_at, expires_at, meta, created_at, updated_at)
       VALUES (@id, @agent, @priority, @body, @sender, @idem_key, 'queued', @attempts, @max_attempts, @redeliveries, @now, @expires_at, @meta, @created_at, @now) RETURNING seq`,
    ),
    expiring: db.prepare(`SELECT * FROM messages WHERE agent = @agent AND ${waiting} AND expires_at IS NOT NULL AND expires_at <= @now`),
    expiringAll: db.prepare(`SELECT * FROM messages WHERE ${waiting} AND expires_at IS NOT NULL AND expires_at <= @now`),
    setExpired: db.prepare(`UPDATE messages SET state = 'expired', updated_at = @now WHERE seq = @seq`),
    lapsed: db.prepare(`SELECT * FROM messages INDEXED BY messages_leased WHERE state = 'leased' AND lease_expires_at <= @now AND agent = @agent`),
    lapsedAll: db.prepare(`SELECT * FROM messages INDEXED BY messages_leased WHERE state = 'leased' AND lease_expires_at <= @now`),
    afterLapse: db.prepare(
      // A lapsed lease may have been written out by its holder before it died (a hook killed between
      // printing and acking), so the next hand-over is marked as a possible repeat.
      `UPDATE messages SET state = @state, last_error = @error, dead_reason = @dead_reason, lease_token = NULL, lease_owner = NULL,
         lease_expires_at = NULL, available_at = @now, redeliveries = redeliveries + 1, updated_at = @now WHERE seq = @seq`,
    ),
    nextWaiting: db.prepare(
      `SELECT seq, state FROM messages INDEXED BY messages_waiting
       WHERE agent = @agent AND ${waiting} AND available_at <= @now AND (expires_at IS NULL OR expires_at > @now)
       ORDER BY priority DESC, seq LIMIT @limit`,
    ),
    lease: db.prepare(
      `UPDATE messages SET state = 'leased', attempts = attempts + 1, lease_token = @token, lease_owner = @owner, lease_expires_at = @until,
         session_id = COALESCE(@session, session_id), updated_at = @now WHERE seq = @seq RETURNING *`,
    ),
    byLease: db.prepare(`SELECT * FROM messages INDEXED BY messages_leased WHERE state = 'leased' AND lease_expires_at = @until AND lease_token = @token`),
    deliver: db.prepare(
      `UPDATE messages SET state = 'delivered', delivered_at = @now, session_id = COALESCE(@session, session_id), lease_token = NULL,
         lease_owner = NULL, lease_expires_at = NULL, updated_at = @now WHERE seq = @seq`,
    ),
    afterFail: db.prepare(
      `UPDATE messages SET state = @state, last_error = @error, dead_reason = @dead_reason, available_at = @available_at, lease_token = NULL,
         lease_owner = NULL, lease_expires_at = NULL, updated_at = @now WHERE seq = @seq`,
    ),
    release: db.prepare(
      `UPDATE messages SET state = 'queued', attempts = MAX(0, attempts - 1), lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL,
         updated_at = @now WHERE seq = @seq`,
    ),
    delivered: db.prepare(`SELECT * FROM messages INDEXED BY messages_delivered WHERE agent = @agent AND state = 'delivered' AND (@session IS NULL OR session_id = @session) ORDER BY seq`),
    confirm: db.prepare(`UPDATE messages SET state = 'confirmed', confirmed_at = @now, updated_at = @now WHERE seq = @seq`),
    requeue: db.prepare(
      `UPDATE messages SET state = @state, redeliveries = redeliveries + 1, last_error = @error, dead_reason = @dead_reason,
         available_at = @now, delivered_at = NULL, updated_at = @now WHERE seq = @seq`,
    ),
    countsByState: db.prepare(`SELECT agent, state, COUNT(*) AS n, MIN(created_at) AS oldest FROM messages GROUP BY agent, state`),
    waitingByPriority: db.prepare(`SELECT agent, priority, COUNT(*) AS n FROM messages WHERE state IN ('queued','failed') GROUP BY agent, priority`),
    ahead: db.prepare(`SELECT COUNT(*) AS n FROM messages WHERE agent = @agent AND ${waiting} AND (priority > @priority OR (priority = @priority AND seq < @seq))`),
    eventsForMessage: db.prepare(`SELECT @id AS message_id, n AS id, ts, agent, kind, from_state, to_state, detail FROM message_events WHERE message_seq = @seq ORDER BY n LIMIT @limit`),
    agentEventsForAgent: db.prepare(`SELECT NULL AS message_id, * FROM agent_events WHERE agent = @agent ORDER BY id DESC LIMIT @limit`),
    agentEventsRecent: db.prepare(`SELECT NULL AS message_id, * FROM agent_events ORDER BY id DESC LIMIT @limit`),
    // History of the agent's most recent messages; the full log of one message is eventsForMessage.
    messageEventsForAgent: db.prepare(
      `SELECT m.id AS message_id, e.n AS id, e.ts, e.agent, e.kind, e.from_state, e.to_state, e.detail
       FROM (SELECT seq, id FROM messages INDEXED BY messages_agent WHERE agent = @agent ORDER BY seq DESC LIMIT @limit) m
       JOIN message_events e ON e.message_seq = m.seq`,
    ),
    cancel: db.prepare(
      `UPDATE messages SET state = 'cancelled', last_error = @reason, lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL,
         updated_at = @now WHERE seq = @seq`,
    ),
    retry: db.prepare(
      `UPDATE messages SET state = 'queued', attempts = 0, available_at = @now, dead_reason = NULL, lease_token = NULL, lease_owner = NULL,
         lease_expires_at = NULL, expires_at = CASE WHEN expires_at <= @now THEN NULL ELSE expires_at END, updated_at = @now WHERE seq = @seq`,
    ),
    pendingAll: db.prepare(`SELECT * FROM messages WHERE state IN ${PENDING_SQL} ORDER BY agent, priority DESC, seq`),
    pendingForAgent: db.prepare(`SELECT * FROM messages WHERE agent = ? AND state IN ${PENDING_SQL} ORDER BY priority DESC, seq`),
    getTask: db.prepare(`SELECT * FROM tasks WHERE task_id = ?`),
    insertTask: db.prepare(
      `INSERT INTO tasks (task_id, agent, description, priority, timeout_ms, max_retries, sender, state, attempts, source, created_at, updated_at)
       VALUES (@task_id, @agent, @description, @priority, @timeout_ms, @max_retries, @sender, 'queued', 0, @source, @now, @now)`,
    ),
    tasksTimedOut: db.prepare(`SELECT * FROM tasks INDEXED BY tasks_deadline WHERE state = 'running' AND deadline_at <= @now ORDER BY deadline_at`),
    tasksRetryDue: db.prepare(`SELECT * FROM tasks WHERE state = 'retrying' AND retry_at <= @now ORDER BY retry_at`),
    taskCounts: db.prepare(`SELECT agent, state, COUNT(*) AS n FROM tasks GROUP BY agent, state`),
  };
}
