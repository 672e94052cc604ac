/**
 * Node registry and heartbeats. A node claims its name with a random instance token in a key; only
 * the holder of the token renews it.
 *
 * Two verdicts, on purpose apart:
 * - `lost` (what `list()`, the console and `doctor` show, and whom wakes skip): no heartbeat for
 *   `lostAfterMs` on the cluster clock. That clock is Redis server time (TIME inside the heartbeat
 *   script), advanced by each beat of any node by at most 1.5 heartbeat periods: a redis-server that
 *   stalls (an AOF fsync on a slow disk, DEBUG SLEEP) answers every queued beat at once afterwards,
 *   and its stall counts as one period, not as its length — a stall makes no live node look late.
 *   When no node beats any more (all stopped or cut off) the clock stands still, and the claim's
 *   own expiry (below) is the verdict.
 * - the name is free (another process may register it): the claim key has expired, `lostAfterMs +
 *   stallGraceMs` after its last renewal on Redis' own timer.
 *
 * The node watches its own claim: when a renewal finds the token gone or replaced, or when no
 * renewal succeeded for `lostAfterMs + stallGraceMs` (cut off: the key has expired, or will before
 * this node can know), it calls `onLost` and stops acting as that node. The local deadline counts
 * from the moment a successful renewal was sent, so it never ends later than the key in Redis. A
 * node cut off for less than that is shown lost and comes back up with its next beat, without
 * giving its name up; a Redis stall shorter than that costs nothing. Recorded times and that
 * deadline follow the injected clock (a jump forward makes the node give up early, the safe side);
 * the timers themselves are ordinary setTimeout.
 *
 * The heartbeat script also renews the leader lease this node holds (`carryLease`): one timer and
 * one round trip per period for both.
 */
import { randomUUID } from 'node:crypto';
import { type Redis } from 'ioredis';
import { silentLogger, type Logger } from '../log.js';
import { DuplicateNodeError, NodeNotRegisteredError, type NodeHolder } from './errors.js';
import { checkNodeName, type ClusterKeys } from './keys.js';
import { describeError, LuaScript, systemClock, type Clock } from './lua.js';

export interface NodeInfo {
  host: string;
  pid: number;
  /** When the node process started (ms since the epoch). */
  startedAt: number;
  version: string;
  /** Where the node serves the hook fast path, e.g. http://10.0.0.5:7411 (no credentials). */
  hookEndpoint?: string;
  metricsUrl?: string;
  /** The node's tmux server (`-L` name) and session, so `attach` from another host can reach its panes. */
  tmuxSocket?: string;
  tmuxSession?: string;
}

export type NodeState = 'up' | 'lost' | 'stopped';

export interface NodeRecord extends NodeInfo {
  name: string;
  state: NodeState;
  /** When the current (or last) holder registered. */
  since: number;
  lastHeartbeatAt: number | null;
  stoppedAt: number | null;
}

/** Why this process no longer holds its node name. */
export type NodeLostReason = 'expired' | 'taken' | 'unreachable';

export interface NodeLostEvent {
  node: string;
  reason: NodeLostReason;
  /** The last heartbeat Redis confirmed (ms, this node's clock). */
  lastHeartbeatAt: number;
}

export interface NodeRegistryOptions {
  redis: Redis;
  keys: ClusterKeys;
  /** Renewal interval (default 2000 ms). */
  heartbeatMs?: number;
  /** A node is shown lost this long after its last heartbeat on the cluster clock (default 3 × heartbeatMs). */
  lostAfterMs?: number;
  /**
   * How much longer its name stays its own (the claim's TTL is lostAfterMs + this): the longest
   * Redis stall or cut a node rides out without giving its name up (default lostAfterMs).
   */
  stallGraceMs?: number;
  clock?: Clock;
  logger?: Logger;
  onLost?: (event: NodeLostEvent) => void;
}

export const DEFAULT_HEARTBEAT_MS = 2000;

/**
 * Advances the cluster clock to Redis' TIME, by at most ARGV cap, and records that the node ARGV
 * name beat now. Replies nothing: TIME comes first and writes follow (effects replication).
 */
const TICK_LUA = `
local function beat(clockKey, seenKey, name, cap, lostAfter)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local prev = redis.call('HMGET', clockKey, 't', 'l')
  local l = now
  if prev[1] and prev[2] then
    local gap = now - tonumber(prev[1])
    if gap < 0 then gap = 0 end
    if gap > cap then gap = cap end
    l = tonumber(prev[2]) + gap
  end
  redis.call('HSET', clockKey, 't', now, 'l', l, 'c', cap)
  redis.call('HSET', seenKey, name, l .. ':' .. lostAfter)
end
`;

