/**
 * The task workers' tasks in Redis (issue 14): every change is one Lua script, so it is atomic
 * across the task's hash and the indexes it moves between, and two engines (nodes) claiming at once
 * never get the same task.
 *
 * All keys are in the project's slot, tag `{<prefix>}` (workerTaskKeys in keys.ts), so the scripts
 * run unchanged on a Redis Cluster. A script is passed one key of the layout (declared, so a slot
 * being moved refuses it whole) and names the others from ARGV[1], the layout's base
 * `hornets:{<prefix>}:wt:`, like the message scripts do (scripts.ts).
 *
 * A task is a hash of strings (`t:<task id>`, the SQLite row's column names); a null column is an
 * absent field, so no script decodes JSON: the attempt history is a JSON array the end script
 * appends to as text. Times come from the store's injected clock, never from Redis TIME.
 *
 * Answers: 'OK'; 'N' (no such task); 'S<state>' (the task is in another state); 'R<run id>' (the
 * run that ends is not the task's current one); 'L' (the lease is another's: `stale_fence`).
 */

/** One number as Redis takes it in a script: digits, no exponent (Lua's tostring gives 14 digits). */
const INT = `local function int(n) return string.format('%d', n) end`;

const COUNT = `
local function move(counts, from, to)
  if from == to then return end
  if from then redis.call('HINCRBY', counts, from, -1) end
  redis.call('HINCRBY', counts, to, 1)
end`;

