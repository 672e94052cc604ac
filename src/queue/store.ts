/**
 * The backend-neutral queue contract. Async from day one so a networked backend
 * (Redis, for multi-host teams) can implement it unchanged; test/conformance runs the
 * same suite against every implementation.
 */
import type { EnqueueInput, ExportedMessage, Message, MessageState, QueueEvent } from '../domain/message.js';
import type { AgentContext, AgentContextPatch, AgentPatch, AgentRecord, AgentRegistration } from '../domain/agent.js';
import type { LifecycleEvent } from '../domain/agent-lifecycle.js';
import type { Task, TaskCreateInput, TaskFilter, TaskState } from '../domain/task.js';
import type { AgentUsage, UsageEntry } from '../domain/usage.js';
import type { AttemptEnd, WorkerClaim, WorkerTask, WorkerTaskFilter, WorkerTaskInput, WorkerTaskState } from '../domain/worker-task.js';
import type { PriorityBandName } from '../domain/priority.js';

export interface QueueLimits {
  /** Pending messages (queued, failed, leased, delivered) allowed per agent. */
  maxDepth: number;
  /** Largest message body accepted, in UTF-8 bytes. */
  maxBodyBytes: number;
  maxAttempts: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
}

export const defaultQueueLimits: QueueLimits = {
  maxDepth: 10_000,
  maxBodyBytes: 256 * 1024,
  maxAttempts: 5,
  backoffBaseMs: 2_000,
  backoffMaxMs: 300_000,
};

export interface StoreOptions {
  /** Injected clock (epoch ms) so leases, TTLs and backoff are testable without sleeping. */
  clock?: () => number;
  /** Injected jitter source for retry backoff. */
  random?: () => number;
  limits?: Partial<QueueLimits>;
}

export interface AgentTransition {
  before: AgentRecord;
  after: AgentRecord;
  /** The state changed (the paused flag or the error may change without it). */
  changed: boolean;
}

/**
 * Told after a transition of this store object committed: what changed and what moved it (the
 * `agent_state` event's `on`). Only this process's writes: another process's (a hook's Node fallback,
 * another node) are in the store's log only.
 */
export type AgentTransitionListener = (agent: string, t: AgentTransition, cause: string) => void;

export interface EnqueueResult {
  message: Message;
  /** False when an existing message with the same idempotency key was returned instead. */
  created: boolean;
}

export interface ClaimOptions {
  /** Who holds the lease, for `why` (e.g. `hook:PostToolUse:<session>`). */
  owner: string;
  leaseMs: number;
  /** Claim up to this many messages at once (same lease token); default 1. */
  limit?: number;
  /** Session the messages are being handed to. */
  sessionId?: string | null;
  /** Deliver even to a paused agent (manual "send now"). */
  ignorePause?: boolean;
}

export interface LeaseRef {
  leaseToken: string;
  /** Restrict the operation to these ids of the lease; default all. */
  ids?: string[];
  /** Only messages of this agent: a hook acts for its own agent, whatever lease token it shows. */
  agent?: string;
}

/**
 * The first SessionStart of a generation binds its session; later events of another session are
 * refused. A SessionEnd of the bound session (its /clear, its exit) lets the next SessionStart bind
 * the session that follows it. Events before any SessionStart, or without a session id, pass.
 */
export interface SessionPin {
  generation: number;
  session: string;
  event: string;
}

export type SessionPinVerdict = 'bound' | 'same' | 'unbound' | 'refused';

export interface AckOptions extends LeaseRef {
  sessionId?: string | null;
}

export interface FailOptions extends LeaseRef {
  error: string;
  /** False = poison message, dead-letter at once. */
  retryable?: boolean;
}

export interface MessageFilter {
  agent?: string;
  states?: MessageState[];
  limit?: number;
  /** `delivery`: the order messages will be delivered in; `recent`: newest first. */
  order?: 'delivery' | 'recent';
}

export interface AgentQueueStats {
  agent: string;
  counts: Record<MessageState, number>;
  /** queued + failed + leased + delivered */
  pending: number;
  oldestWaitingAt: number | null;
}

/** One agent as the engine looks at it on every pass and beat: its record and its messages' counts by state. */
export interface AgentOverview {
  record: AgentRecord;
  counts: Record<MessageState, number>;
}

export interface QueueStats {
  agents: AgentQueueStats[];
  totals: Record<MessageState, number>;
}

export interface ExplainContext {
  message: Message;
  agent: AgentRecord | null;
  /** Waiting messages that will be delivered to the same agent before this one. */
  ahead: number;
  now: number;
}