// KEYS: claim, nodes, beats, stopped, seen, clock. ARGV: name, token, claim ttl ms, record JSON, now, cap, lostAfterMs.
// Returns {1} when claimed, {0, holder JSON, ms until the holder's claim lapses} when a live node holds it.
const REGISTER = new LuaScript(`${TICK_LUA}
local ttl = redis.call('PTTL', KEYS[1])
if ttl ~= -2 then
  return {0, redis.call('HGET', KEYS[2], ARGV[1]) or '', ttl}
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[4])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[5])
redis.call('HDEL', KEYS[4], ARGV[1])
beat(KEYS[6], KEYS[5], ARGV[1], tonumber(ARGV[6]), ARGV[7])
return {1}
`);

// KEYS: claim, beats, seen, clock[, lease]. ARGV: token, claim ttl ms, name, now, cap, lostAfterMs[, lease value, lease ms].
// {node, lease}: node 1 renewed, 0 expired, -1 taken by another; lease 1 renewed, 0 not ours any more, -1 none carried.
const HEARTBEAT = new LuaScript(`${TICK_LUA}
local cur = redis.call('GET', KEYS[1])
local node = 0
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
  beat(KEYS[4], KEYS[3], ARGV[3], tonumber(ARGV[5]), ARGV[6])
  node = 1
elseif cur then
  node = -1
end
local lease = -1
if KEYS[5] then
  lease = 0
  if redis.call('GET', KEYS[5]) == ARGV[7] then
    redis.call('PEXPIRE', KEYS[5], ARGV[8])
    lease = 1
  end
end
return {node, lease}
`);

// KEYS: clock. Redis' TIME (on the node holding the registry's keys), for list()'s verdict.
const SERVER_TIME = new LuaScript(`
local t = redis.call('TIME')
return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`);

