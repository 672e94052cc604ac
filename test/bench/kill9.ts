/**
 * kill -9 fault injection (DESIGN.md §8): one producer and several consumers work one database
 * file while this controller SIGKILLs them at random and restarts them. Afterwards it stops
 * everything, checks the database against what the workers logged, drains what is left and
 * checks again. The invariants: no accepted message lost, every message's state agrees with
 * its event log, no message confirmed twice, late acks fenced, `PRAGMA integrity_check` = ok.
 *
 *   npm run bench:kill9 -- [--kills 200] [--seconds 120] [--consumers 3] [--dir /tmp] [--keep] [--redis redis://127.0.0.1:6379]
 *
 * `runKill9` is the same thing as a function, for test/integration/kill9.test.ts.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import type { Message, MessageState, QueueEvent } from '../../src/domain/message.js';
import type { MessageStore, StoreOptions } from '../../src/queue/store.js';
import { openStoreSpec, redisSpec } from '../helpers/store-spec.js';
import { compiledSibling, exited, killAll, makeTempDir, numberFlag, parseFlags, percentile, randInt, removeDir, sleep } from './bench-util.js';
import { KILL9_AGENT, KILL9_DB, KILL9_LEASE_MS, KILL9_LIMITS, kill9Input } from './kill9-shared.js';

export interface Kill9Options {
  /** SIGKILLs to deliver while the workers run (the final stop is not counted). */
  kills: number;
  /** Cap on the kill phase; if it runs out first, the result is marked incomplete. */
  seconds: number;
  consumers?: number;
  /** Random pause between two kills. */
  minGapMs?: number;
  maxGapMs?: number;
  /** Parent of the run's temp directory. */
  parentDir?: string;
  /** Keep the run directory (database and logs) for inspection. */
  keep?: boolean;
  log?: (line: string) => void;
  signal?: AbortSignal;
  /** Run on the Redis store at this URL (a fresh key prefix per run) instead of a SQLite file. */
  redisUrl?: string;
}

export interface Kill9Result {
  violations: string[];
  /** False when the time cap ran out before `kills` kills. */
  complete: boolean;
  kills: number;
  killsByRole: { producer: number; consumer: number };
  /** Workers that exited on their own (always violations). */
  unexpectedExits: number;
  /** From fork to `ready` (store open), over the incarnations that got there: a loaded machine shows here. */
  workerStartMs: { median: number; max: number };
  elapsedMs: number;
  integrity: { beforeDrain: string; afterDrain: string };
  counts: {
    messages: number;
    accepted: number;
    /** Accepted ids missing from the database: must be 0. */
    lost: number;
    committedUnacknowledged: number;
    idempotentReplays: number;
    replayedCreated: number;
    confirmedByConsumers: number;
    confirmedUnlogged: number;
    confirmedInDrain: number;
    dead: number;
    expired: number;
    redeliveries: number;
    requeuedOnRestart: number;
    requeuedInDrain: number;
    leaseExpiries: number;
    leasesReclaimedInDrain: number;
    lateAcksFenced: number;
    acksAfterExpiry: number;
    failures: number;
    rejections: number;
    releases: number;
    claims: number;
    stateBeforeDrain: Partial<Record<MessageState, number>>;
  };
  dir: string;
}

/** Every transition the store may log, as kind -> (from -> allowed to). */
const transitions: Record<string, Record<string, readonly MessageState[]>> = {
  claimed: { queued: ['leased'], failed: ['leased'] },
  delivered: { leased: ['delivered'] },
  failed: { leased: ['failed', 'dead'] },
  released: { leased: ['queued'] },
  lease_expired: { leased: ['failed', 'dead', 'expired'] },
  confirmed: { delivered: ['confirmed'] },
  requeued: { delivered: ['queued', 'dead'] },
  expired: { queued: ['expired'], failed: ['expired'] },
};

interface Slot {
  role: 'producer' | 'consumer';
  index: number;
  incarnation: number;
  child: ChildProcess | null;
  /** The current incarnation has opened the store (its `ready` message came). */
  ready: boolean;
  spawnedAt: number;
  /** Set while the controller kills it, so the exit is not reported as a crash. */
  killing: boolean;
  stderr: string;
}

