/**
 * Key layout of the Redis store. Every key lives under `hornets:`, then a hash tag:
 *
 * Per agent, tag `{<prefix>:<agent>}` (one cluster slot per agent, so every per-agent commit
 * touches one slot):
 *   ver        string   version, bumped by every commit that changes existing data of the agent
 *                       (messages, record, context, pin, tasks): the compare-and-set fence
 *   enqver     string   version of the depth and idempotency-key checks, bumped by what adds
 *                       pending messages (enqueue, import, retry); enqueues do not bump `ver`, so
 *                       they never make a concurrent claim or ack start over
 *   agent      string   AgentRecord as JSON
 *   ctx        string   AgentContext as JSON
 *   pin        string   hook session pin as JSON
 *   msgs       hash     message id -> Message as JSON
 *   all        zset     every message id, scored by seq (recent-first listings, event history)
 *   keys       hash     idempotency key -> message id (until the message is pruned)
 *   ready      zset     waiting (queued, failed) ids, scored (200 - priority) * 2^44 + seq: delivery order
 *   ttl        zset     waiting ids with a TTL, scored by expiresAt
 *   wcreated   zset     waiting ids scored by createdAt (oldest waiting, for stats)
 *   leased     zset     leased ids scored by leaseExpiresAt (lease reclaim)
 *   delivered  zset     delivered ids scored by seq
 *   done       zset     finished (confirmed, dead, expired, cancelled) ids scored by updatedAt (prune)
 *   counts     hash     state -> number of messages (stats without a scan)
 *   ev:<id>    list     the message's events as JSON, in commit order
 *   aev        list     agent-level events as JSON, in time order
 *   tasks      hash     task id -> Task as JSON
 *   usage      string   AgentUsage as JSON: token and cost totals with the budget mark (issue 17)
 *   usagever   string   version of the usage keys (their own fence: a usage write never makes a claim start over)
 *   usagemsg   hash     model message id -> its counted UsageEntry as JSON, with seenAt (when last met; retention)
 *   usagepruned string  ms: usagemsg rows last met before this were pruned (domain/usage.ts UsageGuard)
 *   usagecur   hash     transcript path -> UsageCursor as JSON
 *   op:<id>    string   one-time marker of a commit or script call (60 s; see scripts.ts)
 *   dutyfence:<duty>  string  Redis Cluster only: the highest leader token that wrote here (commit.ts)
 *
 * Project-wide, tag `{<prefix>}`:
 *   agents     set      agent names
 *   seq        string   global enqueue sequence (ids and FIFO order)
 *   evseq      string   ids of agent-level events
 *   ids        hash     message id -> agent
 *   idlex      zset     message ids, score 0 (prefix lookup by ZRANGEBYLEX)
 *   taskidx    hash     task id -> agent
 *   gev        list     agent-level events without an agent
 *   writable   string   last checkWritable time
 *   dutyfence:<duty>  string  Redis Cluster only, as per agent (fenced prune of `gev` and of worker tasks)
 *
 * Task workers' tasks (issue 14), also tag `{<prefix>}` (one slot: every script of theirs is atomic
 * on a Redis Cluster too), under `wt:` (workerTaskKeys):
 *   wt:t:<task id>      hash    the task, fields named as SQLite's worker_tasks columns (null: absent)
 *   wt:all              zset    task ids by createdAt (listing order)
 *   wt:w:<worker>       zset    the worker's task ids by createdAt
 *   wt:ready:<worker>   zset    claimable ids (queued, and retrying ones whose backoff ended),
 *                               scored (200 - priority) * 2^44 + createdAt: claim order
 *   wt:retry:<worker>   zset    retrying ids by retryAt (moved to `ready` by a claim when due)
 *   wt:leased:<worker>  zset    running ids with a lease, by lease expiry (takeover)
 *   wt:ended            zset    completed, failed and cancelled ids by completedAt (prune)
 *   wt:counts:<worker>  hash    state -> number of the worker's tasks
 *   wt:workers          set     workers that ever had a task
 *   wt:breakers         hash    worker -> its circuit breaker as JSON
 *   wt:op:<id>          string  one-time marker of a claim (its answer, 60 s)
 *
 * The layout is the same on one server and on a Redis Cluster; on a Cluster nothing touches both
 * tags in one script or MULTI (redis-store.ts).
 */

export interface AgentKeys {
  ver: string;
  enqver: string;
  agent: string;
  ctx: string;
  pin: string;
  msgs: string;
  all: string;
  keys: string;
  ready: string;
  ttl: string;
  wcreated: string;
  leased: string;
  delivered: string;
  done: string;
  counts: string;
  aev: string;
  tasks: string;
  usage: string;
  usagever: string;
  usagemsg: string;
  usagepruned: string;
  usagecur: string;
  events(id: string): string;
  /** One-time marker of a script call or commit (its answer, 60 s): a re-send is applied once. */
  op(id: string): string;
}

export interface GlobalKeys {
  agents: string;
  seq: string;
  evseq: string;
  ids: string;
  idlex: string;
  taskidx: string;
  gev: string;
  writable: string;
}

export function globalKeys(prefix: string): GlobalKeys {
  const g = (k: string) => `hornets:{${prefix}}:${k}`;
  return { agents: g('agents'), seq: g('seq'), evseq: g('evseq'), ids: g('ids'), idlex: g('idlex'), taskidx: g('taskidx'), gev: g('gev'), writable: g('writable') };
}

export function agentKeys(prefix: string, agent: string): AgentKeys {
  const a = (k: string) => `hornets:{${prefix}:${agent}}:${k}`;
  return {
    ver: a('ver'),
    enqver: a('enqver'),
    agent: a('agent'),
    ctx: a('ctx'),
    pin: a('pin'),
    msgs: a('msgs'),
    all: a('all'),
    keys: a('keys'),
    ready: a('ready'),
    ttl: a('ttl'),
    wcreated: a('wcreated'),
    leased: a('leased'),
    delivered: a('delivered'),
    done: a('done'),
    counts: a('counts'),
    aev: a('aev'),
    tasks: a('tasks'),
    usage: a('usage'),
    usagever: a('usagever'),
    usagemsg: a('usagemsg'),
    usagepruned: a('usagepruned'),
    usagecur: a('usagecur'),
    events: (id: string) => a(`ev:${id}`),
    op: (id: string) => a(`op:${id}`),
  };
}

/** Delivery order in one number: priority descending, then seq ascending (exact up to seq 2^44). */
export function readyScore(priority: number, seq: number): number {
  return (200 - priority) * 2 ** 44 + seq;
}

/** Base of the task workers' keys: `hornets:{<prefix>}:wt:` (see the layout above; the scripts name keys from it). */
export function workerTaskBase(prefix: string): string {
  return `hornets:{${prefix}}:wt:`;
}

/** Claim order of a worker's task in one number: priority descending, then createdAt (exact up to 2^44 ms). */
export function workerReadyScore(priority: number, createdAt: number): number {
  return (200 - priority) * 2 ** 44 + createdAt;
}
