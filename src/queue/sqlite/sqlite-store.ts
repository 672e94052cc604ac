/**
 * SQLite implementation of MessageStore (and, through SqliteTaskStore, TaskStore): the only module
 * family that imports better-sqlite3. Opening and migrations live in open.ts, the statements in
 * statements.ts, the shared write/read/event plumbing in connection.ts, tasks in task-store.ts and
 * retention in retention.ts.
 *
 * Every write runs in one `BEGIN IMMEDIATE` transaction so that concurrent writers (hooks, the
 * daemon, the CLI) serialise on SQLite's write lock instead of failing on a read->write upgrade.
 */
import type Database from 'better-sqlite3';
import { QueueError } from '../../errors.js';
import type { EnqueueInput, ExportedMessage, Message, MessageState, QueueEvent } from '../../domain/message.js';
import { messageStates, pendingStates, terminalStates } from '../../domain/message.js';
import { retryDelayMs } from '../../domain/retry.js';
import { isValidPriority, priorityBand } from '../../domain/priority.js';
import { randomId, sequentialId } from '../../util/ids.js';
import {
  defaultQueueLimits,
  type AckOptions,
  type AgentQueueStats,
  type AgentOverview,
  type AgentTransition,
  type ClaimOptions,
  type EnqueueResult,
  type ExplainContext,
  type FailOptions,
  type ImportRecord,
  type ImportResult,
  type LeaseRef,
  type MessageFilter,
  type MessageStore,
  type PruneOptions,
  type PruneResult,
  type QueueLimits,
  type QueueStats,
  type RecordEventInput,
  type SessionPin,
  type SessionPinVerdict,
  type SweepResult,
  type StoreReachability,
  type WaitingByBand,
  type TaskStore,
  type UsageCursor,
  type UsageRecordInput,
  type AgentTransitionListener,
} from '../store.js';
import { type AgentContext, type AgentContextPatch, type AgentPatch, type AgentRecord, type AgentRegistration, type AgentState } from '../../domain/agent.js';
import { factsOf, transition, transitionCause, type LifecycleEvent } from '../../domain/agent-lifecycle.js';
import { TransitionListeners } from '../transition-listeners.js';
import { emptyUsage, mergeUsage, type AgentUsage, type UsageEntry } from '../../domain/usage.js';
import type { Task, TaskCreateInput, TaskFilter, TaskState } from '../../domain/task.js';
import { normalizeEnqueue, queueFullError, type NormalizedEnqueue } from '../validate.js';
import { SqliteConnection } from './connection.js';
import type { SqliteStoreOptions } from './open.js';
import { agentStateWhere, PENDING_STATES, type Statements } from './statements.js';
import { SqliteTaskStore } from './task-store.js';
import { SqliteWorkerTaskStore } from './worker-task-store.js';
import { pruneStore } from './retention.js';
import { toAgent, toAgentContext, toEvent, toExported, toMessage, type AgentContextRow, type AgentRow, type EventRow, type MessageRow } from './rows.js';
import { quickCheckFile, readDamage, recordDamage, type Damage } from './damage.js';
import { backupCopy, checkFile, fileIdentity, type FileCheck, type FileIdentity } from './file-guard.js';

export type { SqliteStoreOptions } from './open.js';

type Stmt = Database.Statement;

const MIN_PREFIX = 4;

export async function openSqliteStore(path: string, options: SqliteStoreOptions = {}): Promise<SqliteMessageStore> {
  return SqliteMessageStore.open(path, options);
}

interface UsageRow {
  agent: string;
  input: number;
  output: number;
  cache_read: number;
  cache_creation: number;
  cost_usd: number;
  messages: number;
  over_budget: number;
  waived_budget: string | null;
  updated_at: number | null;
}

function toUsage(r: UsageRow): AgentUsage {
  return {
    agent: r.agent,
    input: r.input,
    output: r.output,
    cacheRead: r.cache_read,
    cacheCreation: r.cache_creation,
    costUsd: r.cost_usd,
    messages: r.messages,
    overBudget: r.over_budget === 1,
    waivedBudget: r.waived_budget,
    updatedAt: r.updated_at,
  };
}

