/**
 * TeamSnapshot: everything the console shows, read in one go from the store (agents, queue, agent
 * events) and tmux (which panes live). `assembleSnapshot` is pure (facts and a clock in, rows out)
 * so the console's views can be rendered from fixtures; `SnapshotService` gathers the facts.
 */
import type { TaskUsage } from '../domain/run-usage.js';
import { totalTokens, type AgentUsage } from '../domain/usage.js';
import type { Project } from '../config/load.js';
import { explainMessage } from '../domain/explain.js';
import { pendingStates, type Message, type MessageState, type QueueEvent } from '../domain/message.js';
import type { MessageStore, QueueStats } from '../queue/store.js';
import type { AgentRecord } from '../domain/agent.js';
import { displayAgent, type AgentDisplay, type DisplayState, type PaneFact } from '../domain/agent-display.js';
import type { PaneInfo } from '../tmux/argv.js';
import type { PaneVerdict } from '../domain/pane-state.js';
import type { AgentManager } from './agents.js';
import { engineStatus, type EngineStatus } from './engine-service.js';
import { agentNode } from '../config/nodes.js';
import type { WorkerTask, WorkerTaskState } from '../domain/worker-task.js';
import { readStoreWorkerHeartbeats, readWorkerHeartbeat, workerTaskStoreOf, type WorkerHeartbeat } from './worker-tasks.js';

export type Breaker = 'closed' | 'open' | 'half-open';

export interface AgentRow {
  name: string;
  profile: string;
  /** What the console shows: domain/agent-display.ts, the rule `status` uses too. */
  state: DisplayState;
  /** The whole display: label, colour key, one-sentence detail. */
  display: AgentDisplay;
  paused: boolean;
  paneId: string | null;
  alive: boolean;
  /** ms since the agent's last hook event (its heartbeat); null = never heard from. */
  heartbeatAgeMs: number | null;
  queueDepth: number;
  /** Restarts (recovery and manual) within the last hour. */
  restartsLastHour: number;
  breaker: Breaker;
  /** When backing off: the time of the scheduled restart. */
  restartAt: number | null;
  restartAttempt: number | null;
  lastError: string | null;
  worktree: string;
  generation: number;
  /** A team on Redis: the node that runs the agent (null on SQLite, or when none is named). */
  node: string | null;
  /** That node's health from the registry heartbeats; null on SQLite. */
  nodeState: NodeHealth | null;
  /** Another node runs it: no pane here to preview or attach to locally. */
  remote: boolean;
  /** Tokens (all kinds) and cost the CLI recorded (issue 17). */
  tokens: number;
  costUsd: number;
  /** Delivery paused over the agent's budget. */
  overBudget: boolean;
}

/** A node as the registry says: up (heartbeating), lost (heartbeats stopped), stopped (shut down), unknown (never started). */
export type NodeHealth = 'up' | 'lost' | 'stopped' | 'unknown';

/** The nodes of a team on Redis as one process sees them. */
export interface NodeFacts {
  /** This process's node: its agents are looked up in this tmux server, the others are not. */
  here: string;
  /** agent -> its node (null: none named). */
  nodeOf: ReadonlyMap<string, string | null>;
  /** node -> health, from the registry (one read per refresh). */
  health: ReadonlyMap<string, NodeHealth>;
  /** The node that holds the lease of the cluster-wide duties (null: none does). */
  leader?: string | null;
}

export interface NodeRow {
  name: string;
  health: NodeHealth;
  host: string | null;
  agents: number;
  here: boolean;
  /** Runs the team's cluster-wide duties (lease sweep, TTL expiry, dead-lettering, retention). */
  leader: boolean;
}

export interface QueueRow {
  id: string;
  agent: string;
  priority: number;
  state: MessageState;
  /** queued/failed/leased/delivered: still to be handled; the others are recent history. */
  pending: boolean;
  ageMs: number;
  attempts: number;
  maxAttempts: number;
  sender: string | null;
  /** First line of the body, control characters removed. */
  summary: string;
  /** domain/explain.ts: why it is where it is. */
  why: string;
}

export interface EventRow {
  ts: number;
  agent: string | null;
  kind: string;
  summary: string;
  /** A restart or API back-off this event schedules: its summary counts down to it. */
  until: number | null;
}

