/**
 * The commands users and scripts run most (`send`, `queue list`, `status`), shared by the full CLI
 * and its lean entry (src/cli-hot.ts). Nothing here loads zod, commander or pino's config side: the
 * caller passes how to open the project (validated, or from the validated-config cache).
 */
import { readFileSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { isMessageState, messageStates, pendingStates, type Message, type MessageState } from '../domain/message.js';
import { parsePriority } from '../domain/priority.js';
import { parseDuration } from '../domain/duration.js';
import { NO_ENGINE_TEXT } from '../domain/explain.js';
import type { ProjectContext } from '../services/project-context.js';
import { QueueService } from '../services/queue-service.js';
import type { AgentManager, AgentStatus } from '../services/agents.js';
import { engineStatus } from '../engine-client/status.js';
import { age, json, preview, table, type Output } from './output.js';

export interface GlobalOptions {
  config?: string;
}

/** Opens the project for one command; `component` names its log lines. */
export type OpenProject = (component?: string) => Promise<ProjectContext>;

export async function withQueueService<T>(open: OpenProject, fn: (svc: QueueService, ctx: ProjectContext) => Promise<T>): Promise<T> {
  const ctx = await open();
  try {
    return await fn(new QueueService(ctx.project, ctx.store, ctx.log, ctx.selection), ctx);
  } catch (err) {
    ctx.log.warn({ err: err instanceof Error ? { name: err.name, message: err.message } : String(err) }, 'command failed');
    throw err;
  } finally {
    await ctx.close();
  }
}

export async function withAgentManager<T>(open: OpenProject, fn: (m: AgentManager, ctx: ProjectContext) => Promise<T>, component = 'agents'): Promise<T> {
  // Loaded here: tmux, git and process spawning are for the agent commands, not `send` or `queue list`.
  const { AgentManager } = await import('../services/agents.js');
  const ctx = await open(component);
  try {
    return await fn(new AgentManager(ctx.project, ctx.store, ctx.log), ctx);
  } finally {
    await ctx.close();
  }
}

export function readStdin(): string {
  try {
    return readFileSync(0, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EAGAIN') throw new UsageError('stdin is not readable; pipe the message in or pass it as an argument');
    throw err;
  }
}

/** `echo text | send agent -` should queue "text", not "text\n". */
function stripFinalNewline(s: string): string {
  return s.endsWith('\r\n') ? s.slice(0, -2) : s.endsWith('\n') ? s.slice(0, -1) : s;
}

export interface SendCliOptions {
  priority?: string;
  key?: string;
  ttl?: string;
  from?: string;
  json?: boolean;
}

export async function sendCommand(o: Output, open: OpenProject, agent: string, words: string[], opts: SendCliOptions): Promise<string> {
  let body: string;
  if (words.length === 1 && words[0] === '-') body = stripFinalNewline(readStdin());
  else if (words.length === 0) {
    if (process.stdin.isTTY) throw new UsageError('no message text: give it as arguments, or "-" to read it from stdin');
    body = stripFinalNewline(readStdin());
  } else body = words.join(' ');
  const priority = opts.priority !== undefined ? parsePriority(opts.priority) : undefined;
  const ttlMs = opts.ttl !== undefined ? parseDuration(opts.ttl, 'ttl') : undefined;
  const r = await withQueueService(open, (svc) => svc.send(agent, body, { priority, key: opts.key, ttlMs, sender: opts.from ?? 'cli' }));
  if (opts.json) {
    json(o, { id: r.message.id, agent, created: r.created, state: r.message.state, priority: r.message.priority, ahead: r.ahead, engineRunning: r.engineRunning, waitsForEngine: r.waitsForEngine });
    return r.message.id;
  }
  if (r.waitsForEngine) o.err(`note: ${agent} is idle and ${NO_ENGINE_TEXT}`);
  if (r.created) o.out(`queued ${r.message.id} for ${agent} (priority ${r.message.priority}, ${r.ahead === 0 ? 'next in line' : `${r.ahead} ahead`})`);
  else o.out(`already queued as ${r.message.id} for ${agent} (same key "${opts.key}"; state ${r.message.state})`);
  return r.message.id;
}

function parseStates(spec: string | undefined, all: boolean | undefined): MessageState[] | undefined {
  if (all) return [...messageStates];
  if (!spec) return undefined;
  const states = spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const s of states) {
    if (s === 'pending') continue;
    if (!isMessageState(s)) throw new UsageError(`unknown state "${s}" (one of: pending, ${messageStates.join(', ')})`);
  }
  return [...new Set(states.flatMap((s) => (s === 'pending' ? [...pendingStates] : [s as MessageState])))];
}

export function parseLimit(v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`invalid --limit "${v}": expected a positive integer`);
  return n;
}

