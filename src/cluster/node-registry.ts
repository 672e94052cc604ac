/**
 * Node registry and heartbeats. A node claims its name with a random instance token in a key that
 * expires after `lostAfterMs` unless renewed; only the holder of the token renews it, so a node that
 * stops heartbeating (crash, partition) is `lost` once the key expires and its name can be taken
 * again. A clean `unregister()` marks the node `stopped`.
 *
 * The node also watches its own claim: when a renewal finds the token gone or replaced, or when no
 * renewal succeeded for `lostAfterMs` (Redis unreachable: the key has expired, or will before this
 * node can know), it calls `onLost` and stops acting as that node. The local deadline counts from
 * the moment a successful renewal was sent, so it never ends later than the key in Redis. Recorded
 * times and that deadline follow the injected clock (a jump forward makes the node give up early,
 * the safe side); the timers themselves are ordinary setTimeout.
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
  /** TTL of the claim: a node is lost this long after its last renewal (default 3 × heartbeatMs). */
  lostAfterMs?: number;
  clock?: Clock;
  logger?: Logger;
  onLost?: (event: NodeLostEvent) => void;
}

export const DEFAULT_HEARTBEAT_MS = 2000;

// KEYS: claim, nodes, beats, stopped. ARGV: name, token, ttl ms, record JSON, now.
// Returns {1} when claimed, {0, holder JSON, ms until the holder's claim lapses} when a live node holds it.
const REGISTER = new LuaScript(`
local ttl = redis.call('PTTL', KEYS[1])
if ttl ~= -2 then
  return {0, redis.call('HGET', KEYS[2], ARGV[1]) or '', ttl}
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[4])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[5])
redis.call('HDEL', KEYS[4], ARGV[1])
return {1}
`);

// KEYS: claim, beats. ARGV: token, ttl ms, name, now. 1 renewed, 0 expired, -1 taken by another.
const HEARTBEAT = new LuaScript(`
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
  return 1
end
if cur then return -1 end
return 0
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
  private readonly redis: Redis;
  private readonly keys: ClusterKeys;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly onLost: ((event: NodeLostEvent) => void) | undefined;
  private current: Registration | null = null;

  constructor(options: NodeRegistryOptions) {
    this.redis = options.redis;
    this.keys = options.keys;
    this.heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    this.lostAfterMs = options.lostAfterMs ?? 3 * this.heartbeatMs;
    if (!(this.heartbeatMs > 0) || !(this.lostAfterMs > this.heartbeatMs)) throw new RangeError('NodeRegistry: need 0 < heartbeatMs < lostAfterMs');
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
    const reply = (await REGISTER.run(this.redis, [k.nodeClaim(name), k.nodes, k.beats, k.stopped], [name, token, this.lostAfterMs, record, sentAt])) as [number, string?, number?];
    if (reply[0] !== 1) throw new DuplicateNodeError(name, parseHolder(reply[1]), Math.max(0, reply[2] ?? 0));
    const reg: Registration = { name, token, lastOkAt: sentAt, beatTimer: null, lostTimer: null };
    this.current = reg;
    this.armLostTimer(reg);
    this.scheduleBeat(reg);
    this.log.info({ node: name, heartbeatMs: this.heartbeatMs, lostAfterMs: this.lostAfterMs }, 'cluster node registered');
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
    const [nodes, beats, stopped] = await Promise.all([this.redis.hgetall(k.nodes), this.redis.hgetall(k.beats), this.redis.hgetall(k.stopped)]);
    const names = Object.keys(nodes).sort();
    if (names.length === 0) return [];
    const claims = await this.redis.mget(...names.map((n) => k.nodeClaim(n)));
    const out: NodeRecord[] = [];
    names.forEach((name, i) => {
      const parsed = parseRecord(nodes[name]);
      if (!parsed) return;
      const stoppedAt = stopped[name] !== undefined ? Number(stopped[name]) : null;
      const state: NodeState = claims[i] !== null ? 'up' : stoppedAt !== null ? 'stopped' : 'lost';
      out.push({ ...parsed, name, state, lastHeartbeatAt: beats[name] !== undefined ? Number(beats[name]) : null, stoppedAt });
    });
    return out;
  }

  private scheduleBeat(reg: Registration): void {
    reg.beatTimer = setTimeout(() => {
      reg.beatTimer = null;
      void this.beat(reg).finally(() => {
        if (this.current === reg) this.scheduleBeat(reg);
      });
    }, this.heartbeatMs);
    reg.beatTimer.unref();
  }

  private async beat(reg: Registration): Promise<void> {
    const sentAt = this.clock.now();
    let reply: unknown;
    try {
      reply = await HEARTBEAT.run(this.redis, [this.keys.nodeClaim(reg.name), this.keys.beats], [reg.token, this.lostAfterMs, reg.name, sentAt]);
    } catch (err) {
      // The lost timer decides when this has gone on too long; a single failure is no verdict.
      this.log.warn({ node: reg.name, err: describeError(err) }, 'cluster heartbeat failed');
      return;
    }
    if (this.current !== reg) return;
    if (reply === 1) {
      reg.lastOkAt = Math.max(reg.lastOkAt, sentAt);
      this.armLostTimer(reg);
    } else {
      this.lose(reg, reply === -1 ? 'taken' : 'expired');
    }
  }

  private armLostTimer(reg: Registration): void {
    if (reg.lostTimer) clearTimeout(reg.lostTimer);
    const left = reg.lastOkAt + this.lostAfterMs - this.clock.now();
    reg.lostTimer = setTimeout(
      () => {
        reg.lostTimer = null;
        if (this.current !== reg) return;
        if (this.clock.now() - reg.lastOkAt >= this.lostAfterMs) this.lose(reg, 'unreachable');
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
    if (this.current === reg) this.current = null;
  }
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
