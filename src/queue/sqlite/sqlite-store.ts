/**
 * SQLite implementation of MessageStore: the only module family that imports better-sqlite3.
 *
 * Every write runs in one `BEGIN IMMEDIATE` transaction so that concurrent writers (hooks, the
 * daemon, the CLI) serialise on SQLite's write lock instead of failing on a read->write upgrade.
 */
import Database from 'better-sqlite3';
import { closeSync, existsSync, openSync, readSync, statSync, chmodSync } from 'node:fs';
import { QueueError } from '../../errors.js';
import type { EnqueueInput, ExportedMessage, Message, MessageState, QueueEvent } from '../../domain/message.js';
import { messageStates, pendingStates, terminalStates } from '../../domain/message.js';
import { retryDelayMs } from '../../domain/retry.js';
import { isValidPriority } from '../../domain/priority.js';
import { randomId, sequentialId } from '../../util/ids.js';
import { defaultQueueLimits, type AckOptions, type AgentQueueStats, type ClaimOptions, type EnqueueResult, type ExplainContext, type FailOptions, type ImportIssue, type ImportRecord, type ImportResult, type LeaseRef, type MessageFilter, type MessageStore, type QueueLimits, type QueueStats, type RecordEventInput, type StoreOptions, type SweepResult, type TaskStore, type AgentTransition } from '../store.js';
import { type AgentContext, type AgentContextPatch, type AgentPatch, type AgentRecord, type AgentRegistration, type AgentState } from '../../domain/agent.js';
import { factsOf, transition, type LifecycleEvent } from '../../domain/agent-lifecycle.js';
import { type Task, type TaskCreateInput, type TaskFilter, type TaskState, openTaskStates, taskStates } from '../../domain/task.js';
import { normalizeEnqueue, queueFullError, type NormalizedEnqueue } from '../validate.js';
import { HORNETS_APPLICATION_ID, LATEST_SCHEMA_VERSION, migrations } from './migrations.js';
import { isBusy, mapSqliteError } from './sqlite-errors.js';
import {
  toAgent,
  toAgentContext,
  toEvent,
  toExported,
  toMessage,
  toTask,
  type AgentContextRow,
  type AgentRow,
  type EventRow,
  type MessageRow,
  type TaskRow,
} from './rows.js';

type DB = Database.Database;
type Stmt = Database.Statement;

export interface SqliteStoreOptions extends StoreOptions {
  /** NORMAL (default): durable across process crashes, may lose the last commits on power loss. FULL: fsync every commit. */
  synchronous?: 'NORMAL' | 'FULL';
  /** How long one statement waits for another process's write lock (ms). */
  busyTimeoutMs?: number;
  /** Total time a write keeps retrying on SQLITE_BUSY before giving up (ms). */
  busyRetryMs?: number;
  /** `PRAGMA optimize` on close (default true); short-lived hook processes skip it. */
  optimizeOnClose?: boolean;
}

const SQLITE_HEADER = 'SQLite format 3\0';
const PENDING_SQL = `('queued','failed','leased','delivered')`;
const MIN_PREFIX = 4;

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
function sleepSync(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}

/** Refuses files that are not SQLite before better-sqlite3 can touch them. */
function checkHeader(path: string): void {
  if (!existsSync(path)) return;
  const size = statSync(path).size;
  if (size === 0) return;
  if (size < 100) throw new QueueError('not_hornets_db', `${path} is not a hornets database (file is truncated or not SQLite)`, { path });
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(16);
    readSync(fd, buf, 0, 16, 0);
    if (buf.toString('latin1') !== SQLITE_HEADER) {
      throw new QueueError('not_hornets_db', `${path} is not a hornets database (not an SQLite file)`, { path });
    }
  } finally {
    closeSync(fd);
  }
}

/** Creates the file 0600 ourselves: SQLite would use the umask, and -wal/-shm inherit the db file's mode. */
function ensurePrivateFile(path: string): void {
  if (path === ':memory:' || path.startsWith('file:')) return;
  if (!existsSync(path)) {
    closeSync(openSync(path, 'a', 0o600));
    return;
  }
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    try {
      chmodSync(path, 0o600);
    } catch {
      // Not ours to fix (another owner); opening still works and the caller's logs say so.
    }
  }
}

export async function openSqliteStore(path: string, options: SqliteStoreOptions = {}): Promise<SqliteMessageStore> {
  return SqliteMessageStore.open(path, options);
}

export class SqliteMessageStore implements MessageStore, TaskStore {
  readonly backend = 'sqlite';
  private readonly clock: () => number;
  private readonly random: () => number;
  private readonly limits: QueueLimits;
  private readonly busyRetryMs: number;
  private readonly txn: Database.Transaction<(fn: () => unknown) => unknown>;
  private readonly stmts: ReturnType<typeof prepareStatements>;
  private readonly dynamic = new Map<string, Stmt>();
  private closed = false;
  private readonly optimizeOnClose: boolean;

  private constructor(
    private readonly db: DB,
    readonly path: string,
    options: SqliteStoreOptions,
  ) {
    this.clock = options.clock ?? Date.now;
    this.random = options.random ?? Math.random;
    this.limits = { ...defaultQueueLimits, ...options.limits };
    this.busyRetryMs = options.busyRetryMs ?? 30_000;
    this.txn = db.transaction((fn: () => unknown) => fn());
    this.stmts = prepareStatements(db);
    this.optimizeOnClose = options.optimizeOnClose ?? true;
  }