function messageRows(messages: Message[], now: number): string[][] {
  return messages.map((m) => [m.id, m.agent, String(m.priority), m.state, `${m.attempts}/${m.maxAttempts}`, age(m.createdAt, now), preview(m.body)]);
}

export async function listCommand(o: Output, open: OpenProject, agent: string | undefined, opts: { state?: string; all?: boolean; limit?: string; json?: boolean }): Promise<void> {
  const states = parseStates(opts.state, opts.all);
  const limit = parseLimit(opts.limit, 200);
  const messages = await withQueueService(open, (svc) => svc.list({ agent, states, limit }));
  if (opts.json) return json(o, messages);
  if (messages.length === 0) {
    o.out(`no ${states ? states.join('/') : 'pending'} messages${agent ? ` for ${agent}` : ''}`);
    return;
  }
  o.out(table(['ID', 'AGENT', 'PRI', 'STATE', 'TRIES', 'AGE', 'TEXT'], messageRows(messages, Date.now())));
}

/** An agent of a team on Redis: the node that runs it, and whether that node is up. */
export interface NodeAgentStatus extends AgentStatus {
  node: string | null;
  /** up, lost (its engine stopped heartbeating), stopped (shut down cleanly), unknown (never started). */
  nodeState: 'up' | 'lost' | 'stopped' | 'unknown';
  /** The node that leads the team's cluster-wide duties now (null: no engine leads). */
  leaderNode: string | null;
}

interface TeamNodes {
  of: Map<string, string | null>;
  states: Map<string, 'up' | 'lost' | 'stopped'>;
  elsewhere: Set<string>;
  leader: string | null;
}

async function teamNodes(ctx: ProjectContext): Promise<TeamNodes> {
  const { agentNode, processNode } = await import('../config/nodes.js');
  const { listNodesAndLeader } = await import('../cluster/node-link.js');
  const s = ctx.selection;
  if (s.kind !== 'redis') throw new Error('teamNodes: not a Redis team');
  const here = processNode();
  const { nodes: records, leader } = await listNodesAndLeader({ url: s.url, cluster: s.cluster, prefix: s.prefix, connectTimeoutMs: s.connectTimeoutMs });
  const of = new Map(ctx.project.config.agents.map((a) => [a.name, agentNode(ctx.project.config, a)]));
  return {
    of,
    states: new Map(records.map((r) => [r.name, r.state])),
    elsewhere: new Set([...of].filter(([, node]) => node !== here).map(([name]) => name)),
    leader,
  };
}

function withNode(a: AgentStatus, nodes: TeamNodes): NodeAgentStatus {
  const node = nodes.of.get(a.name) ?? null;
  const nodeState = node === null ? 'unknown' : (nodes.states.get(node) ?? 'unknown');
  const leaderNode = nodes.leader;
  if (nodeState === 'up') return { ...a, node, nodeState, leaderNode };
  // Nothing runs it: what the record last said is history, not the agent's state now.
  return {
    ...a,
    node,
    nodeState,
    leaderNode,
    label: `node ${nodeState}`,
    detail: `node "${node}" is ${nodeState === 'unknown' ? 'not running (never started)' : nodeState}; its agents run again when it starts (hornets-tui --headless --node ${node})`,
  };
}

