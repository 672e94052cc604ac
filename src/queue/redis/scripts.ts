/**
 * The hot paths of the Redis store, one script and one round trip each: enqueue, claim, and the
 * lease settlements (ack, release) and confirm. They decide in Lua what the domain functions
 * decide in TypeScript on the generic compare-and-set path (commit.ts), which stays for the rare
 * operations and for whatever a script declines (answer 'F', see below).
 *
 * Messages stay one JSON value per id in `msgs`, written by encodeMessage with `meta` as the last
 * field. A script decodes only the part before `,"meta":` (scalars, so nothing cjson would change:
 * numbers are written back with 17 significant digits, null stays null) and carries `meta` over as
 * text — cjson would turn an empty array into `{}` and round big integers. No `,"meta":` can occur
 * earlier: every field before it is a scalar, and quotes inside strings are escaped.
 *
 * A script answers 'F' (nothing written) when it meets a value cjson cannot decode (a lone UTF-16
 * surrogate in a body, for one): the store then runs the generic path, which handles it.
 *
 * Every script that writes bumps the agent's fence (`ver` for changes to existing messages,
 * `enqver` for new ones), so the generic path's optimistic commits still see them, and leaves a
 * one-time marker holding its answer (60 s): ioredis re-sends a command whose reply was lost when
 * it reconnects, and the re-send then gets the first answer instead of being applied again.
 *
 * KEYS: 1 the agent's `ver`, 2 the marker; enqueue adds 3 the project's `seq` on a single server.
 * The other keys are named from these by the layout of keys.ts (agentKeys, globalKeys): same hash
 * tags, so the same slots as the keys passed. Passing all 17 would double what a call sends and
 * Redis parses.
 *
 * On a Redis Cluster a script touches one slot only: the agent's. Enqueue then gets its seqs from
 * RESERVE_SCRIPT (the project's slot, one step before; it also indexes the ids) and passes them in.
 */
import type { Message } from '../../domain/message.js';
import type { AgentKeys, GlobalKeys } from './keys.js';

/** The stored form of a message: `meta` last, see above. */
export function encodeMessage(m: Omit<Message, 'id' | 'seq'> & Partial<Pick<Message, 'id' | 'seq'>>): string {
  const { meta, ...head } = m;
  return `${JSON.stringify(head).slice(0, -1)},"meta":${JSON.stringify(meta ?? null)}}`;
}

export function messageScriptKeys(k: AgentKeys, opId: string): string[] {
  return [k.ver, k.op(opId)];
}

export function enqueueScriptKeys(k: AgentKeys, g: GlobalKeys, opId: string): string[] {
  return [k.ver, k.op(opId), g.seq];
}

/** Redis Cluster: the agent's slot only; the seqs come reserved (RESERVE_SCRIPT) as arguments. */
export function enqueueClusterScriptKeys(k: AgentKeys, opId: string): string[] {
  return [k.ver, k.op(opId)];
}

/** base-32 head of an id from its seq, as util/ids.ts sequentialId writes it. */
const ID_HEAD = `
local AL = '0123456789abcdefghjkmnpqrstvwxyz'
local function idHead(seq)
  local n, head = seq, ''
  repeat
    local d = n % 32
    head = string.sub(AL, d + 1, d + 1) .. head
    n = math.floor(n / 32)
  until n == 0
  if #head < 4 then head = string.rep('0', 4 - #head) .. head end
  return head
end
`;

/**
 * Redis Cluster, the project's slot: takes one seq per message and indexes the ids they make (head
 * of the seq, then the suffix) before the agents' ENQUEUE_SCRIPTs write the messages. KEYS: 1 seq,
 * 2 ids, 3 idlex. ARGV: per message its id suffix and agent. Answers the first seq taken minus one.
 * An id indexed here whose message is never written (the enqueue failed, or found its key taken)
 * points at nothing: lookups check the message itself, and the caller removes what it knows unused.
 */