  static open(path: string, options: SqliteStoreOptions = {}): SqliteMessageStore {
    checkHeader(path);
    let db: DB | undefined;
    try {
      ensurePrivateFile(path);
      db = new Database(path, { timeout: options.busyTimeoutMs ?? 5_000 });
      const database = db;
      const retry = <T>(fn: () => T): T => withBusyRetry(fn, options.busyRetryMs ?? 30_000);
      checkIdentity(database, path);
      retry(() => database.pragma('journal_mode = WAL'));
      database.pragma(`synchronous = ${options.synchronous ?? 'NORMAL'}`);
      database.pragma('foreign_keys = ON');
      // Fewer, larger checkpoints: each one rewrites hot index pages, so batching them pays.
      database.pragma('wal_autocheckpoint = 4000');
      retry(() => migrate(database, path));
      return new SqliteMessageStore(database, path, options);
    } catch (err) {
      db?.close();
      throw mapSqliteError(err, path);
    }
  }

  // ---------------------------------------------------------------- plumbing

  private now(): number {
    return this.clock();
  }

  /** One immediate write transaction, retried on SQLITE_BUSY until busyRetryMs runs out. */
  private write<T>(fn: () => T): T {
    this.assertOpen();
    try {
      return withBusyRetry(() => this.txn.immediate(fn) as T, this.busyRetryMs);
    } catch (err) {
      throw mapSqliteError(err, this.path);
    }
  }

  private read<T>(fn: () => T): T {
    this.assertOpen();
    try {
      return withBusyRetry(fn, this.busyRetryMs);
    } catch (err) {
      throw mapSqliteError(err, this.path);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new QueueError('io', `store ${this.path} is closed`);
  }

  private stmt(sql: string): Stmt {
    let s = this.dynamic.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.dynamic.set(sql, s);
    }
    return s;
  }

