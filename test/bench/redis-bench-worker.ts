/**
 * One competing consumer of `npm run bench:redis`'s multi-process row.
 * argv: <ours|raw> <url, or a Redis Cluster's node URLs comma-separated> <prefix> <agent>. IPC: ready → go → claims and acks until the queue is
 * empty → {type:'done', acked, errors}.
 */
import { openRedisStore } from '../../src/queue/redis/redis-store.js';
import { openRawRedisQueue } from './raw-redis-queue.js';

const [mode, url, prefix, agent] = process.argv.slice(2) as [string, string, string, string];
const go = new Promise<void>((resolve) => process.on('message', (m: { type?: string }) => m?.type === 'go' && resolve()));
const send = (msg: object): Promise<void> => new Promise((resolve) => (process.send ? process.send(msg, () => resolve()) : resolve()));

const acked: string[] = [];
const errors: string[] = [];
try {
  if (mode === 'ours') {
    // A comma-separated list: the nodes of a Redis Cluster (`--cluster`).
    const cluster = url.includes(',') ? url.split(',') : null;
    const s = await openRedisStore({ url: cluster?.[0] ?? url, cluster, prefix, limits: { maxDepth: 10_000_000 } });
    await send({ type: 'ready' });
    await go;
    for (;;) {
      const [m] = await s.claim(agent, { owner: `bench-${process.pid}`, leaseMs: 60_000 });
      if (!m) break;
      if ((await s.ack({ leaseToken: m.leaseToken! })) === 1) acked.push(m.id);
      else errors.push(`ack of ${m.id} changed nothing`);
    }
    await s.close();
  } else {
    const q = await openRawRedisQueue(url, prefix);
    await send({ type: 'ready' });
    await go;
    let t = 0;
    for (;;) {
      const token = `${process.pid}-${++t}`;
      const id = await q.claim(token, 60_000);
      if (id === null) break;
      if ((await q.ack(id, token)) === 1) acked.push(id);
      else errors.push(`raw ack of ${id} changed nothing`);
    }
    await q.close();
  }
} catch (err) {
  errors.push(err instanceof Error ? err.message : String(err));
}
await send({ type: 'done', acked, errors });
process.exit(0);