export const RESERVE_SCRIPT = `${ID_HEAD}
local n = #ARGV / 2
local base = redis.call('INCRBY', KEYS[1], n) - n
local ids, lex = {}, {}
for i = 1, n do
  local id = idHead(base + i) .. ARGV[2 * i - 1]
  ids[#ids + 1] = id; ids[#ids + 1] = ARGV[2 * i]
  lex[#lex + 1] = 0; lex[#lex + 1] = id
end
for c = 1, #ids, 2000 do
  redis.call('HSET', KEYS[2], unpack(ids, c, math.min(c + 1999, #ids)))
  redis.call('ZADD', KEYS[3], unpack(lex, c, math.min(c + 1999, #lex)))
end
return base
`;

/** The id RESERVE_SCRIPT and ENQUEUE_SCRIPT make of a seq and a suffix. */
export function idOf(seq: number, suffix: string): string {
  let n = seq;
  let head = '';
  do {
    head = ID_ALPHABET[n % 32]! + head;
    n = Math.floor(n / 32);
  } while (n > 0);
  return head.padStart(4, '0') + suffix;
}
const ID_ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

/** Strings a script could not decode (cjson refuses lone surrogates): such calls take the generic path. */
export const undecodable = /\p{Surrogate}/u;

const PRELUDE = `
local NULL = cjson.null
local B = string.sub(KEYS[1], 1, -4)
local K = { ver = KEYS[1], enqver = B .. 'enqver', agent = B .. 'agent', msgs = B .. 'msgs', all = B .. 'all', keys = B .. 'keys', ready = B .. 'ready',
  ttl = B .. 'ttl', wcreated = B .. 'wcreated', leased = B .. 'leased', delivered = B .. 'delivered', done = B .. 'done', counts = B .. 'counts', marker = KEYS[2] }
local EV = B .. 'ev:'

-- One read for the marker and the agent record (nil when the agent is unknown).
local first = redis.call('MGET', K.marker, K.agent)
if first[1] then return first[1] end
local rawAgent = first[2]

local function enc(v)
  if v == nil or v == NULL then return 'null' end
  local t = type(v)
  if t == 'number' then
    if v == math.floor(v) and v > -9007199254740992 and v < 9007199254740992 then return string.format('%d', v) end
    return string.format('%.17g', v)
  end
  if t == 'boolean' then return v and 'true' or 'false' end
  -- Most strings need no escape (cjson's set, '/' included): quoted as they are, the same bytes
  -- cjson.encode would write, without its call and buffer.
  if t == 'string' and not string.find(v, '[%z\\1-\\31"\\\\/\\127]') then return '"' .. v .. '"' end
  return cjson.encode(v)
end

local function isWaiting(s) return s == 'queued' or s == 'failed' end

-- The message and its undecoded tail (',"meta":…}'), or nil when it cannot be handled here.
local function readMsg(json)
  local p = string.find(json, ',"meta":', 1, true)
  local head, tail = json, '}'
  if p then head = string.sub(json, 1, p - 1) .. '}'; tail = string.sub(json, p) end
  local ok, m = pcall(cjson.decode, head)
  if not ok or type(m) ~= 'table' then return nil end
  if not p and type(m.meta) == 'table' then return nil end
  -- Only meta may follow: a field after it would be written back twice, its old value last.
  if p and tail ~= ',"meta":null}' then
    local okT, t = pcall(cjson.decode, '{' .. string.sub(tail, 2))
    if not okT or type(t) ~= 'table' then return nil end
    for k in pairs(t) do
      if k ~= 'meta' then return nil end
    end
  end
  return m, tail
end

local function writeMsg(m, tail)
  local parts = {}
  -- Field names are the Message's own identifiers: nothing to escape.
  for k, v in pairs(m) do parts[#parts + 1] = '"' .. k .. '":' .. enc(v) end
  return '{' .. table.concat(parts, ',') .. tail
end

local function readyScore(m) return (200 - m.priority) * 17592186044416 + m.seq end

-- Writes m and moves its id between the state indexes (the store's put()).
local function put(before, m, tail)
  local json = writeMsg(m, tail)
  redis.call('HSET', K.msgs, m.id, json)
  local after = m.state
  if before == after and not isWaiting(after) and after ~= 'leased' then return json end
  if isWaiting(before) then
    redis.call('ZREM', K.ready, m.id); redis.call('ZREM', K.wcreated, m.id)
    -- Only a message with a TTL is in the ttl index (its expiresAt does not change here).
    if m.expiresAt ~= NULL then redis.call('ZREM', K.ttl, m.id) end
  elseif before == 'leased' then redis.call('ZREM', K.leased, m.id)
  elseif before == 'delivered' then redis.call('ZREM', K.delivered, m.id)
  else redis.call('ZREM', K.done, m.id) end
  redis.call('HINCRBY', K.counts, before, -1)
  if isWaiting(after) then
    redis.call('ZADD', K.ready, enc(readyScore(m)), m.id)
    redis.call('ZADD', K.wcreated, enc(m.createdAt), m.id)
    if m.expiresAt ~= NULL then redis.call('ZADD', K.ttl, enc(m.expiresAt), m.id) end
  elseif after == 'leased' then redis.call('ZADD', K.leased, enc(m.leaseExpiresAt), m.id)
  elseif after == 'delivered' then redis.call('ZADD', K.delivered, enc(m.seq), m.id)
  else redis.call('ZADD', K.done, enc(m.updatedAt), m.id) end
  redis.call('HINCRBY', K.counts, after, 1)
  return json
end

local function event(m, now, kind, from, to, detail)
  redis.call('RPUSH', EV .. m.id, '{"ts":' .. enc(now) .. ',"agent":' .. enc(m.agent) .. ',"kind":"' .. kind .. '","from":' .. enc(from) .. ',"to":' .. enc(to) .. ',"detail":' .. detail .. '}')
end

local function finish(fence, reply)
  redis.call('INCR', fence)
  redis.call('SET', K.marker, reply, 'PX', 60000)
  return reply
end
`;

