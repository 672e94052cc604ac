/**
 * The engine as a node of a team in Redis (issue 12): claims its node name at start (a second
 * engine with the same name is refused before anything starts), heartbeats, hears the wakes and
 * controls other processes send to its agents, and gives up its agents when Redis says the name is
 * no longer its own. It also campaigns for the leader lease of the cluster-wide duties (see
 * cluster-duties.ts) and says in its log when it gains or loses it. The cluster code (and ioredis)
 * is loaded only here, only for a Redis team.
 */
import { hostname } from 'node:os';
import type { Logger } from '../log.js';
import type { NodeLink, BusSubscription, NodeLostEvent, LeaderElection } from '../cluster/node-link.js';
import type { DutyFence } from '../queue/store.js';
import type { LeaderTiming } from '../domain/leader-timing.js';
import type { StoreSelection } from '../config/store-selection.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../config/paths.js';

export interface NodeMembershipOptions {
  selection: Extract<StoreSelection, { kind: 'redis' }>;
  node: string;
  log: Logger;
  hookEndpoint: () => string | undefined;
  metricsUrl: () => string | undefined;
  /** A send from another process queued for one of this node's agents. */
  wake: (agent: string | null) => void;
  /** restart/stop/pause/resume/rebrief from another node's CLI. */
  control: (action: string, agent: string) => Promise<unknown>;
  /** The name is no longer ours (expired, taken, Redis unreachable): stop managing agents. */
  onLost: (event: NodeLostEvent) => void;
  /** The leader election of the cluster-wide duties (daemon.leaderLease). */
  leader: LeaderTiming;
  /** This node became the leader (true) or stopped being it (false). */
  onLeadership: (leading: boolean) => void;
}

export class NodeMembership {
  private link: NodeLink | null = null;
  private subscription: BusSubscription | null = null;
  private election: LeaderElection | null = null;
  private fence: DutyFence | null = null;

  constructor(private readonly o: NodeMembershipOptions) {}

  /** The fence of this node's term as leader, or null when it does not lead. */
  leaderFence(): DutyFence | null {
    return this.election?.isLeader() ? this.fence : null;
  }

  async start(): Promise<void> {
    const { openNodeLink } = await import('../cluster/node-link.js');
    const { selection, node, log } = this.o;
    const link = await openNodeLink({
      url: selection.url,
      prefix: selection.prefix,
      connectTimeoutMs: selection.connectTimeoutMs,
      logger: log,
      onLost: (e) => {
        // A node that is not itself any more must not lead either: give the lease back at once.
        void this.election?.stop();
        this.o.onLost(e);
      },
    });
    try {
      await link.registry.register(node, {
        host: hostname(),
        pid: process.pid,
        startedAt: Date.now(),
        version: packageVersion(),
        ...(this.o.hookEndpoint() ? { hookEndpoint: this.o.hookEndpoint() } : {}),
        ...(this.o.metricsUrl() ? { metricsUrl: this.o.metricsUrl() } : {}),
      });
      this.subscription = await link.bus.subscribe(
        node,
        async (message) => {
          if (message.kind === 'wake') return this.o.wake(message.agent ?? null);
          if (!message.agent) return;
          log.info({ event: 'remote_control', action: message.action, agent: message.agent }, 'control from another node');
          await this.o
            .control(message.action, message.agent)
            .catch((err: unknown) => log.error({ event: 'remote_control_failed', action: message.action, agent: message.agent, error: String(err) }, 'a control from another node failed'));
        },
        // Wakes published while the connection was down are gone: look at every agent again.
        { onReconnect: () => this.o.wake(null) },
      );
    } catch (err) {
      await link.registry.unregister().catch(() => false);
      await link.close();
      throw err;
    }
    this.link = link;
    log.info({ event: 'node_registered', node }, `registered as node "${node}"`);
    // Campaigns only once registered: a refused (duplicate) node never leads.
    const { leaseMs, renewMs, retryMs } = this.o.leader;
    this.election = link.campaign({
      candidate: node,
      leaseMs,
      renewMs,
      retryMs,
      onElected: (token) => {
        this.fence = { key: link.leaderFenceKey, token };
        log.info({ event: 'leader_elected', node, token }, `node "${node}" leads the cluster-wide duties (lease sweep, TTL expiry, dead-lettering, retention)`);
        this.o.onLeadership(true);
      },
      onDemoted: (reason, token) => {
        this.fence = null;
        log.warn({ event: 'leader_lost', node, token, reason }, `node "${node}" no longer leads the cluster-wide duties (${reason})`);
        this.o.onLeadership(false);
      },
    });
  }

  /** A delivery pass on every other node that is up (best effort: their rounds are the safety net). */
  async wakeOtherNodes(): Promise<void> {
    const link = this.link;
    if (!link) return;
    try {
      for (const n of await link.registry.list()) if (n.state === 'up' && n.name !== this.o.node) await link.bus.wake(n.name);
    } catch (err) {
      this.o.log.debug({ event: 'wake_nodes_failed', error: String(err) }, 'could not wake the other nodes after a sweep');
    }
  }

  async stop(): Promise<void> {
    const link = this.link;
    this.link = null;
    if (!link) return;
    // The lease first, so another node takes the duties over without waiting for it to lapse.
    await this.election?.stop().catch(() => undefined);
    this.election = null;
    await this.subscription?.unsubscribe().catch(() => undefined);
    this.subscription = null;
    await link.registry.unregister().catch(() => false);
    await link.close();
  }
}

/** package.json's version, recorded with the node so `status` can tell mixed versions apart. */
function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}