/** A task worker as the tasks view shows it: its breaker (from the engine's heartbeat) and its tasks' counts. */
export interface WorkerRow {
  name: string;
  /** As of the snapshot's time; null: no engine has written its heartbeat yet. */
  breaker: Breaker | null;
  /** Open: when its half-open trial may start. */
  halfOpenAt: number | null;
  running: number;
  /** Queued, and retrying (waiting for their backoff). */
  queued: number;
  slots: number;
}

export interface TaskRow {
  id: string;
  worker: string;
  state: WorkerTaskState;
  /** Runs started. */
  attempts: number;
  ageMs: number;
  /** Running: how long its run has been going; ended: its last run's length; null: it never ran. */
  durationMs: number | null;
  /** Failed, retrying or cancelled: why (one line). */
  lastError: string | null;
  /** Tokens and cost over all its runs (each run once). */
  usage: TaskUsage;
}

export interface TasksSection {
  /** False where workers cannot run (a store without worker tasks): `note` says why. */
  available: boolean;
  note: string | null;
  workers: WorkerRow[];
  /** Newest first, at most SnapshotOptions.taskLimit. */
  tasks: TaskRow[];
}

export interface TeamSnapshot {
  takenAt: number;
  project: string;
  session: string;
  socket: string;
  engine: EngineStatus;
  /** False when tmux could not be asked (the pane facts are then the last known ones). */
  tmuxOk: boolean;
  agents: AgentRow[];
  queue: QueueRow[];
  events: EventRow[];
  totals: { pending: number; agents: number };
  /** A team on Redis: every node named in hornets.json or seen in the registry; empty on SQLite. */
  nodes: NodeRow[];
  /** The task workers and their tasks (the tasks view). */
  tasks: TasksSection;
}

export interface SnapshotFacts {
  now: number;
  project: Project;
  session: string;
  socket: string;
  engine: EngineStatus;
  tmuxOk: boolean;
  records: AgentRecord[];
  panes: PaneInfo[];
  stats: QueueStats;
  pending: Message[];
  recent: Message[];
  /** Agent-level events, oldest first. */
  events: QueueEvent[];
  worktreeOf: (agent: string) => string;
  /** Screen verdicts of agents no hook has reported on yet (AgentManager.screenVerdict). */
  screens?: ReadonlyMap<string, PaneVerdict>;
  /** A team on Redis: which node runs each agent and how the nodes are. */
  nodes?: NodeFacts;
  /** Host names the registry recorded, for the nodes line. */
  nodeHosts?: ReadonlyMap<string, string>;
  /** The task workers' facts (absent: none configured). */
  workers?: WorkerFacts;
  /** Tokens and cost per agent (absent: not read). */
  usage?: readonly AgentUsage[];
}

export interface WorkerFacts {
  /** False: the store keeps no worker tasks. */
  available: boolean;
  heartbeats: ReadonlyMap<string, WorkerHeartbeat | null>;
  counts: ReadonlyMap<string, Record<WorkerTaskState, number>>;
  /** Newest first. */
  tasks: readonly WorkerTask[];
}

export const WORKERS_UNAVAILABLE = 'this store keeps no worker tasks, so there are no workers here';

const HOUR = 3_600_000;