/**
 * ARGV: 1 agent, 2 default depth limit, 3 the 'enqueued' event as JSON, 4 createdAt, then 5 per
 * message: key ('' for none: keys are never empty), id suffix, priority, expiresAt ('' for none), and the message
 * as JSON without id and seq (starting '{"agent":', meta last). Without KEYS[3] (Redis Cluster) one
 * reserved seq per message follows, and the project's id index is left to RESERVE_SCRIPT.
 * Answers 'U' (unknown agent), 'Q<pending>:<limit>' (queue full, nothing written) or a JSON array
 * with one entry per message: ["n", id, seq] new, ["o", message] existing for its key, ["d", i]
 * the same key as the i-th (0-based) message of this call.
 */
export const ENQUEUE_SCRIPT = `${PRELUDE}
local SEQ = KEYS[3]
local IDS, IDLEX
if SEQ then
  local G = string.sub(SEQ, 1, -4)
  IDS, IDLEX = G .. 'ids', G .. 'idlex'
end
local agentName, ev = ARGV[1], ARGV[3]
if not rawAgent then return 'U' end
local okA, agent = pcall(cjson.decode, rawAgent)
if not okA then return 'F' end
local limit = tonumber(ARGV[2])
if type(agent.maxDepth) == 'number' then limit = agent.maxDepth end
-- Pending = queued + failed + leased + delivered, from the counters every write keeps.
local pending = 0
for _, c in ipairs(redis.call('HMGET', K.counts, 'queued', 'failed', 'leased', 'delivered')) do pending = pending + (tonumber(c) or 0) end
local createdAt = ARGV[4]
local count = SEQ and (#ARGV - 4) / 5 or (#ARGV - 4) / 6
local out, fresh, taken = {}, {}, {}
for i = 1, count do
  local b = 4 + (i - 1) * 5
  local key = ARGV[b + 1]
  local hasKey = key ~= ''
  local done = false
  if hasKey then
    if taken[key] then
      out[i] = '["d",' .. (taken[key] - 1) .. ']'
      done = true
    else
      local id = redis.call('HGET', K.keys, key)
      local existing = id and redis.call('HGET', K.msgs, id)
      if existing then
        out[i] = '["o",' .. existing .. ']'
        done = true
      end
    end
  end
  if not done then
    if pending >= limit then return 'Q' .. pending .. ':' .. limit end
    pending = pending + 1
    if hasKey then taken[key] = i end
    fresh[#fresh + 1] = i
  end
end
if #fresh == 0 then return '[' .. table.concat(out, ',') .. ']' end
local AL = '0123456789abcdefghjkmnpqrstvwxyz'
-- Members of each index are gathered and written with one call per index (a batch of 1,000 is
-- then ~1,000 RPUSHes and a handful of calls, not 10,000), in chunks Lua can unpack.
local wMsgs, wAll, wKeys, wReady, wCreated, wTtl, wIds, wIdlex = { n = 0 }, { n = 0 }, { n = 0 }, { n = 0 }, { n = 0 }, { n = 0 }, { n = 0 }, { n = 0 }
local function push(w, a1, a2)
  local n = w.n
  w[n + 1], w[n + 2], w.n = a1, a2, n + 2
end
local seq = SEQ and redis.call('INCRBY', SEQ, #fresh) - #fresh
for _, i in ipairs(fresh) do
  local b = 4 + (i - 1) * 5
  if SEQ then seq = seq + 1 else seq = tonumber(ARGV[4 + count * 5 + i]) end
  local n, head = seq, ''
  repeat
    local d = n % 32
    head = string.sub(AL, d + 1, d + 1) .. head
    n = math.floor(n / 32)
  until n == 0
  if #head < 4 then head = string.rep('0', 4 - #head) .. head end
  local id = head .. ARGV[b + 2]
  local seqText = enc(seq)
  local key, expiresAt = ARGV[b + 1], ARGV[b + 4]
  push(wMsgs, id, '{"id":"' .. id .. '","seq":' .. seqText .. ',' .. string.sub(ARGV[b + 5], 2))
  push(wAll, seqText, id)
  if key ~= '' then push(wKeys, key, id) end
  push(wReady, enc((200 - tonumber(ARGV[b + 3])) * 17592186044416 + seq), id)
  push(wCreated, createdAt, id)
  if expiresAt ~= '' then push(wTtl, expiresAt, id) end
  if SEQ then
    push(wIds, id, agentName)
    push(wIdlex, 0, id)
  end
  redis.call('RPUSH', EV .. id, ev)
  out[i] = '["n","' .. id .. '",' .. seqText .. ']'
end
for _, w in ipairs({ { 'HSET', K.msgs, wMsgs }, { 'ZADD', K.all, wAll }, { 'HSET', K.keys, wKeys }, { 'ZADD', K.ready, wReady }, { 'ZADD', K.wcreated, wCreated }, { 'ZADD', K.ttl, wTtl }, { 'HSET', IDS or K.msgs, wIds }, { 'ZADD', IDLEX or K.all, wIdlex } }) do
  local args = w[3]
  for c = 1, args.n, 2000 do redis.call(w[1], w[2], unpack(args, c, math.min(c + 1999, args.n))) end
end
redis.call('HINCRBY', K.counts, 'queued', #fresh)
return finish(K.enqver, '[' .. table.concat(out, ',') .. ']')
`;

