/**
 * The one write path of the Redis store: optimistic concurrency with a compare-and-set commit.
 *
 * An operation reads what it needs (each touched agent's `ver` first), decides in TypeScript with
 * the same domain functions as SQLite, and hands the resulting writes to COMMIT_SCRIPT together with
 * the versions it read. The script applies all writes only if no version moved meanwhile, and bumps
 * them; otherwise nothing is written and the operation runs again on fresh data. So every change is
 * atomic (one script), two processes can never both lease a message (the second one's versions
 * moved), and the logic is not duplicated in Lua.
 *
 * A commit carries a one-time marker key (in its first agent's slot): ioredis re-sends commands whose
 * reply was lost when it reconnects, and a commit that had gone through then answers 2 ("applied
 * already") instead of failing its version check, which would make the operation run again — an
 * enqueue without an idempotency key would have been written twice.
 *
 * A commit of a cluster-wide duty (the leader's sweep or prune, issue 12) carries a fence: the key
 * holding the newest leader token and the token the duty runs with. Unless they are equal the script
 * answers 3 and writes nothing, so a deposed leader (a paused process, a lapsed lease) cannot apply
 * a stale run. The fence key lives in the `{cluster}` slot, so on a Redis Cluster the commit cannot
 * read it: there the store checks the fence key in a step of its own just before, and the commit
 * carries a high-water mark in its own slot instead (`fenceMark`): the highest token that ever wrote
 * there; a lower token answers 3. Once a newer leader wrote to an agent, no older one can (see
 * ARCHITECTURE.md, "Redis Cluster").
 *
 * Only a short list of write commands is allowed, and all are checked before the first write: a
 * script that failed half way would not be rolled back by Redis.
 */

export const COMMIT_SCRIPT = `
local p = cjson.decode(ARGV[1])
if p.m and redis.call('EXISTS', KEYS[p.m]) == 1 then return 2 end
if p.f and (redis.call('GET', KEYS[p.f[1]]) or '0') ~= p.f[2] then return 3 end
if p.h and (tonumber(redis.call('GET', KEYS[p.h[1]]) or '0') or 0) > tonumber(p.h[2]) then return 3 end
for _, c in ipairs(p.c) do
  local v = redis.call('GET', KEYS[c[1]]) or '0'
  if v ~= c[2] then return 0 end
end
local allowed = { HSET = true, HDEL = true, ZADD = true, ZREM = true, SADD = true, SREM = true, RPUSH = true, DEL = true, SET = true, HINCRBY = true, LTRIM = true }
for _, o in ipairs(p.o) do
  if not allowed[o[1]] then return redis.error_reply('hornets commit: command not allowed: ' .. tostring(o[1])) end
  if KEYS[o[2]] == nil then return redis.error_reply('hornets commit: no key ' .. tostring(o[2])) end
end
for _, o in ipairs(p.o) do
  local args = {}
  for i = 3, #o do args[#args + 1] = o[i] end
  redis.call(o[1], KEYS[o[2]], unpack(args))
end
for _, c in ipairs(p.c) do redis.call('INCR', KEYS[c[1]]) end
if p.h then redis.call('SET', KEYS[p.h[1]], p.h[2]) end
if p.m then redis.call('SET', KEYS[p.m], '1', 'PX', 60000) end
return 1
`;

export type WriteCommand = 'HSET' | 'HDEL' | 'ZADD' | 'ZREM' | 'SADD' | 'SREM' | 'RPUSH' | 'DEL' | 'SET' | 'HINCRBY' | 'LTRIM';

/** The writes of one commit and the versions they depend on. */
export class Tx {
  readonly keys: string[] = [];
  private readonly index = new Map<string, number>();
  private readonly checks: [number, string][] = [];
  private readonly checked = new Set<string>();
  private readonly ops: (string | number)[][] = [];
  private marker: number | null = null;
  private fenceCheck: [number, string] | null = null;
  private highWater: [number, string] | null = null;

  private slot(key: string): number {
    let i = this.index.get(key);
    if (i === undefined) {
      this.keys.push(key);
      i = this.keys.length;
      this.index.set(key, i);
    }
    return i;
  }

  /** The commit goes through only if `verKey` still holds `version` (read before the data). */
  check(verKey: string, version: string | null): this {
    if (this.checked.has(verKey)) return this;
    this.checked.add(verKey);
    this.checks.push([this.slot(verKey), version ?? '0']);
    return this;
  }

  op(cmd: WriteCommand, key: string, ...args: (string | number)[]): this {
    this.ops.push([cmd, this.slot(key), ...args.map(String)]);
    return this;
  }

  /** The commit goes through only if `fenceKey` holds `token` (a leader's duty; see COMMIT_SCRIPT). */
  fence(fenceKey: string, token: number): this {
    this.fenceCheck = [this.slot(fenceKey), String(token)];
    return this;
  }

  /**
   * Redis Cluster's form of `fence`: the commit goes through only if no higher token of `duty` wrote
   * in this commit's slot (a mark beside its first key), and raises the mark to `token`.
   */
  fenceMark(duty: string, token: number): this {
    const first = this.keys[0];
    if (first === undefined) return this;
    const end = first.indexOf('}:');
    this.highWater = [this.slot(`${end > 0 ? first.slice(0, end + 2) : `${first}:`}dutyfence:${duty}`), String(token)];
    return this;
  }

  /** The hash tags of this commit's keys: more than one cannot commit on a Redis Cluster. */
  tags(): Set<string> {
    return new Set(this.keys.map((k) => /\{[^}]*\}/.exec(k)?.[0] ?? k));
  }

  /** Marks this commit with a one-time key beside its first version key (see COMMIT_SCRIPT). */
  markOnce(opId: string): this {
    if (this.checks.length === 0 || this.marker !== null) return this;
    const first = this.keys[this.checks[0]![0] - 1]!;
    const cut = first.lastIndexOf(':');
    this.marker = this.slot(`${cut > 0 ? first.slice(0, cut) : first}:op:${opId}`);
    return this;
  }

  get empty(): boolean {
    return this.ops.length === 0;
  }

  payload(): string {
    return JSON.stringify({
      c: this.checks,
      o: this.ops,
      ...(this.marker === null ? {} : { m: this.marker }),
      ...(this.fenceCheck === null ? {} : { f: this.fenceCheck }),
      ...(this.highWater === null ? {} : { h: this.highWater }),
    });
  }
}
