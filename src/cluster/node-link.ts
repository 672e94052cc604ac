/**
 * One node's link to its team in Redis (issue 12): its own connection, with the registry and the
 * bus on it. The engine holds one for its life; a CLI opens one for a single wake or a listing.
 */
import type { Logger } from '../log.js';
import { connectRedis, duplicateClient } from '../queue/redis/connect.js';
import { ClusterBus, type BusHandler, type BusSubscription, type ControlAction } from './bus.js';
import { clusterKeys } from './keys.js';
import { NodeRegistry, type NodeLostEvent, type NodeRecord } from './node-registry.js';
import { currentLeader, LeaderElection, type DemotedReason } from './leader.js';

/** The one lease of a Redis team's cluster-wide duties (sweep, TTL expiry, dead-lettering, retention). */
export const LEADER_DUTY = 'leader';

export interface LeaderCampaign {
  /** Who campaigns: the node name. */
  candidate: string;
  leaseMs: number;
  renewMs: number;
  retryMs: number;
  onElected: (token: number) => void;
  onDemoted: (reason: DemotedReason, token: number) => void;
}

export interface NodeLinkOptions {
  url: string;
  /** Seed nodes of a Redis Cluster (as the store's). */
  cluster?: readonly string[] | null;
  /** The store's prefix: cluster keys live beside the queue's, under hornets:<prefix>:. */
  prefix: string;
  connectTimeoutMs?: number;
  logger?: Logger;
  onLost?: (event: NodeLostEvent) => void;
  /** The registry's heartbeat period and lost threshold (daemon.nodeHeartbeat, daemon.nodeLostAfter). */
  heartbeatMs?: number;
  lostAfterMs?: number;
}

export interface NodeLink {
  readonly registry: NodeRegistry;
  readonly bus: ClusterBus;
  /** The key holding the newest leader token: the store fences the leader's duties on it. */
  readonly leaderFenceKey: string;
  /** Starts campaigning for the leader lease on this link's connection (one campaign per link). */
  campaign(c: LeaderCampaign): LeaderElection;
  /** The node holding the leader lease now, if any. */
  leader(): Promise<{ node: string; token: number } | null>;
  close(): Promise<void>;
}

export async function openNodeLink(o: NodeLinkOptions): Promise<NodeLink> {
  // Opened the store's way (clear errors, no password in them); the bus duplicates its connection
  // for subscriptions and blocking reads, and those must connect on their own and queue meanwhile.
  const probe = await connectRedis({ url: o.url, cluster: o.cluster, connectTimeoutMs: o.connectTimeoutMs });
  const redis = duplicateClient(probe, { lazyConnect: false, enableOfflineQueue: true });
  probe.disconnect();
  redis.on('error', (err: unknown) => o.logger?.debug({ event: 'cluster_redis_error', error: String(err) }, 'cluster connection error'));
  const keys = clusterKeys(o.prefix);
  const registry = new NodeRegistry({ redis, keys, logger: o.logger, onLost: o.onLost, heartbeatMs: o.heartbeatMs, lostAfterMs: o.lostAfterMs });
  const bus = new ClusterBus({ redis, keys, logger: o.logger });
  let election: LeaderElection | null = null;
  return {
    registry,
    bus,
    leaderFenceKey: keys.fence(LEADER_DUTY),
    campaign(c) {
      if (election) throw new Error('openNodeLink: one campaign per link');
      // The registry's heartbeat renews the lease: one timer and one round trip per period for both.
      election = new LeaderElection({ redis, keys, duty: LEADER_DUTY, logger: o.logger, renewer: registry, ...c });
      election.start();
      return election;
    },
    async leader() {
      const held = await currentLeader(redis, keys, LEADER_DUTY);
      return held ? { node: held.candidate, token: held.token } : null;
    },
    async close() {
      await election?.stop();
      await bus.stop();
      redis.disconnect();
    },
  };
}

/** Opens a link for one action and closes it afterwards. */
async function once<T>(o: NodeLinkOptions, fn: (link: NodeLink) => Promise<T>): Promise<T> {
  const link = await openNodeLink(o);
  try {
    return await fn(link);
  } finally {
    await link.close();
  }
}

/** Wakes `node`'s engine for `agent`; resolves how many engines listened (0: none runs there). */
export function wakeRemoteNode(o: NodeLinkOptions, node: string, agent: string): Promise<number> {
  return once(o, (link) => link.bus.wake(node, agent));
}

/** Appends a durable control for `node`'s engine; it acts on it when it reads its stream. */
export function sendRemoteControl(o: NodeLinkOptions, node: string, action: ControlAction, agent: string): Promise<string> {
  return once(o, (link) => link.bus.control(node, action, agent));
}

export function listNodes(o: NodeLinkOptions): Promise<NodeRecord[]> {
  return once(o, (link) => link.registry.list());
}

/** The nodes ever seen and the one that leads the cluster-wide duties now (null: none does). */
export function listNodesAndLeader(o: NodeLinkOptions): Promise<{ nodes: NodeRecord[]; leader: string | null }> {
  return once(o, async (link) => {
    const [nodes, leader] = await Promise.all([link.registry.list(), link.leader()]);
    return { nodes, leader: leader?.node ?? null };
  });
}

export type { BusHandler, BusSubscription, NodeRecord, NodeLostEvent, DemotedReason, LeaderElection };