/**
 * ARGV[1] JSON: {agent, now, until, limit, owner, session?, ignorePause, token, leaseMs, page}.
 * Lease reclaim and TTL expiry first (as the generic claim and sweep), then up to `limit` waiting
 * messages in delivery order under one lease. Answers 'U' (unknown agent), 'F', or a JSON array of
 * the leased messages.
 */
export const CLAIM_SCRIPT = `${PRELUDE}
local a = cjson.decode(ARGV[1])
local now = a.now
if not rawAgent then return 'U' end
local okA, agent = pcall(cjson.decode, rawAgent)
if not okA then return 'F' end

-- Reads and decisions first: nothing is written before every message involved decoded.
local lapsed, expiring, gone = {}, {}, {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', K.leased, '-inf', enc(now))) do
  local json = redis.call('HGET', K.msgs, id)
  if json then
    local m, tail = readMsg(json)
    if not m then return 'F' end
    if m.state == 'leased' then
      lapsed[#lapsed + 1] = { m = m, tail = tail }
      gone[id] = true
    end
  end
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', K.ttl, '-inf', enc(now))) do
  local json = redis.call('HGET', K.msgs, id)
  if json and not gone[id] then
    local m, tail = readMsg(json)
    if not m then return 'F' end
    if isWaiting(m.state) then expiring[#expiring + 1] = { m = m, tail = tail } end
  end
end
local function eligible(m) return isWaiting(m.state) and m.availableAt <= now and (m.expiresAt == NULL or m.expiresAt > now) end
local cands = {}
if agent.paused ~= true or a.ignorePause then
  -- A lapsed lease with attempts and time left is waiting again, at once.
  for _, r in ipairs(lapsed) do
    local m = r.m
    if not (m.expiresAt ~= NULL and m.expiresAt <= now) and m.attempts < m.maxAttempts then cands[#cands + 1] = r end
  end
  -- The ready index is in delivery order: the first \`limit\` eligible ones are all that can win.
  -- Pages start at \`limit\` (usually all it takes) and grow up to \`page\` while backoffs fill them.
  local fromReady, start, size = 0, 0, a.limit
  while fromReady < a.limit do
    local ids = redis.call('ZRANGE', K.ready, start, start + size - 1)
    for _, id in ipairs(ids) do
      local json = redis.call('HGET', K.msgs, id)
      if json then
        local m, tail = readMsg(json)
        if not m then return 'F' end
        if eligible(m) then
          cands[#cands + 1] = { m = m, tail = tail }
          fromReady = fromReady + 1
          if fromReady >= a.limit then break end
        end
      end
    end
    if #ids < size then break end
    start = start + size
    size = math.min(a.page, size * 4)
  end
end

local wrote = false
for _, r in ipairs(lapsed) do
  local m = r.m
  local owner, attempt = m.leaseOwner, m.attempts
  local err = 'lease expired (held by ' .. (owner ~= NULL and owner or 'unknown') .. ', attempt ' .. enc(m.attempts) .. '/' .. enc(m.maxAttempts) .. ')'
  local ttlPassed = m.expiresAt ~= NULL and m.expiresAt <= now
  local dead = not ttlPassed and m.attempts >= m.maxAttempts
  m.state = ttlPassed and 'expired' or (dead and 'dead' or 'failed')
  m.lastError = err
  if dead then m.deadReason = err .. '; no attempts left' end
  m.leaseToken, m.leaseOwner, m.leaseExpiresAt = NULL, NULL, NULL
  m.availableAt = now
  m.redeliveries = m.redeliveries + 1
  m.updatedAt = now
  put('leased', m, r.tail)
  event(m, now, 'lease_expired', 'leased', m.state, '{"owner":' .. enc(owner) .. ',"attempt":' .. enc(attempt) .. '}')
  wrote = true
end
for _, r in ipairs(expiring) do
  local m = r.m
  local before = m.state
  m.state, m.updatedAt = 'expired', now
  put(before, m, r.tail)
  event(m, now, 'expired', before, 'expired', '{"expiresAt":' .. enc(m.expiresAt) .. '}')
  wrote = true
end
table.sort(cands, function(x, y) return readyScore(x.m) < readyScore(y.m) end)
local leased = {}
for i = 1, math.min(a.limit, #cands) do
  local m, tail = cands[i].m, cands[i].tail
  local before = m.state
  m.state = 'leased'
  m.attempts = m.attempts + 1
  m.leaseToken, m.leaseOwner, m.leaseExpiresAt = a.token, a.owner, a['until']
  if a.session ~= nil and a.session ~= NULL then m.sessionId = a.session end
  m.updatedAt = now
  leased[#leased + 1] = put(before, m, tail)
  event(m, now, 'claimed', before, 'leased', '{"owner":' .. enc(a.owner) .. ',"attempt":' .. enc(m.attempts) .. ',"leaseMs":' .. enc(a.leaseMs) .. '}')
  wrote = true
end
local reply = '[' .. table.concat(leased, ',') .. ']'
if not wrote then return reply end
return finish(K.ver, reply)
`;

