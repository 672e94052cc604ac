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
import { DuplicateNodeError } from '../cluster/errors.js';

export interface NodeMembershipOptions {
  selection: Extract<StoreSelection, { kind: 'redis' }>;
  node: string;
  log: Logger;
  hookEndpoint: () => string | undefined;
  metricsUrl: () => string | undefined;
  /** This node's tmux server and session, recorded for `attach` from other hosts. */
  tmux: { socket: string; session: string };
  /** A send from another process queued for one of this node's agents. */
  wake: (agent: string | null) => void;
  /** restart/stop/pause/resume/rebrief from another node's CLI. */
  control: (action: string, agent: string) => Promise<unknown>;
  /** The name is no longer ours (expired, taken, Redis unreachable): stop managing agents. */
  onLost: (event: NodeLostEvent) => void;
  /** The leader election of the cluster-wide duties (daemon.leaderLease). */
  leader: LeaderTiming;
  /** daemon.nodeHeartbeat and daemon.nodeLostAfter. */
  timing?: { heartbeatMs: number; lostAfterMs: number };
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
  /**
   * Whether this node holds its name in the registry now (null before start): a node that lost it
   * (cut off from Redis past its claim) is not ready to serve until it claimed the name again.
   */
  holdsName(): boolean | null {
    return this.link ? this.link.registry.registeredName() !== null : null;
  }

  leaderFence(): DutyFence | null {
    return this.election?.isLeader() ? this.fence : null;
  }

  async start(): Promise<void> {
    const { openNodeLink } = await import('../cluster/node-link.js');
    const { selection, node, log } = this.o;
    const link = await openNodeLink({
      url: selection.url,
      cluster: selection.cluster,
      prefix: selection.prefix,
      connectTimeoutMs: selection.connectTimeoutMs,
      logger: log,
      ...this.o.timing,
      onLost: (e) => {
        // A node that is not itself any more must not lead either: give the lease back at once.
        void this.election?.stop();
        this.o.onLost(e);
      },
    });
    try {
      const info = {
        host: hostname(),
        pid: process.pid,
        startedAt: Date.now(),
        version: packageVersion(),
        ...(this.o.hookEndpoint() ? { hookEndpoint: this.o.hookEndpoint() } : {}),
        ...(this.o.metricsUrl() ? { metricsUrl: this.o.metricsUrl() } : {}),
        tmuxSocket: this.o.tmux.socket,
        tmuxSession: this.o.tmux.session,
      };
      try {
        await link.registry.register(node, info);
      } catch (err) {
        // An engine of this host that died (kill -9, a crash) holds the name until its claim lapses
        // (a few heartbeats): a restart right after it waits for that instead of failing. A holder
        // that lives, or one on another host, is a real duplicate.
        if (!(err instanceof DuplicateNodeError) || !crashedHere(err)) throw err;
        log.warn(
          { event: 'node_claim_of_crashed_engine', node, holderPid: err.holder?.pid, waitMs: err.retryAfterMs },
          'the node name is held by an engine of this host that is gone: waiting for its claim to lapse',
        );
        await new Promise((r) => setTimeout(r, err.retryAfterMs + 100));
        await link.registry.register(node, info);
      }
      this.subscription = await link.bus.subscribe(
        node,
        async (message) => {
          if (message.kind === 'wake') {
            // A wake for no agent may say the leader gave its lease back (see stop()): a candidate
            // tries for it now rather than when the lease would have lapsed.
            if (!message.agent) this.election?.retryNow();
            return this.o.wake(message.agent ?? null);
          }
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

  /**
   * A delivery pass on every other node that is up (best effort: their rounds are the safety net);
   * with `agent` (a worker: a task was queued for it), a look at that worker's queue.
   */
  async wakeOtherNodes(agent?: string): Promise<void> {
    if (this.link) await this.wakeOthers(this.link, agent);
  }

  /** The nodes registered as up now (this one included), or null while not registered. */
  async liveNodes(): Promise<string[] | null> {
    const link = this.link;
    if (!link) return null;
    return (await link.registry.list()).filter((n) => n.state === 'up').map((n) => n.name);
  }

  private async wakeOthers(link: NodeLink, agent?: string): Promise<void> {
    try {
      for (const n of await link.registry.list()) if (n.state === 'up' && n.name !== this.o.node) await link.bus.wake(n.name, agent);
    } catch (err) {
      this.o.log.debug({ event: 'wake_nodes_failed', error: String(err) }, 'could not wake the other nodes after a sweep');
    }
  }

  async stop(): Promise<void> {
    const link = this.link;
    this.link = null;
    if (!link) return;
    // The lease first, so another node takes the duties over without waiting for it to lapse.
    const election = this.election;
    this.election = null;
    if (election) {
      const led = election.isLeader();
      await settledWithin(election.stop());
      // The lease is free now: the other nodes' candidates are told to try at once instead of when it would have lapsed.
      if (led) await settledWithin(this.wakeOthers(link));
    }
    const subscription = this.subscription;
    this.subscription = null;
    if (subscription) await settledWithin(subscription.unsubscribe());
    await settledWithin(link.registry.unregister());
    await settledWithin(link.close());
  }
}

/**
 * Cut off from Redis without a reset from its side (a partition), a command is never answered: a
 * stop (and with it a rejoin after the node was lost) must not wait on it.
 */
function settledWithin(p: Promise<unknown>, ms = 2_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.then(
      () => undefined,
      () => undefined,
    ),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function crashedHere(err: DuplicateNodeError): boolean {
  const holder = err.holder;
  if (!holder || holder.host !== hostname() || holder.pid === process.pid) return false;
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
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
