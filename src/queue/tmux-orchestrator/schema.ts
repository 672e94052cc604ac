/**
 * Tmux-Orchestrator's queue database (seeds 001/002; dancegit/Tmux-Orchestrator
 * `migrate_queue_db.py`, `claude_hooks/enqueue_message.py`, `check_queue_enhanced.py`) as hornets
 * reads and writes it: the tables rollback creates when they are missing. The model and its
 * meaning are in src/domain/tmux-orchestrator.ts.
 */

/** The current queue table, as `migrate_queue_db.py` creates it: rollback creates it when missing. */
export const TO_QUEUE_SQL = `
CREATE TABLE IF NOT EXISTS message_queue (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  agent_id TEXT NOT NULL,
  message TEXT NOT NULL,
  priority INTEGER DEFAULT 0,
  sequence_number INTEGER NOT NULL DEFAULT 0,
  dependency_id INTEGER,
  project_name TEXT,
  status TEXT DEFAULT 'pending',
  enqueued_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
  pulled_at TIMESTAMP,
  delivered_at TIMESTAMP,
  delivery_method TEXT DEFAULT 'queued',
  fifo_scope TEXT DEFAULT 'agent',
  FOREIGN KEY (dependency_id) REFERENCES message_queue(id)
);
CREATE INDEX IF NOT EXISTS idx_agent_fifo ON message_queue(agent_id, priority DESC, sequence_number);
CREATE INDEX IF NOT EXISTS idx_project_fifo ON message_queue(project_name, priority DESC, sequence_number);
CREATE INDEX IF NOT EXISTS idx_global_fifo ON message_queue(priority DESC, sequence_number);
`;

/** The tables beside the queue, created where missing (an older queue table is left as it is). */
export const TO_AUX_SQL = `
CREATE TABLE IF NOT EXISTS sequence_generator (name TEXT PRIMARY KEY, current_value INTEGER DEFAULT 0);
INSERT OR IGNORE INTO sequence_generator (name, current_value) VALUES ('message_sequence', 0);
CREATE TABLE IF NOT EXISTS agents (
  agent_id TEXT PRIMARY KEY,
  project_name TEXT,
  status TEXT DEFAULT 'active',
  ready_since TIMESTAMP,
  last_heartbeat TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
  direct_delivery_pipe TEXT,
  last_sequence_delivered INTEGER DEFAULT 0,
  restart_count INTEGER DEFAULT 0,
  last_restart TIMESTAMP,
  last_error TEXT,
  context_preserved TEXT
);
CREATE TABLE IF NOT EXISTS agent_context (
  agent_id TEXT PRIMARY KEY,
  last_briefing TIMESTAMP,
  briefing_content TEXT,
  activity_summary TEXT,
  checkpoint_data TEXT,
  created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
  updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP);
`;
