/**
 * Redis implementation of MessageStore and TaskStore, for teams whose agents run on several hosts.
 * Key layout: keys.ts. Write paths: scripts.ts for the hot operations (enqueue, claim, ack, release,
 * confirm: one script and one round trip each); commit.ts for the rest (read, decide in TypeScript
 * with the domain functions SQLite uses, commit all writes in one compare-and-set script, or run
 * again on a conflict).
 *
 * On a Redis Cluster (`options.cluster`) every script and MULTI stays in one slot: the project-wide
 * steps (seq, id index, duty fence) run on their own before an agent's, and an operation over several
 * agents is one atomic step per agent (ARCHITECTURE.md, "Redis Cluster").
 *
 * Time comes from `options.clock` only, never from Redis TIME: the conformance suites drive a fake
 * clock, and every host must agree with its own engine about leases and TTLs.
 */
import type { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { QueueError } from '../../errors.js';
import type { EnqueueInput, ExportedMessage, Message, MessageState, QueueEvent } from '../../domain/message.js';
import { messageStates, pendingStates, terminalStates, waitingStates } from '../../domain/message.js';
import { retryDelayMs } from '../../domain/retry.js';
import { isValidPriority, priorityBands } from '../../domain/priority.js';
import { randomId, sequentialId } from '../../util/ids.js';
import { storedAgentState, type AgentContext, type AgentContextPatch, type AgentPatch, type AgentRecord, type AgentRegistration } from '../../domain/agent.js';
import { factsOf, transition, transitionCause, type LifecycleEvent } from '../../domain/agent-lifecycle.js';
import { TransitionListeners } from '../transition-listeners.js';
import { openTaskStates, taskStates, type Task, type TaskCreateInput, type TaskFilter, type TaskState } from '../../domain/task.js';
import {
  defaultQueueLimits,
  type AckOptions,
  type DutyFence,
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
  type StoreOptions,
  type SweepOptions,
  type SweepResult,
  type StoreReachability,
  type WaitingByBand,
  type TaskStore,
  type UsageCursor,
  type UsageRecordInput,
  type AgentTransitionListener,
} from '../store.js';
import { emptyUsage, isCumulativeUsageId, mergeUsage, type AgentUsage, type UsageEntry } from '../../domain/usage.js';
import { normalizeEnqueue, queueFullError, type NormalizedEnqueue } from '../validate.js';
import { checkPruneOptions } from '../prune-options.js';
import { agentKeys, globalKeys, readyScore, type AgentKeys, type GlobalKeys } from './keys.js';
import { COMMIT_SCRIPT, Tx } from './commit.js';
import { CLAIM_SCRIPT, encodeMessage, ENQUEUE_SCRIPT, enqueueClusterScriptKeys, enqueueScriptKeys, idOf, messageScriptKeys, RESERVE_SCRIPT, SETTLE_SCRIPT, undecodable } from './scripts.js';
import { connectRedis } from './connect.js';

import { RedisWorkerTaskStore, defineWorkerTaskScripts } from './worker-task-store.js';

export { RedisConnectError, redactUrl } from './connect.js';

export interface RedisStoreOptions extends StoreOptions {
  /** redis://[:password@]host:port[/db] */
  url: string;
  /** Seed nodes of a Redis Cluster (then `url` is only named in messages). */
  cluster?: readonly string[] | null;
  /** The project: every key lives under `hornets:{<prefix>…}:`. */
  prefix: string;
  connectTimeoutMs?: number;
  /** How long an operation keeps retrying commits that lost to other writers (default 30 s). */
  conflictRetryMs?: number;
  /**
   * Redis Cluster: how long an operation waits out a slot that is moving or a master being failed
   * over (see isClusterTransient) before it fails with an io error (default 5 s).
   */
  clusterRetryMs?: number;
}

type ScriptName = 'hornetsEnqueue' | 'hornetsClaim' | 'hornetsSettle' | 'hornetsReserve';
type CommitRedis = Redis & { hornetsCommit(numKeys: number, ...args: string[]): Promise<number> } & Record<ScriptName, (numKeys: number, ...args: string[]) => Promise<string>> & {
    hornetsOverview(numKeys: number, ...keys: string[]): Promise<(string | null | string[])[]>;
    hornetsDue(numKeys: number, ...args: string[]): Promise<number[]>;
    hornetsHvals(numKeys: number, ...keys: string[]): Promise<string[][]>;
  };

/*
 * Reads of many agents at once on a single server: one command instead of one or two per agent.
 * An engine makes these on its safety-net rounds (every agent's record and counts, the leader's
 * look for lapsed leases and TTLs); per command, ioredis allocates a command object, a promise and
 * reply buffers, which on an idle node were most of what its collector had to do (see "What an
 * idle node does" in ARCHITECTURE.md). A Redis Cluster keeps the pipelines: its keys of different
 * agents live in different slots, which no script may span.
 */

/** KEYS: pairs of an agent's `agent` and `counts` keys. The record (or false) and HGETALL's flat list, per agent. */
const OVERVIEW_SCRIPT = `
local out = {}
for i = 1, #KEYS, 2 do
  out[#out + 1] = redis.call('GET', KEYS[i])
  out[#out + 1] = redis.call('HGETALL', KEYS[i + 1])
end
return out`;

/** KEYS: agents' `tasks` hashes. HVALS of each, in order. */
const HVALS_SCRIPT = `
local out = {}
for i = 1, #KEYS do out[i] = redis.call('HVALS', KEYS[i]) end
return out`;

/** KEYS: pairs of an agent's `leased` and `ttl` sets; ARGV[1]: now. The (1-based) pair numbers with something due. */
const DUE_SCRIPT = `
local out = {}
for i = 1, #KEYS, 2 do
  if #redis.call('ZRANGEBYSCORE', KEYS[i], '-inf', ARGV[1], 'LIMIT', 0, 1) > 0 or #redis.call('ZRANGEBYSCORE', KEYS[i + 1], '-inf', ARGV[1], 'LIMIT', 0, 1) > 0 then
    out[#out + 1] = (i + 1) / 2
  end
end
return out`;

const MIN_PREFIX = 4;
const PAGE = 100;

interface StoredEvent {
  id?: number;
  ts: number;
  agent: string | null;
  kind: string;
  from: string | null;
  to: string | null;
  detail: Record<string, unknown> | null;
}

interface PinBinding {
  generation: number;
  session: string;
  open: boolean;
}

/** One read of an agent for a write: its version (read first) and record. */
interface AgentSnapshot {
  keys: AgentKeys;
  ver: string | null;
  record: AgentRecord;
  pending: number;
  /** Idempotency key -> message id, for the keys asked for. */
  keyIds: Map<string, string | null>;
}

export async function openRedisStore(options: RedisStoreOptions): Promise<RedisMessageStore> {
  if (typeof options.prefix !== 'string' || !/^[A-Za-z0-9._-]{1,100}$/.test(options.prefix)) {
    throw new QueueError('invalid_input', `Redis key prefix must be 1–100 characters of A-Z a-z 0-9 . _ -, got ${JSON.stringify(options.prefix)}`);
  }
  const redis = await connectRedis(options);
  redis.defineCommand('hornetsCommit', { lua: COMMIT_SCRIPT });
  redis.defineCommand('hornetsEnqueue', { lua: ENQUEUE_SCRIPT });
  redis.defineCommand('hornetsClaim', { lua: CLAIM_SCRIPT });
  redis.defineCommand('hornetsSettle', { lua: SETTLE_SCRIPT });
  redis.defineCommand('hornetsReserve', { lua: RESERVE_SCRIPT });
  redis.defineCommand('hornetsOverview', { lua: OVERVIEW_SCRIPT });
  redis.defineCommand('hornetsDue', { lua: DUE_SCRIPT });
  redis.defineCommand('hornetsHvals', { lua: HVALS_SCRIPT });
  defineWorkerTaskScripts(redis);
  return new RedisMessageStore(redis as CommitRedis, options);
}

/**
 * Answers of a Redis Cluster while a slot moves or a failover runs, after ioredis' own retries
 * (maxRedirections) ran out: TRYAGAIN (a script's keys are split between two masters mid-migration),
 * MOVED/ASK ping-pong while the nodes disagree on a slot's owner, CLUSTERDOWN while a master is
 * failed and not yet replaced, and a closed connection to the dead master. None of them ran the
 * command but the last (the connection closed): every call the store repeats on them is safe to
 * repeat (scripts and commits carry their one-time marker, see commit.ts; the rest are reads or
 * idempotent writes).
 */
function isClusterTransient(err: unknown): boolean {
  const text = err instanceof Error ? err.message : String(err);
  return /^(?:TRYAGAIN|CLUSTERDOWN|MOVED|ASK)\b|Too many Cluster redirections|Connection is closed|Cluster isn't ready|Failed to refresh slots cache|None of startup nodes is available/.test(text);
}

function parse<T>(text: string | null | undefined): T | null {
  if (text === null || text === undefined) return null;
  return JSON.parse(text) as T;
}

function parseAgent(text: string | null | undefined): AgentRecord | null {
  const a = parse<AgentRecord>(text);
  return a === null ? null : { ...a, state: storedAgentState(a.state) };
}

const isWaiting = (s: MessageState) => (waitingStates as readonly string[]).includes(s);
const isTerminal = (s: MessageState) => (terminalStates as readonly string[]).includes(s);
const isPending = (s: MessageState) => (pendingStates as readonly string[]).includes(s);

function deliveryOrder(a: Message, b: Message): number {
  return a.agent === b.agent ? (a.priority === b.priority ? a.seq - b.seq : b.priority - a.priority) : a.agent < b.agent ? -1 : 1;
}

function unknownAgent(name: string): QueueError {
  return new QueueError('unknown_agent', `unknown agent "${name}" (agents come from hornets.json)`, { agent: name });
}

function zeroCounts(): Record<MessageState, number> {
  return Object.fromEntries(messageStates.map((s) => [s, 0])) as Record<MessageState, number>;
}

/** `<random>.<agent, base64url>`: a lease names its agent, so ack finds the keys without a lookup. */
/**
 * "<random>.<agent in hex>": the agent tells ack/fail/release which keys to look in. The shape is the
 * one hook clients carry back in X-Hornets-Ack (daemon/hook-server.ts parseAckHeader: 12 and ≤ 64
 * characters of [0-9a-z]); agent names are at most 32 characters, so at most 64 in hex.
 */
function leaseToken(agent: string): string {
  return `${randomId(12)}.${Buffer.from(agent, 'utf8').toString('hex')}`;
}

function leaseAgent(token: unknown): string | null {
  if (typeof token !== 'string') return null;
  const dot = token.indexOf('.');
  if (dot <= 0) return null;
  const hex = token.slice(dot + 1);
  if (!/^(?:[0-9a-f]{2})+$/.test(hex)) return null;
  const agent = Buffer.from(hex, 'hex').toString('utf8');
  return agent.length > 0 && Buffer.from(agent, 'utf8').toString('hex') === hex ? agent : null;
}

/** A readiness answer this fresh is reused; a PING slower than the timeout counts as unreachable. */
const PING_FRESH_MS = 1_000;
const PING_TIMEOUT_MS = 1_000;

export class RedisMessageStore implements MessageStore, TaskStore {
  readonly backend = 'redis';
  private readonly clock: () => number;
  private readonly random: () => number;
  private readonly limits: QueueLimits;
  private readonly g: GlobalKeys;
  private readonly conflictRetryMs: number;
  private readonly clusterRetryMs: number;
  /**
   * Generic (compare-and-set) writes of this process run one at a time: they would only conflict
   * with each other. The hot-path scripts are atomic on their own and are not queued behind them:
   * concurrent callers share the connection's pipeline.
   */
  private writeChain: Promise<unknown> = Promise.resolve();
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly keyCache = new Map<string, AgentKeys>();
  private closed = false;
  /** A Redis Cluster: one slot per script and MULTI (see the file comment). */
  private readonly onCluster: boolean;
  /** The task workers' tasks (issue 14), on the same connection. */
  readonly workerTasks: RedisWorkerTaskStore;
  private readonly transitions = new TransitionListeners();

  constructor(
    private readonly redis: CommitRedis,
    private readonly options: RedisStoreOptions,
  ) {
    this.clock = options.clock ?? Date.now;
    this.random = options.random ?? Math.random;
    this.limits = { ...defaultQueueLimits, ...options.limits };
    this.g = globalKeys(options.prefix);
    this.conflictRetryMs = options.conflictRetryMs ?? 30_000;
    this.clusterRetryMs = options.clusterRetryMs ?? 5_000;
    this.onCluster = redis.isCluster;
    this.workerTasks = new RedisWorkerTaskStore(redis, { prefix: options.prefix, clock: this.clock, io: (fn) => this.io(fn), onCluster: this.onCluster });
  }

  // ---------------------------------------------------------------- plumbing

  /** Key names of an agent, built once: every hot-path call needs them. */
  private k(agent: string): AgentKeys {
    let keys = this.keyCache.get(agent);
    if (!keys) {
      keys = agentKeys(this.options.prefix, agent);
      if (this.keyCache.size >= 10_000) this.keyCache.clear();
      this.keyCache.set(agent, keys);
    }
    return keys;
  }

  private assertOpen(): void {
    if (this.closed) throw new QueueError('io', `Redis store ${this.options.prefix} is closed`);
  }

  /**
   * Redis failures become QueueError('io'); ours pass through. On a Redis Cluster `fn` is run again
   * while the cluster answers that a slot is moving or failing over (isClusterTransient), for up to
   * clusterRetryMs: `fn` must be safe to repeat (everything but a generic attempt, which write()
   * repeats on a fresh Tx instead: see attemptOnce).
   */
  private async io<T>(fn: () => Promise<T>, repeat = true): Promise<T> {
    this.assertOpen();
    const deadline = Date.now() + this.clusterRetryMs;
    for (let round = 0; ; round++) {
      try {
        return await fn();
      } catch (err) {
        if (err instanceof QueueError || err instanceof ImportRollback) throw err;
        if (repeat && this.onCluster && !this.closed && isClusterTransient(err) && Date.now() < deadline) {
          await sleep(Math.min(100 * (round + 1), 500));
          continue;
        }
        throw this.ioError(err);
      }
    }
  }

  private ioError(err: unknown): QueueError {
    const text = err instanceof Error ? err.message : String(err);
    const hint = this.onCluster && isClusterTransient(err) ? ` (the Redis Cluster was moving a slot or failing over a master for longer than ${this.clusterRetryMs} ms)` : '';
    return new QueueError('io', `Redis: ${text}${hint}`, { prefix: this.options.prefix }, { cause: err });
  }

  /**
   * Runs `attempt` (read, decide, build a Tx) and commits its Tx; on a conflict runs it again.
   * `undo` entries (project-wide index entries written ahead of the commit) are removed when the
   * attempt does not commit.
   */
  private write<T>(attempt: (tx: Tx, undo: UndoList) => Promise<T>, fence?: DutyFence): Promise<T> {
    const run = async (): Promise<T> => {
      const deadline = Date.now() + this.conflictRetryMs;
      const transientDeadline = Date.now() + this.clusterRetryMs;
      for (let round = 0; ; round++) {
        const outcome = await this.attemptOnce(attempt, fence);
        if (outcome.committed) return outcome.result;
        if (outcome.transient !== undefined) {
          // The attempt's reads met a moving slot or a failover: nothing was sent; read again.
          if (Date.now() > transientDeadline) throw this.ioError(outcome.transient);
          await sleep(Math.min(100 * (round + 1), 500));
          continue;
        }
        if (Date.now() > deadline) throw new QueueError('busy', `Redis store ${this.options.prefix}: gave up after ${round + 1} conflicting attempts in ${this.conflictRetryMs} ms`);
        await sleep(Math.floor(Math.random() * Math.min(50, 2 + round * 2)));
      }
    };
    const p = this.writeChain.then(run, run);
    this.writeChain = p.catch(() => undefined);
    return p;
  }

  private async attemptOnce<T>(attempt: (tx: Tx, undo: UndoList) => Promise<T>, fence?: DutyFence): Promise<{ committed: true; result: T } | { committed: false; transient?: unknown }> {
    const tx = new Tx();
    const undo: UndoList = [];
    // Undo only when the commit surely did not happen: a commit whose reply was lost may have
    // gone through, and its messages must stay findable by id.
    let outcome: 'not-sent' | 'lost' | 'unknown' | 'committed' = 'not-sent';
    try {
      let result: T;
      try {
        // Not repeated in place: the attempt has filled this Tx; write() runs it on a fresh one.
        result = await this.io(() => attempt(tx, undo), false);
      } catch (err) {
        const cause = err instanceof QueueError && err.code === 'io' ? err.cause : null;
        if (this.onCluster && cause && isClusterTransient(cause)) return { committed: false, transient: cause };
        throw err;
      }
      if (tx.empty) {
        outcome = 'committed';
        return { committed: true, result };
      }
      tx.markOnce(randomId(16));
      if (fence && this.onCluster) {
        // The fence key is in another slot: checked in a step of its own; the commit then checks
        // and raises the duty's high-water mark in its own slot (commit.ts).
        if ((await this.io(() => this.redis.get(fence.key))) !== String(fence.token)) throw this.staleFence(fence);
        tx.fenceMark(fence.key.slice(fence.key.lastIndexOf(':') + 1), fence.token);
      } else if (fence) tx.fence(fence.key, fence.token);
      outcome = 'unknown';
      // 2: this very commit was applied already (a re-send after a lost reply): done all the same.
      const answer = await this.io(() => this.commit(tx, undo));
      if (answer === 3) {
        outcome = 'lost';
        throw this.staleFence(fence);
      }
      const ok = answer === 1 || answer === 2;
      outcome = ok ? 'committed' : 'lost';
      return ok ? { committed: true, result } : { committed: false };
    } finally {
      if ((outcome === 'not-sent' || outcome === 'lost') && undo.length > 0) await this.undo(undo);
    }
  }

  private staleFence(fence: DutyFence | undefined): QueueError {
    return new QueueError('stale_fence', `Redis store ${this.options.prefix}: a newer leader was elected (token ${fence?.token} is stale); this run of a cluster-wide duty wrote nothing`);
  }

  /**
   * Index entries still to write, then the commit script, in one round trip; on a Redis Cluster
   * the index (the project's slot) first, then the commit (the agent's).
   */
  private async commit(tx: Tx, undo: UndoList): Promise<number> {
    if (this.onCluster) {
      if (tx.tags().size > 1) throw new QueueError('io', `Redis store ${this.options.prefix}: one commit over several hash slots (${[...tx.tags()].join(', ')}) cannot run on a Redis Cluster`);
      const index = undo.filter((u) => u.kind === 'message' && u.pending);
      if (index.length > 0) {
        const m = this.redis.multi();
        for (const u of index) m.hset(this.g.ids, u.id, u.agent!).zadd(this.g.idlex, 0, u.id);
        for (const [err] of (await m.exec()) ?? []) if (err) throw err;
      }
      return Number(await this.redis.hornetsCommit(tx.keys.length, ...tx.keys, tx.payload()));
    }
    const p = this.redis.pipeline() as ReturnType<Redis['pipeline']> & { hornetsCommit(numKeys: number, ...args: string[]): unknown };
    for (const u of undo) if (u.kind === 'message' && u.pending) p.hset(this.g.ids, u.id, u.agent!).zadd(this.g.idlex, 0, u.id);
    p.hornetsCommit(tx.keys.length, ...tx.keys, tx.payload());
    const res = (await p.exec()) ?? [];
    for (const [err] of res) if (err) throw err;
    return Number(res[res.length - 1]?.[1]);
  }

  private async undo(undo: UndoList): Promise<void> {
    try {
      const m = this.redis.multi();
      for (const u of undo) {
        if (u.kind === 'message') m.hdel(this.g.ids, u.id).zrem(this.g.idlex, u.id);
        else m.hdel(this.g.taskidx, u.id);
      }
      await m.exec();
    } catch {
      // A leftover index entry points at nothing; lookups check the message itself.
    }
  }

  /** One hot-path script call (scripts.ts) with a fresh one-time marker; 'F' means: take the generic path. */
  private script(name: ScriptName, keys: (opId: string) => string[], arg: string[]): Promise<string> {
    const k = keys(randomId(16));
    const p = this.io(() => this.redis[name](k.length, ...k, ...arg));
    const settled = () => this.inflight.delete(p);
    this.inflight.add(p);
    p.then(settled, settled);
    return p;
  }

  /**
   * `idemKeys`: idempotency keys to look up in the same read (the message ids they name).
   * `fence`: the version the commit depends on: `ver` for changes to existing data, `enqver` for
   * adding messages (depth limit and key uniqueness).
   */
  private async agentSnapshot(tx: Tx, name: string, idemKeys: string[] = [], fence: 'ver' | 'enqver' = 'ver'): Promise<AgentSnapshot> {
    const keys = this.k(name);
    const m = this.redis.multi().get(keys[fence]).get(keys.agent).zcard(keys.ready).zcard(keys.leased).zcard(keys.delivered);
    if (idemKeys.length > 0) m.hmget(keys.keys, ...idemKeys);
    const res = (await m.exec()) ?? [];
    const [ver, agent, ready, leased, delivered, ids] = res.map(([err, v]) => {
      if (err) throw err;
      return v;
    }) as [string | null, string | null, number, number, number, (string | null)[] | undefined];
    const record = parseAgent(agent);
    if (!record) throw unknownAgent(name);
    tx.check(keys[fence], ver);
    const keyIds = new Map<string, string | null>(idemKeys.map((k, i) => [k, ids?.[i] ?? null]));
    return { keys, ver, record, pending: ready + leased + delivered, keyIds };
  }

  private async messages(keys: AgentKeys, ids: string[]): Promise<Message[]> {
    if (ids.length === 0) return [];
    const raw = await this.redis.hmget(keys.msgs, ...ids);
    return raw.map((r) => parse<Message>(r)).filter((m): m is Message => m !== null);
  }

  /** Writes `after` and moves its id between the state indexes (`before` null: a new message). */
  private put(tx: Tx, keys: AgentKeys, before: Message | null, after: Message): void {
    tx.op('HSET', keys.msgs, after.id, encodeMessage(after));
    if (before === null) {
      tx.op('ZADD', keys.all, after.seq, after.id);
      if (after.key !== null) tx.op('HSET', keys.keys, after.key, after.id);
    }
    if (before !== null) {
      if (before.state === after.state && !isWaiting(after.state) && after.state !== 'leased') {
        return;
      }
      if (isWaiting(before.state)) tx.op('ZREM', keys.ready, before.id).op('ZREM', keys.ttl, before.id).op('ZREM', keys.wcreated, before.id);
      else if (before.state === 'leased') tx.op('ZREM', keys.leased, before.id);
      else if (before.state === 'delivered') tx.op('ZREM', keys.delivered, before.id);
      else tx.op('ZREM', keys.done, before.id);
      tx.op('HINCRBY', keys.counts, before.state, -1);
    }
    if (isWaiting(after.state)) {
      tx.op('ZADD', keys.ready, readyScore(after.priority, after.seq), after.id).op('ZADD', keys.wcreated, after.createdAt, after.id);
      if (after.expiresAt !== null) tx.op('ZADD', keys.ttl, after.expiresAt, after.id);
    } else if (after.state === 'leased') tx.op('ZADD', keys.leased, after.leaseExpiresAt ?? 0, after.id);
    else if (after.state === 'delivered') tx.op('ZADD', keys.delivered, after.seq, after.id);
    else tx.op('ZADD', keys.done, after.updatedAt, after.id);
    tx.op('HINCRBY', keys.counts, after.state, 1);
  }

  private messageEvent(tx: Tx, keys: AgentKeys, m: Message, e: { ts: number; kind: string; from?: string | null; to?: string | null; detail?: Record<string, unknown> | null }): void {
    const ev: StoredEvent = { ts: e.ts, agent: m.agent, kind: e.kind, from: e.from ?? null, to: e.to ?? null, detail: e.detail ?? null };
    tx.op('RPUSH', keys.events(m.id), JSON.stringify(ev));
  }

  private async agentEvent(tx: Tx, agent: string | null, e: Omit<StoredEvent, 'id' | 'agent'>): Promise<void> {
    const id = await this.redis.incr(this.g.evseq);
    const ev: StoredEvent = { id, agent, ...e };
    tx.op('RPUSH', agent === null ? this.g.gev : this.k(agent).aev, JSON.stringify(ev));
  }

  private async agentNames(): Promise<string[]> {
    return (await this.redis.smembers(this.g.agents)).sort();
  }

  /** The agent of a message id (exact or a unique prefix of ≥ 4 characters) and the message. */
  private async resolve(idOrPrefix: string): Promise<Message> {
    if (typeof idOrPrefix !== 'string' || idOrPrefix.length === 0) throw new QueueError('not_found', 'no message id given');
    const exact = await this.byId(idOrPrefix);
    if (exact) return exact;
    if (idOrPrefix.length >= MIN_PREFIX) {
      const ids = await this.redis.zrangebylex(this.g.idlex, `[${idOrPrefix}`, `[${idOrPrefix}\u{10FFFF}`, 'LIMIT', 0, 6);
      const found = (await Promise.all(ids.map((id) => this.byId(id)))).filter((m): m is Message => m !== null);
      if (found.length === 1) return found[0]!;
      if (found.length > 1) {
        throw new QueueError('ambiguous_id', `message id prefix "${idOrPrefix}" matches several messages (${found.map((m) => m.id).join(', ')}); give more characters`);
      }
    }
    throw new QueueError('not_found', `no message with id "${idOrPrefix}"`, { id: idOrPrefix });
  }

  private async byId(id: string): Promise<Message | null> {
    const agent = await this.redis.hget(this.g.ids, id);
    if (agent === null) return null;
    return parse<Message>(await this.redis.hget(this.k(agent).msgs, id));
  }

  // ---------------------------------------------------------------- agents

  async registerAgents(agents: AgentRegistration[]): Promise<void> {
    for (const a of agents) {
      await this.io(() => this.redis.sadd(this.g.agents, a.name));
      await this.write(async (tx) => {
        const now = this.clock();
        const keys = this.k(a.name);
        const [ver, raw] = await this.redis
          .multi()
          .get(keys.ver)
          .get(keys.agent)
          .exec()
          .then((r) => (r ?? []).map(([, v]) => v as string | null));
        tx.check(keys.ver, ver ?? null);
        const existing = parseAgent(raw);
        if (existing) {
          const maxDepth = a.maxDepth ?? null;
          if (existing.profile === a.profile && existing.maxDepth === maxDepth) return;
          tx.op('SET', keys.agent, JSON.stringify({ ...existing, profile: a.profile, maxDepth, updatedAt: now }));
          return;
        }
        const record: AgentRecord = {
          name: a.name,
          profile: a.profile,
          state: 'unknown',
          paneId: null,
          sessionId: null,
          generation: 0,
          restartCount: 0,
          lastRestart: null,
          lastError: null,
          contextPreserved: false,
          paused: false,
          maxDepth: a.maxDepth ?? null,
          lastEventAt: null,
          stopBlocks: 0,
          createdAt: now,
          updatedAt: now,
        };
        tx.op('SET', keys.agent, JSON.stringify(record));
        await this.agentEvent(tx, a.name, { ts: now, kind: 'agent_registered', from: null, to: null, detail: { profile: a.profile } });
      });
    }
  }

  async listAgents(): Promise<AgentRecord[]> {
    return this.io(async () => {
      const names = await this.agentNames();
      if (names.length === 0) return [];
      // One slot per agent on a Redis Cluster: no MULTI over them.
      if (this.onCluster) return (await Promise.all(names.map((n) => this.redis.get(this.k(n).agent)))).map((v) => parseAgent(v)).filter((a): a is AgentRecord => a !== null);
      const m = this.redis.multi();
      for (const n of names) m.get(this.k(n).agent);
      const res = (await m.exec()) ?? [];
      return res.map(([, v]) => parseAgent(v as string | null)).filter((a): a is AgentRecord => a !== null);
    });
  }

  async getAgent(name: string): Promise<AgentRecord | null> {
    return this.io(async () => parseAgent(await this.redis.get(this.k(name).agent)));
  }

  async updateAgent(name: string, patch: AgentPatch): Promise<AgentRecord> {
    return this.write(async (tx) => {
      const now = this.clock();
      const a = await this.agentSnapshot(tx, name);
      const after = applyPatch(a.record, patch, now);
      tx.op('SET', a.keys.agent, JSON.stringify(after));
      return after;
    });
  }

  onAgentTransition(listener: AgentTransitionListener): () => void {
    return this.transitions.add(listener);
  }

  async transitionAgent(name: string, event: LifecycleEvent, extra: Omit<AgentPatch, 'lastError'> = {}): Promise<AgentTransition> {
    const t = await this.write(async (tx) => {
      const now = this.clock();
      const a = await this.agentSnapshot(tx, name);
      const before = a.record;
      const next = transition(factsOf(before), event);
      const { lastError: _ignored, ...fields } = extra as AgentPatch;
      const after: AgentRecord = { ...applyPatch(before, { ...fields, ...(next.lastError !== before.lastError ? { lastError: next.lastError } : {}) }, now), state: next.state, paused: next.paused };
      tx.op('SET', a.keys.agent, JSON.stringify(after));
      if (next.state !== before.state) {
        await this.agentEvent(tx, name, { ts: now, kind: 'agent_state', from: before.state, to: next.state, detail: { on: transitionCause(event) } });
      }
      if (next.paused !== before.paused) await this.agentEvent(tx, name, { ts: now, kind: next.paused ? 'agent_paused' : 'agent_resumed', from: null, to: null, detail: null });
      return { before, after, changed: next.state !== before.state };
    });
    this.transitions.tell(name, t, transitionCause(event));
    return t;
  }

  async publish(channel: string, message: string): Promise<number> {
    // On a Cluster the bus listens with sharded pub/sub (src/cluster/bus.ts): a plain PUBLISH would
    // report only the listeners of the node it reached.
    return this.io(async () => (this.redis.isCluster ? Number(await this.redis.spublish(channel, message)) : this.redis.publish(channel, message)));
  }

  async getAgentContext(agent: string): Promise<AgentContext | null> {
    return this.io(async () => parse<AgentContext>(await this.redis.get(this.k(agent).ctx)));
  }

  async saveAgentContext(agent: string, patch: AgentContextPatch): Promise<AgentContext> {
    return this.write(async (tx) => {
      const now = this.clock();
      const a = await this.agentSnapshot(tx, agent);
      const existing = parse<AgentContext>(await this.redis.get(a.keys.ctx));
      const merged: AgentContext = {
        agent,
        lastBriefing: patch.lastBriefing !== undefined ? patch.lastBriefing : (existing?.lastBriefing ?? null),
        briefingContent: patch.briefingContent !== undefined ? patch.briefingContent : (existing?.briefingContent ?? null),
        activitySummary: patch.activitySummary !== undefined ? patch.activitySummary : (existing?.activitySummary ?? null),
        checkpointData: patch.checkpointData !== undefined ? patch.checkpointData : (existing?.checkpointData ?? null),
        createdAt: existing?.createdAt ?? now,
        updatedAt: now,
      };
      tx.op('SET', a.keys.ctx, JSON.stringify(merged));
      return merged;
    });
  }

  // ---------------------------------------------------------------- enqueue

  async enqueue(input: EnqueueInput): Promise<EnqueueResult> {
    const n = normalizeEnqueue(input, this.limits);
    if (this.onCluster) return (await this.enqueueCluster([n]))[0]!;
    return (await this.enqueueFast([n]))?.[0] ?? this.write(async (tx, undo) => (await this.insertAll(tx, undo, [n]))[0]!);
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
    if (normalized.length === 0) return [];
    if (this.onCluster) return this.enqueueCluster(normalized);
    // Several agents in one batch: one commit over several slots, on the generic path.
    const oneAgent = normalized.every((n) => n.agent === normalized[0]!.agent);
    return (oneAgent ? await this.enqueueFast(normalized) : null) ?? this.write((tx, undo) => this.insertAll(tx, undo, normalized));
  }

  /**
   * Redis Cluster: seqs and ids taken and indexed in the project's slot first (RESERVE_SCRIPT), then
   * one ENQUEUE_SCRIPT per agent with them. A batch over several agents is checked for every agent
   * first (unknown agent, depth), so only a race can make one agent's step fail after another's was
   * written; each agent's step is atomic. Ids indexed for nothing written are removed again when
   * that is known (never after a lost reply: the step may have been written).
   */
  private async enqueueCluster(inputs: NormalizedEnqueue[]): Promise<EnqueueResult[]> {
    const groups = new Map<string, number[]>();
    for (const [i, n] of inputs.entries()) groups.set(n.agent, [...(groups.get(n.agent) ?? []), i]);
    if (groups.size > 1) await this.io(() => this.checkBatch(inputs, groups));
    const suffixes = inputs.map(() => randomId(4));
    const reserveArgs = inputs.flatMap((n, i) => [suffixes[i]!, n.agent]);
    const base = Number(await this.io(() => this.redis.hornetsReserve(3, this.g.seq, this.g.ids, this.g.idlex, ...reserveArgs)));
    const unused = new Set(inputs.map((_, i) => idOf(base + i + 1, suffixes[i]!)));
    const out: EnqueueResult[] = [];
    try {
      const settled = await Promise.allSettled(
        [...groups.values()].map(async (idx) => {
          const group = idx.map((i) => inputs[i]!);
          let res: EnqueueResult[] | null = null;
          try {
            res = await this.enqueueFast(group, { seqs: idx.map((i) => base + i + 1), suffixes: idx.map((i) => suffixes[i]!) });
          } catch (err) {
            // Reply lost: the step may have been written, its ids stay indexed.
            if (err instanceof QueueError && err.code === 'io') for (const i of idx) unused.delete(idOf(base + i + 1, suffixes[i]!));
            throw err;
          }
          res ??= await this.write((tx, undo) => this.insertAll(tx, undo, group));
          for (const [j, i] of idx.entries()) {
            out[i] = res[j]!;
            if (res[j]!.created) unused.delete(res[j]!.message.id);
          }
        }),
      );
      const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      return out;
    } finally {
      if (unused.size > 0) await this.undo([...unused].map((id) => ({ kind: 'message', id })));
    }
  }

  /** Before a Cluster batch writes anything: every agent known, every queue with room (as the script checks). */
  private async checkBatch(inputs: NormalizedEnqueue[], groups: Map<string, number[]>): Promise<void> {
    const reads = await Promise.all(
      [...groups].map(async ([agent, idx]) => {
        const keys = this.k(agent);
        const wanted = [...new Set(idx.map((i) => inputs[i]!.key).filter((k): k is string => k !== null))];
        const [raw, counts, taken] = await Promise.all([
          this.redis.get(keys.agent),
          this.redis.hmget(keys.counts, ...pendingStates),
          wanted.length > 0 ? this.redis.hmget(keys.keys, ...wanted) : Promise.resolve([] as (string | null)[]),
        ]);
        // New messages: those without a key, and one per key not taken yet.
        const fresh = idx.filter((i) => inputs[i]!.key === null).length + wanted.filter((_, j) => taken[j] === null).length;
        return { agent, record: parseAgent(raw), pending: counts.reduce((sum, c) => sum + Number(c ?? 0), 0), fresh };
      }),
    );
    for (const r of reads) if (!r.record) throw unknownAgent(r.agent);
    for (const r of reads) {
      const limit = r.record!.maxDepth ?? this.limits.maxDepth;
      if (r.pending + r.fresh > limit) throw queueFullError(r.agent, Math.max(r.pending, limit), limit);
    }
  }

  /**
   * Inputs for one agent in one script call (ENQUEUE_SCRIPT); null: take the generic path.
   * `reserved`: on a Redis Cluster, the seqs and id suffixes RESERVE_SCRIPT took for them.
   */
  private async enqueueFast(inputs: NormalizedEnqueue[], reserved?: { seqs: number[]; suffixes: string[] }): Promise<EnqueueResult[] | null> {
    const agent = inputs[0]!.agent;
    if (inputs.some((n) => n.key !== null && undecodable.test(n.key))) return null;
    const now = this.clock();
    const enqueued: StoredEvent = { ts: now, agent, kind: 'enqueued', from: null, to: 'queued', detail: null };
    const args = [agent, String(this.limits.maxDepth), JSON.stringify(enqueued), String(now)];
    const drafts = inputs.map((n, i) => {
      const draft = queuedDraft(n, now);
      args.push(n.key ?? '', reserved?.suffixes[i] ?? randomId(4), String(n.priority), draft.expiresAt === null ? '' : String(draft.expiresAt), encodeMessage(draft));
      return draft;
    });
    if (reserved) args.push(...reserved.seqs.map(String));
    const answer = await this.script('hornetsEnqueue', (op) => (reserved ? enqueueClusterScriptKeys(this.k(agent), op) : enqueueScriptKeys(this.k(agent), this.g, op)), args);
    if (answer === 'F') return null;
    if (answer === 'U') throw unknownAgent(agent);
    if (answer.startsWith('Q')) {
      const [pending, limit] = answer.slice(1).split(':').map(Number);
      throw queueFullError(agent, pending!, limit!);
    }
    const out: EnqueueResult[] = [];
    for (const [i, entry] of (JSON.parse(answer) as (['n', string, number] | ['o', Message] | ['d', number])[]).entries()) {
      if (entry[0] === 'n') out.push({ message: { id: entry[1], seq: entry[2], ...drafts[i]! }, created: true });
      else if (entry[0] === 'o') out.push({ message: entry[1], created: false });
      else out.push({ message: out[entry[1]]!.message, created: false });
    }
    return out;
  }

  /** One commit for all inputs (several agents: several versions in the same commit). */
  private async insertAll(tx: Tx, undo: UndoList, inputs: NormalizedEnqueue[]): Promise<EnqueueResult[]> {
    const now = this.clock();
    const idemKeys = new Map<string, string[]>();
    for (const n of inputs) {
      const list = idemKeys.get(n.agent) ?? [];
      if (n.key !== null) list.push(n.key);
      idemKeys.set(n.agent, list);
    }
    // One round trip: every agent's snapshot with its key lookups, and the seqs (taken for all
    // inputs at once; a lost commit or a repeated key leaves a gap, never a reused id).
    const [snapshots, top] = await Promise.all([Promise.all([...idemKeys].map(([name, list]) => this.agentSnapshot(tx, name, list, 'enqver'))), this.redis.incrby(this.g.seq, inputs.length)]);
    const agents = new Map(snapshots.map((a) => [a.record.name, a]));
    const keysTaken = new Map<string, Message>();
    const out: EnqueueResult[] = [];
    let seq = top - inputs.length;
    for (const n of inputs) {
      const a = agents.get(n.agent)!;
      if (n.key !== null) {
        const taken = keysTaken.get(`${n.agent}\0${n.key}`);
        if (taken) {
          out.push({ message: taken, created: false });
          continue;
        }
        const id = a.keyIds.get(n.key) ?? null;
        const existing = id === null ? null : parse<Message>(await this.redis.hget(a.keys.msgs, id));
        if (existing) {
          out.push({ message: existing, created: false });
          continue;
        }
      }
      const limit = a.record.maxDepth ?? this.limits.maxDepth;
      if (a.pending >= limit) throw queueFullError(n.agent, a.pending, limit);
      seq++;
      const m: Message = { id: sequentialId(seq), seq, ...queuedDraft(n, now) };
      a.pending++;
      if (n.key !== null) keysTaken.set(`${n.agent}\0${n.key}`, m);
      this.put(tx, a.keys, null, m);
      this.messageEvent(tx, a.keys, m, { ts: now, kind: 'enqueued', to: 'queued' });
      out.push({ message: m, created: true });
    }
    await this.indexIds(
      undo,
      out.filter((r) => r.created).map((r) => r.message),
    );
    return out;
  }

  /**
   * The project-wide id index (another slot): written just ahead of the commit, in the same
   * pipeline, and removed again if the commit is lost.
   */
  private indexIds(undo: UndoList, msgs: Message[]): void {
    for (const msg of msgs) undo.push({ kind: 'message', id: msg.id, agent: msg.agent, pending: true });
  }

  // ---------------------------------------------------------------- delivery

  /** Lease reclaim then TTL expiry for one agent, into `tx`. */
  private async housekeep(tx: Tx, keys: AgentKeys, now: number): Promise<{ result: SweepResult; reclaimed: Message[] }> {
    const [lapsed, expiring] = await Promise.all([
      this.messages(keys, await this.redis.zrangebyscore(keys.leased, '-inf', now)),
      this.messages(keys, await this.redis.zrangebyscore(keys.ttl, '-inf', now)),
    ]);
    return this.housekeepWith(tx, keys, now, lapsed, expiring);
  }

  /** `lapsed`: leased messages whose lease ran out by `now`; `expiring`: waiting ones whose TTL did. */
  private housekeepWith(tx: Tx, keys: AgentKeys, now: number, lapsed: Message[], expiring: Message[]): { result: SweepResult; reclaimed: Message[] } {
    const result: SweepResult = { expired: 0, leasesReclaimed: 0, dead: 0 };
    const reclaimed: Message[] = [];
    const gone = new Set<string>();
    for (const r of lapsed) {
      if (r.state !== 'leased') continue;
      const error = `lease expired (held by ${r.leaseOwner ?? 'unknown'}, attempt ${r.attempts}/${r.maxAttempts})`;
      const ttlPassed = r.expiresAt !== null && r.expiresAt <= now;
      const dead = !ttlPassed && r.attempts >= r.maxAttempts;
      const state: MessageState = ttlPassed ? 'expired' : dead ? 'dead' : 'failed';
      // A lapsed lease may have been written out by its holder before it died, so the next
      // hand-over is marked as a possible repeat.
      const after: Message = {
        ...r,
        state,
        lastError: error,
        deadReason: dead ? `${error}; no attempts left` : r.deadReason,
        leaseToken: null,
        leaseOwner: null,
        leaseExpiresAt: null,
        availableAt: now,
        redeliveries: r.redeliveries + 1,
        updatedAt: now,
      };
      this.put(tx, keys, r, after);
      this.messageEvent(tx, keys, r, { ts: now, kind: 'lease_expired', from: 'leased', to: state, detail: { owner: r.leaseOwner, attempt: r.attempts } });
      result.leasesReclaimed++;
      if (dead) result.dead++;
      if (ttlPassed) result.expired++;
      if (state === 'failed') reclaimed.push(after);
      gone.add(r.id);
    }
    for (const r of expiring) {
      if (!isWaiting(r.state) || gone.has(r.id)) continue;
      this.put(tx, keys, r, { ...r, state: 'expired', updatedAt: now });
      this.messageEvent(tx, keys, r, { ts: now, kind: 'expired', from: r.state, to: 'expired', detail: { expiresAt: r.expiresAt } });
      result.expired++;
    }
    return { result, reclaimed };
  }

  async claim(agentName: string, options: ClaimOptions): Promise<Message[]> {
    const limit = options.limit ?? 1;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new QueueError('invalid_input', `claim limit must be 1–1000, got ${limit}`);
    if (!Number.isFinite(options.leaseMs) || options.leaseMs <= 0) throw new QueueError('invalid_input', `lease must be a positive duration, got ${options.leaseMs}`);
    return (await this.claimFast(agentName, options, limit)) ?? this.claimGeneric(agentName, options, limit);
  }

  /** One CLAIM_SCRIPT call; null: take the generic path. */
  private async claimFast(agent: string, options: ClaimOptions, limit: number): Promise<Message[] | null> {
    const session = options.sessionId ?? null;
    if (undecodable.test(options.owner) || (session !== null && undecodable.test(session))) return null;
    const now = this.clock();
    const arg = { agent, now, until: now + options.leaseMs, limit, owner: options.owner, ignorePause: options.ignorePause === true, token: leaseToken(agent), leaseMs: options.leaseMs, page: PAGE };
    const answer = await this.script('hornetsClaim', (op) => messageScriptKeys(this.k(agent), op), [JSON.stringify(session === null ? arg : { ...arg, session })]);
    if (answer === 'F') return null;
    if (answer === 'U') throw unknownAgent(agent);
    return JSON.parse(answer) as Message[];
  }

  private claimGeneric(agentName: string, options: ClaimOptions, limit: number): Promise<Message[]> {
    const keys = this.k(agentName);
    return this.write(async (tx) => {
      const now = this.clock();
      // One round trip for everything a claim usually needs, one more for the messages.
      const res =
        (await this.redis
          .multi()
          .get(keys.ver)
          .get(keys.agent)
          .zrangebyscore(keys.leased, '-inf', now)
          .zrangebyscore(keys.ttl, '-inf', now)
          .zrange(keys.ready, 0, PAGE - 1)
          .exec()) ?? [];
      const [ver, raw, lapsedIds, expiringIds, firstPage] = res.map(([err, v]) => {
        if (err) throw err;
        return v;
      }) as [string | null, string | null, string[], string[], string[]];
      const record = parseAgent(raw);
      if (!record) throw unknownAgent(agentName);
      tx.check(keys.ver, ver);
      const byId = new Map((await this.messages(keys, [...new Set([...lapsedIds, ...expiringIds, ...firstPage])])).map((m) => [m.id, m]));
      const pick = (ids: string[]) => ids.map((id) => byId.get(id)).filter((m): m is Message => m !== undefined);
      const { reclaimed } = this.housekeepWith(tx, keys, now, pick(lapsedIds), pick(expiringIds));
      if (record.paused && !options.ignorePause) return [];
      const eligible = (m: Message) => isWaiting(m.state) && m.availableAt <= now && (m.expiresAt === null || m.expiresAt > now);
      const candidates: Message[] = reclaimed.filter(eligible);
      const seen = new Set(candidates.map((m) => m.id));
      // Further pages only when messages waiting for their backoff fill the first one.
      let ids = firstPage;
      let page = pick(ids);
      for (let start = 0; ;) {
        for (const m of page) {
          if (!eligible(m) || seen.has(m.id)) continue;
          candidates.push(m);
          seen.add(m.id);
        }
        if (ids.length < PAGE || candidates.length >= limit) break;
        start += PAGE;
        ids = await this.redis.zrange(keys.ready, start, start + PAGE - 1);
        page = await this.messages(keys, ids);
      }
      candidates.sort((x, y) => readyScore(x.priority, x.seq) - readyScore(y.priority, y.seq));
      const chosen = candidates.slice(0, limit);
      if (chosen.length === 0) return [];
      const until = now + options.leaseMs;
      const token = leaseToken(agentName);
      return chosen.map((c) => {
        const after: Message = {
          ...c,
          state: 'leased',
          attempts: c.attempts + 1,
          leaseToken: token,
          leaseOwner: options.owner,
          leaseExpiresAt: until,
          sessionId: options.sessionId ?? c.sessionId,
          updatedAt: now,
        };
        // A reclaimed lease was already moved to failed in this Tx: index from there.
        this.put(tx, keys, c, after);
        this.messageEvent(tx, keys, c, { ts: now, kind: 'claimed', from: c.state, to: 'leased', detail: { owner: options.owner, attempt: after.attempts, leaseMs: options.leaseMs } });
        return after;
      });
    });
  }

  /** Messages still validly held by this lease, optionally narrowed to ids. */
  private async leased(tx: Tx, ref: LeaseRef, now: number): Promise<{ keys: AgentKeys; rows: Message[] } | null> {
    const agent = leaseAgent(ref.leaseToken);
    if (agent === null || (ref.agent !== undefined && ref.agent !== agent)) return null;
    const keys = this.k(agent);
    const res = (await this.redis.multi().get(keys.ver).zrangebyscore(keys.leased, `(${now}`, '+inf').exec()) ?? [];
    const [ver, ids] = res.map(([err, v]) => {
      if (err) throw err;
      return v;
    }) as [string | null, string[]];
    tx.check(keys.ver, ver);
    const wanted = ref.ids ? new Set(ref.ids) : null;
    const rows = (await this.messages(keys, ids)).filter((r) => r.state === 'leased' && r.leaseToken === ref.leaseToken && (r.leaseExpiresAt ?? 0) > now && (!wanted || wanted.has(r.id)));
    return { keys, rows };
  }

  /**
   * One SETTLE_SCRIPT call for the messages of a lease (ack, release) or the delivered ones of an
   * agent (confirm); null: take the generic path.
   */
  private async settleFast(
    mode: 'ack' | 'release' | 'confirm',
    agent: string | null,
    fields: { token?: string; ids?: string[] | undefined; session?: string | null | undefined },
  ): Promise<number | null> {
    if (agent === null) return 0;
    const session = fields.session ?? null;
    if ((fields.ids ?? []).some((id) => typeof id !== 'string' || undecodable.test(id)) || (session !== null && undecodable.test(session))) return null;
    const arg = {
      mode,
      now: this.clock(),
      ...(fields.token === undefined ? {} : { token: fields.token }),
      ...(fields.ids === undefined ? {} : { ids: fields.ids }),
      ...(session === null ? {} : { session }),
    };
    const answer = await this.script('hornetsSettle', (op) => messageScriptKeys(this.k(agent), op), [JSON.stringify(arg)]);
    return answer === 'F' ? null : Number(answer);
  }

  /** The agent a lease token names, if the caller may act on it. */
  private leaseOf(ref: LeaseRef): string | null {
    const agent = leaseAgent(ref.leaseToken);
    return agent === null || (ref.agent !== undefined && ref.agent !== agent) ? null : agent;
  }

  async ack(options: AckOptions): Promise<number> {
    return (await this.settleFast('ack', this.leaseOf(options), { token: options.leaseToken, ids: options.ids, session: options.sessionId })) ?? this.ackGeneric(options);
  }

  private ackGeneric(options: AckOptions): Promise<number> {
    return this.write(async (tx) => {
      const now = this.clock();
      const l = await this.leased(tx, options, now);
      if (!l) return 0;
      for (const r of l.rows) {
        const after: Message = { ...r, state: 'delivered', deliveredAt: now, sessionId: options.sessionId ?? r.sessionId, leaseToken: null, leaseOwner: null, leaseExpiresAt: null, updatedAt: now };
        this.put(tx, l.keys, r, after);
        this.messageEvent(tx, l.keys, r, { ts: now, kind: 'delivered', from: 'leased', to: 'delivered', detail: { owner: r.leaseOwner, session: options.sessionId ?? r.sessionId } });
      }
      return l.rows.length;
    });
  }

  async fail(options: FailOptions): Promise<number> {
    const error = String(options.error ?? 'unknown error').slice(0, 2000);
    return this.write(async (tx) => {
      const now = this.clock();
      const l = await this.leased(tx, options, now);
      if (!l) return 0;
      for (const r of l.rows) {
        const dead = options.retryable === false || r.attempts >= r.maxAttempts;
        const reason = options.retryable === false ? `rejected as not retryable: ${error}` : `failed ${r.attempts}/${r.maxAttempts} attempts; last error: ${error}`;
        const delay = dead ? 0 : retryDelayMs(r.attempts, { baseMs: this.limits.backoffBaseMs, maxMs: this.limits.backoffMaxMs }, this.random);
        const after: Message = {
          ...r,
          state: dead ? 'dead' : 'failed',
          lastError: error,
          deadReason: dead ? reason : null,
          availableAt: now + delay,
          leaseToken: null,
          leaseOwner: null,
          leaseExpiresAt: null,
          updatedAt: now,
        };
        this.put(tx, l.keys, r, after);
        this.messageEvent(tx, l.keys, r, { ts: now, kind: 'failed', from: 'leased', to: after.state, detail: { error, attempt: r.attempts, retryInMs: dead ? null : delay } });
      }
      return l.rows.length;
    });
  }

  async release(options: LeaseRef): Promise<number> {
    return (await this.settleFast('release', this.leaseOf(options), { token: options.leaseToken, ids: options.ids })) ?? this.releaseGeneric(options);
  }

  private releaseGeneric(options: LeaseRef): Promise<number> {
    return this.write(async (tx) => {
      const now = this.clock();
      const l = await this.leased(tx, options, now);
      if (!l) return 0;
      for (const r of l.rows) {
        const after: Message = { ...r, state: 'queued', attempts: Math.max(0, r.attempts - 1), leaseToken: null, leaseOwner: null, leaseExpiresAt: null, updatedAt: now };
        this.put(tx, l.keys, r, after);
        this.messageEvent(tx, l.keys, r, { ts: now, kind: 'released', from: 'leased', to: 'queued' });
      }
      return l.rows.length;
    });
  }

  private async deliveredRows(tx: Tx, agent: string, sessionId: string | null, ids?: string[]): Promise<{ keys: AgentKeys; rows: Message[] }> {
    const keys = this.k(agent);
    tx.check(keys.ver, await this.redis.get(keys.ver));
    const wanted = ids ? new Set(ids) : null;
    const rows = (await this.messages(keys, await this.redis.zrange(keys.delivered, 0, -1))).filter(
      (r) => r.state === 'delivered' && (sessionId === null || r.sessionId === sessionId) && (!wanted || wanted.has(r.id)),
    );
    return { keys, rows };
  }

  async confirm(agent: string, options: { sessionId?: string | null; ids?: string[] } = {}): Promise<number> {
    return (await this.settleFast('confirm', agent, { ids: options.ids, session: options.sessionId })) ?? this.confirmGeneric(agent, options);
  }

  private confirmGeneric(agent: string, options: { sessionId?: string | null; ids?: string[] }): Promise<number> {
    return this.write(async (tx) => {
      const now = this.clock();
      const { keys, rows } = await this.deliveredRows(tx, agent, options.sessionId ?? null, options.ids);
      for (const r of rows) {
        this.put(tx, keys, r, { ...r, state: 'confirmed', confirmedAt: now, updatedAt: now });
        this.messageEvent(tx, keys, r, { ts: now, kind: 'confirmed', from: 'delivered', to: 'confirmed', detail: { session: r.sessionId } });
      }
      return rows.length;
    });
  }

  async requeueUnconfirmed(agent: string, options: { sessionId?: string | null; reason: string }): Promise<number> {
    return this.write(async (tx) => {
      const now = this.clock();
      const { keys, rows } = await this.deliveredRows(tx, agent, options.sessionId ?? null);
      for (const r of rows) {
        const dead = r.attempts >= r.maxAttempts;
        const after: Message = {
          ...r,
          state: dead ? 'dead' : 'queued',
          redeliveries: r.redeliveries + 1,
          lastError: `redelivery: ${options.reason}`,
          deadReason: dead ? `delivered ${r.attempts} times without confirmation; last: ${options.reason}` : null,
          availableAt: now,
          deliveredAt: null,
          updatedAt: now,
        };
        this.put(tx, keys, r, after);
        this.messageEvent(tx, keys, r, { ts: now, kind: 'requeued', from: 'delivered', to: after.state, detail: { reason: options.reason, session: r.sessionId } });
      }
      return rows.length;
    });
  }

  // ---------------------------------------------------------------- usage (issue 17)

  /** The usage keys' fence and totals, after making sure the agent is registered. */
  private async usageSnapshot(tx: Tx, agent: string): Promise<{ keys: AgentKeys; usage: AgentUsage }> {
    const keys = this.k(agent);
    const [ver, record, usage] = await Promise.all([this.redis.get(keys.usagever), this.redis.get(keys.agent), this.redis.get(keys.usage)]);
    if (!parseAgent(record)) throw unknownAgent(agent);
    tx.check(keys.usagever, ver);
    return { keys, usage: parse<AgentUsage>(usage) ?? emptyUsage(agent) };
  }

  async recordUsage(agent: string, input: UsageRecordInput): Promise<AgentUsage> {
    return this.write(async (tx) => {
      const { keys, usage } = await this.usageSnapshot(tx, agent);
      const ids = [...new Set(input.entries.map((e) => e.messageId))];
      const seen = new Map<string, UsageEntry>();
      if (ids.length > 0) {
        const raw = await this.redis.hmget(keys.usagemsg, ...ids);
        raw.forEach((r, i) => {
          const e = parse<UsageEntry>(r);
          if (e) seen.set(ids[i]!, e);
        });
      }
      const now = this.clock();
      const pruned = input.fromStart ? Number((await this.redis.get(keys.usagepruned)) ?? NaN) : NaN;
      const { totals, upserts } = mergeUsage(usage, seen, input.entries, now, { fromStart: input.fromStart === true, prunedBefore: Number.isFinite(pruned) ? pruned : null });
      for (const u of upserts) tx.op('HSET', keys.usagemsg, u.messageId, JSON.stringify({ ...u, seenAt: now }));
      if (upserts.length > 0) tx.op('SET', keys.usage, JSON.stringify(totals));
      if (input.cursor) tx.op('HSET', keys.usagecur, input.cursor.file, JSON.stringify(input.cursor));
      return totals;
    });
  }

  async usageCursor(agent: string, file: string): Promise<UsageCursor | null> {
    return this.io(async () => parse<UsageCursor>(await this.redis.hget(this.k(agent).usagecur, file)));
  }

  async agentUsage(agents?: readonly string[]): Promise<AgentUsage[]> {
    return this.io(async () => {
      const registered = await this.agentNames();
      const names = (agents ?? registered).filter((n) => registered.includes(n));
      if (names.length === 0) return [];
      const out: AgentUsage[] = [];
      const results = await this.perAgentPipeline(names, (p, n) => p.get(this.k(n).usage));
      results.forEach(([err, raw], i) => {
        if (err) throw err;
        out.push(parse<AgentUsage>(raw as string | null) ?? emptyUsage(names[i]!));
      });
      return out;
    });
  }

  async markBudget(agent: string, mark: { overBudget: boolean; waivedBudget?: string | null }): Promise<AgentUsage> {
    return this.write(async (tx) => {
      const { keys, usage } = await this.usageSnapshot(tx, agent);
      const next = { ...usage, overBudget: mark.overBudget, ...(mark.waivedBudget !== undefined ? { waivedBudget: mark.waivedBudget } : {}) };
      tx.op('SET', keys.usage, JSON.stringify(next));
      return next;
    });
  }

  async pinSession(agent: string, pin: SessionPin): Promise<SessionPinVerdict> {
    return this.write(async (tx) => {
      const keys = this.k(agent);
      tx.check(keys.ver, await this.redis.get(keys.ver));
      let bound: PinBinding | null = null;
      try {
        bound = parse<PinBinding>(await this.redis.get(keys.pin));
      } catch {
        // A damaged value binds anew, as if none were there.
      }
      const save = (v: PinBinding) => tx.op('SET', keys.pin, JSON.stringify(v));
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

  // ---------------------------------------------------------------- inspection

  async get(idOrPrefix: string): Promise<Message> {
    return this.io(() => this.resolve(idOrPrefix));
  }

  private async allMessages(agent?: string): Promise<Message[]> {
    const names = agent === undefined ? await this.agentNames() : [agent];
    const out: Message[] = [];
    for (const n of names) {
      for (const v of await this.redis.hvals(this.k(n).msgs)) out.push(JSON.parse(v) as Message);
    }
    return out;
  }

  async list(filter: MessageFilter = {}): Promise<Message[]> {
    for (const st of filter.states ?? [])
      if (!(messageStates as readonly string[]).includes(st)) throw new QueueError('invalid_input', `unknown message state "${st}" (one of ${messageStates.join(', ')})`);
    const limit = Math.max(1, Math.min(filter.limit ?? 1000, 100_000));
    return this.io(async () => {
      const states = filter.states && filter.states.length > 0 ? new Set<string>(filter.states) : null;
      const rows = (await this.allMessages(filter.agent)).filter((m) => !states || states.has(m.state));
      rows.sort(filter.order === 'recent' ? (a, b) => b.seq - a.seq : deliveryOrder);
      return rows.slice(0, limit);
    });
  }

  async stats(): Promise<QueueStats> {
    return this.io(async () => {
      const names = await this.agentNames();
      const totals = zeroCounts();
      const agents: AgentQueueStats[] = [];
      // Every agent's reads in one flight (ioredis pipelines what is sent together): the engine asks
      // for this on every delivery pass, and one round trip per agent made it grow with the team.
      const reads = await Promise.all(names.map((n) => Promise.all([this.redis.hgetall(this.k(n).counts), this.redis.zrange(this.k(n).wcreated, 0, 0, 'WITHSCORES')])));
      for (const [i, n] of names.entries()) {
        const [counts, oldest] = reads[i]!;
        const s: AgentQueueStats = { agent: n, counts: zeroCounts(), pending: 0, oldestWaitingAt: oldest.length === 2 ? Number(oldest[1]) : null };
        for (const st of messageStates) {
          const c = Number(counts[st] ?? 0);
          s.counts[st] = c;
          totals[st] += c;
          if (isPending(st)) s.pending += c;
        }
        agents.push(s);
      }
      return { agents, totals };
    });
  }

  /**
   * The same reads for each of `names` in one flight: one pipeline on a single server; on a Redis
   * Cluster, whose pipelines must stay within one node's slots, one pipeline per agent (its keys
   * share a hash tag), all sent at once. Replies in the order of `names`, then of `add`'s calls.
   */
  private async perAgentPipeline(names: readonly string[], add: (p: ReturnType<Redis['pipeline']>, name: string) => void): Promise<[Error | null, unknown][]> {
    if (!this.onCluster) {
      const p = this.redis.pipeline();
      for (const n of names) add(p, n);
      return (await p.exec()) ?? [];
    }
    const each = await Promise.all(
      names.map(async (n) => {
        const p = this.redis.pipeline();
        add(p, n);
        return (await p.exec()) ?? [];
      }),
    );
    return each.flat();
  }

  async agentRecords(agents: readonly string[]): Promise<AgentRecord[]> {
    return this.io(async () => {
      if (agents.length === 0) return [];
      const out: AgentRecord[] = [];
      if (!this.onCluster) {
        // One MGET: the same values as a GET each, in one command.
        for (const raw of await this.redis.mget(agents.map((n) => this.k(n).agent))) {
          const record = parseAgent(raw);
          if (record) out.push(record);
        }
        return out;
      }
      for (const [err, raw] of await this.perAgentPipeline(agents, (p, n) => p.get(this.k(n).agent))) {
        if (err) throw err;
        const record = parseAgent(raw as string | null);
        if (record) out.push(record);
      }
      return out;
    });
  }

  /** agentOverview on a single server: every agent's record and counts in one script call. */
  private async overviewOnOneServer(agents: readonly string[]): Promise<AgentOverview[]> {
    const keys = agents.flatMap((n) => [this.k(n).agent, this.k(n).counts]);
    const res = await this.redis.hornetsOverview(keys.length, ...keys);
    const out: AgentOverview[] = [];
    for (let i = 0; i + 1 < res.length; i += 2) {
      const record = parseAgent(res[i] as string | null);
      if (!record) continue;
      const flat = res[i + 1] as string[];
      const counts = zeroCounts();
      for (let j = 0; j + 1 < flat.length; j += 2) if (Object.hasOwn(counts, flat[j]!)) counts[flat[j] as MessageState] = Number(flat[j + 1]);
      out.push({ record, counts });
    }
    return out;
  }

  async agentOverview(agents: readonly string[]): Promise<AgentOverview[]> {
    return this.io(async () => {
      if (agents.length === 0) return [];
      // One pipeline (one write to the socket, one round trip), and no listing of the team first:
      // the names are the caller's. Engines ask for this on every pass and every heartbeat.
      if (!this.onCluster) return this.overviewOnOneServer(agents);
      const res = await this.perAgentPipeline(agents, (p, n) => p.get(this.k(n).agent).hgetall(this.k(n).counts));
      const out: AgentOverview[] = [];
      for (let i = 0; i + 1 < res.length; i += 2) {
        const [[e1, raw], [e2, stored]] = [res[i]!, res[i + 1]!] as [[Error | null, string | null], [Error | null, Record<string, string>]];
        if (e1 || e2) throw e1 ?? e2;
        const record = parseAgent(raw);
        if (!record) continue;
        const counts = zeroCounts();
        for (const st of messageStates) counts[st] = Number(stored[st] ?? 0);
        out.push({ record, counts });
      }
      return out;
    });
  }

  async explainContext(idOrPrefix: string): Promise<ExplainContext> {
    const now = this.clock();
    return this.io(async () => {
      const message = await this.resolve(idOrPrefix);
      const keys = this.k(message.agent);
      const agent = parseAgent(await this.redis.get(keys.agent));
      const rank = isWaiting(message.state) ? await this.redis.zrank(keys.ready, message.id) : null;
      return { message, agent, ahead: rank ?? 0, now };
    });
  }

  async events(filter: { messageId?: string; agent?: string; limit?: number; kinds?: string[] }): Promise<QueueEvent[]> {
    const limit = Math.max(1, Math.min(filter.limit ?? 1000, 100_000));
    return this.io(async () => {
      const agentLevel = async (agents: (string | null)[]): Promise<QueueEvent[]> => {
        const out: QueueEvent[] = [];
        for (const a of agents) {
          const raw = await this.redis.lrange(a === null ? this.g.gev : this.k(a).aev, 0, -1);
          for (const r of raw) out.push(toEvent(JSON.parse(r) as StoredEvent, null, 0));
        }
        return out.sort((x, y) => x.id - y.id);
      };
      if (filter.kinds && filter.kinds.length > 0) {
        const kinds = new Set(filter.kinds);
        const agents = filter.agent === undefined ? [null, ...(await this.agentNames())] : [filter.agent];
        return (await agentLevel(agents)).filter((e) => kinds.has(e.kind)).slice(-limit);
      }
      if (filter.messageId !== undefined) {
        const m = await this.resolve(filter.messageId);
        return (await this.messageEvents(m)).slice(0, limit);
      }
      if (filter.agent === undefined) return (await agentLevel([null, ...(await this.agentNames())])).slice(-limit);
      // Merge agent-level and message events by time; ties keep agent events first, then message order.
      const agentEvents = (await agentLevel([filter.agent])).slice(-limit);
      const keys = this.k(filter.agent);
      const recent = (await this.redis.zrevrange(keys.all, 0, limit - 1)).reverse();
      // Every message's history in one flight, not one round trip after another.
      const messageEvents = (await Promise.all((await this.messages(keys, recent)).map((m) => this.messageEvents(m)))).flat();
      return [...agentEvents, ...messageEvents].sort((a, b) => a.ts - b.ts).slice(-limit);
    });
  }

  private async messageEvents(m: Message): Promise<QueueEvent[]> {
    const raw = await this.redis.lrange(this.k(m.agent).events(m.id), 0, -1);
    return raw.map((r, i) => toEvent(JSON.parse(r) as StoredEvent, m.id, i + 1));
  }

  async recordEvent(event: RecordEventInput): Promise<void> {
    const m = event.messageId ? await this.get(event.messageId) : null;
    await this.write(async (tx) => {
      const now = this.clock();
      const e = { ts: now, kind: event.kind, from: event.fromState ?? null, to: event.toState ?? null, detail: event.detail ?? null };
      if (m) {
        const keys = this.k(m.agent);
        tx.check(keys.ver, await this.redis.get(keys.ver));
        tx.op('RPUSH', keys.events(m.id), JSON.stringify({ ...e, agent: event.agent ?? null } satisfies StoredEvent));
        return;
      }
      const agent = event.agent ?? null;
      if (agent !== null) {
        const keys = this.k(agent);
        tx.check(keys.ver, await this.redis.get(keys.ver));
      }
      await this.agentEvent(tx, agent, e);
    });
  }

  // ---------------------------------------------------------------- operator actions

  /** Messages by id for a write: each agent's version is read before its messages. */
  private async forWrite(tx: Tx, ids: string[]): Promise<Message[]> {
    const first = await Promise.all(ids.map((id) => this.resolve(id)));
    for (const m of first) tx.check(this.k(m.agent).ver, await this.redis.get(this.k(m.agent).ver));
    // Read again after the versions: what the commit is fenced on.
    return Promise.all(first.map(async (m) => (await this.byId(m.id)) ?? m));
  }

  /**
   * An operation on messages by id: one commit; on a Redis Cluster one commit per agent, after a
   * dry run over all of them (the same checks, nothing written), so what the single commit would
   * refuse is refused before any agent's step. `attempt` answers one entry per id it was given.
   */
  private async byAgent<T>(ids: string[], attempt: (ids: string[]) => (tx: Tx, undo: UndoList) => Promise<T[]>): Promise<T[]> {
    if (!this.onCluster) return this.write(attempt(ids));
    const agents = await this.io(() => Promise.all(ids.map(async (id) => (await this.resolve(id)).agent)));
    const groups = new Map<string, number[]>();
    for (const [i, a] of agents.entries()) groups.set(a, [...(groups.get(a) ?? []), i]);
    if (groups.size <= 1) return this.write(attempt(ids));
    await this.io(() => attempt(ids)(new Tx(), []));
    const out: T[] = [];
    for (const idx of groups.values()) {
      const res = await this.write(attempt(idx.map((i) => ids[i]!)));
      for (const [j, i] of idx.entries()) out[i] = res[j]!;
    }
    return out;
  }

  async cancel(ids: string[], reason = 'cancelled by user'): Promise<Message[]> {
    return this.byAgent(ids, (ids) => async (tx) => {
      const now = this.clock();
      const rows = await this.forWrite(tx, ids);
      for (const r of rows) {
        if (isTerminal(r.state)) throw new QueueError('invalid_state', `message ${r.id} is already ${r.state}; only pending messages can be cancelled`, { id: r.id, state: r.state });
      }
      return rows.map((r) => {
        const after: Message = { ...r, state: 'cancelled', lastError: reason, leaseToken: null, leaseOwner: null, leaseExpiresAt: null, updatedAt: now };
        this.put(tx, this.k(r.agent), r, after);
        this.messageEvent(tx, this.k(r.agent), r, { ts: now, kind: 'cancelled', from: r.state, to: 'cancelled', detail: { reason } });
        return after;
      });
    });
  }

  async retry(ids: string[]): Promise<Message[]> {
    const retryable = new Set(['dead', 'failed', 'expired', 'cancelled']);
    return this.byAgent(ids, (ids) => async (tx) => {
      const now = this.clock();
      const rows = await this.forWrite(tx, ids);
      for (const r of rows) {
        if (!retryable.has(r.state)) {
          throw new QueueError('invalid_state', `message ${r.id} is ${r.state}; only dead, failed, expired or cancelled messages can be retried`, { id: r.id, state: r.state });
        }
      }
      const depth = new Map<string, { pending: number; limit: number }>();
      const out: Message[] = [];
      for (const r of rows) {
        if (r.state !== 'failed') {
          let d = depth.get(r.agent);
          if (!d) {
            const a = await this.agentSnapshot(tx, r.agent, [], 'enqver');
            d = { pending: a.pending, limit: a.record.maxDepth ?? this.limits.maxDepth };
            depth.set(r.agent, d);
          }
          if (d.pending >= d.limit) throw queueFullError(r.agent, d.pending, d.limit);
          d.pending++;
        }
        const after: Message = {
          ...r,
          state: 'queued',
          attempts: 0,
          availableAt: now,
          deadReason: null,
          leaseToken: null,
          leaseOwner: null,
          leaseExpiresAt: null,
          expiresAt: r.expiresAt !== null && r.expiresAt <= now ? null : r.expiresAt,
          updatedAt: now,
        };
        this.put(tx, this.k(r.agent), r, after);
        this.messageEvent(tx, this.k(r.agent), r, { ts: now, kind: 'retried', from: r.state, to: 'queued' });
        out.push(after);
      }
      return out;
    });
  }

  async exportPending(filter: { agent?: string } = {}): Promise<ExportedMessage[]> {
    return this.io(async () => {
      const rows = (await this.allMessages(filter.agent)).filter((m) => isPending(m.state)).sort(deliveryOrder);
      return rows.map(toExported);
    });
  }

  async importMessages(records: ImportRecord[], options: { partial?: boolean } = {}): Promise<ImportResult> {
    const agents = new Set(records.map((r) => r.message.agent));
    if (!this.onCluster || agents.size <= 1) return this.importSome(records, options);
    // Redis Cluster: a dry run over every record decides what the single commit would (the whole
    // import rejected, or not); then one commit per agent, each checking its records again.
    try {
      await this.io(() => this.importAttempt(records, options)(new Tx(), []));
    } catch (err) {
      if (err instanceof ImportRollback) return { ...err.result, imported: 0 };
      throw err;
    }
    const total: ImportResult = { imported: 0, skipped: [], rejected: [] };
    for (const agent of agents) {
      const r = await this.importSome(
        records.filter((x) => x.message.agent === agent),
        options,
      );
      total.imported += r.imported;
      total.skipped.push(...r.skipped);
      total.rejected.push(...r.rejected);
    }
    const byLine = (a: { line: number }, b: { line: number }) => a.line - b.line;
    total.skipped.sort(byLine);
    total.rejected.sort(byLine);
    return total;
  }

  private async importSome(records: ImportRecord[], options: { partial?: boolean }): Promise<ImportResult> {
    try {
      return await this.write(this.importAttempt(records, options));
    } catch (err) {
      if (err instanceof ImportRollback) return { ...err.result, imported: 0 };
      throw err;
    }
  }

  private importAttempt(records: ImportRecord[], options: { partial?: boolean }): (tx: Tx, undo: UndoList) => Promise<ImportResult> {
    return async (tx, undo) => {
      const now = this.clock();
      const result: ImportResult = { imported: 0, skipped: [], rejected: [] };
      const agents = new Map<string, AgentSnapshot | null>();
      const keyLines = new Map<string, number>();
      const idsSeen = new Set<string>();
      const accepted: { m: ExportedMessage; line: number; a: AgentSnapshot }[] = [];
      for (const { line, message: m } of records) {
        const reject = (message: string) => result.rejected.push({ line, id: m.id, message });
        let a = agents.get(m.agent);
        if (a === undefined) {
          a = await this.agentSnapshot(tx, m.agent, [], 'enqver').catch((err: unknown) => {
            if (err instanceof QueueError && err.code === 'unknown_agent') return null;
            throw err;
          });
          agents.set(m.agent, a);
        }
        if (!a) {
          reject(`unknown agent "${m.agent}"`);
          continue;
        }
        if (idsSeen.has(m.id) || (await this.byId(m.id))) {
          result.skipped.push({ line, id: m.id, message: 'already present' });
          continue;
        }
        const first = m.key === null ? undefined : keyLines.get(`${m.agent}\0${m.key}`);
        if (m.key !== null && (first !== undefined || (await this.redis.hexists(a.keys.keys, m.key)))) {
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
        const depthLimit = a.record.maxDepth ?? this.limits.maxDepth;
        if (a.pending >= depthLimit) {
          reject(`queue for ${m.agent} is full (limit ${depthLimit})`);
          continue;
        }
        a.pending++;
        idsSeen.add(m.id);
        if (m.key !== null) keyLines.set(`${m.agent}\0${m.key}`, line);
        accepted.push({ m, line, a });
      }
      if (result.rejected.length > 0 && !options.partial) throw new ImportRollback(result);
      if (accepted.length === 0) return result;
      const top = await this.redis.incrby(this.g.seq, accepted.length);
      let seq = top - accepted.length;
      const created: Message[] = [];
      for (const { m, line, a } of accepted) {
        seq++;
        const msg: Message = {
          id: m.id,
          seq,
          agent: m.agent,
          priority: m.priority,
          body: m.body,
          sender: m.sender,
          key: m.key,
          state: 'queued',
          attempts: m.attempts,
          maxAttempts: m.maxAttempts,
          availableAt: now,
          expiresAt: m.expiresAt,
          leaseToken: null,
          leaseOwner: null,
          leaseExpiresAt: null,
          sessionId: null,
          deliveredAt: null,
          confirmedAt: null,
          redeliveries: m.redeliveries,
          lastError: null,
          deadReason: null,
          createdAt: m.createdAt,
          updatedAt: now,
          meta: m.meta ?? null,
        };
        this.put(tx, a.keys, null, msg);
        this.messageEvent(tx, a.keys, msg, { ts: now, kind: 'imported', to: 'queued', detail: { line } });
        created.push(msg);
        result.imported++;
      }
      this.indexIds(undo, created);
      return result;
    };
  }

  // ---------------------------------------------------------------- tasks

  private async taskFor(tx: Tx, taskId: string): Promise<{ keys: AgentKeys; task: Task }> {
    const agent = await this.redis.hget(this.g.taskidx, taskId);
    if (agent !== null) {
      const keys = this.k(agent);
      tx.check(keys.ver, await this.redis.get(keys.ver));
      const task = parse<Task>(await this.redis.hget(keys.tasks, taskId));
      if (task) return { keys, task };
    }
    throw new QueueError('not_found', `no task with id "${taskId}"`, { taskId });
  }

  /** One guarded transition: throws invalid_state unless the task is in one of `from`. */
  private taskTransition(
    taskId: string,
    from: readonly TaskState[],
    kind: string,
    apply: (task: Task, now: number) => Partial<Task>,
    detail: Record<string, unknown> = {},
    unchangedIf?: (task: Task) => boolean,
  ): Promise<Task> {
    return this.write(async (tx) => {
      const now = this.clock();
      const { keys, task } = await this.taskFor(tx, taskId);
      if (unchangedIf?.(task)) return task;
      if (!from.includes(task.state)) throw new QueueError('invalid_state', `task ${taskId} is ${task.state}; expected ${from.join(' or ')}`, { taskId, state: task.state });
      const after: Task = { ...task, ...apply(task, now), updatedAt: now };
      tx.op('HSET', keys.tasks, taskId, JSON.stringify(after));
      await this.agentEvent(tx, task.agent, { ts: now, kind, from: task.state, to: after.state, detail: { task_id: taskId, attempts: after.attempts, ...detail } });
      return after;
    });
  }

  async createTask(input: TaskCreateInput): Promise<{ task: Task; created: boolean }> {
    if (typeof input.taskId !== 'string' || input.taskId.length === 0) throw new QueueError('invalid_input', 'task has no task_id');
    if (typeof input.description !== 'string' || input.description.trim().length === 0) throw new QueueError('empty_body', `task ${input.taskId} has an empty description`);
    if (!isValidPriority(input.priority)) throw new QueueError('invalid_priority', `invalid priority ${String(input.priority)} for task ${input.taskId}`);
    if (!Number.isFinite(input.timeoutMs) || input.timeoutMs <= 0) throw new QueueError('invalid_input', `task ${input.taskId}: timeout must be positive`);
    if (!Number.isInteger(input.maxRetries) || input.maxRetries < 0) throw new QueueError('invalid_input', `task ${input.taskId}: max_retries must be a whole number ≥ 0`);
    return this.write(async (tx, undo) => {
      const now = this.clock();
      const existing = await this.getTask(input.taskId);
      if (existing) return { task: existing, created: false };
      const a = await this.agentSnapshot(tx, input.agent);
      // The id index lives in another slot: written ahead of the commit, removed again if the commit
      // is lost. An entry that names no task (a process died in between) is overwritten here; two
      // creators of the same id for the same agent are fenced by the agent's version.
      if ((await this.redis.hsetnx(this.g.taskidx, input.taskId, input.agent)) === 1) undo.push({ kind: 'task', id: input.taskId });
      else await this.redis.hset(this.g.taskidx, input.taskId, input.agent);
      const task: Task = {
        taskId: input.taskId,
        agent: input.agent,
        description: input.description,
        priority: input.priority,
        timeoutMs: Math.round(input.timeoutMs),
        maxRetries: input.maxRetries,
        from: input.from ?? null,
        state: 'queued',
        attempts: 0,
        messageId: null,
        startedAt: null,
        deadlineAt: null,
        retryAt: null,
        result: null,
        lastError: null,
        source: input.source ?? null,
        createdAt: now,
        updatedAt: now,
        completedAt: null,
      };
      tx.op('HSET', a.keys.tasks, task.taskId, JSON.stringify(task));
      await this.agentEvent(tx, input.agent, { ts: now, kind: 'task_created', from: null, to: 'queued', detail: { task_id: input.taskId, from: input.from ?? null } });
      return { task, created: true };
    });
  }

  async getTask(taskId: string): Promise<Task | null> {
    return this.io(async () => {
      const agent = await this.redis.hget(this.g.taskidx, taskId);
      return agent === null ? null : parse<Task>(await this.redis.hget(this.k(agent).tasks, taskId));
    });
  }

  /** The tasks of `agents` (one name, several, or the whole team), every agent's in one flight. */
  private async allTasks(agents?: string | readonly string[]): Promise<Task[]> {
    const names = agents === undefined ? await this.agentNames() : typeof agents === 'string' ? [agents] : agents;
    if (names.length === 0) return [];
    const out: Task[] = [];
    if (!this.onCluster) {
      const keys = names.map((n) => this.k(n).tasks);
      for (const values of await this.redis.hornetsHvals(keys.length, ...keys)) for (const v of values) out.push(JSON.parse(v) as Task);
      return out;
    }
    for (const [err, values] of await this.perAgentPipeline(names, (p, n) => p.hvals(this.k(n).tasks))) {
      if (err) throw err;
      for (const v of values as string[]) out.push(JSON.parse(v) as Task);
    }
    return out;
  }

  async listTasks(filter: TaskFilter = {}): Promise<Task[]> {
    for (const st of filter.states ?? []) if (!(taskStates as readonly string[]).includes(st)) throw new QueueError('invalid_input', `unknown task state "${st}" (one of ${taskStates.join(', ')})`);
    const limit = Math.max(1, Math.min(filter.limit ?? 1000, 100_000));
    return this.io(async () => {
      const states = filter.states && filter.states.length > 0 ? new Set<string>(filter.states) : null;
      const rows = (await this.allTasks(filter.agent)).filter((t) => !states || states.has(t.state));
      rows.sort((a, b) => a.createdAt - b.createdAt || (a.taskId < b.taskId ? -1 : a.taskId > b.taskId ? 1 : 0));
      return rows.slice(0, limit);
    });
  }

  async startTaskAttempt(taskId: string, messageId: string): Promise<Task> {
    return this.taskTransition(
      taskId,
      ['queued', 'retrying'],
      'task_attempt',
      (t) => ({ state: 'queued', attempts: t.attempts + 1, messageId, startedAt: null, deadlineAt: null, retryAt: null }),
      { message_id: messageId },
      // Repeating the same attempt (a crash between enqueue and this call) changes nothing.
      (t) => t.messageId === messageId,
    );
  }

  async markTaskRunning(taskId: string, timing: { startedAt: number; deadlineAt: number }): Promise<Task> {
    return this.taskTransition(taskId, ['queued'], 'task_running', () => ({ state: 'running', startedAt: timing.startedAt, deadlineAt: timing.deadlineAt }));
  }

  async markTaskWaiting(taskId: string): Promise<Task> {
    return this.taskTransition(taskId, ['running'], 'task_waiting', () => ({ state: 'queued', startedAt: null, deadlineAt: null }));
  }

  async markTaskRetrying(taskId: string, retry: { error: string; retryAt: number }): Promise<Task> {
    const error = String(retry.error).slice(0, 2000);
    return this.taskTransition(taskId, ['queued', 'running'], 'task_retrying', () => ({ state: 'retrying', retryAt: retry.retryAt, deadlineAt: null, lastError: error }), {
      error,
      retryAt: retry.retryAt,
    });
  }

  async markTaskDone(taskId: string, done: { result: string | null }): Promise<Task> {
    return this.taskTransition(taskId, openTaskStates, 'task_completed', (_t, now) => ({ state: 'completed', result: done.result, completedAt: now, deadlineAt: null, retryAt: null }));
  }

  async markTaskFailed(taskId: string, failed: { error: string }): Promise<Task> {
    const error = String(failed.error).slice(0, 2000);
    return this.taskTransition(taskId, openTaskStates, 'task_failed', (_t, now) => ({ state: 'failed', lastError: error, completedAt: now, deadlineAt: null, retryAt: null }), { error });
  }

  async tasksDueForTimeout(now: number): Promise<Task[]> {
    return this.io(async () => (await this.allTasks()).filter((t) => t.state === 'running' && t.deadlineAt !== null && t.deadlineAt <= now).sort((a, b) => (a.deadlineAt ?? 0) - (b.deadlineAt ?? 0)));
  }

  async tasksDueForRetry(now: number): Promise<Task[]> {
    return this.io(async () => (await this.allTasks()).filter((t) => t.state === 'retrying' && t.retryAt !== null && t.retryAt <= now).sort((a, b) => (a.retryAt ?? 0) - (b.retryAt ?? 0)));
  }

  async taskCounts(agents?: readonly string[]): Promise<Map<string, Record<TaskState, number>>> {
    return this.io(async () => {
      const out = new Map<string, Record<TaskState, number>>();
      for (const t of await this.allTasks(agents)) {
        let c = out.get(t.agent);
        if (!c) {
          c = Object.fromEntries(taskStates.map((st) => [st, 0])) as Record<TaskState, number>;
          out.set(t.agent, c);
        }
        c[t.state]++;
      }
      return out;
    });
  }

  // ---------------------------------------------------------------- housekeeping

  async sweep(options: SweepOptions = {}): Promise<SweepResult> {
    const total: SweepResult = { expired: 0, leasesReclaimed: 0, dead: 0 };
    for (const name of await this.io(() => this.agentsWithSomethingDue())) {
      const r = await this.write(async (tx) => {
        const keys = this.k(name);
        tx.check(keys.ver, await this.redis.get(keys.ver));
        return (await this.housekeep(tx, keys, this.clock())).result;
      }, options.fence);
      total.expired += r.expired;
      total.leasesReclaimed += r.leasesReclaimed;
      total.dead += r.dead;
    }
    return total;
  }

  /**
   * The agents with a lapsed lease or a passed TTL now, found in one flight: most sweeps find none,
   * and a write per agent (its version, then its leases, one agent after another) made an idle
   * leader's sweep most of its calls to Redis. One found due is looked at again inside its write.
   */
  private async agentsWithSomethingDue(): Promise<string[]> {
    const names = await this.agentNames();
    if (names.length === 0) return [];
    const now = this.clock();
    if (!this.onCluster) {
      const keys = names.flatMap((n) => [this.k(n).leased, this.k(n).ttl]);
      return (await this.redis.hornetsDue(keys.length, ...keys, String(now))).map((i) => names[i - 1]!);
    }
    const res = await this.perAgentPipeline(names, (p, n) => p.zrangebyscore(this.k(n).leased, '-inf', now, 'LIMIT', 0, 1).zrangebyscore(this.k(n).ttl, '-inf', now, 'LIMIT', 0, 1));
    return names.filter((_, i) =>
      [res[2 * i], res[2 * i + 1]].some((r) => {
        if (r?.[0]) throw r[0];
        return ((r?.[1] as string[] | undefined) ?? []).length > 0;
      }),
    );
  }

  /** Retention, one commit per agent and batch: finished messages, finished tasks, old agent events. */
  async prune(options: PruneOptions): Promise<PruneResult> {
    const { olderThanMs, batchSize } = checkPruneOptions(options);
    this.assertOpen();
    const started = Date.now();
    const cutoff = this.clock() - olderThanMs;
    const result: PruneResult = { cutoff, messages: 0, events: 0, tasks: 0, agentEvents: 0, usageMessages: 0, reclaimedBytes: null, ms: 0, longestBatchMs: 0 };
    const timed = async <T>(fn: () => Promise<T>): Promise<T> => {
      const t = Date.now();
      try {
        return await fn();
      } finally {
        result.longestBatchMs = Math.max(result.longestBatchMs, Date.now() - t);
      }
    };
    const names = await this.io(() => this.agentNames());
    // The task watcher still reads the message of an open task.
    const keep = new Set((await this.io(() => this.allTasks())).filter((t) => openTaskStates.includes(t.state) && t.messageId !== null).map((t) => t.messageId!));
    for (const name of names) {
      const keys = this.k(name);
      let offset = 0;
      for (;;) {
        if (options.signal?.aborted) break;
        const batch = await timed(() =>
          this.write(async (tx) => {
            tx.check(keys.ver, await this.redis.get(keys.ver));
            const ids = await this.redis.zrangebyscore(keys.done, '-inf', `(${cutoff}`, 'LIMIT', offset, batchSize);
            const removed: string[] = [];
            let events = 0;
            for (const m of await this.messages(keys, ids)) {
              if (keep.has(m.id) || !isTerminal(m.state) || m.updatedAt >= cutoff) continue;
              events += await this.redis.llen(keys.events(m.id));
              tx.op('HDEL', keys.msgs, m.id).op('ZREM', keys.done, m.id).op('ZREM', keys.all, m.id).op('DEL', keys.events(m.id)).op('HINCRBY', keys.counts, m.state, -1);
              if (m.key !== null && (await this.redis.hget(keys.keys, m.key)) === m.id) tx.op('HDEL', keys.keys, m.key);
              removed.push(m.id);
            }
            return { seen: ids.length, kept: ids.length - removed.length, removed, events };
          }, options.fence),
        );
        if (batch.removed.length > 0) {
          await this.io(() =>
            this.redis
              .multi()
              .hdel(this.g.ids, ...batch.removed)
              .zrem(this.g.idlex, ...batch.removed)
              .exec(),
          );
        }
        result.messages += batch.removed.length;
        result.events += batch.events;
        offset += batch.kept;
        if (batch.seen < batchSize) break;
      }
      // Tasks and agent events of this agent.
      const tasks = await timed(() =>
        this.write(async (tx) => {
          tx.check(keys.ver, await this.redis.get(keys.ver));
          const done = (await this.allTasks(name)).filter((t) => (t.state === 'completed' || t.state === 'failed') && t.completedAt !== null && t.completedAt < cutoff);
          for (const t of done) tx.op('HDEL', keys.tasks, t.taskId);
          return done.map((t) => t.taskId);
        }, options.fence),
      );
      if (tasks.length > 0) await this.io(() => this.redis.hdel(this.g.taskidx, ...tasks));
      result.tasks += tasks.length;
      result.agentEvents += await timed(() => this.pruneAgentEvents(keys.aev, keys.ver, cutoff, options.fence));
      if (!options.signal?.aborted) result.usageMessages += await timed(() => this.pruneUsageMessages(keys, cutoff, options.fence));
    }
    result.agentEvents += await timed(() => this.pruneAgentEvents(this.g.gev, null, cutoff, options.fence));
    // Task workers' ended tasks count as tasks (their results stay in results/<worker>/).
    const workerTasks = await this.workerTasks.prune(cutoff, batchSize, options.fence, options.signal);
    if (workerTasks.stale) throw this.staleFence(options.fence);
    result.tasks += workerTasks.removed;
    result.ms = Date.now() - started;
    return result;
  }

  /**
   * Per-message usage rows last met before the cutoff, with usagepruned moved up in the same commit
   * (domain/usage.ts UsageGuard); cumulative ids (Codex sessions) stay. A row stored before rows
   * carried seenAt is stamped now instead: it is pruned once not met for the age.
   */
  private pruneUsageMessages(keys: AgentKeys, cutoff: number, fence?: DutyFence): Promise<number> {
    return this.write(async (tx) => {
      tx.check(keys.usagever, await this.redis.get(keys.usagever));
      const rows = await this.redis.hgetall(keys.usagemsg);
      const now = this.clock();
      const gone: string[] = [];
      for (const [id, raw] of Object.entries(rows)) {
        if (isCumulativeUsageId(id)) continue;
        const row = parse<UsageEntry & { seenAt?: number }>(raw);
        if (typeof row?.seenAt !== 'number') tx.op('HSET', keys.usagemsg, id, JSON.stringify({ ...row, seenAt: now }));
        else if (row.seenAt < cutoff) gone.push(id);
      }
      if (gone.length > 0) {
        const before = Number((await this.redis.get(keys.usagepruned)) ?? 0);
        tx.op('HDEL', keys.usagemsg, ...gone).op('SET', keys.usagepruned, String(Math.max(Number.isFinite(before) ? before : 0, cutoff)));
      }
      return gone.length;
    }, fence);
  }

  /** Agent events are appended in time order: the old ones are a head of the list. */
  private pruneAgentEvents(list: string, ver: string | null, cutoff: number, fence?: DutyFence): Promise<number> {
    return this.write(async (tx) => {
      if (ver !== null) tx.check(ver, await this.redis.get(ver));
      const raw = await this.redis.lrange(list, 0, -1);
      let n = 0;
      while (n < raw.length && (JSON.parse(raw[n]!) as StoredEvent).ts < cutoff) n++;
      if (n > 0) tx.op('LTRIM', list, n, -1);
      return n;
    }, fence);
  }

  /** Changes with every commit to any agent (each bumps that agent's `ver`); one MGET per call. */
  async dataVersion(): Promise<string> {
    return this.io(async () => {
      const names = await this.agentNames();
      if (names.length === 0) return '0';
      const vers = this.onCluster
        ? (await Promise.all(names.map((n) => this.redis.mget(this.k(n).ver, this.k(n).enqver)))).flat()
        : await this.redis.mget(...names.flatMap((n) => [this.k(n).ver, this.k(n).enqver]));
      return names.map((n, i) => `${n}:${vers[2 * i] ?? 0}.${vers[2 * i + 1] ?? 0}`).join(',');
    });
  }

  async checkWritable(): Promise<void> {
    await this.io(() => this.redis.set(this.g.writable, String(this.clock())));
  }

  async waitingByBand(): Promise<WaitingByBand[]> {
    return this.io(async () => {
      const names = await this.agentNames();
      // The ready zset is scored (200 - priority) * 2^44 + seq: a band is one score range.
      const range = (min: number, max: number): [string, string] => [String((200 - max) * 2 ** 44), `(${(201 - min) * 2 ** 44}`];
      const replies = await this.perAgentPipeline(names, (p, name) => {
        for (const b of priorityBands) p.zcount(this.k(name).ready, ...range(b.min, b.max));
      });
      const out: WaitingByBand[] = [];
      names.forEach((agent, i) => {
        priorityBands.forEach((b, j) => {
          const [err, n] = replies[i * priorityBands.length + j]!;
          if (err) throw err;
          if (Number(n) > 0) out.push({ agent, band: b.band, n: Number(n) });
        });
      });
      return out;
    });
  }

  private lastPing: { at: number; result: StoreReachability } | null = null;
  private pingInFlight: Promise<StoreReachability> | null = null;

  /**
   * A PING answered within PING_FRESH_MS, asked again only when the last answer is older: probes at
   * any rate cost Redis at most one PING a second. The connection's own state answers at once while
   * it is down (ioredis would queue the PING until it reconnects).
   */
  reachability(): Promise<StoreReachability> {
    if (this.closed) return Promise.resolve({ reachable: false, detail: 'the Redis store is closed' });
    if (this.redis.status !== 'ready') return Promise.resolve({ reachable: false, detail: `the Redis connection is ${this.redis.status}` });
    const now = Date.now();
    if (this.lastPing && now - this.lastPing.at < PING_FRESH_MS) return Promise.resolve(this.lastPing.result);
    this.pingInFlight ??= this.ping().then((result) => {
      this.lastPing = { at: Date.now(), result };
      this.pingInFlight = null;
      return result;
    });
    return this.pingInFlight;
  }

  private async ping(): Promise<StoreReachability> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.redis.ping(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no PONG within ${PING_TIMEOUT_MS} ms`)), PING_TIMEOUT_MS);
        }),
      ]);
      return { reachable: true };
    } catch (err) {
      return { reachable: false, detail: `Redis PING failed: ${err instanceof Error ? err.message : String(err)}` };
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // Writes under way finish first; but cut off by a partition (no reset from the far side) they
    // are never answered, and a close (an engine stopping to rejoin its node) must not hang on them.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([this.writeChain, ...this.inflight]),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, 2_000);
      }),
    ]);
    clearTimeout(timer);
    this.closed = true;
    try {
      await Promise.race([
        this.redis.quit(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('QUIT not answered')), 1_000);
        }),
      ]);
    } catch {
      this.redis.disconnect();
    } finally {
      clearTimeout(timer);
    }
  }
}

/** A new message as enqueue makes it, before its id and seq (the fast script and the commit path alike). */
function queuedDraft(n: NormalizedEnqueue, now: number): Omit<Message, 'id' | 'seq'> {
  return {
    agent: n.agent,
    priority: n.priority,
    body: n.body,
    sender: n.sender,
    key: n.key,
    state: 'queued',
    attempts: 0,
    maxAttempts: n.maxAttempts,
    availableAt: now,
    expiresAt: n.ttlMs === null ? null : now + n.ttlMs,
    leaseToken: null,
    leaseOwner: null,
    leaseExpiresAt: null,
    sessionId: null,
    deliveredAt: null,
    confirmedAt: null,
    redeliveries: 0,
    lastError: null,
    deadReason: null,
    createdAt: now,
    updatedAt: now,
    meta: n.meta === null ? null : (JSON.parse(n.meta) as Record<string, unknown>),
  };
}

/** Project-wide index entries of an attempt: `pending` ones are written with the commit. */
type UndoList = { kind: 'message' | 'task'; id: string; agent?: string; pending?: boolean }[];

class ImportRollback extends Error {
  constructor(readonly result: ImportResult) {
    super('import rolled back');
  }
}

function applyPatch(r: AgentRecord, patch: AgentPatch, now: number): AgentRecord {
  const out: AgentRecord = { ...r };
  const fields = ['profile', 'paneId', 'sessionId', 'generation', 'restartCount', 'lastRestart', 'lastError', 'contextPreserved', 'maxDepth', 'lastEventAt', 'stopBlocks'] as const;
  let changed = false;
  for (const f of fields) {
    const v = patch[f];
    if (v === undefined) continue;
    (out as unknown as Record<string, unknown>)[f] = v;
    changed = true;
  }
  if (changed) out.updatedAt = now;
  return out;
}

function toEvent(e: StoredEvent, messageId: string | null, n: number): QueueEvent {
  return { id: messageId === null ? (e.id ?? 0) : n, ts: e.ts, messageId, agent: e.agent, kind: e.kind, fromState: e.from, toState: e.to, detail: e.detail };
}

function toExported(m: Message): ExportedMessage {
  return {
    id: m.id,
    agent: m.agent,
    priority: m.priority,
    body: m.body,
    sender: m.sender,
    key: m.key,
    attempts: m.attempts,
    maxAttempts: m.maxAttempts,
    redeliveries: m.redeliveries,
    createdAt: m.createdAt,
    expiresAt: m.expiresAt,
    meta: m.meta,
  };
}
