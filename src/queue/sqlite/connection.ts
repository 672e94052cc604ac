/**
 * One open hornets database shared by the message store and the task store: the write and read
 * wrappers (immediate transactions, SQLITE_BUSY retry, error mapping), the statements, the event
 * log and the injected clock.
 */
import type Database from 'better-sqlite3';
import { QueueError } from '../../errors.js';
import type { RecordEventInput } from '../store.js';
import { openDatabase, withBusyRetry, type DB, type SqliteStoreOptions } from './open.js';
import { mapSqliteError } from './sqlite-errors.js';
import { readDamage, recordDamage, recoveryHint, type Damage } from './damage.js';
import { prepareStatements, type Statements } from './statements.js';
import type { AgentRow } from './rows.js';

type Stmt = Database.Statement;

export class SqliteConnection {
  readonly clock: () => number;
  readonly stmts: Statements;
  private readonly busyRetryMs: number;
  private readonly txn: Database.Transaction<(fn: () => unknown) => unknown>;
  private readonly dynamic = new Map<string, Stmt>();
  private readonly optimizeOnClose: boolean;
  private closed = false;
  /** Damage found in this file (by this process or, through the marker, by another): writes are refused. */
  damage: Damage | null;

  private constructor(
    readonly db: DB,
    readonly path: string,
    readonly options: SqliteStoreOptions,
  ) {
    this.clock = options.clock ?? Date.now;
    this.busyRetryMs = options.busyRetryMs ?? 30_000;
    this.txn = db.transaction((fn: () => unknown) => fn());
    this.stmts = prepareStatements(db);
    this.optimizeOnClose = options.optimizeOnClose ?? true;
    this.damage = path === ':memory:' ? null : readDamage(path);
  }

  static open(path: string, options: SqliteStoreOptions = {}): SqliteConnection {
    return new SqliteConnection(openDatabase(path, options), path, options);
  }

  now(): number {
    return this.clock();
  }

  /** One immediate write transaction, retried on SQLITE_BUSY until busyRetryMs runs out. */
  write<T>(fn: () => T): T {
    this.assertOpen();
    if (this.damage) {
      throw new QueueError('corrupt', `${this.path} is damaged (found ${this.damage.at}); nothing was written. To recover: ${recoveryHint(this.path)}`, {
        path: this.path,
      });
    }
    try {
      return withBusyRetry(() => this.txn.immediate(fn) as T, this.busyRetryMs);
    } catch (err) {
      throw this.noteDamage(mapSqliteError(err, this.path));
    }
  }

  /** Records SQLITE_CORRUPT met by any statement, so every process stops writing to this file. */
  noteDamage(err: Error): Error {
    if (err instanceof QueueError && err.code === 'corrupt' && !this.damage && this.path !== ':memory:') this.damage = recordDamage(this.path, err.message, this.now());
    return err;
  }

  /** A statement that must run outside a transaction (VACUUM), retried on SQLITE_BUSY. */
  exclusive<T>(fn: () => T): T {
    this.assertOpen();
    try {
      return withBusyRetry(fn, this.busyRetryMs);
    } catch (err) {
      throw mapSqliteError(err, this.path);
    }
  }

  read<T>(fn: () => T): T {
    this.assertOpen();
    try {
      return withBusyRetry(fn, this.busyRetryMs);
    } catch (err) {
      throw this.noteDamage(mapSqliteError(err, this.path));
    }
  }

  assertOpen(): void {
    if (this.closed) throw new QueueError('io', `store ${this.path} is closed`);
  }

  /** Dynamic SQL (column lists, IN lists of checked literals), compiled once per distinct text. */
  stmt(sql: string): Stmt {
    let s = this.dynamic.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.dynamic.set(sql, s);
    }
    return s;
  }

  /** `seq` identifies the message for message events; agent-level events have none. */
  event(e: RecordEventInput & { seq?: number }, ts = this.now()): void {
    const row = {
      ts,
      seq: e.seq ?? null,
      message_id: e.messageId ?? null,
      agent: e.agent ?? null,
      kind: e.kind,
      from_state: e.fromState ?? null,
      to_state: e.toState ?? null,
      detail: e.detail ? JSON.stringify(e.detail) : null,
    };
    if (row.seq !== null) this.stmts.insertMessageEvent.run(row);
    else {
      const { seq: _seq, ...agentRow } = row;
      this.stmts.insertAgentEvent.run(agentRow);
    }
  }

  agentRow(name: string): AgentRow {
    const row = this.stmts.getAgent.get(name) as AgentRow | undefined;
    if (!row) throw new QueueError('unknown_agent', `unknown agent "${name}" (agents come from hornets.json)`, { agent: name });
    return row;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      if (this.optimizeOnClose) this.db.pragma('optimize');
    } catch {
      // Best effort: a read-only or busy database must still close.
    }
    this.db.close();
  }

  integrityCheck(): string {
    return this.read(() => String(this.db.pragma('integrity_check', { simple: true })));
  }
}