export interface ImportIssue {
  /** 1-based line of the input, when known. */
  line: number;
  id?: string;
  message: string;
  /** A skip because an earlier line of the same import used the same idempotency key: that line. */
  repeatOf?: number;
}

export interface ImportRecord {
  line: number;
  message: ExportedMessage;
}

export interface ImportResult {
  imported: number;
  skipped: ImportIssue[];
  rejected: ImportIssue[];
}

/**
 * The fencing token of the leader running a cluster-wide duty (issue 12): `key` holds the newest
 * token issued (src/cluster/leader.ts). Every write of the duty is refused (QueueError
 * `stale_fence`, nothing written) unless the key still holds `token`, i.e. nobody was elected since.
 */
export interface DutyFence {
  key: string;
  token: number;
}

export interface SweepOptions {
  /** Fence the sweep's writes (a Redis team's leader); single-host stores ignore it. */
  fence?: DutyFence;
}

export interface SweepResult {
  expired: number;
  leasesReclaimed: number;
  dead: number;
}

export interface RecordEventInput {
  agent?: string | null;
  messageId?: string | null;
  kind: string;
  fromState?: string | null;
  toState?: string | null;
  detail?: Record<string, unknown> | null;
}

/** Retention never goes below this: the engine rebuilds its restart window from the last hour of agent events. */
export const MIN_PRUNE_AGE_MS = 3_600_000;
export const DEFAULT_RETENTION_MS = 7 * 24 * 3_600_000;

export interface PruneOptions {
  /** Remove finished records older than this many ms (at least MIN_PRUNE_AGE_MS). */
  olderThanMs: number;
  /** Rows removed per write transaction, so other processes get the lock in between (default 500). */
  batchSize?: number;
  /** Stops between batches (daemon shutdown); what was removed so far stays removed. */
  signal?: AbortSignal;
  /**
   * Also rewrite the storage to give back all free space (SQLite: VACUUM, which also turns on
   * incremental auto-vacuum in databases created before it). Blocks other writers while it runs:
   * an operator's choice (`queue prune --compact`), never the engine's.
   */
  compact?: boolean;
  /** Fence the prune's writes (a Redis team's leader); single-host stores ignore it. */
  fence?: DutyFence;
}

export interface PruneResult {
  /** Everything finished before this instant (epoch ms) was eligible. */
  cutoff: number;
  /** Confirmed, dead, expired and cancelled messages removed. */
  messages: number;
  /** Their message events. */
  events: number;
  /** Completed and failed tasks removed. */
  tasks: number;
  /** Agent-level events removed. */
  agentEvents: number;
  /** Per-message usage rows (the ids that keep a message from counting twice) not seen within the age. */
  usageMessages: number;
  /** Bytes handed back to the file system (null when the backend cannot tell). */
  reclaimedBytes: number | null;
  ms: number;
  /** Longest single write transaction of the prune: how long others could have waited for it. */
  longestBatchMs: number;
}

/** How far a transcript was read: the byte after the last whole line counted, and the file it was (inode). */
export interface UsageCursor {
  file: string;
  offset: number;
  ino: number;
}

export interface UsageRecordInput {
  entries: UsageEntry[];
  /** Where the reader stopped, saved in the same write as what it counted: a crash never counts a line twice. */
  cursor?: UsageCursor;
  /** The read began at the transcript's first byte (domain/usage.ts UsageGuard: pruned ids may come again). */
  fromStart?: boolean;
}

export interface StoreDamage {
  /** ISO time it was found. */
  at: string;
  detail: string;
}

export interface WaitingByBand {
  agent: string;
  band: PriorityBandName;
  n: number;
}

export interface StoreReachability {
  reachable: boolean;
  /** Why not (no secrets: never the URL). */
  detail?: string;
}