function readLines(file: string): string[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0);
}

/** Checks one message against its event log; returns the problems found. */
function checkMessage(m: Message, events: QueueEvent[]): string[] {
  const problems: string[] = [];
  const first = events[0];
  if (!first || first.kind !== 'enqueued' || first.toState !== 'queued') {
    return [`${m.id}: event log does not start with enqueued -> queued (${first ? `${first.kind} -> ${first.toState}` : 'empty'})`];
  }
  let state = 'queued';
  let claims = 0;
  let releases = 0;
  let requeues = 0;
  let confirms = 0;
  for (const e of events.slice(1)) {
    const allowed = transitions[e.kind]?.[e.fromState ?? ''];
    if (!allowed || !allowed.includes(e.toState as MessageState)) {
      problems.push(`${m.id}: unexpected event #${e.id} ${e.kind} ${e.fromState} -> ${e.toState}`);
    }
    if (e.fromState !== state) problems.push(`${m.id}: event #${e.id} ${e.kind} starts from ${e.fromState} but the message was ${state}`);
    state = e.toState ?? state;
    if (e.kind === 'claimed') claims++;
    if (e.kind === 'released') releases++;
    // A lapsed lease may have been written out by its dead holder: it counts as a redelivery too.
    if (e.kind === 'requeued' || e.kind === 'lease_expired') requeues++;
    if (e.kind === 'confirmed') confirms++;
  }
  if (state !== m.state) problems.push(`${m.id}: state is ${m.state} but its events end in ${state}`);
  if (m.attempts !== claims - releases) problems.push(`${m.id}: attempts ${m.attempts}, events show ${claims} claims and ${releases} releases`);
  if (m.redeliveries !== requeues) problems.push(`${m.id}: redeliveries ${m.redeliveries}, events show ${requeues} requeues and lease expiries`);
  if (confirms > 1) problems.push(`${m.id}: confirmed ${confirms} times`);
  if (m.state === 'leased' && (m.leaseToken === null || m.leaseExpiresAt === null)) problems.push(`${m.id}: leased without a lease`);
  if (m.state !== 'leased' && m.leaseToken !== null) problems.push(`${m.id}: ${m.state} but still holds lease ${m.leaseToken}`);
  if (m.state === 'failed' && m.attempts >= m.maxAttempts) problems.push(`${m.id}: failed with no attempts left (${m.attempts}/${m.maxAttempts})`);
  return problems;
}

async function loadAll(store: MessageStore): Promise<{ messages: Message[]; events: Map<string, QueueEvent[]> }> {
  const stats = await store.stats();
  const total = Object.values(stats.totals).reduce((a, b) => a + b, 0);
  const messages = await store.list({ agent: KILL9_AGENT, limit: 100_000 });
  if (messages.length !== total) throw new Error(`listed ${messages.length} messages but stats count ${total} (more than the checker reads?)`);
  const events = new Map<string, QueueEvent[]>();
  for (const m of messages) events.set(m.id, await store.events({ messageId: m.id, limit: 100_000 }));
  return { messages, events };
}

/**
 * SQLite: `PRAGMA integrity_check`. Other stores: their per-state counters agree with the messages
 * themselves (the Redis store keeps counters and indexes beside each message).
 */
async function integrity(store: MessageStore, messages: Message[]): Promise<string> {
  const sqlite = store as MessageStore & { integrityCheck?: () => string };
  if (typeof sqlite.integrityCheck === 'function') return sqlite.integrityCheck();
  const totals = (await store.stats()).totals;
  const wrong = Object.entries(totals).filter(([state, n]) => messages.filter((m) => m.state === state).length !== n);
  return wrong.length === 0 ? 'ok' : `counters disagree with the messages: ${wrong.map(([s, n]) => `${s} ${n}`).join(', ')}`;
}

