/**
 * Producer and consumer processes for the kill -9 harness (kill9.ts). They are killed with
 * SIGKILL at random moments, so everything they report goes to append-only files, written only
 * after the store call it describes has resolved.
 *
 *   kill9-worker producer <dir> <incarnation>
 *   kill9-worker consumer <dir> <incarnation> <index>
 *
 * The store is <dir>/hornets.db, or the one HORNETS_KILL9_STORE names (test/helpers/store-spec.ts:
 * `redis://host:port#prefix` for the Redis store). Once it is open the worker sends `ready` over IPC.
 *
 * producer.log   `A <key>...`           about to enqueue these keys
 *                `OK <key> <id> <0|1>`  the enqueue promise resolved (1 = created, 0 = idempotent replay)
 *                `V <text>`             invariant violation seen by the producer
 * consumer-N.sessions  `S <session>` session started; `D <session> <n>` its unconfirmed deliveries requeued
 * consumer-N.log `C <id>...`  confirmed (ack + confirm both resolved)
 *                `U <id>...`  acked but deliberately left unconfirmed (session "crashes" before confirming)
 *                `L <n>`      late ack after the lease expired, correctly refused
 *                `F <n>` / `X <n>` / `R <n>`  failed (retryable) / rejected (dead) / released
 *                `E <n>`      ack refused because the lease had expired while waiting for the lock
 *                `V <text>`   invariant violation
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

import type { Message } from '../../src/domain/message.js';
import { QueueError } from '../../src/errors.js';
import type { MessageStore } from '../../src/queue/store.js';
import { openStoreSpec } from '../helpers/store-spec.js';
import { randInt, sleep } from './bench-util.js';
import { KILL9_AGENT, KILL9_DB, KILL9_LEASE_MS, KILL9_LIMITS, kill9Input } from './kill9-shared.js';

function readLines(file: string): string[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0);
}

// ------------------------------------------------------------------ producer

async function producer(dir: string, incarnation: number, store: MessageStore): Promise<never> {
  const log = path.join(dir, 'producer.log');
  const violation = (text: string): void => appendFileSync(log, `V ${text.replace(/\n/g, ' | ')}\n`);

  const enqueueWithBackpressure = async (keys: string[]): Promise<void> => {
    appendFileSync(log, keys.map((k) => `A ${k}\n`).join(''));
    for (;;) {
      try {
        const inputs = keys.map(kill9Input);
        const results = keys.length === 1 ? [await store.enqueue(inputs[0]!)] : await store.enqueueBatch(inputs);
        for (const [i, r] of results.entries()) {
          if (r.message.key !== keys[i]) violation(`enqueue of ${keys[i]} returned message ${r.message.id} with key ${r.message.key}`);
          if (r.message.body !== inputs[i]!.body) violation(`enqueue of ${keys[i]} returned message ${r.message.id} with another body`);
        }
        appendFileSync(log, results.map((r, i) => `OK ${keys[i]} ${r.message.id} ${r.created ? 1 : 0}\n`).join(''));
        return;
      } catch (err) {
        if (err instanceof QueueError && err.code === 'queue_full') {
          await sleep(50);
          continue;
        }
        throw err;
      }
    }
  };

  // Replay what a previous incarnation attempted but never saw resolve: it may or may not have
  // committed, and the idempotency key must make the replay safe either way.
  const resolved = new Set<string>();
  const attempted: string[] = [];
  for (const line of readLines(log)) {
    const [tag, key] = line.split(' ');
    if (!key) continue;
    if (tag === 'A') attempted.push(key);
    else if (tag === 'OK') resolved.add(key);
  }
  const inDoubt = attempted.filter((k) => !resolved.has(k));
  if (inDoubt.length > 0) await enqueueWithBackpressure(inDoubt);

  for (let n = 0; ;) {
    const size = Math.random() < 0.2 ? randInt(2, 8) : 1;
    const keys = Array.from({ length: size }, () => `p${incarnation}-${n++}`);
    await enqueueWithBackpressure(keys);
    // Roughly 500-1,000 messages/s: enough backlog for the consumers, not an unbounded queue.
    if (Math.random() < 0.7) await sleep(1);
  }
}

// ------------------------------------------------------------------ consumer

async function consumer(dir: string, incarnation: number, index: number, store: MessageStore): Promise<never> {
  const log = path.join(dir, `consumer-${index}.log`);
  const sessions = path.join(dir, `consumer-${index}.sessions`);
  const write = (line: string): void => appendFileSync(log, `${line}\n`);
  const violation = (text: string): void => write(`V consumer ${index}: ${text.replace(/\n/g, ' | ')}`);

  // Sessions of earlier incarnations ended with a crash: their delivered-unconfirmed messages
  // go back to the queue as redeliveries (DESIGN.md §3).
  const started: string[] = [];
  const finished = new Set<string>();
  for (const line of readLines(sessions)) {
    const [tag, sid] = line.split(' ');
    if (!sid) continue;
    if (tag === 'S') started.push(sid);
    else if (tag === 'D') finished.add(sid);
  }
  for (const sid of started) {
    if (finished.has(sid)) continue;
    const n = await store.requeueUnconfirmed(KILL9_AGENT, { sessionId: sid, reason: `consumer ${index} session ${sid} crashed` });
    appendFileSync(sessions, `D ${sid} ${n}\n`);
  }
  const session = `c${index}.${incarnation}.${process.pid}`;
  appendFileSync(sessions, `S ${session}\n`);
  const owner = `consumer-${index}/${process.pid}`;

  /** A fenced call may change all of the lease's messages, or none if the lease ran out first. */
  const checkFenced = (what: string, changed: number, batch: Message[], expiry: number, endedAt: number): void => {
    if (changed !== 0 && changed !== batch.length) violation(`${what} changed ${changed} of the ${batch.length} messages of one lease`);
    if (changed === 0 && endedAt < expiry) violation(`${what} of ${batch.map((m) => m.id).join(',')} changed nothing although the lease was valid until ${expiry} and the call ended at ${endedAt}`);
  };

  for (;;) {
    const batch = await store.claim(KILL9_AGENT, { owner, leaseMs: KILL9_LEASE_MS, limit: randInt(1, 3), sessionId: session });
    if (batch.length === 0) {
      await sleep(randInt(2, 10));
      continue;
    }
    const token = batch[0]!.leaseToken!;
    const expiry = batch[0]!.leaseExpiresAt!;
    for (const m of batch) {
      if (m.state !== 'leased' || m.leaseToken !== token || m.leaseExpiresAt !== expiry) violation(`claim returned ${m.id} in state ${m.state} with a different lease`);
    }
    const ids = batch.map((m) => m.id);
    const r = Math.random();
    if (r < 0.04) {
      const n = await store.fail({ leaseToken: token, error: 'simulated failure' });
      checkFenced('fail', n, batch, expiry, Date.now());
      write(`F ${n}`);
    } else if (r < 0.05) {
      const n = await store.fail({ leaseToken: token, error: 'simulated poison message', retryable: false });
      checkFenced('reject', n, batch, expiry, Date.now());
      write(`X ${n}`);
    } else if (r < 0.08) {
      // Hold the lease past its expiry (another consumer may take the message meanwhile), then ack late.
      await sleep(KILL9_LEASE_MS + randInt(20, 150));
      const n = await store.ack({ leaseToken: token, sessionId: session });
      if (n !== 0) violation(`late ack of ${ids.join(',')} after the lease expired changed ${n} messages`);
      write(`L ${batch.length}`);
    } else if (r < 0.1) {
      const n = await store.release({ leaseToken: token });
      checkFenced('release', n, batch, expiry, Date.now());
      write(`R ${n}`);
    } else {
      const n = await store.ack({ leaseToken: token, sessionId: session });
      checkFenced('ack', n, batch, expiry, Date.now());
      if (n === 0) {
        write(`E ${batch.length}`);
        continue;
      }
      if (r < 0.13) {
        // The "session" carries on without confirming; a restart of this consumer requeues them.
        write(`U ${ids.join(' ')}`);
        continue;
      }
      const c = await store.confirm(KILL9_AGENT, { sessionId: session, ids });
      if (c !== n) violation(`confirm of ${ids.join(',')} changed ${c} messages, expected ${n}`);
      write(`C ${ids.join(' ')}`);
    }
  }
}