export interface MessageStore {
  /** File-backed stores: whether the path still names the file this store opened (see sqlite/file-guard.ts). */
  checkFile?(): 'same' | 'missing' | 'replaced';
  /** File-backed stores: a full copy of the open database beside its file, to put back in place. */
  backupCopy?(): Promise<string>;
  /** One real write (the engine's start time), so an engine never starts on a store it cannot write. */
  checkWritable?(): Promise<void>;
  /** Damage found in the store by any process (writes are then refused), or null. */
  damage?(): StoreDamage | null;
  /**
   * Whether the store answers, for a readiness probe: cheap enough to be asked per probe (SQLite:
   * the connection is open; Redis: a PING answered within the last second, one in flight at most).
   */
  reachability?(): Promise<StoreReachability>;
  /**
   * Waiting messages (queued or failed, to retry) per agent and priority band (domain/priority.ts
   * priorityBand), for the queue-depth metric: one indexed read (SQLite), one ZCOUNT per band and
   * agent in one flight (Redis). Bands with none are left out.
   */
  waitingByBand?(): Promise<WaitingByBand[]>;
  /** A full check of the store's structure now (SQLite quick_check); records and returns damage found. */
  checkIntegrity?(): Promise<StoreDamage | null>;
  /**
   * Stores a team shares across hosts (Redis): a pub/sub message on the store's own connection — a
   * wake for another node's engine leaves right after the enqueue, with no connection to open
   * first. Resolves how many listeners got it.
   */
  publish?(channel: string, message: string): Promise<number>;
  readonly backend: string;

  registerAgents(agents: AgentRegistration[]): Promise<void>;
  listAgents(): Promise<AgentRecord[]>;
  getAgent(name: string): Promise<AgentRecord | null>;
  updateAgent(name: string, patch: AgentPatch): Promise<AgentRecord>;
  /**
   * The only way an agent's state (and paused flag) changes: `transition` of agent-lifecycle.ts is
   * applied to the stored record inside the write, with `extra` fields in the same write (the last
   * error belongs to the transition: a sticky failure keeps its reason). Records
   * an `agent_state` event when the state changes.
   */
  transitionAgent(name: string, event: LifecycleEvent, extra?: Omit<AgentPatch, 'lastError'>): Promise<AgentTransition>;
  /** Every committed transition of this store object that changed the state or the paused flag; returns the unsubscribe. */
  onAgentTransition(listener: AgentTransitionListener): () => void;
  getAgentContext(agent: string): Promise<AgentContext | null>;
  saveAgentContext(agent: string, patch: AgentContextPatch): Promise<AgentContext>;

  enqueue(input: EnqueueInput): Promise<EnqueueResult>;
  /** All or nothing: one bad input rejects the whole batch. */
  enqueueBatch(inputs: EnqueueInput[]): Promise<EnqueueResult[]>;

  /** Leases the next deliverable messages of one agent, highest priority first. */
  claim(agent: string, options: ClaimOptions): Promise<Message[]>;
  /** leased -> delivered, fenced on the lease token; returns how many changed. */
  ack(options: AckOptions): Promise<number>;
  /** leased -> failed (backoff) or dead; fenced on the lease token. */
  fail(options: FailOptions): Promise<number>;
  /** leased -> queued without spending an attempt (claimed more than could be handed over). */
  release(options: LeaseRef): Promise<number>;
  /** delivered -> confirmed for the agent (optionally one session). */
  confirm(agent: string, options?: { sessionId?: string | null; ids?: string[] }): Promise<number>;
  /** delivered-but-unconfirmed -> queued again, marked as redeliveries. */
  requeueUnconfirmed(agent: string, options: { sessionId?: string | null; reason: string }): Promise<number>;
  /**
   * Pins an agent generation's hooks to the session it started (see SessionPin): whether a hook of
   * `session` may act for the agent. Hooks of a nested CLI inheriting the agent's environment
   * carry another session id and are refused.
   */
  pinSession(agent: string, pin: SessionPin): Promise<SessionPinVerdict>;

  /** Exact id or a unique prefix (≥ 4 characters). */
  get(idOrPrefix: string): Promise<Message>;
  list(filter?: MessageFilter): Promise<Message[]>;
  stats(): Promise<QueueStats>;
  /**
   * The records and message counts of these agents only (names not registered are left out), in
   * one read — one round trip on Redis. An engine looks at its own agents (on a Redis team a node
   * runs a part of the team): a wake's delivery pass waits for this read before it can act, and
   * the periodic looks (heartbeats, lost exits) are kept to this node's share.
   */
  agentOverview(agents: readonly string[]): Promise<AgentOverview[]>;
  /** The records of these agents only (names not registered are left out), in one read: agentOverview without the counts. */
  agentRecords(agents: readonly string[]): Promise<AgentRecord[]>;
  /**
   * A token that changes whenever a change was committed, by this connection or another (SQLite's
   * `PRAGMA data_version` with the connection's `total_changes()`): a reader that polls (the
   * console) skips re-reading unchanged state. Optional: a store without it is re-read every time.
   */
  dataVersion?(): Promise<string>;
  explainContext(idOrPrefix: string): Promise<ExplainContext>;
  /** `kinds`: only agent-level events of these kinds (indexed by agent, so old ones are still found). */
  events(filter: { messageId?: string; agent?: string; limit?: number; kinds?: string[] }): Promise<QueueEvent[]>;
  recordEvent(event: RecordEventInput): Promise<void>;