export async function runKill9(options: Kill9Options): Promise<Kill9Result> {
  const log = options.log ?? ((): void => undefined);
  const consumers = options.consumers ?? 3;
  const minGap = options.minGapMs ?? 20;
  const maxGap = options.maxGapMs ?? 300;
  const dir = makeTempDir('hornets-kill9-', options.parentDir ?? os.tmpdir());
  const dbPath = path.join(dir, KILL9_DB);
  const spec = options.redisUrl ? redisSpec(options.redisUrl, `kill9-${path.basename(dir)}`) : dbPath;
  const openStore = (extra: StoreOptions = {}) => openStoreSpec(spec, { limits: KILL9_LIMITS, ...extra });
  const workerPath = compiledSibling(import.meta.url, 'kill9-worker.js');
  if (!existsSync(workerPath)) throw new Error(`${workerPath} is missing: run \`npm run build\` first`);

  const violations: string[] = [];
  const slots: Slot[] = [
    { role: 'producer', index: 0, incarnation: 0, child: null, ready: false, spawnedAt: 0, killing: false, stderr: '' },
    ...Array.from({ length: consumers }, (_, i): Slot => ({ role: 'consumer', index: i, incarnation: 0, child: null, ready: false, spawnedAt: 0, killing: false, stderr: '' })),
  ];
  const live = (): ChildProcess[] => slots.flatMap((s) => (s.child ? [s.child] : []));
  let kills = 0;
  let unexpectedExits = 0;
  const killsByRole = { producer: 0, consumer: 0 };
  let stopping = false;
  const started = Date.now();
  const startMs: number[] = [];

  const spawnSlot = (slot: Slot): void => {
    slot.incarnation++;
    const args = [slot.role, dir, String(slot.incarnation), ...(slot.role === 'consumer' ? [String(slot.index)] : [])];
    const child = fork(workerPath, args, { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], env: { ...process.env, HORNETS_KILL9_STORE: spec } });
    slot.child = child;
    slot.ready = false;
    slot.spawnedAt = Date.now();
    slot.killing = false;
    slot.stderr = '';
    child.on('message', (m) => {
      if (m !== 'ready' || slot.child !== child) return;
      slot.ready = true;
      startMs.push(Date.now() - slot.spawnedAt);
    });
    child.stderr?.on('data', (d: Buffer) => {
      slot.stderr = (slot.stderr + d.toString()).slice(-2000);
    });
    child.once('exit', (code, signal) => {
      if (slot.child !== child) return;
      slot.child = null;
      if (slot.killing || stopping) return;
      unexpectedExits++;
      violations.push(`${slot.role} ${slot.index} (incarnation ${slot.incarnation}) exited on its own: ${code ?? signal}; stderr: ${slot.stderr.trim().slice(-500)}`);
      spawnSlot(slot);
    });
  };

  try {
    // The controller creates the schema and the agent, as the daemon would before any hook runs.
    const setup = await openStore();
    await setup.registerAgents([{ name: KILL9_AGENT, profile: 'shell' }]);
    await setup.close();

    for (const s of slots) spawnSlot(s);
    log(
      `kill9: ${consumers} consumers + 1 producer on ${options.redisUrl ? `Redis (${spec.slice(spec.indexOf('#') + 1)})` : dbPath}; lease ${KILL9_LEASE_MS} ms; target ${options.kills} kills within ${options.seconds} s`,
    );

    const deadline = started + options.seconds * 1000;
    const running = (): boolean => Date.now() < deadline && !options.signal?.aborted;
    let lastReport = Date.now();
    while (kills < options.kills && running()) {
      await sleep(randInt(minGap, maxGap));
      // Only a worker that reached the store dies: on a loaded machine starting Node takes longer
      // than the mean gap, and killing workers while they started made runs in which nothing was
      // confirmed (or even enqueued) at all. With none ready, the first to get there works a gap.
      const ready = slots.filter((s) => s.ready);
      if (ready.length === 0) {
        while (!slots.some((s) => s.ready) && running()) await sleep(10);
        continue;
      }
      const slot = ready[randInt(0, ready.length - 1)]!;
      const child = slot.child;
      if (!child) continue;
      slot.killing = true;
      child.kill('SIGKILL');
      await exited(child);
      kills++;
      killsByRole[slot.role]++;
      if (!stopping) spawnSlot(slot);
      if (Date.now() - lastReport > 5_000) {
        lastReport = Date.now();
        log(`kill9: ${kills}/${options.kills} kills after ${((Date.now() - started) / 1000).toFixed(0)} s`);
      }
    }
    const complete = kills >= options.kills;
    stopping = true;
    await killAll(live());
    const killPhaseMs = Date.now() - started;
    log(`kill9: stopped all workers after ${kills} kills in ${(killPhaseMs / 1000).toFixed(1)} s; checking`);

    // ---------------------------------------------------------------- what the workers logged
    const accepted = new Map<string, string>(); // id -> key
    const attemptedKeys = new Set<string>();
    let idempotentReplays = 0;
    const replayKeys = new Set<string>();
    const createdKeys = new Set<string>();
    for (const line of readLines(path.join(dir, 'producer.log'))) {
      const [tag, ...rest] = line.split(' ');
      if (tag === 'A' && rest[0]) {
        if (attemptedKeys.has(rest[0])) replayKeys.add(rest[0]);
        attemptedKeys.add(rest[0]);
      } else if (tag === 'OK' && rest.length === 3) {
        const [key, id, created] = rest as [string, string, string];
        const prev = accepted.get(id);
        if (prev !== undefined && prev !== key) violations.push(`message ${id} accepted for two keys: ${prev} and ${key}`);
        accepted.set(id, key);
        if (created === '0') idempotentReplays++;
        else createdKeys.add(key);
      } else if (tag === 'V') {
        violations.push(`producer: ${rest.join(' ')}`);
      }
    }
    const confirmedBy = new Map<string, number>();
    let lateAcksFenced = 0;
    let acksAfterExpiry = 0;
    let failures = 0;
    let rejections = 0;
    let releases = 0;
    const unconfirmedByChoice = new Set<string>();
    let requeuedOnRestart = 0;
    for (let i = 0; i < consumers; i++) {
      for (const line of readLines(path.join(dir, `consumer-${i}.log`))) {
        const [tag, ...rest] = line.split(' ');
        if (tag === 'C') {
          for (const id of rest) {
            if (confirmedBy.has(id)) violations.push(`message ${id} confirmed by consumer ${confirmedBy.get(id)} and again by consumer ${i}`);
            confirmedBy.set(id, i);
          }
        } else if (tag === 'U') rest.forEach((id) => unconfirmedByChoice.add(id));
        else if (tag === 'L') lateAcksFenced += Number(rest[0]);
        else if (tag === 'E') acksAfterExpiry += Number(rest[0]);
        else if (tag === 'F') failures += Number(rest[0]);
        else if (tag === 'X') rejections += Number(rest[0]);
        else if (tag === 'R') releases += Number(rest[0]);
        else if (tag === 'V') violations.push(rest.join(' '));
      }
      for (const line of readLines(path.join(dir, `consumer-${i}.sessions`))) {
        const [tag, , n] = line.split(' ');
        if (tag === 'D') requeuedOnRestart += Number(n ?? 0);
      }
    }

    // ---------------------------------------------------------------- the database as the workers left it
    const store = await openStore();
    const before = await loadAll(store);
    const integrityBefore = await integrity(store, before.messages);
    if (integrityBefore !== 'ok') violations.push(`integrity_check before drain: ${integrityBefore}`);
    await store.close();
    const byId = new Map(before.messages.map((m) => [m.id, m]));
    const stateBeforeDrain: Partial<Record<MessageState, number>> = {};
    let leaseExpiries = 0;
    let claims = 0;
    for (const m of before.messages) {
      stateBeforeDrain[m.state] = (stateBeforeDrain[m.state] ?? 0) + 1;
      const events = before.events.get(m.id)!;
      violations.push(...checkMessage(m, events));
      leaseExpiries += events.filter((e) => e.kind === 'lease_expired').length;
      claims += events.filter((e) => e.kind === 'claimed').length;
      if (m.key === null || !attemptedKeys.has(m.key)) violations.push(`${m.id}: key ${m.key} was never attempted by the producer`);
      else if (m.body !== kill9Input(m.key).body) violations.push(`${m.id}: body does not match key ${m.key}`);
    }
    let lost = 0;
    for (const [id, key] of accepted) {
      const m = byId.get(id);
      if (!m) {
        lost++;
        if (lost <= 20) violations.push(`LOST: accepted message ${id} (key ${key}) is not in the database`);
      } else if (m.key !== key) violations.push(`accepted message ${id} has key ${m.key}, producer logged ${key}`);
    }
    if (lost > 20) violations.push(`LOST: ${lost} accepted messages in all`);
    for (const id of confirmedBy.keys()) {
      const m = byId.get(id);
      if (m?.state !== 'confirmed') violations.push(`consumer logged ${id} as confirmed but it is ${m?.state ?? 'missing'}`);
    }
    const acceptedKeys = new Set(accepted.values());
    const committedUnacknowledged = before.messages.filter((m) => m.key !== null && !acceptedKeys.has(m.key)).length;
    const replayedCreated = [...replayKeys].filter((k) => createdKeys.has(k)).length;
    const confirmedUnlogged = before.messages.filter((m) => m.state === 'confirmed' && !confirmedBy.has(m.id)).length;

    // ---------------------------------------------------------------- final drain, with the clock far ahead
    const future = Date.now() + 7 * 24 * 3600_000;
    const drain = await openStore({ clock: () => future });
    const swept = await drain.sweep();
    const requeuedInDrain = await drain.requeueUnconfirmed(KILL9_AGENT, { reason: 'final drain' });
    let confirmedInDrain = 0;
    for (;;) {
      const batch = await drain.claim(KILL9_AGENT, { owner: 'drain', leaseMs: 60_000, limit: 500, sessionId: 'drain' });
      if (batch.length === 0) break;
      const acked = await drain.ack({ leaseToken: batch[0]!.leaseToken!, sessionId: 'drain' });
      if (acked !== batch.length) violations.push(`drain: ack changed ${acked} of ${batch.length}`);
      const confirmed = await drain.confirm(KILL9_AGENT, { sessionId: 'drain', ids: batch.map((m) => m.id) });
      if (confirmed !== acked) violations.push(`drain: confirm changed ${confirmed} of ${acked}`);
      confirmedInDrain += confirmed;
    }
    const after = await loadAll(drain);
    const integrityAfter = await integrity(drain, after.messages);
    if (integrityAfter !== 'ok') violations.push(`integrity_check after drain: ${integrityAfter}`);
    await drain.close();
    const terminal: readonly MessageState[] = ['confirmed', 'dead', 'expired'];
    let redeliveries = 0;
    for (const m of after.messages) {
      const events = after.events.get(m.id)!;
      violations.push(...checkMessage(m, events).map((p) => `after drain: ${p}`));
      if (!terminal.includes(m.state)) violations.push(`after drain: ${m.id} is still ${m.state}`);
      redeliveries += m.redeliveries;
    }
    if (after.messages.length !== before.messages.length) violations.push(`drain changed the message count ${before.messages.length} -> ${after.messages.length}`);
    const afterIds = new Set(after.messages.map((m) => m.id));
    for (const id of accepted.keys()) if (byId.has(id) && !afterIds.has(id)) violations.push(`accepted ${id} vanished during the drain`);
    const count = (s: MessageState): number => after.messages.filter((m) => m.state === s).length;

    return {
      violations,
      complete,
      kills,
      killsByRole,
      unexpectedExits,
      workerStartMs: { median: percentile(startMs, 50), max: Math.max(0, ...startMs) },
      elapsedMs: Date.now() - started,
      integrity: { beforeDrain: integrityBefore, afterDrain: integrityAfter },
      counts: {
        messages: after.messages.length,
        accepted: accepted.size,
        lost,
        committedUnacknowledged,
        idempotentReplays,
        replayedCreated,
        confirmedByConsumers: confirmedBy.size,
        confirmedUnlogged,
        confirmedInDrain,
        dead: count('dead'),
        expired: count('expired'),
        redeliveries,
        requeuedOnRestart,
        requeuedInDrain,
        leaseExpiries,
        leasesReclaimedInDrain: swept.leasesReclaimed,
        lateAcksFenced,
        acksAfterExpiry,
        failures,
        rejections,
        releases,
        claims,
        stateBeforeDrain,
      },
      dir,
    };
  } finally {
    stopping = true;
    await killAll(live());
    if (!options.keep) removeDir(dir);
  }
}