export class SqliteMessageStore implements MessageStore, TaskStore {
  readonly backend = 'sqlite';
  private readonly random: () => number;
  private readonly limits: QueueLimits;
  private readonly tasks: SqliteTaskStore;
  /** The task workers' tasks (seed 003), on the same database. */
  readonly workerTasks: SqliteWorkerTaskStore;

  /** The inode this store opened: the path may come to name another file, or none. */
  private readonly opened: FileIdentity | null;
  private readonly transitions = new TransitionListeners();

  private constructor(private readonly c: SqliteConnection) {
    this.opened = fileIdentity(c.path);
    this.random = c.options.random ?? Math.random;
    this.limits = { ...defaultQueueLimits, ...c.options.limits };
    this.tasks = new SqliteTaskStore(c);
    this.workerTasks = new SqliteWorkerTaskStore(c);
  }

  static open(path: string, options: SqliteStoreOptions = {}): SqliteMessageStore {
    return new SqliteMessageStore(SqliteConnection.open(path, options));
  }

  get path(): string {
    return this.c.path;
  }

  // ---------------------------------------------------------------- plumbing

  private get stmts(): Statements {
    return this.c.stmts;
  }

  private now(): number {
    return this.c.now();
  }

  private write<T>(fn: () => T): T {
    return this.c.write(fn);
  }

  private read<T>(fn: () => T): T {
    return this.c.read(fn);
  }

  private stmt(sql: string): Stmt {
    return this.c.stmt(sql);
  }

  private event(e: RecordEventInput & { seq?: number }, ts = this.now()): void {
    this.c.event(e, ts);
  }