  cancel(ids: string[], reason?: string): Promise<Message[]>;
  /** dead/failed/expired/cancelled -> queued with a fresh attempt budget. */
  retry(ids: string[]): Promise<Message[]>;

  exportPending(filter?: { agent?: string }): Promise<ExportedMessage[]>;
  /** After exportPending on a damaged store: how many rows could not be read (null: nothing was skipped). */
  exportUnreadable?(): number | null;
  /** One transaction. Without `partial`, any rejected record means nothing is imported. */
  importMessages(records: ImportRecord[], options?: { partial?: boolean }): Promise<ImportResult>;

  /** Expires TTLs and reclaims expired leases for every agent (dead-letters what has no attempts left). */
  sweep(options?: SweepOptions): Promise<SweepResult>;
  /**
   * Retention: removes confirmed, dead, expired and cancelled messages (with their events), completed
   * and failed tasks and agent-level events older than `olderThanMs`, in small batches. Pending
   * messages and open tasks (and their messages) are never touched. Ages under an hour are refused
   * (invalid_input): the engine's restart window needs the last hour of agent events.
   */
  prune(options: PruneOptions): Promise<PruneResult>;
  /**
   * Tokens and cost (issue 17): adds the entries (each model message id counted once per agent, with
   * the largest figures seen for it: domain/usage.ts mergeUsage) and saves the cursor, in one write.
   */
  recordUsage(agent: string, input: UsageRecordInput): Promise<AgentUsage>;
  usageCursor(agent: string, file: string): Promise<UsageCursor | null>;
  /** Totals of these registered agents (all when not given); an agent with none counted has zeros. */
  agentUsage(agents?: readonly string[]): Promise<AgentUsage[]>;
  /** The budget policy's mark: delivery paused over budget, and the budget the operator waived. */
  markBudget(agent: string, mark: { overBudget: boolean; waivedBudget?: string | null }): Promise<AgentUsage>;
  close(): Promise<void>;
}

/** Separate from MessageStore (not every backend needs tasks); SqliteMessageStore implements both. */
export interface TaskStore {
  /** Idempotent on taskId: an existing task is returned with `created: false`, whatever its fields. */
  createTask(input: TaskCreateInput): Promise<{ task: Task; created: boolean }>;
  getTask(taskId: string): Promise<Task | null>;
  listTasks(filter?: TaskFilter): Promise<Task[]>;
  /** New attempt with its message: state queued, attempts + 1. A repeat with the same message id changes nothing. */
  startTaskAttempt(taskId: string, messageId: string): Promise<Task>;
  /** queued -> running: the attempt's message reached the agent at `startedAt`. */
  markTaskRunning(taskId: string, timing: { startedAt: number; deadlineAt: number }): Promise<Task>;
  /** running -> queued: the message was requeued (session ended) before the agent finished. */
  markTaskWaiting(taskId: string): Promise<Task>;
  /** queued|running -> retrying until `retryAt`. */
  markTaskRetrying(taskId: string, retry: { error: string; retryAt: number }): Promise<Task>;
  markTaskDone(taskId: string, done: { result: string | null }): Promise<Task>;
  markTaskFailed(taskId: string, failed: { error: string }): Promise<Task>;
  /** Running tasks whose deadline passed. */
  tasksDueForTimeout(now: number): Promise<Task[]>;
  /** Retrying tasks whose backoff ended. */
  tasksDueForRetry(now: number): Promise<Task[]>;
  /** Per agent, tasks in each state; only these agents' when named (an engine's own: a Redis node's share). */
  taskCounts(agents?: readonly string[]): Promise<Map<string, Record<TaskState, number>>>;
}

/**
 * The task workers' tasks (seed 003). Every change is one guarded write: a run ends once (the end
 * names its run id and applies only while that run is out), so an engine that repeats an end after
 * a crash changes nothing the second time.
 */
