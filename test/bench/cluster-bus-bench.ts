/**
 * Cross-node bus latency: a wake (pub/sub) and a control (stream XADD → XREAD BLOCK) from a sender
 * connection to the owning node's handler, one at a time, on a redis-server of its own.
 * Issue 12's target for a cross-node wake-up is p99 ≤ 20 ms (this is the bus's share of it).
 *
 *   npm run bench:cluster-bus [-- <rounds, default 2000>]
 */
import { Redis } from 'ioredis';
import { ClusterBus } from '../../src/cluster/bus.js';
import { clusterKeys } from '../../src/cluster/keys.js';
import { startRedisServer } from '../helpers/redis.js';

const rounds = Number(process.argv[2] ?? 2000);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function summary(samples: number[]) {
  const s = [...samples].sort((a, b) => a - b);
  const ms = (ns: number) => Math.round(ns / 1e3) / 1e3;
  return { n: s.length, p50_ms: ms(percentile(s, 50)), p99_ms: ms(percentile(s, 99)), max_ms: ms(s[s.length - 1]!) };
}

async function main(): Promise<void> {
  const server = await startRedisServer({ aof: 'everysec' });
  const conns: Redis[] = [];
  const conn = () => {
    const c = new Redis(server.url);
    conns.push(c);
    return c;
  };
  const keys = clusterKeys('bench');
  const node = new ClusterBus({ redis: conn(), keys });
  const sender = new ClusterBus({ redis: conn(), keys });
  try {
    let arrived: (() => void) | null = null;
    await node.subscribe('node-1', () => arrived?.());
    const measure = async (send: () => Promise<unknown>): Promise<number[]> => {
      const out: number[] = [];
      for (let i = 0; i < rounds; i++) {
        const got = new Promise<void>((resolve) => (arrived = resolve));
        const t0 = process.hrtime.bigint();
        await send();
        await got;
        out.push(Number(process.hrtime.bigint() - t0));
      }
      return out;
    };
    const wake = await measure(() => sender.wake('node-1', 'agent-1'));
    const control = await measure(() => sender.control('node-1', 'resume', 'agent-1'));
    console.log(JSON.stringify({ bench: 'cluster-bus', rounds, wake: summary(wake), control: summary(control) }, null, 2));
  } finally {
    await node.stop();
    await sender.stop();
    for (const c of conns) c.disconnect();
    await server.destroy();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