  /** `seq` identifies the message for message events; agent-level events have none. */
  private event(e: RecordEventInput & { seq?: number }, ts = this.now()): void {
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

  private agentRow(name: string): AgentRow {
    const row = this.stmts.getAgent.get(name) as AgentRow | undefined;
    if (!row) throw new QueueError('unknown_agent', `unknown agent "${name}" (agents come from hornets.json)`, { agent: name });
    return row;
  }

  private depthLimit(agent: AgentRow): number {
    return agent.max_depth ?? this.limits.maxDepth;
  }

  private pendingCount(agent: string): number {
    return this.agentRow(agent).pending;
  }

  private resolveRow(idOrPrefix: string): MessageRow {
    if (typeof idOrPrefix !== 'string' || idOrPrefix.length === 0) throw new QueueError('not_found', 'no message id given');
    const exact = this.stmts.getById.get(idOrPrefix) as MessageRow | undefined;
    if (exact) return exact;
    if (idOrPrefix.length >= MIN_PREFIX) {
      const rows = this.stmts.getByPrefix.all({ lo: idOrPrefix, hi: `${idOrPrefix}\u{10FFFF}` }) as MessageRow[];
      if (rows.length === 1) return rows[0]!;
      if (rows.length > 1) {
        throw new QueueError('ambiguous_id', `message id prefix "${idOrPrefix}" matches several messages (${rows.map((r) => r.id).join(', ')}); give more characters`);
      }
    }
    throw new QueueError('not_found', `no message with id "${idOrPrefix}"`, { id: idOrPrefix });
  }

  // ---------------------------------------------------------------- agents

  async registerAgents(agents: AgentRegistration[]): Promise<void> {
    const now = this.now();
    this.write(() => {
      for (const a of agents) {
        const existing = this.stmts.getAgent.get(a.name) as AgentRow | undefined;
        this.stmts.upsertAgent.run({ name: a.name, profile: a.profile, max_depth: a.maxDepth ?? null, now });
        if (!existing) this.event({ agent: a.name, kind: 'agent_registered', detail: { profile: a.profile } }, now);
      }
    });
  }

  async listAgents(): Promise<AgentRecord[]> {
    return this.read(() => (this.stmts.listAgents.all() as AgentRow[]).map(toAgent));
  }

  async getAgent(name: string): Promise<AgentRecord | null> {
    return this.read(() => {
      const row = this.stmts.getAgent.get(name) as AgentRow | undefined;
      return row ? toAgent(row) : null;
    });
  }

  async updateAgent(name: string, patch: AgentPatch): Promise<AgentRecord> {
    return this.write(() => {
      // Read the clock under the write lock: a wait for the lock must not age leases and TTLs.
      const now = this.now();
      this.agentRow(name);
      this.patchAgent(name, patch, now);
      return toAgent(this.agentRow(name));
    });
  }

  async transitionAgent(name: string, event: LifecycleEvent, extra: Omit<AgentPatch, 'lastError'> = {}): Promise<AgentTransition> {
    return this.write(() => {
      const now = this.now();
      const before = toAgent(this.agentRow(name));
      const next = transition(factsOf(before), event);
      const { lastError: _ignored, ...fields } = extra as AgentPatch;
      this.patchAgent(name, { ...fields, ...(next.lastError !== before.lastError ? { lastError: next.lastError } : {}) }, now, { state: next.state, paused: next.paused });
      if (next.state !== before.state) {
        this.event({ agent: name, kind: 'agent_state', fromState: before.state, toState: next.state, detail: { on: event.type === 'hook' ? `hook:${event.event}` : event.type } }, now);
      }
      if (next.paused !== before.paused) this.event({ agent: name, kind: next.paused ? 'agent_paused' : 'agent_resumed' }, now);
      const after = toAgent(this.agentRow(name));
      return { before, after, changed: next.state !== before.state };
    });
  }

  private patchAgent(name: string, patch: AgentPatch, now: number, life?: { state: AgentState; paused: boolean }): void {
    const columns: Record<keyof AgentPatch, string> = {
      profile: 'profile',
      paneId: 'pane_id',
      sessionId: 'session_id',
      generation: 'generation',
      restartCount: 'restart_count',
      lastRestart: 'last_restart',
      lastError: 'last_error',
      contextPreserved: 'context_preserved',
      maxDepth: 'max_depth',
      lastEventAt: 'last_event_at',
      stopBlocks: 'stop_blocks',
    };
    const sets: string[] = [];
    const params: Record<string, unknown> = { name, now };
    for (const [k, v] of Object.entries(patch) as [keyof AgentPatch, unknown][]) {
      const col = columns[k];
      if (!col || v === undefined) continue;
      sets.push(`${col} = @${col}`);
      params[col] = typeof v === 'boolean' ? (v ? 1 : 0) : v;
    }
    if (life) {
      sets.push('state = @state', 'paused = @paused');
      params.state = life.state;
      params.paused = life.paused ? 1 : 0;
    }
    if (sets.length > 0) this.stmt(`UPDATE agents SET ${sets.join(', ')}, updated_at = @now WHERE name = @name`).run(params);
  }

  async getAgentContext(agent: string): Promise<AgentContext | null> {
    return this.read(() => {
      const row = this.stmts.getContext.get(agent) as AgentContextRow | undefined;
      return row ? toAgentContext(row) : null;
    });
  }

  async saveAgentContext(agent: string, patch: AgentContextPatch): Promise<AgentContext> {
    return this.write(() => {
      // Read the clock under the write lock: a wait for the lock must not age leases and TTLs.
      const now = this.now();
      this.agentRow(agent);
      const existing = this.stmts.getContext.get(agent) as AgentContextRow | undefined;
      const merged = {
        agent,
        last_briefing: patch.lastBriefing !== undefined ? patch.lastBriefing : (existing?.last_briefing ?? null),
        briefing_content: patch.briefingContent !== undefined ? patch.briefingContent : (existing?.briefing_content ?? null),
        activity_summary: patch.activitySummary !== undefined ? patch.activitySummary : (existing?.activity_summary ?? null),
        checkpoint_data:
          patch.checkpointData !== undefined
            ? patch.checkpointData === null
              ? null
              : JSON.stringify(patch.checkpointData)
            : (existing?.checkpoint_data ?? null),
        now,
      };
      this.stmts.upsertContext.run(merged);
      return toAgentContext(this.stmts.getContext.get(agent) as AgentContextRow);
    });
  }

  // ---------------------------------------------------------------- enqueue

  /** `seq` carries the last assigned seq through a batch so it is read once per transaction. */
  private insertOne(n: NormalizedEnqueue, agent: AgentRow, depth: { pending: number }, now: number, seqs?: { last: number }): EnqueueResult {
    if (n.key !== null) {
      const existing = this.stmts.getByKey.get(n.agent, n.key) as MessageRow | undefined;
      if (existing) return { message: toMessage(existing), created: false };
    }
    const limit = this.depthLimit(agent);
    if (depth.pending >= limit) throw queueFullError(n.agent, depth.pending, limit);
    // The seq is chosen here (we hold the write lock) so the id can be derived from it.
    const seq = (seqs ? seqs.last : ((this.stmts.lastSeq.get() as { seq: number } | undefined)?.seq ?? 0)) + 1;
    if (seqs) seqs.last = seq;
    const row: MessageRow = {
      seq,
      id: sequentialId(seq),
      agent: n.agent,
      priority: n.priority,
      body: n.body,
      sender: n.sender,
      idem_key: n.key,
      state: 'queued',
      attempts: 0,
      max_attempts: n.maxAttempts,
      available_at: now,
      expires_at: n.ttlMs === null ? null : now + n.ttlMs,
      lease_token: null,
      lease_owner: null,
      lease_expires_at: null,
      session_id: null,
      delivered_at: null,
      confirmed_at: null,
      redeliveries: 0,
      last_error: null,
      dead_reason: null,
      meta: n.meta,
      created_at: now,
      updated_at: now,
    };
    this.stmts.insertMessage.run(row);
    depth.pending++;
    // First event of a new message: n = 1, no lookup. Priority, sender and key are on the row.
    this.stmts.insertFirstEvent.run({ seq, ts: now, agent: n.agent });
    return { message: toMessage(row), created: true };
  }

  async enqueue(input: EnqueueInput): Promise<EnqueueResult> {
    const n = normalizeEnqueue(input, this.limits);
    return this.write(() => {
      // Read the clock under the write lock: a wait for the lock must not age leases and TTLs.
      const now = this.now();
      const agent = this.agentRow(n.agent);
      return this.insertOne(n, agent, { pending: agent.pending }, now);
    });
  }

  async enqueueBatch(inputs: EnqueueInput[]): Promise<EnqueueResult[]> {
    const normalized = inputs.map((i, idx) => {
      try {
        return normalizeEnqueue(i, this.limits);
      } catch (err) {
        if (err instanceof QueueError) throw new QueueError(err.code, `batch item ${idx + 1}: ${err.message}`, err.details);
        throw err;
      }
    });
    return this.write(() => {
      // Read the clock under the write lock: a wait for the lock must not age leases and TTLs.
      const now = this.now();
      const agents = new Map<string, { row: AgentRow; depth: { pending: number } }>();
      const seqs = { last: (this.stmts.lastSeq.get() as { seq: number } | undefined)?.seq ?? 0 };
      return normalized.map((n) => {
        let a = agents.get(n.agent);
        if (!a) {
          const row = this.agentRow(n.agent);
          a = { row, depth: { pending: row.pending } };
          agents.set(n.agent, a);
        }
        return this.insertOne(n, a.row, a.depth, now, seqs);
      });
    });
  }

  // ---------------------------------------------------------------- delivery

  /** TTL expiry and lease reclaim for one agent (or all when agent is null). Runs inside a write. */
  private housekeep(agent: string | null, now: number): SweepResult {
    const result: SweepResult = { expired: 0, leasesReclaimed: 0, dead: 0 };
    // Leases first, so a lapsed lease whose TTL also passed ends as expired rather than retried.
    const lapsed = (agent === null ? this.stmts.lapsedAll.all({ now }) : this.stmts.lapsed.all({ agent, now })) as MessageRow[];
    for (const r of lapsed) {
      const error = `lease expired (held by ${r.lease_owner ?? 'unknown'}, attempt ${r.attempts}/${r.max_attempts})`;
      const ttlPassed = r.expires_at !== null && r.expires_at <= now;
      const dead = !ttlPassed && r.attempts >= r.max_attempts;
      const state: MessageState = ttlPassed ? 'expired' : dead ? 'dead' : 'failed';
      this.stmts.afterLapse.run({ seq: r.seq, state, error, dead_reason: dead ? `${error}; no attempts left` : null, now });
      this.event({ seq: r.seq, messageId: r.id, agent: r.agent, kind: 'lease_expired', fromState: 'leased', toState: state, detail: { owner: r.lease_owner, attempt: r.attempts } }, now);
      result.leasesReclaimed++;
      if (dead) result.dead++;
      if (ttlPassed) result.expired++;
    }
    const expiring = (agent === null ? this.stmts.expiringAll.all({ now }) : this.stmts.expiring.all({ agent, now })) as MessageRow[];
    for (const r of expiring) {
      this.stmts.setExpired.run({ seq: r.seq, now });
      this.event({ seq: r.seq, messageId: r.id, agent: r.agent, kind: 'expired', fromState: r.state, toState: 'expired', detail: { expiresAt: r.expires_at } }, now);
      result.expired++;
    }
    return result;
  }

  async claim(agentName: string, options: ClaimOptions): Promise<Message[]> {
    const limit = options.limit ?? 1;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new QueueError('invalid_input', `claim limit must be 1–1000, got ${limit}`);
    if (!Number.isFinite(options.leaseMs) || options.leaseMs <= 0) throw new QueueError('invalid_input', `lease must be a positive duration, got ${options.leaseMs}`);
    return this.write(() => {
      // Read the clock under the write lock: a wait for the lock must not age leases and TTLs.
      const now = this.now();
      const agent = this.agentRow(agentName);
      this.housekeep(agentName, now);
      if (agent.paused !== 0 && !options.ignorePause) return [];
      const candidates = this.stmts.nextWaiting.all({ agent: agentName, now, limit }) as Pick<MessageRow, 'seq' | 'state'>[];
      if (candidates.length === 0) return [];
      const until = now + options.leaseMs;
      const token = leaseToken(until);
      const claimed: Message[] = [];
      for (const c of candidates) {
        const row = this.stmts.lease.get({
          seq: c.seq,
          token,
          owner: options.owner,
          until,
          session: options.sessionId ?? null,
          now,
        }) as MessageRow;
        this.event({ seq: row.seq, messageId: row.id, agent: agentName, kind: 'claimed', fromState: c.state, toState: 'leased', detail: { owner: options.owner, attempt: row.attempts, leaseMs: options.leaseMs } }, now);
        claimed.push(toMessage(row));
      }
      return claimed;
    });
  }

  /** Rows still validly held by this lease (not expired), optionally narrowed to ids. */
  private leasedRows(ref: LeaseRef, now: number): MessageRow[] {
    const until = typeof ref.leaseToken === 'string' ? leaseTokenExpiry(ref.leaseToken) : null;
    if (until === null) return [];
    const rows = this.stmts.byLease.all({ until, token: ref.leaseToken }) as MessageRow[];
    const wanted = ref.ids ? new Set(ref.ids) : null;
    return rows.filter((r) => r.state === 'leased' && (r.lease_expires_at ?? 0) > now && (!wanted || wanted.has(r.id)));
  }

  async ack(options: AckOptions): Promise<number> {
    return this.write(() => {
      // Read the clock under the write lock: a wait for the lock must not age leases and TTLs.
      const now = this.now();
      const rows = this.leasedRows(options, now);
      for (const r of rows) {
        this.stmts.deliver.run({ seq: r.seq, session: options.sessionId ?? null, now });
        this.event({ seq: r.seq, messageId: r.id, agent: r.agent, kind: 'delivered', fromState: 'leased', toState: 'delivered', detail: { owner: r.lease_owner, session: options.sessionId ?? r.session_id } }, now);
      }
      return rows.length;
    });
  }

  async fail(options: FailOptions): Promise<number> {
    const error = String(options.error ?? 'unknown error').slice(0, 2000);
    return this.write(() => {
      const now = this.now();
      const rows = this.leasedRows(options, now);
      for (const r of rows) {
        const exhausted = r.attempts >= r.max_attempts;
        const dead = options.retryable === false || exhausted;
        const reason = options.retryable === false ? `rejected as not retryable: ${error}` : `failed ${r.attempts}/${r.max_attempts} attempts; last error: ${error}`;
        const delay = dead ? 0 : retryDelayMs(r.attempts, { baseMs: this.limits.backoffBaseMs, maxMs: this.limits.backoffMaxMs }, this.random);
        this.stmts.afterFail.run({ seq: r.seq, state: dead ? 'dead' : 'failed', error, dead_reason: dead ? reason : null, available_at: now + delay, now });
        this.event({ seq: r.seq, messageId: r.id, agent: r.agent, kind: 'failed', fromState: 'leased', toState: dead ? 'dead' : 'failed', detail: { error, attempt: r.attempts, retryInMs: dead ? null : delay } }, now);
      }
      return rows.length;
    });
  }

  async release(options: LeaseRef): Promise<number> {
    return this.write(() => {
      // Read the clock under the write lock: a wait for the lock must not age leases and TTLs.
      const now = this.now();
      const rows = this.leasedRows(options, now);
      for (const r of rows) {
        this.stmts.release.run({ seq: r.seq, now });
        this.event({ seq: r.seq, messageId: r.id, agent: r.agent, kind: 'released', fromState: 'leased', toState: 'queued' }, now);
      }
      return rows.length;
    });
  }

  async confirm(agent: string, options: { sessionId?: string | null; ids?: string[] } = {}): Promise<number> {
    return this.write(() => {
      // Read the clock under the write lock: a wait for the lock must not age leases and TTLs.
      const now = this.now();
      const rows = this.deliveredRows(agent, options.sessionId ?? null, options.ids);
      for (const r of rows) {
        this.stmts.confirm.run({ seq: r.seq, now });
        this.event({ seq: r.seq, messageId: r.id, agent, kind: 'confirmed', fromState: 'delivered', toState: 'confirmed', detail: { session: r.session_id } }, now);
      }
      return rows.length;
    });
  }

  private deliveredRows(agent: string, sessionId: string | null, ids?: string[]): MessageRow[] {
    const rows = this.stmts.delivered.all({ agent, session: sessionId }) as MessageRow[];
    const wanted = ids ? new Set(ids) : null;
    return wanted ? rows.filter((r) => wanted.has(r.id)) : rows;
  }

  async requeueUnconfirmed(agent: string, options: { sessionId?: string | null; reason: string }): Promise<number> {
    return this.write(() => {
      // Read the clock under the write lock: a wait for the lock must not age leases and TTLs.
      const now = this.now();
      const rows = this.deliveredRows(agent, options.sessionId ?? null);
      for (const r of rows) {
        const dead = r.attempts >= r.max_attempts;
        this.stmts.requeue.run({
          seq: r.seq,
          state: dead ? 'dead' : 'queued',
          error: `redelivery: ${options.reason}`,
          dead_reason: dead ? `delivered ${r.attempts} times without confirmation; last: ${options.reason}` : null,
          now,
        });
        this.event({ seq: r.seq, messageId: r.id, agent, kind: 'requeued', fromState: 'delivered', toState: dead ? 'dead' : 'queued', detail: { reason: options.reason, session: r.session_id } }, now);
      }
      return rows.length;
    });
  }

  // ---------------------------------------------------------------- inspection

  async get(idOrPrefix: string): Promise<Message> {
    return this.read(() => toMessage(this.resolveRow(idOrPrefix)));
  }

  async list(filter: MessageFilter = {}): Promise<Message[]> {
    const { where, params } = agentStateWhere(filter, messageStates, 'message');
    const order = filter.order === 'recent' ? 'seq DESC' : 'agent, priority DESC, seq';
    const limit = Math.max(1, Math.min(filter.limit ?? 1000, 100_000));
    const sql = `SELECT * FROM messages ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY ${order} LIMIT ${limit}`;
    return this.read(() => (this.stmt(sql).all(params) as MessageRow[]).map(toMessage));
  }

  async stats(): Promise<QueueStats> {
    return this.read(() => {
      const zero = (): Record<MessageState, number> => Object.fromEntries(messageStates.map((s) => [s, 0])) as Record<MessageState, number>;
      const perAgent = new Map<string, AgentQueueStats>();
      for (const a of this.stmts.listAgents.all() as AgentRow[]) {
        perAgent.set(a.name, { agent: a.name, counts: zero(), pending: 0, oldestWaitingAt: null });
      }
      const totals = zero();
      for (const r of this.stmts.countsByState.all() as { agent: string; state: MessageState; n: number; oldest: number | null }[]) {
        let s = perAgent.get(r.agent);
        if (!s) {
          s = { agent: r.agent, counts: zero(), pending: 0, oldestWaitingAt: null };
          perAgent.set(r.agent, s);
        }
        s.counts[r.state] = r.n;
        totals[r.state] += r.n;
        if ((pendingStates as readonly string[]).includes(r.state)) s.pending += r.n;
        if (r.oldest !== null && (r.state === 'queued' || r.state === 'failed')) {
          s.oldestWaitingAt = s.oldestWaitingAt === null ? r.oldest : Math.min(s.oldestWaitingAt, r.oldest);
        }
      }
      return { agents: [...perAgent.values()], totals };
    });
  }

  async explainContext(idOrPrefix: string): Promise<ExplainContext> {
    const now = this.now();
    return this.read(() => {
      const row = this.resolveRow(idOrPrefix);
      const agentRow = this.stmts.getAgent.get(row.agent) as AgentRow | undefined;
      const ahead =
        row.state === 'queued' || row.state === 'failed'
          ? (this.stmts.ahead.get({ agent: row.agent, priority: row.priority, seq: row.seq }) as { n: number }).n
          : 0;
      return { message: toMessage(row), agent: agentRow ? toAgent(agentRow) : null, ahead, now };
    });
  }

  async events(filter: { messageId?: string; agent?: string; limit?: number; kinds?: string[] }): Promise<QueueEvent[]> {
    const limit = Math.max(1, Math.min(filter.limit ?? 1000, 100_000));
    return this.read(() => {
      if (filter.kinds && filter.kinds.length > 0) {
        // Bound parameters, one per kind: kinds may come from callers.
        const marks = filter.kinds.map((_, i) => `@k${i}`).join(',');
        const params: Record<string, unknown> = { limit, agent: filter.agent ?? null };
        filter.kinds.forEach((k, i) => (params[`k${i}`] = k));
        const rows = this.stmt(`SELECT NULL AS message_id, * FROM agent_events WHERE (@agent IS NULL OR agent = @agent) AND kind IN (${marks}) ORDER BY id DESC LIMIT @limit`).all(params) as EventRow[];
        return rows.reverse().map(toEvent);
      }
      if (filter.messageId !== undefined) {
        const row = this.resolveRow(filter.messageId);
        return (this.stmts.eventsForMessage.all({ id: row.id, seq: row.seq, limit }) as EventRow[]).map(toEvent);
      }
      if (filter.agent === undefined) {
        return (this.stmts.agentEventsRecent.all({ limit }) as EventRow[]).reverse().map(toEvent);
      }
      // Merge agent-level and message events by time; ties keep agent events first, then message order.
      const agentEvents = (this.stmts.agentEventsForAgent.all({ agent: filter.agent, limit }) as EventRow[]).reverse();
      const messageEvents = this.stmts.messageEventsForAgent.all({ agent: filter.agent, limit }) as EventRow[];
      const merged = [...agentEvents, ...messageEvents].sort((a, b) => a.ts - b.ts);
      return merged.slice(-limit).map(toEvent);
    });
  }

  async recordEvent(event: RecordEventInput): Promise<void> {
    this.write(() => {
      const seq = event.messageId ? this.resolveRow(event.messageId).seq : undefined;
      this.event({ ...event, seq });
    });
  }

  // ---------------------------------------------------------------- operator actions

  async cancel(ids: string[], reason = 'cancelled by user'): Promise<Message[]> {
    return this.write(() => {
      // Read the clock under the write lock: a wait for the lock must not age leases and TTLs.
      const now = this.now();
      const rows = ids.map((id) => this.resolveRow(id));
      for (const r of rows) {
        if ((terminalStates as readonly string[]).includes(r.state)) {
          throw new QueueError('invalid_state', `message ${r.id} is already ${r.state}; only pending messages can be cancelled`, { id: r.id, state: r.state });
        }
      }
      return rows.map((r) => {
        this.stmts.cancel.run({ seq: r.seq, reason, now });
        this.event({ seq: r.seq, messageId: r.id, agent: r.agent, kind: 'cancelled', fromState: r.state, toState: 'cancelled', detail: { reason } }, now);
        return toMessage(this.stmts.getById.get(r.id) as MessageRow);
      });
    });
  }

  async retry(ids: string[]): Promise<Message[]> {
    const retryable = new Set(['dead', 'failed', 'expired', 'cancelled']);
    return this.write(() => {
      const now = this.now();
      const rows = ids.map((id) => this.resolveRow(id));
      for (const r of rows) {
        if (!retryable.has(r.state)) {
          throw new QueueError('invalid_state', `message ${r.id} is ${r.state}; only dead, failed, expired or cancelled messages can be retried`, { id: r.id, state: r.state });
        }
      }
      const depth = new Map<string, number>();
      return rows.map((r) => {
        if (r.state !== 'failed') {
          const agent = this.agentRow(r.agent);
          const pending = depth.get(r.agent) ?? this.pendingCount(r.agent);
          if (pending >= this.depthLimit(agent)) throw queueFullError(r.agent, pending, this.depthLimit(agent));
          depth.set(r.agent, pending + 1);
        }
        this.stmts.retry.run({ seq: r.seq, now });
        this.event({ seq: r.seq, messageId: r.id, agent: r.agent, kind: 'retried', fromState: r.state, toState: 'queued' }, now);
        return toMessage(this.stmts.getById.get(r.id) as MessageRow);
      });
    });
  }

  async exportPending(filter: { agent?: string } = {}): Promise<ExportedMessage[]> {
    return this.read(() => {
      const rows = (filter.agent === undefined ? this.stmts.pendingAll.all() : this.stmts.pendingForAgent.all(filter.agent)) as MessageRow[];
      return rows.map(toExported);
    });
  }

  async importMessages(records: ImportRecord[], options: { partial?: boolean } = {}): Promise<ImportResult> {
    const now = this.now();
    const result: ImportResult = { imported: 0, skipped: [], rejected: [] };
    try {
      this.write(() => {
        const depth = new Map<string, { row: AgentRow; pending: number }>();
        for (const { line, message: m } of records) {
          const reject = (message: string): void => {
            result.rejected.push({ line, id: m.id, message });
          };
          const agent = this.stmts.getAgent.get(m.agent) as AgentRow | undefined;
          if (!agent) {
            reject(`unknown agent "${m.agent}"`);
            continue;
          }
          if (this.stmts.getById.get(m.id)) {
            result.skipped.push({ line, id: m.id, message: 'already present' });
            continue;
          }
          if (m.key !== null && this.stmts.getByKey.get(m.agent, m.key)) {
            result.skipped.push({ line, id: m.id, message: `idempotency key "${m.key}" already used for ${m.agent}` });
            continue;
          }
          if (!isValidPriority(m.priority)) {
            reject(`invalid priority ${m.priority}`);
            continue;
          }
          const bytes = Buffer.byteLength(m.body, 'utf8');
          if (m.body.trim().length === 0 || bytes > this.limits.maxBodyBytes) {
            reject(m.body.trim().length === 0 ? 'empty body' : `body is ${bytes} bytes; the limit is ${this.limits.maxBodyBytes}`);
            continue;
          }
          let d = depth.get(m.agent);
          if (!d) {
            d = { row: agent, pending: agent.pending };
            depth.set(m.agent, d);
          }
          if (d.pending >= this.depthLimit(agent)) {
            reject(`queue for ${m.agent} is full (limit ${this.depthLimit(agent)})`);
            continue;
          }
          const inserted = this.stmts.importMessage.get({
            id: m.id,
            agent: m.agent,
            priority: m.priority,
            body: m.body,
            sender: m.sender,
            idem_key: m.key,
            attempts: m.attempts,
            max_attempts: m.maxAttempts,
            redeliveries: m.redeliveries,
            expires_at: m.expiresAt,
            meta: m.meta ? JSON.stringify(m.meta) : null,
            created_at: m.createdAt,
            now,
          }) as { seq: number };
          d.pending++;
          this.event({ seq: inserted.seq, messageId: m.id, agent: m.agent, kind: 'imported', toState: 'queued', detail: { line } }, now);
          result.imported++;
        }
        if (result.rejected.length > 0 && !options.partial) throw new ImportRollback();
      });
    } catch (err) {
      if (!(err instanceof ImportRollback) && !((err as { cause?: unknown })?.cause instanceof ImportRollback)) throw err;
      result.imported = 0;
    }
    return result;
  }

  // ---------------------------------------------------------------- tasks

  private taskRow(taskId: string): TaskRow {
    const row = this.stmts.getTask.get(taskId) as TaskRow | undefined;
    if (!row) throw new QueueError('not_found', `no task with id "${taskId}"`, { taskId });
    return row;
  }

  /** One guarded transition: throws invalid_state unless the task is in one of `from`. */
  private taskTransition(
    taskId: string,
    from: readonly TaskState[],
    kind: string,
    apply: (row: TaskRow, now: number) => Record<string, unknown>,
    detail: Record<string, unknown> = {},
    unchangedIf?: (row: TaskRow) => boolean,
  ): Task {
    return this.write(() => {
      const now = this.now();
      const row = this.taskRow(taskId);
      if (unchangedIf?.(row)) return toTask(row);
      if (!from.includes(row.state as TaskState)) {
        throw new QueueError('invalid_state', `task ${taskId} is ${row.state}; expected ${from.join(' or ')}`, { taskId, state: row.state });
      }
      const set = apply(row, now);
      const cols = Object.keys(set);
      this.stmt(`UPDATE tasks SET ${cols.map((c) => `${c} = @${c}`).join(', ')}, updated_at = @now WHERE task_id = @task_id`).run({ ...set, now, task_id: taskId });
      const after = this.taskRow(taskId);
      this.event({ agent: row.agent, kind, fromState: row.state, toState: after.state, detail: { task_id: taskId, attempts: after.attempts, ...detail } }, now);
      return toTask(after);
    });
  }

  async createTask(input: TaskCreateInput): Promise<{ task: Task; created: boolean }> {
    if (typeof input.taskId !== 'string' || input.taskId.length === 0) throw new QueueError('invalid_input', 'task has no task_id');
    if (typeof input.description !== 'string' || input.description.trim().length === 0) throw new QueueError('empty_body', `task ${input.taskId} has an empty description`);
    if (!isValidPriority(input.priority)) throw new QueueError('invalid_priority', `invalid priority ${String(input.priority)} for task ${input.taskId}`);
    if (!Number.isFinite(input.timeoutMs) || input.timeoutMs <= 0) throw new QueueError('invalid_input', `task ${input.taskId}: timeout must be positive`);
    if (!Number.isInteger(input.maxRetries) || input.maxRetries < 0) throw new QueueError('invalid_input', `task ${input.taskId}: max_retries must be a whole number ≥ 0`);
    return this.write(() => {
      const now = this.now();
      const existing = this.stmts.getTask.get(input.taskId) as TaskRow | undefined;
      if (existing) return { task: toTask(existing), created: false };
      this.agentRow(input.agent);
      this.stmts.insertTask.run({
        task_id: input.taskId,
        agent: input.agent,
        description: input.description,
        priority: input.priority,
        timeout_ms: Math.round(input.timeoutMs),
        max_retries: input.maxRetries,
        sender: input.from ?? null,
        source: input.source ?? null,
        now,
      });
      this.event({ agent: input.agent, kind: 'task_created', toState: 'queued', detail: { task_id: input.taskId, from: input.from ?? null } }, now);
      return { task: toTask(this.taskRow(input.taskId)), created: true };
    });
  }

  async getTask(taskId: string): Promise<Task | null> {
    return this.read(() => {
      const row = this.stmts.getTask.get(taskId) as TaskRow | undefined;
      return row ? toTask(row) : null;
    });
  }

  async listTasks(filter: TaskFilter = {}): Promise<Task[]> {
    const { where, params } = agentStateWhere(filter, taskStates, 'task');
    const limit = Math.max(1, Math.min(filter.limit ?? 1000, 100_000));
    const sql = `SELECT * FROM tasks ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at, task_id LIMIT ${limit}`;
    return this.read(() => (this.stmt(sql).all(params) as TaskRow[]).map(toTask));
  }

  async startTaskAttempt(taskId: string, messageId: string): Promise<Task> {
    return this.taskTransition(
      taskId,
      ['queued', 'retrying'],
      'task_attempt',
      (row) => ({ state: 'queued', attempts: row.attempts + 1, message_id: messageId, started_at: null, deadline_at: null, retry_at: null }),
      { message_id: messageId },
      // Repeating the same attempt (a crash between enqueue and this call) changes nothing.
      (row) => row.message_id === messageId,
    );
  }

  async markTaskRunning(taskId: string, timing: { startedAt: number; deadlineAt: number }): Promise<Task> {
    return this.taskTransition(taskId, ['queued'], 'task_running', () => ({ state: 'running', started_at: timing.startedAt, deadline_at: timing.deadlineAt }));
  }

  async markTaskWaiting(taskId: string): Promise<Task> {
    return this.taskTransition(taskId, ['running'], 'task_waiting', () => ({ state: 'queued', started_at: null, deadline_at: null }));
  }

  async markTaskRetrying(taskId: string, retry: { error: string; retryAt: number }): Promise<Task> {
    const error = String(retry.error).slice(0, 2000);
    return this.taskTransition(taskId, ['queued', 'running'], 'task_retrying', () => ({ state: 'retrying', retry_at: retry.retryAt, deadline_at: null, last_error: error }), { error, retryAt: retry.retryAt });
  }

  async markTaskDone(taskId: string, done: { result: string | null }): Promise<Task> {
    return this.taskTransition(taskId, openTaskStates, 'task_completed', (_row, now) => ({ state: 'completed', result: done.result, completed_at: now, deadline_at: null, retry_at: null }));
  }

  async markTaskFailed(taskId: string, failed: { error: string }): Promise<Task> {
    const error = String(failed.error).slice(0, 2000);
    return this.taskTransition(taskId, openTaskStates, 'task_failed', (_row, now) => ({ state: 'failed', last_error: error, completed_at: now, deadline_at: null, retry_at: null }), { error });
  }

  async tasksDueForTimeout(now: number): Promise<Task[]> {
    return this.read(() => (this.stmts.tasksTimedOut.all({ now }) as TaskRow[]).map(toTask));
  }

  async tasksDueForRetry(now: number): Promise<Task[]> {
    return this.read(() => (this.stmts.tasksRetryDue.all({ now }) as TaskRow[]).map(toTask));
  }

  async taskCounts(): Promise<Map<string, Record<TaskState, number>>> {
    return this.read(() => {
      const out = new Map<string, Record<TaskState, number>>();
      for (const r of this.stmts.taskCounts.all() as { agent: string; state: TaskState; n: number }[]) {
        let c = out.get(r.agent);
        if (!c) {
          c = Object.fromEntries(taskStates.map((st) => [st, 0])) as Record<TaskState, number>;
          out.set(r.agent, c);
        }
        c[r.state] = r.n;
      }
      return out;
    });
  }

  async sweep(): Promise<SweepResult> {
    return this.write(() => this.housekeep(null, this.now()));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      if (this.optimizeOnClose) this.db.pragma('optimize');
    } catch {
      // Best effort: a read-only or busy database must still close.
    }
    this.db.close();
  }