function nodeColumn(a: AgentStatus): string {
  const n = a as Partial<NodeAgentStatus>;
  return n.node ? (n.nodeState === 'up' ? n.node : `${n.node} (${n.nodeState})`) : '-';
}

function statusRows(list: AgentStatus[]): string[][] {
  return list.map((a) => [
    a.name,
    a.profile,
    // The display rule's label (domain/agent-display.ts), the words the console shows.
    a.label,
    a.paneId ?? '-',
    a.alive ? `${a.currentCommand ?? ''}(${a.pid})` : a.exitStatus !== null ? `dead (exit ${a.exitStatus})` : '-',
    String(a.queueDepth),
    usageCell(a),
    String(a.restarts),
    a.lastError ? a.lastError.slice(0, 60) : '',
  ]);
}

/** `12.3k tok $0.41`, with the budget beside it when there is one (`/$5`). */
export function usageCell(a: Pick<AgentStatus, 'tokens' | 'costUsd' | 'budget'>): string {
  const tokens = formatTokens(a.tokens.total);
  const cost = `$${a.costUsd < 10 ? a.costUsd.toFixed(2) : a.costUsd.toFixed(0)}`;
  const budget = a.budget ? `/${[a.budget.usd !== null ? `$${a.budget.usd}` : null, a.budget.tokens !== null ? formatTokens(a.budget.tokens) : null].filter(Boolean).join(',')}` : '';
  return `${tokens} ${cost}${budget}`;
}

function formatTokens(n: number): string {
  if (n < 1000) return String(n);
  if (n < 1_000_000) return `${(n / 1000).toFixed(1)}k`;
  return `${(n / 1_000_000).toFixed(1)}M`;
}

export async function statusCommand(o: Output, open: OpenProject, opts: { json?: boolean }): Promise<void> {
  const { list, stateDir, damage, db, leader } = await withAgentManager(open, async (m, ctx) => {
    const nodes = ctx.selection.kind === 'redis' ? await teamNodes(ctx) : null;
    const statuses = await m.status(nodes ? { elsewhere: nodes.elsewhere } : {});
    return {
      list: nodes ? statuses.map((a) => withNode(a, nodes)) : statuses,
      leader: nodes ? nodes.leader : undefined,
      stateDir: ctx.project.paths.root,
      damage: ctx.store.damage?.() ?? null,
      db: ctx.project.paths.db,
    };
  });
  // A damaged database fails `status` (exit 1) after showing what it can: scripts must notice.
  if (damage) {
    o.err(`hornets-tui: ${db} is damaged (found ${damage.at}: ${damage.detail}); messages cannot be queued or delivered. See README, "A damaged database"`);
    process.exitCode = 1;
  }
  if (opts.json) return json(o, list);
  if (list.some((a) => 'node' in a)) {
    o.out(
      table(
        ['AGENT', 'NODE', 'PROFILE', 'STATE', 'PANE', 'PROCESS', 'QUEUE', 'TOKENS/COST', 'RESTARTS', 'LAST ERROR'],
        statusRows(list).map((row, i) => [row[0]!, nodeColumn(list[i]!), ...row.slice(1)]),
      ),
    );
    o.out(leader ? `leader: node ${leader} (lease sweep, TTL expiry, dead-lettering, retention)` : 'leader: none (no engine of this team runs)');
    return;
  }
  o.out(table(['AGENT', 'PROFILE', 'STATE', 'PANE', 'PROCESS', 'QUEUE', 'TOKENS/COST', 'RESTARTS', 'LAST ERROR'], statusRows(list)));
  if (!engineStatus(stateDir).running) o.err(`note: ${NO_ENGINE_TEXT}`);
}
