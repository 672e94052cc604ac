/**
 * What an operator does to a running Redis Cluster, for the failover and resharding tests: read the
 * topology, move a slot to another master key by key (the MIGRATING/IMPORTING sequence that
 * `redis-cli --cluster reshard` runs, slowed down so traffic meets the half-moved slot), and watch a
 * replica take over a killed master.
 */
import { Redis } from 'ioredis';
import type { RedisCluster, RedisServer } from './redis.js';

export interface ClusterNodeInfo {
  id: string;
  port: number;
  master: boolean;
  failed: boolean;
  /** The master a replica follows. */
  masterId: string | null;
  slots: [number, number][];
}

function client(port: number): Redis {
  const r = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1, lazyConnect: false });
  r.on('error', () => undefined);
  return r;
}

async function withNode<T>(port: number, fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = client(port);
  try {
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

function live(cluster: RedisCluster): RedisServer[] {
  return cluster.nodes.filter((n) => n.pid() !== null);
}

/** CLUSTER NODES as one live node sees it. */
export async function clusterNodes(cluster: RedisCluster): Promise<ClusterNodeInfo[]> {
  const text = String(await withNode(live(cluster)[0]!.port, (r) => r.call('CLUSTER', 'NODES')));
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const [id, addr, flagList, masterId, , , , , ...slots] = line.split(' ');
      const flags = flagList!.split(',');
      return {
        id: id!,
        port: Number(/:(\d+)@/.exec(addr!)![1]),
        master: flags.includes('master'),
        // `fail` or `fail?` (not `nofailover`, a replica's cluster-replica-no-failover).
        failed: flags.includes('fail') || flags.includes('fail?'),
        masterId: masterId === '-' ? null : masterId!,
        slots: slots.filter((s) => !s.startsWith('[')).map((s) => (s.includes('-') ? (s.split('-').map(Number) as [number, number]) : [Number(s), Number(s)])),
      };
    });
}

export async function keySlot(cluster: RedisCluster, key: string): Promise<number> {
  return Number(await withNode(live(cluster)[0]!.port, (r) => r.call('CLUSTER', 'KEYSLOT', key)));
}

export async function masterOfSlot(cluster: RedisCluster, slot: number): Promise<ClusterNodeInfo> {
  const m = (await clusterNodes(cluster)).find((n) => n.master && !n.failed && n.slots.some(([a, b]) => slot >= a && slot <= b));
  if (!m) throw new Error(`no live master serves slot ${slot}`);
  return m;
}

export function serverOf(cluster: RedisCluster, port: number): RedisServer {
  const s = cluster.nodes.find((n) => n.port === port);
  if (!s) throw new Error(`no node on port ${port}`);
  return s;
}

/** A slot half way to another master: its keys move as the caller says, then `finish` hands it over. */
export interface SlotMigration {
  /** Moves these keys of the slot now (MIGRATE … KEYS). */
  move(keys: string[]): Promise<void>;
  /** Moves the remaining keys, `keysPerStep` per MIGRATE with `pauseMs` between; answers how many. */
  drain(options?: { keysPerStep?: number; pauseMs?: number }): Promise<number>;
  /** Tells every master the slot's new owner: the target first, then the source, then the others. */
  finish(): Promise<void>;
}

/** Opens the migration of `slot` to the master `to` (CLUSTER SETSLOT IMPORTING, then MIGRATING). */
export async function startSlotMigration(cluster: RedisCluster, slot: number, to: ClusterNodeInfo): Promise<SlotMigration> {
  const from = await masterOfSlot(cluster, slot);
  if (from.id === to.id) throw new Error(`slot ${slot} is on ${to.port} already`);
  const src = client(from.port);
  const dst = client(to.port);
  await dst.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', from.id);
  await src.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', to.id);
  const move = async (keys: string[]) => {
    if (keys.length > 0) await src.call('MIGRATE', '127.0.0.1', to.port, '', 0, 5_000, 'KEYS', ...keys);
  };
  return {
    move,
    async drain(options = {}) {
      let moved = 0;
      for (;;) {
        const keys = (await src.call('CLUSTER', 'GETKEYSINSLOT', slot, options.keysPerStep ?? 1)) as string[];
        if (keys.length === 0) return moved;
        await move(keys);
        moved += keys.length;
        if (options.pauseMs) await new Promise((r) => setTimeout(r, options.pauseMs));
      }
    },
    async finish() {
      try {
        await dst.call('CLUSTER', 'SETSLOT', slot, 'NODE', to.id);
        await src.call('CLUSTER', 'SETSLOT', slot, 'NODE', to.id);
        for (const n of (await clusterNodes(cluster)).filter((x) => x.master && !x.failed && x.id !== from.id && x.id !== to.id)) {
          await withNode(n.port, (r) => r.call('CLUSTER', 'SETSLOT', slot, 'NODE', to.id));
        }
      } finally {
        src.disconnect();
        dst.disconnect();
      }
    },
  };
}

/**
 * Moves `slot` to the master `to`, `keysPerStep` keys per MIGRATE with `pauseMs` between steps, then
 * hands it over. Answers the number of keys moved.
 */
export async function migrateSlot(cluster: RedisCluster, slot: number, to: ClusterNodeInfo, options: { keysPerStep?: number; pauseMs?: number } = {}): Promise<number> {
  if ((await masterOfSlot(cluster, slot)).id === to.id) return 0;
  const m = await startSlotMigration(cluster, slot, to);
  const moved = await m.drain(options);
  await m.finish();
  return moved;
}

/** Resolves when the node on `port` is a master and every live node says cluster_state:ok. */
export async function waitPromoted(cluster: RedisCluster, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const role = String(await withNode(port, (r) => r.call('ROLE')).catch(() => ['?']));
    const states = await Promise.all(live(cluster).map((n) => withNode(n.port, (r) => r.call('CLUSTER', 'INFO')).catch(() => '')));
    if (role.startsWith('master') && states.every((s) => /cluster_state:ok/.test(String(s)))) return;
    if (Date.now() > deadline) throw new Error(`the replica on port ${port} was not promoted within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Promotes the replica on `port` at once, without an election (CLUSTER FAILOVER TAKEOVER): with
 * `cluster-replica-no-failover yes` a test decides when its failover ends. An automatic failover
 * cannot be timed: when its first election fails (a vote refused or lost, likelier on a loaded
 * machine) Redis tries again only 4 × cluster-node-timeout later.
 */
export async function takeOver(port: number): Promise<void> {
  const reply = String(await withNode(port, (r) => r.call('CLUSTER', 'FAILOVER', 'TAKEOVER')));
  if (reply !== 'OK') throw new Error(`CLUSTER FAILOVER TAKEOVER on port ${port} answered ${reply}`);
}