export interface WorkerTaskStore {
  /** Idempotent on taskId: an existing task is returned with `created: false`, whatever its fields. */
  createWorkerTask(input: WorkerTaskInput): Promise<{ task: WorkerTask; created: boolean }>;
  getWorkerTask(taskId: string): Promise<WorkerTask | null>;
  listWorkerTasks(filter?: WorkerTaskFilter): Promise<WorkerTask[]>;
  /** queued|retrying -> running with this run (attempts + 1). Repeating the same run id changes nothing. */
  startWorkerRun(taskId: string, run: { runId: string; startedAt: number; deadlineAt: number }): Promise<WorkerTask>;
  /**
   * Ends the run `runId` (it must be the one out): records the attempt and moves on as `end` says.
   * A claimed run ends only with its lease (holder and token): `stale_fence` once another claim
   * took the task over, or the operator's requeue dropped the lease.
   */
  endWorkerRun(taskId: string, runId: string, end: AttemptEnd, lease?: WorkerLeaseRef): Promise<WorkerTask>;
  /**
   * One atomic step for `holder` (an engine): first every running task of `worker` whose lease
   * lapsed is leased to it (orphans), then up to `limit` due tasks (queued, or retrying whose backoff
   * ended; highest priority, then oldest, then smallest id) start as new runs leased to it for
   * `leaseMs`. Two engines claiming at once never get the same task.
   */
  claimWorkerRuns(worker: string, claim: WorkerClaimRequest): Promise<WorkerClaim>;
  /**
   * Extends the leases `holder` holds; returns the task ids whose lease it no longer holds (taken
   * over, requeued, pruned): their runs must stop without recording an end.
   */
  renewWorkerLeases(holder: string, leases: readonly WorkerLeaseRef[], leaseMs: number): Promise<string[]>;
  /** An open task -> cancelled (its run, if any, is stopped by the engine that sees it). */
  cancelWorkerTask(taskId: string, reason: string): Promise<WorkerTask>;
  /** failed|cancelled -> queued with a fresh retry budget; the history stays. */
  requeueWorkerTask(taskId: string): Promise<WorkerTask>;
  /** Per worker, tasks in each state. */
  workerTaskCounts(): Promise<Map<string, Record<WorkerTaskState, number>>>;
  /** Each worker's breaker as last saved (workers never saved are absent: closed, version 0). */
  workerBreakers(): Promise<Map<string, SavedBreaker>>;
  /** Replaces the breaker whatever it was (an operator's reset; engines use swapWorkerBreaker). */
  saveWorkerBreaker(worker: string, breaker: SavedBreaker): Promise<void>;
  /**
   * One atomic breaker transition shared by every engine: `next` is written only while the saved
   * breaker is still at `expectedVersion` (0: none saved), and gets the next version. A refused
   * swap returns what is saved now, for the caller to decide again from (worker-breaker-swap.ts).
   */
  swapWorkerBreaker(worker: string, expectedVersion: number, next: SavedBreaker): Promise<{ swapped: boolean; breaker: SavedBreaker | null }>;
}

export interface WorkerClaimRequest {
  holder: string;
  limit: number;
  leaseMs: number;
  /**
   * The breaker version the claimer decided `limit` from: if the breaker changed since (another
   * node's failure opened it, another engine took the half-open trial), no new run starts (lapsed
   * runs are still taken over). Absent: no check.
   */
  breakerVersion?: number;
  /** At most this many new runs (lapsed runs of others still take up to `limit`); absent: `limit`. */
  maxNew?: number;
}

/** The lease a run was claimed with, as its holder names it when it ends or renews the run. */
export interface WorkerLeaseRef {
  taskId: string;
  holder: string;
  token: number;
}

/** A worker's circuit breaker as the store keeps it, shared by the engines of every node. */
export interface SavedBreaker {
  state: 'closed' | 'open' | 'half_open';
  failures: number;
  openedAt: number | null;
  /** Half-open: the one trial, once an engine took it. */
  trial?: SavedBreakerTrial | null;
  /** Bumped by every write (read only; 0 or absent: never saved). */
  version?: number;
  updatedAt?: number;
}

export interface SavedBreakerTrial {
  /** The engine (lease holder) that took it. */
  holder: string;
  /** The task it runs; null between taking the trial and claiming its task. */
  taskId: string | null;
  /** When it was taken. */
  at: number;
}

export function isWorkerTaskStore(store: unknown): store is WorkerTaskStore {
  return typeof store === 'object' && store !== null && typeof (store as Partial<WorkerTaskStore>).createWorkerTask === 'function';
}

export function isTaskStore(store: unknown): store is TaskStore {
  return typeof store === 'object' && store !== null && typeof (store as Partial<TaskStore>).createTask === 'function';
}
