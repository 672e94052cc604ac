/**
 * One leader at a time for a cluster-wide duty: a Redis lease (a key with a TTL) plus a fencing token.
 *
 * Acquiring INCRements the duty's fence counter and stores `<instance> <fence>` in the lease key with
 * PX = leaseMs, atomically (Lua), only when no lease exists. The holder renews with
 * compare-and-pexpire every renewMs: given a `renewer` (the node's registry), inside the node's
 * heartbeat script, so a leading node makes one round trip per period for both, on one timer;
 * else (or while the node holds no name) on its own timer. A candidate that finds the lease held asks again when that
 * lease would lapse unless renewed (its PTTL, at least retryMs later, at most leaseMs): an idle
 * team's candidates make one call per lease period, not one per retryMs. When the leader dies its
 * lease expires at most leaseMs after its last renewal; a candidate's next try then comes at most
 * retryMs after that expiry (each try is at the latest at the expiry it saw, or retryMs after the
 * try before), so another candidate takes over within leaseMs + retryMs (plus a round trip). A
 * leader that stops gives its lease back; `retryNow()` lets a candidate told so take it at once.
 *
 * The leader demotes itself (onDemoted) when a renewal finds the lease gone or replaced, or when no
 * renewal has succeeded for leaseMs, counted from when the last good renewal was sent — never later
 * than Redis lets the lease expire. A paused process can still wake up believing it leads, so every
 * write a duty makes must be fenced: `fencedSet` (or FENCE_GUARD_LUA in the duty's own script)
 * refuses a write whose token is not the newest one issued, i.e. after anyone else was elected.
 */
import { randomUUID } from 'node:crypto';
import { type Redis } from 'ioredis';
import { silentLogger, type Logger } from '../log.js';
import { checkDutyName, type ClusterKeys } from './keys.js';
import { describeError, LuaScript, sleep, systemClock, type Clock } from './lua.js';
import type { CarriedLease } from './node-registry.js';

/** Renews a lease in a script it runs anyway (the node's heartbeat); false when it cannot now. */
export interface LeaseRenewer {
  carryLease(lease: CarriedLease | null): boolean;
}

export type DemotedReason = 'lost' | 'unreachable' | 'stopped';

export interface LeaderElectionOptions {
  redis: Redis;
  keys: ClusterKeys;
  /** The duty this lease guards, e.g. `sweeper` (one lease per duty, or one `leader` for all). */
  duty: string;
  /** Who campaigns, for `currentLeader()` and logs (usually the node name). */
  candidate: string;
  /** Lease TTL (default 6000 ms). */
  leaseMs?: number;
  /** Renewal interval of the holder (default leaseMs / 3). */
  renewMs?: number;
  /** How often a candidate tries to acquire (default 1000 ms). */
  retryMs?: number;
  clock?: Clock;
  logger?: Logger;
  /** Renews the lease in the node's heartbeat instead of on a timer of its own. */
  renewer?: LeaseRenewer;
  onElected?: (token: number) => void;
  onDemoted?: (reason: DemotedReason, token: number) => void;
}

export const DEFAULT_LEASE_MS = 6000;
export const DEFAULT_RETRY_MS = 1000;

// KEYS: lease, fence. ARGV: instance, lease ms. The new fence token (≥ 1), or when a lease is held
// -(its PTTL + 2) (-1: held with no expiry, which only a hand-made key has).
const ACQUIRE = new LuaScript(`
local ttl = redis.call('PTTL', KEYS[1])
if ttl ~= -2 then return -(ttl + 2) end
local fence = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. fence, 'PX', ARGV[2])
return fence
`);