/**
 * ARGV[1] JSON: {mode: 'ack' | 'release' | 'confirm', now, token?, ids?, session?}.
 * ack/release: the messages still validly held under `token` (optionally only `ids`); confirm: the
 * delivered messages (of `session` when given, optionally only `ids`). Answers 'F' or the count.
 */
export const SETTLE_SCRIPT = `${PRELUDE}
local a = cjson.decode(ARGV[1])
local now = a.now
local wanted = nil
if a.ids then
  wanted = {}
  for _, id in ipairs(a.ids) do wanted[id] = true end
end
local rows = {}
if a.mode == 'confirm' then
  for _, id in ipairs(redis.call('ZRANGE', K.delivered, 0, -1)) do
    if not wanted or wanted[id] then
      local json = redis.call('HGET', K.msgs, id)
      if json then
        local m, tail = readMsg(json)
        if not m then return 'F' end
        if m.state == 'delivered' and (a.session == nil or m.sessionId == a.session) then rows[#rows + 1] = { m = m, tail = tail } end
      end
    end
  end
else
  local needle = '"leaseToken":' .. cjson.encode(a.token)
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', K.leased, '(' .. enc(now), '+inf')) do
    if not wanted or wanted[id] then
      local json = redis.call('HGET', K.msgs, id)
      -- Most leased messages belong to other leases: looked at without decoding.
      if json and string.find(json, needle, 1, true) then
        local m, tail = readMsg(json)
        if not m then return 'F' end
        if m.state == 'leased' and m.leaseToken == a.token and m.leaseExpiresAt ~= NULL and m.leaseExpiresAt > now then rows[#rows + 1] = { m = m, tail = tail } end
      end
    end
  end
end
if #rows == 0 then return '0' end
for _, r in ipairs(rows) do
  local m = r.m
  local before = m.state
  if a.mode == 'ack' then
    local owner = m.leaseOwner
    if a.session ~= nil then m.sessionId = a.session end
    m.state, m.deliveredAt = 'delivered', now
    m.leaseToken, m.leaseOwner, m.leaseExpiresAt = NULL, NULL, NULL
    m.updatedAt = now
    put(before, m, r.tail)
    event(m, now, 'delivered', 'leased', 'delivered', '{"owner":' .. enc(owner) .. ',"session":' .. enc(m.sessionId) .. '}')
  elseif a.mode == 'release' then
    m.state = 'queued'
    m.attempts = math.max(0, m.attempts - 1)
    m.leaseToken, m.leaseOwner, m.leaseExpiresAt = NULL, NULL, NULL
    m.updatedAt = now
    put(before, m, r.tail)
    event(m, now, 'released', 'leased', 'queued', 'null')
  else
    m.state, m.confirmedAt, m.updatedAt = 'confirmed', now, now
    put(before, m, r.tail)
    event(m, now, 'confirmed', 'delivered', 'confirmed', '{"session":' .. enc(m.sessionId) .. '}')
  end
end
return finish(K.ver, tostring(#rows))
`;