export function formatKill9(r: Kill9Result): string[] {
  const c = r.counts;
  const states = Object.entries(c.stateBeforeDrain)
    .map(([s, n]) => `${s} ${n}`)
    .join(', ');
  return [
    `kills            ${r.kills} (producer ${r.killsByRole.producer}, consumers ${r.killsByRole.consumer})${r.complete ? '' : ' INCOMPLETE: time cap reached'}; unexpected exits ${r.unexpectedExits}; ${(r.elapsedMs / 1000).toFixed(1)} s`,
    `worker start     ${r.workerStartMs.median} ms median, ${r.workerStartMs.max} ms max (fork to store open; kills wait for it)`,
    `messages         ${c.messages} in the db; ${c.accepted} accepted (enqueue resolved, logged by the producer); LOST: ${c.lost}`,
    `                 ${c.committedUnacknowledged} committed but never logged (producer killed between commit and log, no replay since)`,
    `                 in-doubt enqueues replayed after a producer restart: ${c.idempotentReplays} had committed (idempotency key returned the original), ${c.replayedCreated} had not (created now)`,
    `before drain     ${states}`,
    `delivery         ${c.claims} claims; ${c.confirmedByConsumers} confirmed and logged by consumers, ${c.confirmedUnlogged} confirmed but the consumer died before logging`,
    `                 ${c.failures} failed (retry), ${c.rejections} rejected (dead), ${c.releases} released`,
    `leases           ${c.leaseExpiries} lease expiries reclaimed by later claims; ${c.lateAcksFenced} late acks refused (lease held past expiry); ${c.acksAfterExpiry} acks that lost the lease while waiting`,
    `redeliveries     ${c.redeliveries} (${c.requeuedOnRestart} requeued when a consumer restarted, ${c.requeuedInDrain} in the final drain)`,
    `final drain      ${c.leasesReclaimedInDrain} leases reclaimed, ${c.confirmedInDrain} confirmed; end states: confirmed ${c.messages - c.dead - c.expired}, dead ${c.dead}, expired ${c.expired}`,
    `integrity_check  before drain: ${r.integrity.beforeDrain}; after drain: ${r.integrity.afterDrain}`,
    `violations       ${r.violations.length}`,
  ];
}