  private agentRow(name: string): AgentRow {
    return this.c.agentRow(name);
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

  onAgentTransition(listener: AgentTransitionListener): () => void {
    return this.transitions.add(listener);
  }

  async transitionAgent(name: string, event: LifecycleEvent, extra: Omit<AgentPatch, 'lastError'> = {}): Promise<AgentTransition> {
    const t = await this.write(() => {
      const now = this.now();
      const before = toAgent(this.agentRow(name));
      const next = transition(factsOf(before), event);
      const { lastError: _ignored, ...fields } = extra as AgentPatch;
      this.patchAgent(name, { ...fields, ...(next.lastError !== before.lastError ? { lastError: next.lastError } : {}) }, now, { state: next.state, paused: next.paused });
      if (next.state !== before.state) {
        this.event({ agent: name, kind: 'agent_state', fromState: before.state, toState: next.state, detail: { on: transitionCause(event) } }, now);
      }
      if (next.paused !== before.paused) this.event({ agent: name, kind: next.paused ? 'agent_paused' : 'agent_resumed' }, now);
      const after = toAgent(this.agentRow(name));
      return { before, after, changed: next.state !== before.state };
    });
    this.transitions.tell(name, t, transitionCause(event));
    return t;
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
        checkpoint_data: patch.checkpointData !== undefined ? (patch.checkpointData === null ? null : JSON.stringify(patch.checkpointData)) : (existing?.checkpoint_data ?? null),
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
        this.event(
          {
            seq: row.seq,
            messageId: row.id,
            agent: agentName,
            kind: 'claimed',
            fromState: c.state,
            toState: 'leased',
            detail: { owner: options.owner, attempt: row.attempts, leaseMs: options.leaseMs },
          },
          now,
        );
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
    return rows.filter((r) => r.state === 'leased' && (r.lease_expires_at ?? 0) > now && (!wanted || wanted.has(r.id)) && (ref.agent === undefined || r.agent === ref.agent));
  }

  async ack(options: AckOptions): Promise<number> {
    return this.write(() => {
      // Read the clock under the write lock: a wait for the lock must not age leases and TTLs.
      const now = this.now();
      const rows = this.leasedRows(options, now);
      for (const r of rows) {
        this.stmts.deliver.run({ seq: r.seq, session: options.sessionId ?? null, now });
        this.event(
          { seq: r.seq, messageId: r.id, agent: r.agent, kind: 'delivered', fromState: 'leased', toState: 'delivered', detail: { owner: r.lease_owner, session: options.sessionId ?? r.session_id } },
          now,
        );
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
        this.event(
          {
            seq: r.seq,
            messageId: r.id,
            agent: r.agent,
            kind: 'failed',
            fromState: 'leased',
            toState: dead ? 'dead' : 'failed',
            detail: { error, attempt: r.attempts, retryInMs: dead ? null : delay },
          },
          now,
        );
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

  async dataVersion(): Promise<string> {
    // data_version moves on other connections' commits only; total_changes() counts this one's.
    // One cached statement: the console asks twice a second.
    return this.read(() => {
      const r = this.stmt('SELECT (SELECT data_version FROM pragma_data_version) AS v, total_changes() AS t').get() as { v: number; t: number };
      return `${r.v}:${r.t}`;
    });
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

  async agentRecords(agents: readonly string[]): Promise<AgentRecord[]> {
    const wanted = new Set(agents);
    return (await this.listAgents()).filter((r) => wanted.has(r.name));
  }

  async agentOverview(agents: readonly string[]): Promise<AgentOverview[]> {
    const wanted = new Set(agents);
    const [records, stats] = await Promise.all([this.listAgents(), this.stats()]);
    const counts = new Map(stats.agents.map((s) => [s.agent, s.counts]));
    return records.filter((r) => wanted.has(r.name)).map((record) => ({ record, counts: counts.get(record.name)! }));
  }

  async explainContext(idOrPrefix: string): Promise<ExplainContext> {
    const now = this.now();
    return this.read(() => {
      const row = this.resolveRow(idOrPrefix);
      const agentRow = this.stmts.getAgent.get(row.agent) as AgentRow | undefined;
      const ahead = row.state === 'queued' || row.state === 'failed' ? (this.stmts.ahead.get({ agent: row.agent, priority: row.priority, seq: row.seq }) as { n: number }).n : 0;
      return { message: toMessage(row), agent: agentRow ? toAgent(agentRow) : null, ahead, now };
    });
  }

  async events(filter: { messageId?: string; agent?: string; limit?: number; kinds?: string[] }): Promise<QueueEvent[]> {
    const limit = Math.max(1, Math.min(filter.limit ?? 1000, 100_000));
    return this.read(() => {
      if (filter.kinds && filter.kinds.length > 0) {
        // Bound parameters, one per kind: kinds may come from callers.
        const marks = filter.kinds.map((_, i) => `@k${i}`).join(',');
        const params: Record<string, unknown> = { limit, ...(filter.agent === undefined ? {} : { agent: filter.agent }) };
        filter.kinds.forEach((k, i) => (params[`k${i}`] = k));
        // Two statements, not `(@agent IS NULL OR agent = @agent)`: SQLite cannot use the (agent, id)
        // index through that OR, so an engine start looking at each of n agents scanned every agent's
        // events n times.
        const where = filter.agent === undefined ? '' : 'agent = @agent AND ';
        const rows = this.stmt(`SELECT NULL AS message_id, * FROM agent_events WHERE ${where}kind IN (${marks}) ORDER BY id DESC LIMIT @limit`).all(params) as EventRow[];
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
    this.unreadable = null;
    try {
      return this.read(() => {
        const rows = (filter.agent === undefined ? this.stmts.pendingAll.all() : this.stmts.pendingForAgent.all(filter.agent)) as MessageRow[];
        return rows.map(toExported);
      });
    } catch (err) {
      if (!(err instanceof QueueError && err.code === 'corrupt')) throw err;
      return this.salvagePending(filter.agent);
    }
  }

  /** Rows a salvage export could not read (null when the last export read everything the normal way). */
  exportUnreadable(): number | null {
    return this.unreadable;
  }

  private unreadable: number | null = null;

  /**
   * The export of a damaged database: row by row through the table's own b-tree (by seq, never an
   * index), so only the rows on damaged pages are lost, not the whole export. It is what the
   * recovery in the README starts with.
   */
  private salvagePending(agent: string | undefined): ExportedMessage[] {
    const db = this.c.db;
    const one = db.prepare('SELECT * FROM messages NOT INDEXED WHERE seq = ?');
    let top = 0;
    try {
      top = Number((db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'messages'").get() as { seq?: number } | undefined)?.seq ?? 0);
    } catch {
      top = 0;
    }
    const pending = new Set<string>(PENDING_STATES);
    const rows: MessageRow[] = [];
    let unreadable = 0;
    // Without sqlite_sequence, walk on until a long run of seqs has no row.
    for (let seq = 1, misses = 0; top > 0 ? seq <= top : misses < 10_000; seq++) {
      let row: MessageRow | undefined;
      try {
        row = one.get(seq) as MessageRow | undefined;
      } catch {
        unreadable++;
        continue;
      }
      if (!row) {
        misses++;
        continue;
      }
      misses = 0;
      if (pending.has(row.state) && (agent === undefined || row.agent === agent)) rows.push(row);
    }
    this.unreadable = unreadable;
    rows.sort((a, b) => (a.agent === b.agent ? (a.priority === b.priority ? a.seq - b.seq : b.priority - a.priority) : a.agent < b.agent ? -1 : 1));
    return rows.map(toExported);
  }

  async importMessages(records: ImportRecord[], options: { partial?: boolean } = {}): Promise<ImportResult> {
    const now = this.now();
    const result: ImportResult = { imported: 0, skipped: [], rejected: [] };
    try {
      this.write(() => {
        const depth = new Map<string, { row: AgentRow; pending: number }>();
        // Keys taken by this very import, with their line: a repeat inside one file is reported as such.
        const keyLines = new Map<string, number>();
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
            const first = keyLines.get(`${m.agent}\0${m.key}`);
            result.skipped.push({
              line,
              id: m.id,
              message: first === undefined ? `idempotency key "${m.key}" already used for ${m.agent}` : `idempotency key "${m.key}" for ${m.agent} repeats line ${first} of this import`,
              ...(first === undefined ? {} : { repeatOf: first }),
            });
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
          if (m.key !== null) keyLines.set(`${m.agent}\0${m.key}`, line);
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

  // ---------------------------------------------------------------- tasks (task-store.ts)

  createTask(input: TaskCreateInput): Promise<{ task: Task; created: boolean }> {
    return this.tasks.createTask(input);
  }
  getTask(taskId: string): Promise<Task | null> {
    return this.tasks.getTask(taskId);
  }
  listTasks(filter?: TaskFilter): Promise<Task[]> {
    return this.tasks.listTasks(filter);
  }
  startTaskAttempt(taskId: string, messageId: string): Promise<Task> {
    return this.tasks.startTaskAttempt(taskId, messageId);
  }
  markTaskRunning(taskId: string, timing: { startedAt: number; deadlineAt: number }): Promise<Task> {
    return this.tasks.markTaskRunning(taskId, timing);
  }
  markTaskWaiting(taskId: string): Promise<Task> {
    return this.tasks.markTaskWaiting(taskId);
  }
  markTaskRetrying(taskId: string, retry: { error: string; retryAt: number }): Promise<Task> {
    return this.tasks.markTaskRetrying(taskId, retry);
  }
  markTaskDone(taskId: string, done: { result: string | null }): Promise<Task> {
    return this.tasks.markTaskDone(taskId, done);
  }
  markTaskFailed(taskId: string, failed: { error: string }): Promise<Task> {
    return this.tasks.markTaskFailed(taskId, failed);
  }
  tasksDueForTimeout(now: number): Promise<Task[]> {
    return this.tasks.tasksDueForTimeout(now);
  }
  tasksDueForRetry(now: number): Promise<Task[]> {
    return this.tasks.tasksDueForRetry(now);
  }
  taskCounts(agents?: readonly string[]): Promise<Map<string, Record<TaskState, number>>> {
    return this.tasks.taskCounts(agents);
  }

  // ---------------------------------------------------------------- housekeeping

  async sweep(): Promise<SweepResult> {
    return this.write(() => this.housekeep(null, this.now()));
  }

  /** Removes finished messages, tasks and events older than the age (retention.ts). */
  async prune(options: PruneOptions): Promise<PruneResult> {
    return pruneStore(this.c, options);
  }

  async close(): Promise<void> {
    this.c.close();
  }

  checkFile(): FileCheck {
    return checkFile(this.c.path, this.opened);
  }

  backupCopy(): Promise<string> {
    return backupCopy(this.c.db, this.c.path);
  }

  // ---------------------------------------------------------------- usage (issue 17)

  private usageRow(agent: string): AgentUsage {
    const r = this.stmt('SELECT * FROM agent_usage WHERE agent = ?').get(agent) as UsageRow | undefined;
    return r ? toUsage(r) : emptyUsage(agent);
  }

  private saveUsage(u: AgentUsage): void {
    this.stmt(
      `INSERT INTO agent_usage (agent, input, output, cache_read, cache_creation, cost_usd, messages, over_budget, waived_budget, updated_at)
       VALUES (@agent, @input, @output, @cacheRead, @cacheCreation, @costUsd, @messages, @overBudget, @waivedBudget, @updatedAt)
       ON CONFLICT (agent) DO UPDATE SET input = excluded.input, output = excluded.output, cache_read = excluded.cache_read, cache_creation = excluded.cache_creation,
         cost_usd = excluded.cost_usd, messages = excluded.messages, over_budget = excluded.over_budget, waived_budget = excluded.waived_budget, updated_at = excluded.updated_at`,
    ).run({ ...u, overBudget: u.overBudget ? 1 : 0 });
  }

  async recordUsage(agent: string, input: UsageRecordInput): Promise<AgentUsage> {
    return this.write(() => {
      this.agentRow(agent);
      const get = this.stmt(
        'SELECT message_id AS messageId, model, input, output, cache_read AS cacheRead, cache_creation AS cacheCreation, cost_usd AS costUsd FROM usage_messages WHERE agent = ? AND message_id = ?',
      );
      const seen = new Map<string, UsageEntry>();
      for (const e of input.entries) {
        if (seen.has(e.messageId)) continue;
        const row = get.get(agent, e.messageId) as UsageEntry | undefined;
        if (row) seen.set(e.messageId, row);
      }
      const now = this.now();
      const prunedBefore = input.fromStart ? ((this.stmt('SELECT pruned_before AS p FROM agent_usage WHERE agent = ?').get(agent) as { p: number | null } | undefined)?.p ?? null) : null;
      const { totals, upserts } = mergeUsage(this.usageRow(agent), seen, input.entries, now, { fromStart: input.fromStart === true, prunedBefore });
      const put = this.stmt(
        `INSERT INTO usage_messages (agent, message_id, model, input, output, cache_read, cache_creation, cost_usd, seen_at) VALUES (@agent, @messageId, @model, @input, @output, @cacheRead, @cacheCreation, @costUsd, @now)
         ON CONFLICT (agent, message_id) DO UPDATE SET model = excluded.model, input = excluded.input, output = excluded.output, cache_read = excluded.cache_read, cache_creation = excluded.cache_creation, cost_usd = excluded.cost_usd, seen_at = excluded.seen_at`,
      );
      for (const u of upserts)
        put.run({ agent, messageId: u.messageId, model: u.model, input: u.input, output: u.output, cacheRead: u.cacheRead, cacheCreation: u.cacheCreation, costUsd: u.costUsd, now });
      if (upserts.length > 0) this.saveUsage(totals);
      if (input.cursor) {
        this.stmt('INSERT INTO usage_cursors (agent, file, offset, ino) VALUES (?, ?, ?, ?) ON CONFLICT (agent, file) DO UPDATE SET offset = excluded.offset, ino = excluded.ino').run(
          agent,
          input.cursor.file,
          input.cursor.offset,
          input.cursor.ino,
        );
      }
      return totals;
    });
  }

  async usageCursor(agent: string, file: string): Promise<UsageCursor | null> {
    return this.read(() => (this.stmt('SELECT file, offset, ino FROM usage_cursors WHERE agent = ? AND file = ?').get(agent, file) as UsageCursor | undefined) ?? null);
  }

  async agentUsage(agents?: readonly string[]): Promise<AgentUsage[]> {
    return this.read(() => {
      const names = (this.stmts.listAgents.all() as AgentRow[]).map((a) => a.name).filter((n) => agents === undefined || agents.includes(n));
      const order = agents ?? names;
      return order.filter((n) => names.includes(n)).map((n) => this.usageRow(n));
    });
  }

  async markBudget(agent: string, mark: { overBudget: boolean; waivedBudget?: string | null }): Promise<AgentUsage> {
    return this.write(() => {
      this.agentRow(agent);
      const u = { ...this.usageRow(agent), overBudget: mark.overBudget, ...(mark.waivedBudget !== undefined ? { waivedBudget: mark.waivedBudget } : {}) };
      this.saveUsage(u);
      return u;
    });
  }

  async pinSession(agent: string, pin: SessionPin): Promise<SessionPinVerdict> {
    const key = `hook-session:${agent}`;
    return this.write(() => {
      const row = this.c.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
      type Binding = { generation: number; session: string; open: boolean };
      let bound: Binding | null = null;
      try {
        bound = row ? (JSON.parse(row.value) as Binding) : null;
      } catch {
        // A damaged value binds anew, as if none were there.
      }
      const save = (v: Binding) => this.c.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, JSON.stringify(v));
      if (bound === null || bound.generation !== pin.generation || bound.open) {
        if (pin.event !== 'SessionStart') return 'unbound';
        save({ generation: pin.generation, session: pin.session, open: false });
        return 'bound';
      }
      if (bound.session !== pin.session) return 'refused';
      if (pin.event === 'SessionEnd') save({ ...bound, open: true });
      return 'same';
    });
  }

  /**
   * SQLite opens a file it may not write read-only without a word, and every write then fails:
   * reads (and so `status` and health checks) look fine while nothing can be delivered.
   */
  async checkWritable(): Promise<void> {
    const now = this.c.now();
    this.c.write(() => this.c.db.prepare("INSERT INTO meta (key, value) VALUES ('last_engine_start', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(String(now)));
    return Promise.resolve();
  }

  async waitingByBand(): Promise<WaitingByBand[]> {
    return this.read(() => {
      const out = new Map<string, WaitingByBand>();
      for (const r of this.stmts.waitingByPriority.all() as { agent: string; priority: number; n: number }[]) {
        const band = priorityBand(r.priority);
        const key = `${r.agent}\u0000${band}`;
        const e = out.get(key);
        if (e) e.n += r.n;
        else out.set(key, { agent: r.agent, band, n: r.n });
      }
      return [...out.values()];
    });
  }

  reachability(): Promise<StoreReachability> {
    return Promise.resolve(this.c.db.open ? { reachable: true } : { reachable: false, detail: 'the SQLite connection is closed' });
  }

  damage(): Damage | null {
    this.c.damage ??= readDamage(this.c.path);
    return this.c.damage;
  }

  async checkIntegrity(): Promise<Damage | null> {
    const result = quickCheckFile(this.c.path);
    if (result !== 'ok' && !this.c.damage) this.c.damage = recordDamage(this.c.path, `quick_check: ${result}`, this.c.now());
    return Promise.resolve(this.damage());
  }

  /** Integrity check for tests, `doctor` and the kill -9 benchmark. */
  integrityCheck(): string {
    return this.c.integrityCheck();
  }
}

class ImportRollback extends Error {}

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
