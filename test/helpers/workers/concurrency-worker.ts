/**
 * Child process for test/integration/concurrency.test.ts.
 *
 *   concurrency-worker enqueuer <store> <index> <count> <agents,comma-separated>
 *   concurrency-worker claimer  <store> <index> <agents,comma-separated>
 *
 * <store> is a SQLite file or `redis://host:port#prefix` (test/helpers/store-spec.ts).
 *
 * IPC protocol: the worker sends {type:'ready'} and waits for {type:'go'}. An enqueuer enqueues
 * `count` messages (mixing single enqueues and small batches, across the agents) and sends
 * {type:'done', ids}. A claimer claims and acks (leases long enough never to expire) until the
 * parent has sent {type:'drain'} and a full pass over the agents finds nothing, then sends
 * {type:'done', ids}. Any error is sent as {type:'error', code, message} and the worker exits 1.
 */
import { openStoreSpec } from '../store-spec.js';
import type { EnqueueInput } from '../../../src/domain/message.js';

const [role, dbPath, indexArg, ...rest] = process.argv.slice(2);
const index = Number(indexArg);

function send(msg: object): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) return resolve();
    process.send(msg, () => resolve());
  });
}

let drainRequested = false;
const go = new Promise<void>((resolve) => {
  process.on('message', (m: { type?: string }) => {
    if (m?.type === 'go') resolve();
    if (m?.type === 'drain') drainRequested = true;
  });
});
process.on('disconnect', () => process.exit(0));

async function enqueuer(count: number, agents: string[]): Promise<string[]> {
  const store = await openStoreSpec(dbPath!);
  await send({ type: 'ready' });
  await go;
  const ids: string[] = [];
  let n = 0;
  const input = (): EnqueueInput => {
    const i = n++;
    return { agent: agents[i % agents.length]!, body: `from enqueuer ${index}: ${i}`, priority: (i * 7 + index) % 100, key: `e${index}-${i}`, sender: `enqueuer-${index}` };
  };
  try {
    while (n < count) {
      if (n % 3 === 0) {
        const batch = Array.from({ length: Math.min(10, count - n) }, input);
        for (const r of await store.enqueueBatch(batch)) {
          if (!r.created) throw new Error(`batch enqueue of ${r.message.key} was not created`);
          ids.push(r.message.id);
        }
      } else {
        const r = await store.enqueue(input());
        if (!r.created) throw new Error(`enqueue of ${r.message.key} was not created`);
        ids.push(r.message.id);
      }
    }
  } finally {
    await store.close();
  }
  return ids;
}

async function claimer(agents: string[]): Promise<string[]> {
  const store = await openStoreSpec(dbPath!);
  await send({ type: 'ready' });
  await go;
  const ids: string[] = [];
  const owner = `claimer-${index}`;
  try {
    for (let pass = 0; ; pass++) {
      const draining = drainRequested; // read before the pass: an empty pass after it means empty for good
      let got = 0;
      for (const agent of agents) {
        const batch = await store.claim(agent, { owner, leaseMs: 10 * 60_000, limit: 1 + ((pass + index) % 4) });
        if (batch.length === 0) continue;
        got += batch.length;
        const acked = await store.ack({ leaseToken: batch[0]!.leaseToken! });
        if (acked !== batch.length) throw new Error(`ack changed ${acked} of ${batch.length} messages`);
        for (const m of batch) {
          if (m.attempts !== 1) throw new Error(`message ${m.id} claimed with attempts ${m.attempts}`);
          ids.push(m.id);
        }
      }
      if (got === 0) {
        if (draining) break;
        await new Promise((r) => setTimeout(r, 2));
      }
    }
  } finally {
    await store.close();
  }
  return ids;
}

try {
  let ids: string[];
  if (role === 'enqueuer') ids = await enqueuer(Number(rest[0]), rest[1]!.split(','));
  else if (role === 'claimer') ids = await claimer(rest[0]!.split(','));
  else throw new Error(`unknown role ${role}`);
  await send({ type: 'done', ids });
  process.disconnect?.();
} catch (err) {
  const e = err as { code?: string; message?: string; stack?: string };
  await send({ type: 'error', code: e.code ?? null, message: String(e.stack ?? e.message ?? err) });
  process.exit(1);
}