/** KEYS[1] the task's hash. ARGV: base, task id, worker, created at, order score, then field/value pairs. */
export const WT_CREATE_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local base, id, worker = ARGV[1], ARGV[2], ARGV[3]
local fields = {}
for i = 6, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('ZADD', base .. 'all', ARGV[4], id)
redis.call('ZADD', base .. 'w:' .. worker, ARGV[4], id)
redis.call('ZADD', base .. 'ready:' .. worker, ARGV[5], id)
redis.call('HINCRBY', base .. 'counts:' .. worker, 'queued', 1)
redis.call('SADD', base .. 'workers', worker)
return 1
`;

/**
 * KEYS[1] the worker's \`ready\` zset, KEYS[2] this call's one-time marker (see scripts.ts: a re-sent
 * claim gets the first answer). ARGV: base, worker, holder, now, limit, lease expiry, the breaker
 * version the limit was decided from ('' none: no check; another version starts no new run), the most
new runs ('' none: limit).
 * Answer: one line per task, 'o<id>' (orphan: its lease lapsed, now the claimer's) or 's<id>' (started).
 */
export const WT_CLAIM_SCRIPT = `
${INT}
${COUNT}
local seen = redis.call('GET', KEYS[2])
if seen then return seen end
local base, worker, holder, nowText, expires = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[6]
local now, limit = tonumber(ARGV[4]), tonumber(ARGV[5])
local ready = KEYS[1]
local retry = base .. 'retry:' .. worker
local leased = base .. 'leased:' .. worker
local counts = base .. 'counts:' .. worker
local out = {}
-- A lapsed run of the claimer's own keeps its slot; another's takes one of the free slots, and what
-- finds none is left for a node that has one.
local slots = limit
for _, id in ipairs(redis.call('ZRANGEBYSCORE', leased, '-inf', '(' .. nowText, 'LIMIT', 0, 100)) do
  local k = base .. 't:' .. id
  local h = redis.call('HMGET', k, 'state', 'lease_holder')
  if h[1] == 'running' and h[2] then
    if h[2] == holder or slots > 0 then
      if h[2] ~= holder then slots = slots - 1 end
      redis.call('HINCRBY', k, 'lease_token', 1)
      redis.call('HSET', k, 'lease_holder', holder, 'lease_expires_at', expires, 'updated_at', nowText)
      redis.call('ZADD', leased, expires, id)
      out[#out + 1] = 'o' .. id
    end
  else
    redis.call('ZREM', leased, id)
  end
end
-- New runs: none if the breaker moved since the claimer read it; at most maxNew (ARGV[8]).
if ARGV[7] ~= '' and (tonumber(redis.call('HGET', base .. 'breaker_version', worker)) or 0) ~= tonumber(ARGV[7]) then slots = 0 end
if ARGV[8] ~= '' and tonumber(ARGV[8]) < slots then slots = tonumber(ARGV[8]) end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', retry, '-inf', nowText, 'LIMIT', 0, 1000)) do
  local order = redis.call('HGET', base .. 't:' .. id, 'order')
  if order then redis.call('ZADD', ready, order, id) end
  redis.call('ZREM', retry, id)
end
if slots > 0 then
  for _, id in ipairs(redis.call('ZRANGE', ready, 0, slots - 1)) do
    local k = base .. 't:' .. id
    local h = redis.call('HMGET', k, 'state', 'timeout_ms')
    redis.call('ZREM', ready, id)
    if h[1] == 'queued' or h[1] == 'retrying' then
      local attempts = redis.call('HINCRBY', k, 'attempts', 1)
      redis.call('HINCRBY', k, 'lease_token', 1)
      redis.call('HSET', k, 'state', 'running', 'run_id', id .. '.a' .. attempts, 'started_at', nowText, 'deadline_at', int(now + tonumber(h[2])),
        'lease_holder', holder, 'lease_expires_at', expires, 'updated_at', nowText)
      redis.call('HDEL', k, 'retry_at')
      redis.call('ZADD', leased, expires, id)
      move(counts, h[1], 'running')
      out[#out + 1] = 's' .. id
    end
  end
end
local answer = table.concat(out, '\\n')
redis.call('SET', KEYS[2], answer, 'PX', 60000)
return answer
`;

/** KEYS[1] the task's hash. ARGV: base, run id, started at, deadline, now. A start without a lease. */
export const WT_START_SCRIPT = `
${COUNT}
local k, base = KEYS[1], ARGV[1]
local h = redis.call('HMGET', k, 'state', 'run_id', 'task_id', 'worker')
if not h[1] then return 'N' end
if h[1] == 'running' and h[2] == ARGV[2] then return 'OK' end
if h[1] ~= 'queued' and h[1] ~= 'retrying' then return 'S' .. h[1] end
local id, worker = h[3], h[4]
redis.call('HINCRBY', k, 'attempts', 1)
redis.call('HSET', k, 'state', 'running', 'run_id', ARGV[2], 'started_at', ARGV[3], 'deadline_at', ARGV[4], 'updated_at', ARGV[5])
redis.call('HDEL', k, 'retry_at', 'lease_holder', 'lease_expires_at')
redis.call('ZREM', base .. 'ready:' .. worker, id)
redis.call('ZREM', base .. 'retry:' .. worker, id)
redis.call('ZREM', base .. 'leased:' .. worker, id)
move(base .. 'counts:' .. worker, h[1], 'running')
return 'OK'
`;

/**
 * KEYS[1] the task's hash. ARGV: base, run id, next state, the attempt as JSON, its error ('' keeps
 * the last), '1' when there is a result, the result, retry at, now, lease holder ('' for an
 * unleased end), lease token.
 */
export const WT_END_SCRIPT = `
${COUNT}
local k, base, runId, nxt, now = KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[9]
local h = redis.call('HMGET', k, 'run_id', 'state', 'lease_holder', 'lease_token', 'task_id', 'worker', 'history', 'completed_at')
if not h[2] then return 'N' end
if h[1] ~= runId then return 'R' .. (h[1] or 'none') end
local st = h[2]
if nxt == 'cancelled' then
  if st ~= 'running' and st ~= 'cancelled' then return 'S' .. st end
elseif st ~= 'running' then
  return 'S' .. st
end
local holder = ARGV[10]
if (holder ~= '' or h[3]) and (holder == '' or h[3] ~= holder or h[4] ~= ARGV[11]) then return 'L' end
local id, worker, hist = h[5], h[6], h[7]
if not hist or hist == '[]' then hist = '[' .. ARGV[4] .. ']' else hist = string.sub(hist, 1, -2) .. ',' .. ARGV[4] .. ']' end
redis.call('HSET', k, 'history', hist, 'updated_at', now)
if ARGV[5] ~= '' then redis.call('HSET', k, 'last_error', ARGV[5]) end
redis.call('HDEL', k, 'deadline_at', 'lease_holder', 'lease_expires_at', 'retry_at')
redis.call('ZREM', base .. 'leased:' .. worker, id)
local ended = base .. 'ended'
if nxt == 'completed' then
  redis.call('HSET', k, 'state', 'completed', 'completed_at', now)
  if ARGV[6] == '1' then redis.call('HSET', k, 'result', ARGV[7]) else redis.call('HDEL', k, 'result') end
  redis.call('ZADD', ended, now, id)
elseif nxt == 'retrying' then
  redis.call('HSET', k, 'state', 'retrying', 'retry_at', ARGV[8])
  redis.call('ZADD', base .. 'retry:' .. worker, ARGV[8], id)
elseif nxt == 'failed' then
  redis.call('HSET', k, 'state', 'failed', 'completed_at', now)
  redis.call('ZADD', ended, now, id)
else
  local at = h[8] or now
  redis.call('HSET', k, 'state', 'cancelled', 'completed_at', at)
  redis.call('ZADD', ended, at, id)
end
move(base .. 'counts:' .. worker, st, nxt)
return 'OK'
`;

/** KEYS[1] the task's hash. ARGV: base, reason, now. The lease stays: the run's holder still ends it (cancelled). */
export const WT_CANCEL_SCRIPT = `
${COUNT}
local k, base, now = KEYS[1], ARGV[1], ARGV[3]
local h = redis.call('HMGET', k, 'state', 'task_id', 'worker')
if not h[1] then return 'N' end
local st, id, worker = h[1], h[2], h[3]
if st ~= 'queued' and st ~= 'running' and st ~= 'retrying' then return 'S' .. st end
redis.call('HSET', k, 'state', 'cancelled', 'last_error', ARGV[2], 'completed_at', now, 'updated_at', now)
redis.call('HDEL', k, 'retry_at')
redis.call('ZREM', base .. 'ready:' .. worker, id)
redis.call('ZREM', base .. 'retry:' .. worker, id)
redis.call('ZREM', base .. 'leased:' .. worker, id)
redis.call('ZADD', base .. 'ended', now, id)
move(base .. 'counts:' .. worker, st, 'cancelled')
return 'OK'
`;

/**
 * KEYS[1] the task's hash. ARGV: base, now. failed|cancelled -> queued with a fresh retry budget:
 * the failed runs so far (outcomes failed, timeout, crashed in the history, as countedFailures
 * counts them; quotes inside strings are escaped, so only the attempts' own fields match) stop
 * counting. The lease goes, so a cancelled run still out can no longer end the task.
 */
export const WT_REQUEUE_SCRIPT = `
${COUNT}
local k, base, now = KEYS[1], ARGV[1], ARGV[2]
local h = redis.call('HMGET', k, 'state', 'task_id', 'worker', 'history', 'order')
if not h[1] then return 'N' end
local st, id, worker, hist = h[1], h[2], h[3], h[4] or '[]'
if st ~= 'failed' and st ~= 'cancelled' then return 'S' .. st end
local used = 0
for _, outcome in ipairs({ 'failed', 'timeout', 'crashed' }) do
  local _, n = string.gsub(hist, '"outcome":"' .. outcome .. '"', '')
  used = used + n
end
redis.call('HSET', k, 'state', 'queued', 'failures_base', used, 'updated_at', now)
redis.call('HDEL', k, 'retry_at', 'deadline_at', 'completed_at', 'lease_holder', 'lease_expires_at')
redis.call('ZREM', base .. 'ended', id)
redis.call('ZREM', base .. 'leased:' .. worker, id)
redis.call('ZADD', base .. 'ready:' .. worker, h[5], id)
move(base .. 'counts:' .. worker, st, 'queued')
return 'OK'
`;

/** KEYS[1] the project's `all` zset (the slot). ARGV: base, holder, lease expiry, then task id, token pairs. Answer: the ids no longer held. */
export const WT_RENEW_SCRIPT = `
local base, holder, expires = ARGV[1], ARGV[2], ARGV[3]
local lost = {}
for i = 4, #ARGV, 2 do
  local id = ARGV[i]
  local k = base .. 't:' .. id
  local h = redis.call('HMGET', k, 'state', 'lease_holder', 'lease_token', 'worker')
  if h[2] == holder and h[3] == ARGV[i + 1] and (h[1] == 'running' or h[1] == 'cancelled') then
    redis.call('HSET', k, 'lease_expires_at', expires)
    if h[1] == 'running' then redis.call('ZADD', base .. 'leased:' .. h[4], expires, id) end
  else
    lost[#lost + 1] = id
  end
end
return lost
`;

/**
 * KEYS[1] the `ended` zset; KEYS[2] (with a fence) the leader's fence key (one server) or the duty's
 * high-water mark in this slot (Redis Cluster). ARGV: base, cutoff, batch size, fence mode ('',
 * 'key' or 'mark'), token. Answer: { seen, removed }, or -1 when the fence is stale (nothing written).
 */
export const WT_PRUNE_SCRIPT = `
local base = ARGV[1]
if ARGV[4] == 'key' and (redis.call('GET', KEYS[2]) or '0') ~= ARGV[5] then return -1 end
if ARGV[4] == 'mark' then
  if (tonumber(redis.call('GET', KEYS[2]) or '0') or 0) > tonumber(ARGV[5]) then return -1 end
  redis.call('SET', KEYS[2], ARGV[5])
end
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
local removed = 0
for _, id in ipairs(ids) do
  local k = base .. 't:' .. id
  local h = redis.call('HMGET', k, 'state', 'worker')
  if h[1] == 'completed' or h[1] == 'failed' or h[1] == 'cancelled' then
    redis.call('DEL', k)
    redis.call('ZREM', base .. 'all', id)
    redis.call('ZREM', base .. 'w:' .. h[2], id)
    redis.call('HINCRBY', base .. 'counts:' .. h[2], h[1], -1)
    removed = removed + 1
  end
  redis.call('ZREM', KEYS[1], id)
end
return { #ids, removed }
`;

/**
 * KEYS[1] the \`breakers\` hash (worker -> the breaker's JSON). ARGV: base, worker, expected version,
 * the new JSON. The breaker's version is kept beside it (\`breaker_version\`), so no JSON is decoded:
 * the new JSON is written only while the version is still the expected one, and the version goes up.
 * Answer: {1, json} written; {0, json or ''} refused, with what is saved now.
 */
export const WT_BREAKER_SWAP_SCRIPT = `
local versions = ARGV[1] .. 'breaker_version'
local v = tonumber(redis.call('HGET', versions, ARGV[2])) or 0
if v ~= tonumber(ARGV[3]) then return {0, redis.call('HGET', KEYS[1], ARGV[2]) or '', v} end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[4])
redis.call('HSET', versions, ARGV[2], v + 1)
return {1, ARGV[4], v + 1}
`;