// ------------------------------------------------------------------ entry

const [role, dir, incarnationArg, indexArg] = process.argv.slice(2);
if ((role !== 'producer' && role !== 'consumer') || !dir) {
  console.error('usage: kill9-worker <producer|consumer> <dir> <incarnation> [index]');
  process.exit(2);
}
// If the controller dies, do not linger.
process.on('disconnect', () => process.exit(0));
const incarnation = Number(incarnationArg ?? 0);
const store = await openStoreSpec(process.env.HORNETS_KILL9_STORE || path.join(dir, KILL9_DB), { limits: KILL9_LIMITS });
// The controller kills only workers that got this far: on a loaded machine starting Node and
// opening the store takes seconds, and a kill before it would test nothing.
process.send?.('ready');
try {
  if (role === 'producer') await producer(dir, incarnation, store);
  else await consumer(dir, incarnation, Number(indexArg ?? 0), store);
} catch (err) {
  const file = role === 'producer' ? 'producer.log' : `consumer-${indexArg ?? 0}.log`;
  const e = err as { code?: string; stack?: string };
  appendFileSync(path.join(dir, file), `V ${role} crashed: ${e.code ?? ''} ${String(e.stack ?? err).replace(/\n/g, ' | ')}\n`);
  process.exit(1);
}
