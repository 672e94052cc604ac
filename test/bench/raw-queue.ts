/**
 * The baseline the queue benchmark compares against: a minimal queue table on plain
 * better-sqlite3 with the same pragmas SqliteMessageStore sets (WAL, synchronous, busy timeout,
 * wal_autocheckpoint), one BEGIN IMMEDIATE transaction per operation, no events, no housekeeping.
 */
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';

export interface RawQueue {
  db: Database.Database;
  enqueue(agent: string, body: string): string;
  enqueueBatch(agent: string, bodies: string[]): string[];
  /** Leases the next queued message; null when none is left. */
  claim(agent: string, leaseMs: number): { seq: number; id: string; token: string } | null;
  /** Fenced on the token; returns rows changed. */
  ack(seq: number, token: string): number;
  close(): void;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS q (
  seq         INTEGER PRIMARY KEY AUTOINCREMENT,
  id          TEXT NOT NULL UNIQUE,
  agent       TEXT NOT NULL,
  priority    INTEGER NOT NULL,
  body        TEXT NOT NULL,
  state       TEXT NOT NULL,
  token       TEXT,
  lease_until INTEGER,
  attempts    INTEGER NOT NULL DEFAULT 0,
  created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS q_ready ON q(agent, priority DESC, seq) WHERE state = 'queued';
`;

export function openRawQueue(path: string, synchronous: 'NORMAL' | 'FULL' = 'NORMAL'): RawQueue {
  const db = new Database(path, { timeout: 5_000 });
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous}`);
  db.pragma('wal_autocheckpoint = 4000');
  db.exec(SCHEMA);
  const insert = db.prepare(`INSERT INTO q (id, agent, priority, body, state, created_at) VALUES (@id, @agent, 5, @body, 'queued', @now)`);
  const lease = db.prepare(
    `UPDATE q SET state = 'leased', token = @token, lease_until = @until, attempts = attempts + 1
     WHERE seq = (SELECT seq FROM q WHERE agent = @agent AND state = 'queued' ORDER BY priority DESC, seq LIMIT 1)
     RETURNING seq, id`,
  );
  const deliver = db.prepare(`UPDATE q SET state = 'delivered', token = NULL, lease_until = NULL WHERE seq = @seq AND token = @token AND state = 'leased'`);

  const enqueueTx = db.transaction((agent: string, body: string) => {
    const id = randomUUID();
    insert.run({ id, agent, body, now: Date.now() });
    return id;
  });
  const batchTx = db.transaction((agent: string, bodies: string[]) => {
    const now = Date.now();
    return bodies.map((body) => {
      const id = randomUUID();
      insert.run({ id, agent, body, now });
      return id;
    });
  });
  const claimTx = db.transaction((agent: string, leaseMs: number) => {
    const token = randomUUID();
    const row = lease.get({ agent, token, until: Date.now() + leaseMs }) as { seq: number; id: string } | undefined;
    return row ? { ...row, token } : null;
  });
  const ackTx = db.transaction((seq: number, token: string) => deliver.run({ seq, token }).changes);

  return {
    db,
    enqueue: (agent, body) => enqueueTx.immediate(agent, body),
    enqueueBatch: (agent, bodies) => batchTx.immediate(agent, bodies),
    claim: (agent, leaseMs) => claimTx.immediate(agent, leaseMs),
    ack: (seq, token) => ackTx.immediate(seq, token),
    close: () => db.close(),
  };
}