/** Events worth a line in the recovery/heartbeat panel. */
export const recoveryKinds: ReadonlySet<string> = new Set([
  'agent_started',
  'agent_exited',
  'agent_restarted',
  'agent_respawned',
  'agent_recreated',
  'restart_scheduled',
  'agent_failed',
  'breaker_open',
  'breaker_closed',
  'agent_stopped',
  'api_backoff',
  'tmux_server_lost',
  'stuck',
  'agent_paused',
  'agent_resumed',
  'rebrief_queued',
]);

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function secs(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 1000)}s`;
}

/** One readable line per event, for the recovery panel. */
export function summarizeEvent(e: QueueEvent, now: number): string {
  const d = e.detail ?? {};
  switch (e.kind) {
    case 'restart_scheduled': {
      const at = num(d['at']);
      const attempt = num(d['attempt']);
      const when = at === null ? '' : at > now ? ` in ${secs(at - now)}` : ' (due)';
      return `restart scheduled${when}${attempt !== null ? `, attempt ${attempt}` : ''}`;
    }
    case 'agent_exited':
      return `exited with status ${d['exitStatus'] ?? '?'}`;
    case 'agent_restarted':
      return `restarted${d['resume'] === true ? ', session resumed' : ''}${d['trial'] === true ? ' (half-open trial)' : ''}`;
    case 'agent_respawned':
      return `respawned (generation ${d['generation'] ?? '?'})`;
    case 'agent_started':
      return `started in ${d['paneId'] ?? '?'}`;
    case 'agent_failed':
    case 'breaker_open':
      return `${e.kind === 'agent_failed' ? 'failed' : 'breaker open'}: ${String(d['reason'] ?? '')}`;
    case 'breaker_closed':
      return `breaker closed${d['manual'] === true ? ' by hand' : ''}`;
    case 'api_backoff': {
      const until = num(d['until']);
      return `API back-off${until !== null && until > now ? ` for ${secs(until - now)}` : ''}: ${String(d['reason'] ?? '')}`;
    }
    case 'rebrief_queued':
      return `rebrief queued (${String(d['id'] ?? '?')})`;
    case 'stuck':
      return `stuck: ${String(d['reason'] ?? 'a nudge was not taken')}`;
    case 'tmux_server_lost':
      return 'tmux server lost; recreating';
    case 'agent_recreated':
      return 'recreated after the tmux server died';
    default:
      return e.kind.replace(/_/g, ' ');
  }
}

/** One line of a message body: newlines shown as ⏎, control characters dropped. */
export function oneLine(text: string, max = 200): string {
  // eslint-disable-next-line no-control-regex
  const flat = text.replace(/\r?\n/g, ' ⏎ ').replace(/[\u0000-\u001f\u007f-\u009f]/g, '');
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function breakerOf(record: AgentRecord | undefined, events: QueueEvent[]): Breaker {
  if (record?.state === 'failed') return 'open';
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i]!;
    if (e.kind === 'breaker_closed') return 'closed';
    if (e.kind === 'agent_restarted' && e.detail?.['trial'] === true) return 'half-open';
    // Opened earlier, but the agent is no longer failed: it was reset or restarted since.
    if (e.kind === 'breaker_open' || e.kind === 'agent_failed') return 'closed';
  }
  return 'closed';
}

/** What tmux says about an agent's recorded pane, for the display rule. */
export function paneFact(record: AgentRecord | undefined, pane: PaneInfo | undefined, tmuxOk: boolean): PaneFact {
  if (!tmuxOk) return 'unknown';
  if (!pane) return 'none';
  return pane.dead ? 'dead' : 'alive';
}

export function assembleSnapshot(f: SnapshotFacts): TeamSnapshot {
  const { now } = f;
  const records = new Map(f.records.map((r) => [r.name, r]));
  const panes = new Map(f.panes.filter((p) => p.session === f.session).map((p) => [p.paneId, p]));
  const stats = new Map(f.stats.agents.map((s) => [s.agent, s]));
  const usage = new Map((f.usage ?? []).map((u) => [u.agent, u]));
  const eventsByAgent = new Map<string, QueueEvent[]>();
  for (const e of f.events) {
    if (!e.agent) continue;
    let list = eventsByAgent.get(e.agent);
    if (!list) eventsByAgent.set(e.agent, (list = []));
    list.push(e);
  }

  const agents: AgentRow[] = f.project.config.agents.map((a) => {
    const r = records.get(a.name);
    const node = f.nodes ? (f.nodes.nodeOf.get(a.name) ?? null) : null;
    const remote = f.nodes !== undefined && node !== f.nodes.here;
    // Pane ids restart at %0 on every tmux server: another node's "%1" says nothing about ours.
    const pane = r?.paneId && !remote ? panes.get(r.paneId) : undefined;
    const events = eventsByAgent.get(a.name) ?? [];
    let restartAt: number | null = null;
    let restartAttempt: number | null = null;
    if (r?.state === 'backing-off') {
      const scheduled = [...events].reverse().find((e) => e.kind === 'restart_scheduled');
      restartAt = num(scheduled?.detail?.['at']);
      restartAttempt = num(scheduled?.detail?.['attempt']);
    }
    const nodeState: NodeHealth | null = f.nodes ? (node === null ? 'unknown' : (f.nodes.health.get(node) ?? 'unknown')) : null;
    const local = displayAgent({
      record: r ?? null,
      pane: remote ? 'unknown' : paneFact(r, pane, f.tmuxOk),
      exitStatus: pane?.deadStatus ?? null,
      restartAt,
      now,
      screen: f.screens?.get(a.name) ?? null,
    });
    const shown = remote && nodeState !== 'up' ? nodeDownDisplay(local, node, nodeState ?? 'unknown') : local;
    // Paused over its budget, the agent needs the user as much as a prompt does (issue 17): counted
    // and sorted with the needs-you agents, and `!` goes to it.
    const overBudget = usage.get(a.name)?.overBudget ?? false;
    const display = overBudget && !shown.needsYou ? { ...shown, needsYou: true } : shown;
    const state = display.state;
    return {
      name: a.name,
      profile: a.profile,
      state,
      display,
      paused: r?.paused ?? false,
      paneId: pane ? pane.paneId : null,
      alive: Boolean(pane && !pane.dead),
      heartbeatAgeMs: r?.lastEventAt != null ? Math.max(0, now - r.lastEventAt) : null,
      queueDepth: stats.get(a.name)?.pending ?? 0,
      restartsLastHour: events.filter((e) => e.kind === 'agent_restarted' && now - e.ts < HOUR).length,
      breaker: breakerOf(r, events),
      restartAt,
      restartAttempt,
      lastError: r?.lastError ?? null,
      worktree: f.worktreeOf(a.name),
      generation: r?.generation ?? 0,
      node,
      nodeState,
      remote,
      tokens: totalTokens(usage.get(a.name) ?? { input: 0, output: 0, cacheRead: 0, cacheCreation: 0 }),
      costUsd: usage.get(a.name)?.costUsd ?? 0,
      overBudget,
    };
  });

  // Waiting messages ahead of each one, per agent, in delivery order (the list is in that order).
  const waitingSeen = new Map<string, number>();
  const queue: QueueRow[] = [];
  for (const m of f.pending) {
    const waiting = m.state === 'queued' || m.state === 'failed';
    const ahead = waitingSeen.get(m.agent) ?? 0;
    if (waiting) waitingSeen.set(m.agent, ahead + 1);
    queue.push(row(m, ahead, true));
  }
  for (const m of f.recent) queue.push(row(m, 0, false));

  function row(m: Message, ahead: number, pending: boolean): QueueRow {
    const r = records.get(m.agent);
    return {
      id: m.id,
      agent: m.agent,
      priority: m.priority,
      state: m.state,
      pending,
      ageMs: Math.max(0, now - m.createdAt),
      attempts: m.attempts,
      maxAttempts: m.maxAttempts,
      sender: m.sender,
      summary: oneLine(m.body),
      why: explainMessage({ message: m, ahead, agentPaused: r?.paused ?? false, agentState: r?.state ?? null, agentError: r?.lastError ?? null, now }),
    };
  }

  const events: EventRow[] = f.events
    .filter((e) => recoveryKinds.has(e.kind))
    .slice(-200)
    .reverse()
    .map((e) => ({
      ts: e.ts,
      agent: e.agent,
      kind: e.kind,
      summary: summarizeEvent(e, now),
      until: e.kind === 'restart_scheduled' ? num(e.detail?.['at']) : e.kind === 'api_backoff' ? num(e.detail?.['until']) : null,
    }));

  return {
    takenAt: now,
    project: f.project.config.project,
    session: f.session,
    socket: f.socket,
    engine: f.engine,
    tmuxOk: f.tmuxOk,
    agents,
    queue,
    events,
    totals: { pending: f.stats.agents.reduce((n, s) => n + s.pending, 0), agents: agents.length },
    nodes: f.nodes ? nodeRows(f.nodes, agents, f.nodeHosts) : [],
    tasks: tasksSection(f),
  };
}

function tasksSection(f: SnapshotFacts): TasksSection {
  const { now } = f;
  const w = f.workers;
  if (w && !w.available) return { available: false, note: WORKERS_UNAVAILABLE, workers: [], tasks: [] };
  const workers: WorkerRow[] = f.project.config.workers.map((cfg) => {
    const h = w?.heartbeats.get(cfg.name) ?? null;
    const c = w?.counts.get(cfg.name);
    // The open breaker half-opens by the clock alone: shown so once its trial time has come.
    const breaker: Breaker | null = h ? (h.breaker === 'open' && h.halfOpenAt !== null && h.halfOpenAt <= now ? 'half-open' : h.breaker) : null;
    return {
      name: cfg.name,
      breaker,
      halfOpenAt: breaker === 'open' ? h!.halfOpenAt : null,
      running: c?.running ?? 0,
      queued: (c?.queued ?? 0) + (c?.retrying ?? 0),
      slots: cfg.maxConcurrent ?? f.project.config.daemon.maxConcurrentTasks,
    };
  });
  const tasks: TaskRow[] = (w?.tasks ?? []).map((t) => {
    const last = t.history[t.history.length - 1];
    const durationMs = t.state === 'running' && t.startedAt !== null ? Math.max(0, now - t.startedAt) : last ? Math.max(0, last.endedAt - last.startedAt) : null;
    const showsError = t.state === 'failed' || t.state === 'retrying' || t.state === 'cancelled';
    return {
      id: t.taskId,
      worker: t.worker,
      state: t.state,
      attempts: t.attempts,
      ageMs: Math.max(0, now - t.createdAt),
      durationMs,
      lastError: showsError && t.lastError ? oneLine(t.lastError) : null,
      usage: t.usage,
    };
  });
  return { available: true, note: f.project.config.workers.length === 0 ? 'no task workers in hornets.json (see README, "Task workers")' : null, workers, tasks };
}

/**
 * An agent whose node is not up: nothing runs it, so what its record last said is history. Shown
 * `lost` when the node stopped heartbeating (crash, partition), else why its node is down.
 */
function nodeDownDisplay(last: AgentDisplay, node: string | null, health: NodeHealth): AgentDisplay {
  const label = health === 'lost' ? 'lost' : health === 'stopped' ? 'node stopped' : 'node down';
  const why =
    node === null
      ? 'no node is named for it'
      : health === 'lost'
        ? `node "${node}" stopped heartbeating (crash or partition)`
        : health === 'stopped'
          ? `node "${node}" was shut down`
          : `node "${node}" has not started`;
  return {
    state: last.state,
    label,
    colour: health === 'lost' ? 'bad' : 'muted',
    detail: `${why}; its agents run again when it starts (hornets-tui --headless --node ${node ?? '<name>'}). Last known: ${last.label}`,
    // What it last waited for is history too: a node to start again is the whole story.
    needsYou: false,
    resetAt: null,
  };
}

function nodeRows(nodes: NodeFacts, agents: readonly AgentRow[], hosts: ReadonlyMap<string, string> | undefined): NodeRow[] {
  const names = new Set<string>([...nodes.health.keys(), ...agents.map((a) => a.node).filter((n): n is string => n !== null), nodes.here]);
  return [...names].sort().map((name) => ({
    name,
    health: nodes.health.get(name) ?? 'unknown',
    host: hosts?.get(name) ?? null,
    agents: agents.filter((a) => a.node === name).length,
    here: name === nodes.here,
    leader: name === nodes.leader,
  }));
}

export interface SnapshotOptions {
  /** Pending messages read per snapshot (all agents). */
  pendingLimit?: number;
  /** Finished messages kept as recent history. */
  recentLimit?: number;
  /** Agent events read per snapshot (restart counts need the last hour of them). */
  eventLimit?: number;
  now?: () => number;
  /** A team on Redis: this process's node and a read of the node registry (see NodeFeed). */
  nodes?: NodeSource;
  /** Worker tasks read per snapshot (the newest). */
  taskLimit?: number;
}

export interface NodeSource {
  here: string;
  /** One registry read: every node with its state (and host), and which one leads. */
  read(): Promise<{ nodes: readonly { name: string; state: 'up' | 'lost' | 'stopped'; host: string }[]; leader: string | null }>;
}

/**
 * Gathers the facts. The store is read on every build (cheap, in-process); tmux's pane list is
 * cached and refreshed by `refreshPanes()`, which the console calls on a slower timer and when the
 * control client reports window changes, so a slow tmux never delays a snapshot.
 */
export class SnapshotService {
  private panes: PaneInfo[] = [];
  private screens = new Map<string, PaneVerdict>();
  private tmuxOk = false;
  private panesAt = 0;
  /** Moves only when a pane look-up found something else (a steady team's look-ups cost no build). */
  private panesSeen = 0;
  private panesKey = '';
  private facts: SnapshotFacts | null = null;
  private worktrees: Map<string, string> | null = null;
  /** The last registry read (probe() reads it, build() uses it). */
  private nodeHealth: Map<string, NodeHealth> | null = null;
  /** The workers' heartbeats as the last probe read them. */
  private heartbeats: Map<string, WorkerHeartbeat | null> | null = null;
  private nodeHosts = new Map<string, string>();
  private leader: string | null = null;
  private readonly nodeOf: ReadonlyMap<string, string | null> | null;

  constructor(
    private readonly project: Project,
    private readonly store: MessageStore,
    private readonly manager: AgentManager,
    private readonly options: SnapshotOptions = {},
  ) {
    this.nodeOf = options.nodes ? new Map(project.config.agents.map((a) => [a.name, agentNode(project.config, a)])) : null;
  }

  /** Whether this process's node runs the agent (always, outside a team on Redis). */
  isLocal(agent: string): boolean {
    return !this.nodeOf || !this.options.nodes || this.nodeOf.get(agent) === this.options.nodes.here;
  }

  /** Reads the node registry once; resolves a key that changes when a node's state does. */
  private async readNodes(): Promise<string> {
    const source = this.options.nodes;
    if (!source) return '';
    const { nodes: list, leader } = await source.read();
    this.nodeHealth = new Map(list.map((n) => [n.name, n.state]));
    this.nodeHosts = new Map(list.map((n) => [n.name, n.host]));
    this.leader = leader;
    return `${list.map((n) => `${n.name}=${n.state}@${n.host}`).join(',')} leader=${leader ?? '-'}`;
  }

  get panesRefreshedAt(): number {
    return this.panesAt;
  }

  /** Changes when the last pane look-up saw different panes, screens or tmux reachability. */
  get panesVersion(): number {
    return this.panesSeen;
  }

  async refreshPanes(): Promise<void> {
    try {
      this.panes = await this.manager.tmux.listPanes();
      this.tmuxOk = true;
      // Agents no hook has reported on yet: their screen decides, as in `status`.
      const panes = new Map(this.panes.map((p) => [p.paneId, p]));
      const screens = new Map<string, PaneVerdict>();
      for (const r of await this.store.listAgents()) {
        if (r.state !== 'starting' && r.state !== 'unknown') continue;
        // Another node's agent: its pane id names a pane of that node's tmux server, not ours.
        if (!this.isLocal(r.name)) continue;
        if (!this.project.config.agents.some((a) => a.name === r.name)) continue;
        const verdict = await this.manager.screenVerdict(r.name, r, r.paneId ? panes.get(r.paneId) : undefined);
        if (verdict) screens.set(r.name, verdict);
      }
      this.screens = screens;
    } catch {
      this.tmuxOk = false;
    }
    this.panesAt = Date.now();
    const key = JSON.stringify([this.tmuxOk, this.panes, [...this.screens]]);
    if (key !== this.panesKey) {
      this.panesKey = key;
      this.panesSeen++;
    }
  }

  /**
   * Tells cheaply whether a build would read anything new: the store's change counter (null when
   * the store has none: then always build) and the engine's files. With `panesRefreshedAt`, the
   * console builds only when one of them moved; what the clock alone changes is `reassemble()`.
   */
  async probe(): Promise<{ data: string; engine: string } | null> {
    if (!this.store.dataVersion) return null;
    // The registry is read here, at most once per refresh tick: a node going up or lost is a change.
    const [data, nodes] = await Promise.all([this.store.dataVersion(), this.readNodes()]);
    const e = engineStatus(this.project.paths.root);
    const workers = await this.workerHeartbeatsKey();
    return { data: `${data}${nodes ? ` ${nodes}` : ''}${workers ? ` ${workers}` : ''}`, engine: `${e.pid ?? '-'} ${e.running} ${e.endpoint} ${e.hookPort ?? '-'} ${e.metricsUrl ?? '-'}` };
  }

  /**
   * The workers' breakers as their heartbeat files say (a few hundred bytes each, only with workers
   * configured): a breaker that opens changes no row in the store, so the probe looks here too. The
   * files' times are left out: they move every interval with nothing else changing.
   */
  private async workerHeartbeatsKey(): Promise<string> {
    const store = workerTaskStoreOf(this.store);
    if (this.project.config.workers.length === 0 || !store) return '';
    if (this.options.nodes) {
      // A Redis team: the runs are on every node, and task changes move no agent's version, so the
      // store's counts and breakers are both what the view shows and what says it changed.
      this.heartbeats = await readStoreWorkerHeartbeats(this.project, store, (this.options.now ?? Date.now)());
      return [...this.heartbeats].map(([name, h]) => `${name}=${h ? `${h.breaker}@${h.halfOpenAt ?? '-'}:${h.activeTasks}/${h.queueDepth}` : '-'}`).join(',');
    }
    this.heartbeats = new Map(this.project.config.workers.map((w) => [w.name, readWorkerHeartbeat(this.project.paths.heartbeats, w.name)]));
    return [...this.heartbeats].map(([name, h]) => `${name}=${h ? `${h.breaker}@${h.halfOpenAt ?? '-'}` : '-'}`).join(',');
  }

  private async readWorkers(): Promise<WorkerFacts | undefined> {
    if (this.project.config.workers.length === 0) return undefined;
    const store = workerTaskStoreOf(this.store);
    if (!store) return { available: false, heartbeats: new Map(), counts: new Map(), tasks: [] };
    if (!this.heartbeats || !this.store.dataVersion) await this.workerHeartbeatsKey();
    const [tasks, counts] = await Promise.all([store.listWorkerTasks({ order: 'newest', limit: this.options.taskLimit ?? 200 }), store.workerTaskCounts()]);
    return { available: true, heartbeats: this.heartbeats ?? new Map(), counts, tasks };
  }

  async build(): Promise<TeamSnapshot> {
    const now = (this.options.now ?? Date.now)();
    if (this.options.nodes && (!this.nodeHealth || !this.store.dataVersion)) await this.readNodes();
    const [records, stats, pending, recent, events, workers, usage] = await Promise.all([
      this.store.listAgents(),
      this.store.stats(),
      this.store.list({ states: [...pendingStates], order: 'delivery', limit: this.options.pendingLimit ?? 500 }),
      this.store.list({ states: ['confirmed', 'dead', 'expired', 'cancelled'], order: 'recent', limit: this.options.recentLimit ?? 30 }),
      this.store.events({ limit: this.options.eventLimit ?? 500 }),
      this.readWorkers(),
      this.store.agentUsage(),
    ]);
    // Worktree paths depend on the configuration only: worked out once, not per agent per build.
    if (!this.worktrees) this.worktrees = new Map(this.project.config.agents.map((a) => [a.name, this.manager.worktreePath(a)]));
    const worktrees = this.worktrees;
    this.facts = {
      now,
      project: this.project,
      session: this.manager.session,
      socket: this.manager.tmux.server.socket,
      engine: engineStatus(this.project.paths.root),
      tmuxOk: this.tmuxOk,
      records,
      panes: this.panes,
      stats,
      pending,
      recent,
      events,
      screens: this.screens,
      usage,
      worktreeOf: (name) => worktrees.get(name) ?? '',
      ...(workers ? { workers } : {}),
      ...(this.options.nodes && this.nodeOf && this.nodeHealth
        ? { nodes: { here: this.options.nodes.here, nodeOf: this.nodeOf, health: this.nodeHealth, leader: this.leader }, nodeHosts: this.nodeHosts }
        : {}),
    };
    return assembleSnapshot(this.facts);
  }

  /** The last build's facts seen at another time (ages, countdowns): no store read. */
  reassemble(now: number = (this.options.now ?? Date.now)()): TeamSnapshot | null {
    return this.facts ? assembleSnapshot({ ...this.facts, now }) : null;
  }
}