async function main(): Promise<number> {
  const flags = parseFlags(process.argv.slice(2));
  const kills = numberFlag(flags, 'kills', 200);
  const seconds = numberFlag(flags, 'seconds', 120);
  const consumers = numberFlag(flags, 'consumers', 3);
  const redisUrl = typeof flags.get('redis') === 'string' ? (flags.get('redis') as string) : undefined;
  const parentDir = typeof flags.get('dir') === 'string' ? (flags.get('dir') as string) : undefined;
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  process.once('SIGTERM', () => abort.abort());
  const result = await runKill9({
    kills,
    seconds,
    consumers,
    parentDir,
    keep: flags.has('keep'),
    ...(redisUrl ? { redisUrl } : {}),
    signal: abort.signal,
    log: (l) => console.error(l),
  });
  console.log('');
  console.log(`hornets-tui kill -9 harness: ${consumers} consumers + 1 producer, lease ${KILL9_LEASE_MS} ms, node ${process.version}, ${os.cpus().length} cpus`);
  for (const l of formatKill9(result)) console.log(`  ${l}`);
  for (const v of result.violations.slice(0, 50)) console.log(`  VIOLATION: ${v}`);
  if (result.violations.length > 50) console.log(`  ... and ${result.violations.length - 50} more`);
  if (flags.has('keep')) console.log(`  kept ${result.dir}`);
  if (result.violations.length > 0) {
    console.log('FAIL: invariants violated');
    return 1;
  }
  if (!result.complete) {
    console.log(`FAIL: only ${result.kills} of ${kills} kills before the ${seconds} s cap`);
    return 1;
  }
  console.log('OK: zero accepted messages lost, states consistent with events, integrity ok');
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main();
}