  /** Integrity check for tests, `doctor` and the kill -9 benchmark. */
  integrityCheck(): string {
    return this.read(() => String(this.db.pragma('integrity_check', { simple: true })));
  }
}

class ImportRollback extends Error {}

/**
 * WHERE terms for "this agent, these states". States are checked against the known list before they
 * are spliced into the SQL, so only our own literals ever reach it.
 */
function agentStateWhere(filter: { agent?: string; states?: readonly string[] }, known: readonly string[], what: string): { where: string[]; params: Record<string, unknown> } {
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
 * `<expiry base36>.<random>`: carrying the expiry lets one index on (lease_expires_at, lease_token)
 * serve both the fenced ack and the expiry sweep, which saves a page write per claim and per ack.
 */
function leaseToken(expiresAt: number): string {
  return `${expiresAt.toString(36)}.${randomId(16)}`;
}

function leaseTokenExpiry(token: string): number | null {
  const dot = token.indexOf('.');
  if (dot <= 0 || dot > 12) return null;
  const until = parseInt(token.slice(0, dot), 36);
  return Number.isSafeInteger(until) ? until : null;
}

function withBusyRetry<T>(fn: () => T, budgetMs: number): T {
  const deadline = Date.now() + budgetMs;
  let delay = 2;
  for (;;) {
    try {
      return fn();
    } catch (err) {
      if (!isBusy(err) || Date.now() >= deadline) throw err;
      sleepSync(delay + Math.random() * delay);
      delay = Math.min(delay * 2, 100);
    }
  }
}

function checkIdentity(db: DB, path: string): void {
  const appId = Number(db.pragma('application_id', { simple: true }));
  const version = Number(db.pragma('user_version', { simple: true }));
  if (appId !== 0 && appId !== HORNETS_APPLICATION_ID) {
    throw new QueueError('not_hornets_db', `${path} is an SQLite database of another application (application_id ${appId}), not a hornets database`, { path });
  }
  if (appId === 0) {
    const tables = (db.prepare(`SELECT COUNT(*) AS n FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'`).get() as { n: number }).n;
    if (tables > 0) throw new QueueError('not_hornets_db', `${path} is an SQLite database but not a hornets database (it has other tables)`, { path });
  }
  if (version > LATEST_SCHEMA_VERSION) {
    throw new QueueError(
      'schema_too_new',
      `${path} has schema version ${version}, newer than this hornets-tui understands (${LATEST_SCHEMA_VERSION}); upgrade hornets-tui`,
      { path, version, supported: LATEST_SCHEMA_VERSION },
    );
  }
}

function migrate(db: DB, path: string): void {
  const current = Number(db.pragma('user_version', { simple: true }));
  if (current >= LATEST_SCHEMA_VERSION) return;
  db.transaction(() => {
    // Re-read under the write lock: another process may have migrated while we waited.
    const version = Number(db.pragma('user_version', { simple: true }));
    if (version > LATEST_SCHEMA_VERSION) throw new QueueError('schema_too_new', `${path} was upgraded by a newer hornets-tui`, { path });
    for (let v = version; v < LATEST_SCHEMA_VERSION; v++) db.exec(migrations[v]!);
    db.pragma(`application_id = ${HORNETS_APPLICATION_ID}`);
    db.pragma(`user_version = ${LATEST_SCHEMA_VERSION}`);
  }).immediate();
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

function prepareStatements(eager: DB) {
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
    insertFirstEvent: db.prepare(
      `INSERT INTO message_events (message_seq, n, ts, agent, kind, from_state, to_state, detail) VALUES (@seq, 1, @ts, @agent, 'enqueued', NULL, 'queued', NULL)`,
    ),
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
    delivered: db.prepare(
      `SELECT * FROM messages INDEXED BY messages_delivered WHERE agent = @agent AND state = 'delivered' AND (@session IS NULL OR session_id = @session) ORDER BY seq`,
    ),
    confirm: db.prepare(`UPDATE messages SET state = 'confirmed', confirmed_at = @now, updated_at = @now WHERE seq = @seq`),
    requeue: db.prepare(
      `UPDATE messages SET state = @state, redeliveries = redeliveries + 1, last_error = @error, dead_reason = @dead_reason,
         available_at = @now, delivered_at = NULL, updated_at = @now WHERE seq = @seq`,
    ),
    countsByState: db.prepare(`SELECT agent, state, COUNT(*) AS n, MIN(created_at) AS oldest FROM messages GROUP BY agent, state`),
    ahead: db.prepare(
      `SELECT COUNT(*) AS n FROM messages WHERE agent = @agent AND ${waiting} AND (priority > @priority OR (priority = @priority AND seq < @seq))`,
    ),
    eventsForMessage: db.prepare(
      `SELECT @id AS message_id, n AS id, ts, agent, kind, from_state, to_state, detail FROM message_events WHERE message_seq = @seq ORDER BY n LIMIT @limit`,
    ),
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