// KEYS: claim, beats, stopped. ARGV: token, name, now. 1 when it was ours (now stopped), else 0.
const UNREGISTER = new LuaScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
return 1
`);

// KEYS: claim. ARGV: token. Frees a claim this process gave up on, if it still is ours.
const RELEASE = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

/**
 * A leader lease the heartbeat renews (see LeaderElection): `onRenewal` hears each renewal's
 * outcome, `onDropped` that the registry stopped carrying it (the node lost its name).
 */
export interface CarriedLease {
  key: string;
  value: string;
  leaseMs: number;
  renewMs: number;
  /** The renewal sent at `sentAt` (the registry's clock) found the lease still ours (true) or gone or replaced (false). */
  onRenewal(ok: boolean, sentAt: number): void;
  onDropped(): void;
}

interface Registration {
  name: string;
  token: string;
  lastOkAt: number;
  beatTimer: NodeJS.Timeout | null;
  lostTimer: NodeJS.Timeout | null;
}

export class NodeRegistry {
  readonly heartbeatMs: number;
  readonly lostAfterMs: number;
  readonly stallGraceMs: number;
  /** The most the cluster clock advances per beat: a stall counts as this, not as its length. */
  private readonly clockCapMs: number;
  private readonly redis: Redis;
  private readonly keys: ClusterKeys;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly onLost: ((event: NodeLostEvent) => void) | undefined;
  private current: Registration | null = null;
  private carried: CarriedLease | null = null;

  constructor(options: NodeRegistryOptions) {
    this.redis = options.redis;
    this.keys = options.keys;
    this.heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    this.lostAfterMs = options.lostAfterMs ?? 3 * this.heartbeatMs;
    this.stallGraceMs = options.stallGraceMs ?? this.lostAfterMs;
    if (!(this.heartbeatMs > 0) || !(this.lostAfterMs > this.heartbeatMs) || !(this.stallGraceMs >= 0)) throw new RangeError('NodeRegistry: need 0 < heartbeatMs < lostAfterMs and stallGraceMs >= 0');
    this.clockCapMs = Math.ceil(1.5 * this.heartbeatMs);
    this.clock = options.clock ?? systemClock;
    this.log = options.logger ?? silentLogger();
    this.onLost = options.onLost;
  }

  /** The name this instance holds, or null (never registered, unregistered, or lost). */
  registeredName(): string | null {
    return this.current?.name ?? null;
  }

  /**
   * Claims `name` and starts heartbeating. Throws DuplicateNodeError (and changes nothing) when a
   * live node holds it; its `retryAfterMs` says when the holder's claim lapses if it is not renewed
   * (a node restarted right after a crash finds its own old claim: wait that long, then retry).
   * One registration per instance.
   */
  async register(name: string, info: NodeInfo): Promise<void> {
    checkNodeName(name);
    if (this.current) throw new Error(`NodeRegistry: already registered as "${this.current.name}"`);
    const token = randomUUID();
    const sentAt = this.clock.now();
    const record = JSON.stringify({ ...pickInfo(info), since: sentAt });
    const k = this.keys;
    const reply = (await REGISTER.run(
      this.redis,
      [k.nodeClaim(name), k.nodes, k.beats, k.stopped, k.seen, k.clock],
      [name, token, this.claimTtlMs(), record, sentAt, this.clockCapMs, this.lostAfterMs],
    )) as [number, string?, number?];
    if (reply[0] !== 1) throw new DuplicateNodeError(name, parseHolder(reply[1]), Math.max(0, reply[2] ?? 0));
    const reg: Registration = { name, token, lastOkAt: sentAt, beatTimer: null, lostTimer: null };
    this.current = reg;
    this.armLostTimer(reg);
    this.scheduleBeat(reg);
    this.log.info({ node: name, heartbeatMs: this.heartbeatMs, lostAfterMs: this.lostAfterMs, stallGraceMs: this.stallGraceMs }, 'cluster node registered');
  }

  /**
   * Renews `lease` in every heartbeat from now on (null: no more), beating at least every
   * lease.renewMs. False when this registry holds no name (then nothing beats: renew it yourself).
   */
  carryLease(lease: CarriedLease | null): boolean {
    const reg = this.current;
    if (lease && !reg) return false;
    this.carried = lease;
    // The next beat comes within the lease's renewal period (a beat under way schedules its own).
    if (lease && reg?.beatTimer) {
      clearTimeout(reg.beatTimer);
      this.scheduleBeat(reg);
    }
    return true;
  }

  /** The claim's TTL: the name stays this node's this long after a renewal. */
  private claimTtlMs(): number {
    return this.lostAfterMs + this.stallGraceMs;
  }

  /**
   * Stops heartbeating and marks the node stopped. Resolves false when the claim was no longer ours
   * (lost or taken): then nothing is changed in Redis.
   */
  async unregister(): Promise<boolean> {
    const reg = this.current;
    if (!reg) return false;
    this.drop(reg);
    const k = this.keys;
    const ok = (await UNREGISTER.run(this.redis, [k.nodeClaim(reg.name), k.beats, k.stopped], [reg.token, reg.name, this.clock.now()])) === 1;
    this.log.info({ node: reg.name, wasOurs: ok }, 'cluster node unregistered');
    return ok;
  }

  /** Renews now instead of at the next tick (e.g. right after a reconnect); throws when not registered. */
  async heartbeat(): Promise<void> {
    const reg = this.current;
    if (!reg) throw new NodeNotRegisteredError(null);
    await this.beat(reg);
    if (this.current !== reg) throw new NodeNotRegisteredError(reg.name);
  }

  /** Every node ever seen in this project, sorted by name. */
  async list(): Promise<NodeRecord[]> {
    const k = this.keys;
    const [nodes, beats, stopped, seen, clock, serverNow] = await Promise.all([
      this.redis.hgetall(k.nodes),
      this.redis.hgetall(k.beats),
      this.redis.hgetall(k.stopped),
      this.redis.hgetall(k.seen),
      this.redis.hgetall(k.clock),
      SERVER_TIME.run(this.redis, [k.clock], []),
    ]);
    const names = Object.keys(nodes).sort();
    if (names.length === 0) return [];
    const claims = await this.redis.mget(...names.map((n) => k.nodeClaim(n)));
    const clockNow = clusterClockNow(clock, Number(serverNow));
    const out: NodeRecord[] = [];
    names.forEach((name, i) => {
      const parsed = parseRecord(nodes[name]);
      if (!parsed) return;
      const stoppedAt = stopped[name] !== undefined ? Number(stopped[name]) : null;
      const state: NodeState = claims[i] !== null ? (isLate(seen[name], clockNow) ? 'lost' : 'up') : stoppedAt !== null ? 'stopped' : 'lost';
      out.push({ ...parsed, name, state, lastHeartbeatAt: beats[name] !== undefined ? Number(beats[name]) : null, stoppedAt });
    });
    return out;
  }

  private scheduleBeat(reg: Registration): void {
    reg.beatTimer = setTimeout(
      () => {
        reg.beatTimer = null;
        void this.beat(reg).finally(() => {
          if (this.current === reg) this.scheduleBeat(reg);
        });
      },
      Math.min(this.heartbeatMs, this.carried?.renewMs ?? Infinity),
    );
    reg.beatTimer.unref();
  }

  private async beat(reg: Registration): Promise<void> {
    const sentAt = this.clock.now();
    const lease = this.carried;
    const k = this.keys;
    let reply: [number, number];
    try {
      reply = (await HEARTBEAT.run(
        this.redis,
        [k.nodeClaim(reg.name), k.beats, k.seen, k.clock, ...(lease ? [lease.key] : [])],
        [reg.token, this.claimTtlMs(), reg.name, sentAt, this.clockCapMs, this.lostAfterMs, ...(lease ? [lease.value, lease.leaseMs] : [])],
      )) as [number, number];
    } catch (err) {
      // The lost timer decides when this has gone on too long (and the lease's holder its own); a single failure is no verdict.
      this.log.warn({ node: reg.name, err: describeError(err) }, 'cluster heartbeat failed');
      return;
    }
    // The lease first: losing the name below makes its holder give the lease up anyway.
    if (lease && this.carried === lease) lease.onRenewal(reply[1] === 1, sentAt);
    if (this.current !== reg) return;
    if (reply[0] === 1) {
      reg.lastOkAt = Math.max(reg.lastOkAt, sentAt);
      this.armLostTimer(reg);
    } else {
      this.lose(reg, reply[0] === -1 ? 'taken' : 'expired');
    }
  }

  private armLostTimer(reg: Registration): void {
    if (reg.lostTimer) clearTimeout(reg.lostTimer);
    const left = reg.lastOkAt + this.claimTtlMs() - this.clock.now();
    reg.lostTimer = setTimeout(
      () => {
        reg.lostTimer = null;
        if (this.current !== reg) return;
        if (this.clock.now() - reg.lastOkAt >= this.claimTtlMs()) this.lose(reg, 'unreachable');
        else this.armLostTimer(reg);
      },
      Math.max(0, left),
    );
    reg.lostTimer.unref();
  }

  private lose(reg: Registration, reason: NodeLostReason): void {
    this.drop(reg);
    this.log.warn({ node: reg.name, reason }, 'cluster node lost its registration: it stops acting as that node');
    // Give the name back at once if Redis still holds it for us (unreachable: it may come back).
    if (reason === 'unreachable') RELEASE.run(this.redis, [this.keys.nodeClaim(reg.name)], [reg.token]).catch(() => undefined);
    try {
      this.onLost?.({ node: reg.name, reason, lastHeartbeatAt: reg.lastOkAt });
    } catch (err) {
      this.log.error({ node: reg.name, err: describeError(err) }, 'cluster onLost callback threw');
    }
  }

  private drop(reg: Registration): void {
    if (reg.beatTimer) clearTimeout(reg.beatTimer);
    if (reg.lostTimer) clearTimeout(reg.lostTimer);
    reg.beatTimer = reg.lostTimer = null;
    if (this.current !== reg) return;
    this.current = null;
    const lease = this.carried;
    this.carried = null;
    lease?.onDropped();
  }
}

/** The cluster clock now: where the last beat left it, plus Redis' time since, up to one stall's worth. */
function clusterClockNow(clock: Record<string, string>, serverNow: number): number | null {
  const t = Number(clock.t);
  const l = Number(clock.l);
  const cap = Number(clock.c);
  if (!Number.isFinite(t) || !Number.isFinite(l) || !Number.isFinite(cap)) return null;
  return l + Math.min(cap, Math.max(0, serverNow - t));
}

/** No beat for lostAfterMs on the cluster clock (a node that never beat on it is judged by its claim alone). */
function isLate(seen: string | undefined, clockNow: number | null): boolean {
  if (seen === undefined || clockNow === null) return false;
  const [at, lostAfterMs] = seen.split(':').map(Number);
  return at !== undefined && lostAfterMs !== undefined && Number.isFinite(at) && Number.isFinite(lostAfterMs) && clockNow - at > lostAfterMs;
}

function pickInfo(info: NodeInfo): NodeInfo {
  const { host, pid, startedAt, version, hookEndpoint, metricsUrl, tmuxSocket, tmuxSession } = info;
  return {
    host,
    pid,
    startedAt,
    version,
    ...(hookEndpoint !== undefined ? { hookEndpoint } : {}),
    ...(metricsUrl !== undefined ? { metricsUrl } : {}),
    ...(tmuxSocket !== undefined ? { tmuxSocket } : {}),
    ...(tmuxSession !== undefined ? { tmuxSession } : {}),
  };
}

function parseRecord(json: string | undefined): (NodeInfo & { since: number }) | null {
  if (!json) return null;
  try {
    const r = JSON.parse(json) as NodeInfo & { since: number };
    return typeof r.host === 'string' && typeof r.pid === 'number' ? r : null;
  } catch {
    return null;
  }
}

function parseHolder(json: string | undefined): NodeHolder | null {
  const r = parseRecord(json);
  return r ? { host: r.host, pid: r.pid, since: r.since } : null;
}
