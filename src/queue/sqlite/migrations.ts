/**
 * Versioned schema. Index i holds the SQL that takes `PRAGMA user_version` from i to i+1.
 * Never edit a shipped migration: append a new one.
 */

/** 'HRNT' — marks the file as a hornets database so we never migrate someone else's. */
export const HORNETS_APPLICATION_ID = 0x48524e54;

export const migrations: readonly string[] = [
  `
  CREATE TABLE agents (
    name              TEXT PRIMARY KEY,
    profile           TEXT NOT NULL,
    state             TEXT NOT NULL DEFAULT 'unknown',
    pane_id           TEXT,
    session_id        TEXT,
    generation        INTEGER NOT NULL DEFAULT 0,
    restart_count     INTEGER NOT NULL DEFAULT 0,
    last_restart      INTEGER,
    last_error        TEXT,
    context_preserved INTEGER NOT NULL DEFAULT 0,
    paused            INTEGER NOT NULL DEFAULT 0,
    max_depth         INTEGER,
    last_event_at     INTEGER,
    -- Consecutive Stop-hook blocks in the current chain (Claude Code ends the turn after 8).
    stop_blocks       INTEGER NOT NULL DEFAULT 0,
    -- Maintained by the triggers below so depth checks never scan the queue.
    pending           INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE agent_context (
    agent             TEXT PRIMARY KEY REFERENCES agents(name) ON DELETE CASCADE,
    last_briefing     INTEGER,
    briefing_content  TEXT,
    activity_summary  TEXT,
    checkpoint_data   TEXT,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE messages (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    id                TEXT NOT NULL UNIQUE,
    agent             TEXT NOT NULL REFERENCES agents(name),
    priority          INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 200),
    body              TEXT NOT NULL,
    sender            TEXT,
    idem_key          TEXT,
    state             TEXT NOT NULL CHECK (state IN ('queued','leased','delivered','confirmed','failed','dead','expired','cancelled')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    max_attempts      INTEGER NOT NULL,
    available_at      INTEGER NOT NULL,
    expires_at        INTEGER,
    lease_token       TEXT,
    lease_owner       TEXT,
    lease_expires_at  INTEGER,
    session_id        TEXT,
    delivered_at      INTEGER,
    confirmed_at      INTEGER,
    redeliveries      INTEGER NOT NULL DEFAULT 0,
    last_error        TEXT,
    dead_reason       TEXT,
    meta              TEXT,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
  ) STRICT;

  CREATE UNIQUE INDEX messages_idem ON messages(agent, idem_key) WHERE idem_key IS NOT NULL;
  -- Delivery order, restricted to what can be claimed: the claim query walks this index in order.
  CREATE INDEX messages_waiting ON messages(agent, priority DESC, seq) WHERE state IN ('queued','failed');
  -- Lease tokens embed their expiry, so this one index serves the fenced ack (exact seek on both
  -- columns) and the expiry sweep (range on the first).
  CREATE INDEX messages_leased ON messages(lease_expires_at, lease_token) WHERE state = 'leased';
  -- Only columns that never change, so state transitions do not rewrite this index.
  CREATE INDEX messages_agent ON messages(agent, seq);
  CREATE INDEX messages_delivered ON messages(agent, seq) WHERE state = 'delivered';
  CREATE INDEX messages_ttl ON messages(agent, expires_at) WHERE expires_at IS NOT NULL AND state IN ('queued','failed');

  CREATE TRIGGER messages_pending_insert AFTER INSERT ON messages
  WHEN NEW.state IN ('queued','failed','leased','delivered')
  BEGIN UPDATE agents SET pending = pending + 1 WHERE name = NEW.agent; END;

  CREATE TRIGGER messages_pending_update AFTER UPDATE OF state ON messages
  WHEN (OLD.state IN ('queued','failed','leased','delivered')) <> (NEW.state IN ('queued','failed','leased','delivered'))
  BEGIN
    UPDATE agents SET pending = pending + (CASE WHEN NEW.state IN ('queued','failed','leased','delivered') THEN 1 ELSE -1 END)
    WHERE name = NEW.agent;
  END;

  CREATE TRIGGER messages_pending_delete AFTER DELETE ON messages
  WHEN OLD.state IN ('queued','failed','leased','delivered')
  BEGIN UPDATE agents SET pending = pending - 1 WHERE name = OLD.agent; END;

  -- Append-only logs: every state change, so "why is this still waiting" always has an answer.
  -- Message events are clustered by the message's seq (WITHOUT ROWID): logging a transition dirties
  -- one page, and new messages' events append at the end of the tree.
  CREATE TABLE message_events (
    message_seq INTEGER NOT NULL,
    n           INTEGER NOT NULL,
    ts          INTEGER NOT NULL,
    agent       TEXT,
    kind        TEXT NOT NULL,
    from_state  TEXT,
    to_state    TEXT,
    detail      TEXT,
    PRIMARY KEY (message_seq, n)
  ) STRICT, WITHOUT ROWID;

  CREATE TABLE agent_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    ts          INTEGER NOT NULL,
    agent       TEXT,
    kind        TEXT NOT NULL,
    from_state  TEXT,
    to_state    TEXT,
    detail      TEXT
  ) STRICT;
  CREATE INDEX agent_events_agent ON agent_events(agent, id);

  CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) STRICT;
  `,
  // 1 -> 2: tasks (.hornets/tasks/<agent>/<task_id>.json), one row per task; each attempt is a message.
  `
  CREATE TABLE tasks (
    task_id       TEXT PRIMARY KEY,
    agent         TEXT NOT NULL REFERENCES agents(name),
    description   TEXT NOT NULL,
    priority      INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 200),
    timeout_ms    INTEGER NOT NULL CHECK (timeout_ms > 0),
    max_retries   INTEGER NOT NULL CHECK (max_retries >= 0),
    -- The orchestrator agent that assigned the task (notified on completion), or null.
    sender        TEXT,
    state         TEXT NOT NULL CHECK (state IN ('queued','running','retrying','completed','failed')),
    -- Attempts started (messages enqueued for this task).
    attempts      INTEGER NOT NULL DEFAULT 0,
    message_id    TEXT,
    started_at    INTEGER,
    deadline_at   INTEGER,
    retry_at      INTEGER,
    result        TEXT,
    last_error    TEXT,
    -- The task file as dropped, so a failed task can be put back in the DLQ unchanged.
    source        TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    completed_at  INTEGER
  ) STRICT;
  CREATE INDEX tasks_open ON tasks(state, agent) WHERE state IN ('queued','running','retrying');
  CREATE INDEX tasks_deadline ON tasks(deadline_at) WHERE state = 'running';
  CREATE INDEX tasks_agent ON tasks(agent, created_at);
  `,
  // 2 -> 3: task workers' tasks (.hornets/tasks/<worker>/<task_id>.json, seed 003), one row per task,
  // one one-shot run per attempt; `history` holds the ended attempts as JSON.
  `
  CREATE TABLE worker_tasks (
    task_id       TEXT PRIMARY KEY,
    worker        TEXT NOT NULL,
    description   TEXT NOT NULL,
    metadata      TEXT,
    worktree      TEXT,
    sender        TEXT,
    priority      INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 200),
    timeout_ms    INTEGER NOT NULL CHECK (timeout_ms > 0),
    max_retries   INTEGER NOT NULL CHECK (max_retries >= 0),
    state         TEXT NOT NULL CHECK (state IN ('queued','running','retrying','completed','failed','cancelled')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    run_id        TEXT,
    started_at    INTEGER,
    deadline_at   INTEGER,
    retry_at      INTEGER,
    history       TEXT NOT NULL DEFAULT '[]',
    -- Failed runs before the operator's last requeue: they no longer count against max_retries.
    failures_base INTEGER NOT NULL DEFAULT 0,
    result        TEXT,
    last_error    TEXT,
    source        TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    completed_at  INTEGER
  ) STRICT;
  CREATE INDEX worker_tasks_open ON worker_tasks(worker, state) WHERE state IN ('queued','running','retrying');
  CREATE INDEX worker_tasks_worker ON worker_tasks(worker, created_at);
  `,
  // 3 -> 4: each worker's circuit breaker, so an engine restart does not close an open breaker.
  `
  CREATE TABLE worker_breakers (
    worker      TEXT PRIMARY KEY,
    state       TEXT NOT NULL CHECK (state IN ('closed','open','half_open')),
    failures    INTEGER NOT NULL CHECK (failures >= 0),
    opened_at   INTEGER,
    updated_at  INTEGER NOT NULL
  ) STRICT;
  `,
  // 4 -> 5: claimed worker runs carry a lease (holder, token, expiry): a run's end is applied only
  // with the token it was claimed with (the same rule as the Redis store, where engines on several
  // nodes claim one worker's tasks). lease_token stays after the run; the next claim counts on.
  `
  ALTER TABLE worker_tasks ADD COLUMN lease_holder TEXT;
  ALTER TABLE worker_tasks ADD COLUMN lease_token INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE worker_tasks ADD COLUMN lease_expires_at INTEGER;
  CREATE INDEX worker_tasks_leased ON worker_tasks(worker, lease_expires_at) WHERE state = 'running' AND lease_holder IS NOT NULL;
  `,
  // 5 -> 6: tokens and cost per agent (issue 17): the totals with the budget mark, each model message
  // counted (its largest figures, so partials and copies in resumed transcripts add only growth), and
  // how far each transcript was read.
  `
  CREATE TABLE agent_usage (
    agent           TEXT PRIMARY KEY,
    input           INTEGER NOT NULL DEFAULT 0,
    output          INTEGER NOT NULL DEFAULT 0,
    cache_read      INTEGER NOT NULL DEFAULT 0,
    cache_creation  INTEGER NOT NULL DEFAULT 0,
    cost_usd        REAL NOT NULL DEFAULT 0,
    messages        INTEGER NOT NULL DEFAULT 0,
    over_budget     INTEGER NOT NULL DEFAULT 0,
    waived_budget   TEXT,
    updated_at      INTEGER
  ) STRICT;
  CREATE TABLE usage_messages (
    agent           TEXT NOT NULL,
    message_id      TEXT NOT NULL,
    model           TEXT,
    input           INTEGER NOT NULL,
    output          INTEGER NOT NULL,
    cache_read      INTEGER NOT NULL,
    cache_creation  INTEGER NOT NULL,
    cost_usd        REAL NOT NULL,
    PRIMARY KEY (agent, message_id)
  ) STRICT, WITHOUT ROWID;
  CREATE TABLE usage_cursors (
    agent   TEXT NOT NULL,
    file    TEXT NOT NULL,
    offset  INTEGER NOT NULL,
    ino     INTEGER NOT NULL,
    PRIMARY KEY (agent, file)
  ) STRICT, WITHOUT ROWID;
  `,
  // 6 -> 7: the breaker is one shared record every engine changes by compare-and-set on its
  // version, with the half-open trial in it (who took it, which task), so one trial runs team-wide.
  `
  ALTER TABLE worker_breakers ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE worker_breakers ADD COLUMN trial TEXT;
  `,
  // 7 -> 8: tokens and cost per task (issue 17). Each run's usage is in its attempt in `history`;
  // the task's totals over its runs (each run id once) are kept beside it, written with each run's
  // end, so totals are read (and summed per worker) without decoding every history.
  `
  ALTER TABLE worker_tasks ADD COLUMN usage_input INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE worker_tasks ADD COLUMN usage_output INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE worker_tasks ADD COLUMN usage_cache_read INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE worker_tasks ADD COLUMN usage_cache_creation INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE worker_tasks ADD COLUMN usage_cost_usd REAL NOT NULL DEFAULT 0;
  ALTER TABLE worker_tasks ADD COLUMN usage_runs INTEGER NOT NULL DEFAULT 0;
  `,
  // 8 -> 9: retention of the per-message usage rows (issue 17): when each was last met in a
  // transcript (the rows there already count as met now: a message still streaming keeps its row),
  // and per agent the time before which rows were pruned (domain/usage.ts UsageGuard).
  `
  ALTER TABLE usage_messages ADD COLUMN seen_at INTEGER NOT NULL DEFAULT 0;
  UPDATE usage_messages SET seen_at = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER);
  CREATE INDEX usage_messages_seen ON usage_messages(seen_at);
  ALTER TABLE agent_usage ADD COLUMN pruned_before INTEGER;
  `,
];

export const LATEST_SCHEMA_VERSION = migrations.length;