// KEYS: lease. ARGV: lease value, lease ms. 1 renewed, 0 not ours any more.
const RENEW = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`);

// KEYS: lease. ARGV: lease value.
const RELEASE = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

/**
 * The guard a duty's own Lua script starts with: KEYS[1] is the duty's fence key
 * (keys.fence(duty)), ARGV[1] the token the leader got from onElected. A stale leader's script
 * fails with an error containing `STALE_FENCE` and writes nothing. On Redis Cluster the script's other keys must
 * share the fence key's `{cluster}` hash tag; keys elsewhere keep a high-water mark of their own
 * (see ARCHITECTURE.md, Cluster coordination).
 */
export const FENCE_GUARD_LUA = `if tonumber(redis.call('GET', KEYS[1]) or '0') ~= tonumber(ARGV[1]) then return redis.error_reply('STALE_FENCE') end`;

// KEYS: fence, target. ARGV: token, value, px ('' for none).
const FENCED_SET = new LuaScript(`
${FENCE_GUARD_LUA}
if ARGV[3] ~= '' then redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3]) else redis.call('SET', KEYS[2], ARGV[2]) end
return 1
`);

/**
 * SET key value, only if `token` is still the newest fence of `duty`. Resolves false (and writes
 * nothing) for a stale leader. `key` must carry the `{cluster}` hash tag on Redis Cluster.
 */
export async function fencedSet(redis: Redis, keys: ClusterKeys, duty: string, token: number, key: string, value: string, options: { px?: number } = {}): Promise<boolean> {
  try {
    await FENCED_SET.run(redis, [keys.fence(duty), key], [token, value, options.px ?? '']);
    return true;
  } catch (err) {
    // Redis may prefix the script's error with its own code (`ERR STALE_FENCE`).
    if (err instanceof Error && /\bSTALE_FENCE\b/.test(err.message)) return false;
    throw err;
  }
}

/** Who holds the lease of `duty` now, if anyone (for the console and `doctor`). */
export async function currentLeader(redis: Redis, keys: ClusterKeys, duty: string): Promise<{ candidate: string; token: number } | null> {
  const value = await redis.get(keys.lease(duty));
  if (!value) return null;
  const [instance = '', fence = '0'] = value.split(' ');
  return { candidate: instance.slice(0, instance.lastIndexOf('/')), token: Number(fence) };
}

export class LeaderElection {
  readonly duty: string;
  readonly leaseMs: number;
  readonly renewMs: number;
  readonly retryMs: number;
  private readonly redis: Redis;
  private readonly keys: ClusterKeys;
  private readonly clock: Clock;
  private readonly log: Logger;
  /** `<candidate>/<uuid>`: two processes campaigning under one name are still told apart. */
  private readonly instance: string;
  private readonly options: LeaderElectionOptions;
  private running = false;
  private timer: NodeJS.Timeout | null = null;
  private demoteTimer: NodeJS.Timeout | null = null;
  private lease: { value: string; token: number; lastOkAt: number } | null = null;
  /** The renewer renews the lease: this election runs no timer while it leads. */
  private carried = false;
  private inFlight: Promise<void> = Promise.resolve();
  private attempting = false;
  /** retryNow() came while a try was under way (it may have seen the lease still held). */
  private retryAfterAttempt = false;
  /** When a candidate tries next: retryMs, or when the lease it found held would lapse. */
  private nextTryMs: number;

  constructor(options: LeaderElectionOptions) {
    this.options = options;
    this.redis = options.redis;
    this.keys = options.keys;
    this.duty = checkDutyName(options.duty);
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.renewMs = options.renewMs ?? Math.max(1, Math.floor(this.leaseMs / 3));
    this.retryMs = options.retryMs ?? DEFAULT_RETRY_MS;
    this.nextTryMs = this.retryMs;
    if (!(this.renewMs > 0 && this.renewMs < this.leaseMs && this.retryMs > 0)) throw new RangeError('LeaderElection: need 0 < renewMs < leaseMs and retryMs > 0');
    this.clock = options.clock ?? systemClock;
    this.log = options.logger ?? silentLogger();
    this.instance = `${options.candidate}/${randomUUID()}`;
  }

  isLeader(): boolean {
    return this.lease !== null;
  }

  /** The fencing token of the current term, or null when not leading. */
  token(): number | null {
    return this.lease?.token ?? null;
  }

  /** Starts campaigning; the first attempt is made at once. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.tick(0);
  }

  /**
   * A candidate tries for the lease now instead of at its next try (e.g. told that the leader gave
   * its lease back). Nothing for a leader; during a try, the next one follows it at once.
   */
  retryNow(): void {
    if (!this.running || this.lease) return;
    if (this.attempting) {
      this.retryAfterAttempt = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.tick(0);
  }

  /** Stops campaigning; a leader gives its lease back (so the next one need not wait for the TTL). */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    // An attempt stuck on an unreachable Redis is not waited out past the lease: by then a lease it
    // may have taken has lapsed anyway, and acquire() gives back one won after stop().
    await Promise.race([this.inFlight, sleep(this.leaseMs)]);
    const lease = this.lease;
    if (!lease) return;
    this.demote('stopped');
    await RELEASE.run(this.redis, [this.keys.lease(this.duty)], [lease.value]).catch((err: unknown) => {
      this.log.warn({ duty: this.duty, err: describeError(err) }, 'cluster leader could not release its lease (it expires on its own)');
    });
  }

  /** SET through this leader's fence; false when it is not leading or was superseded. */
  async fencedSet(key: string, value: string, options: { px?: number } = {}): Promise<boolean> {
    const token = this.token();
    if (token === null) return false;
    return fencedSet(this.redis, this.keys, this.duty, token, key, value, options);
  }

  private tick(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.timer = null;
      this.attempting = true;
      this.retryAfterAttempt = false;
      this.inFlight = (this.lease ? this.renew() : this.acquire()).finally(() => {
        this.attempting = false;
        if (this.running && !this.carried) this.tick(this.lease ? this.renewMs : this.retryAfterAttempt ? 0 : this.nextTryMs);
      });
    }, delayMs);
    this.timer.unref();
  }

  private async acquire(): Promise<void> {
    const sentAt = this.clock.now();
    let fence: number;
    this.nextTryMs = this.retryMs;
    try {
      fence = Number(await ACQUIRE.run(this.redis, [this.keys.lease(this.duty), this.keys.fence(this.duty)], [this.instance, this.leaseMs]));
    } catch (err) {
      this.log.warn({ duty: this.duty, err: describeError(err) }, 'cluster leader election: acquire failed');
      return;
    }
    if (fence <= 0) {
      // Held: try again when it would lapse unless its holder renews it (+1: PTTL is rounded down).
      if (fence <= -2) this.nextTryMs = Math.min(this.leaseMs, Math.max(this.retryMs, -fence - 2 + 1));
      return;
    }
    if (!this.running) {
      // Stopped while the script ran: give back what we may just have taken.
      await RELEASE.run(this.redis, [this.keys.lease(this.duty)], [`${this.instance} ${fence}`]).catch(() => undefined);
      return;
    }
    const lease = { value: `${this.instance} ${fence}`, token: fence, lastOkAt: sentAt };
    this.lease = lease;
    this.armDemoteTimer();
    this.carried = this.carry(lease);
    this.log.info({ duty: this.duty, token: fence }, 'cluster leader elected');
    this.call(() => this.options.onElected?.(fence));
  }

  private async renew(): Promise<void> {
    const lease = this.lease;
    if (!lease) return;
    const sentAt = this.clock.now();
    let reply: unknown;
    try {
      reply = await RENEW.run(this.redis, [this.keys.lease(this.duty)], [lease.value, this.leaseMs]);
    } catch (err) {
      this.log.warn({ duty: this.duty, err: describeError(err) }, 'cluster leader: renewal failed');
      return;
    }
    if (this.lease !== lease) return;
    if (reply === 1) {
      lease.lastOkAt = Math.max(lease.lastOkAt, sentAt);
      this.armDemoteTimer();
    } else {
      this.demote('lost');
    }
  }

  /** Hands the renewals of `lease` to the renewer; false when there is none or it cannot now. */
  private carry(lease: { value: string; token: number; lastOkAt: number }): boolean {
    const renewer = this.options.renewer;
    if (!renewer) return false;
    return renewer.carryLease({
      key: this.keys.lease(this.duty),
      value: lease.value,
      leaseMs: this.leaseMs,
      renewMs: this.renewMs,
      onRenewal: (ok, sentAt) => {
        if (this.lease !== lease) return;
        if (!ok) return this.demote('lost');
        lease.lastOkAt = Math.max(lease.lastOkAt, sentAt);
        this.armDemoteTimer();
      },
      onDropped: () => {
        // The node gave its name up: renew on this election's own timer while it still leads.
        if (this.lease !== lease || !this.carried) return;
        this.carried = false;
        if (this.running && !this.timer && !this.attempting) this.tick(0);
      },
    });
  }

  private armDemoteTimer(): void {
    const lease = this.lease;
    if (!lease) return;
    if (this.demoteTimer) clearTimeout(this.demoteTimer);
    this.demoteTimer = setTimeout(
      () => {
        this.demoteTimer = null;
        if (this.lease !== lease) return;
        if (this.clock.now() - lease.lastOkAt >= this.leaseMs) this.demote('unreachable');
        else this.armDemoteTimer();
      },
      Math.max(0, lease.lastOkAt + this.leaseMs - this.clock.now()),
    );
    this.demoteTimer.unref();
  }

  private demote(reason: DemotedReason): void {
    const lease = this.lease;
    if (!lease) return;
    this.lease = null;
    if (this.demoteTimer) clearTimeout(this.demoteTimer);
    this.demoteTimer = null;
    if (this.carried) {
      this.carried = false;
      this.options.renewer?.carryLease(null);
      // Campaign again on this election's own timer (the renewer ran it while it led).
      if (this.running && !this.timer && !this.attempting) this.tick(this.retryMs);
    }
    this.log.warn({ duty: this.duty, token: lease.token, reason }, 'cluster leader demoted');
    this.call(() => this.options.onDemoted?.(reason, lease.token));
  }

  private call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ duty: this.duty, err: describeError(err) }, 'cluster leader callback threw');
    }
  }
}
