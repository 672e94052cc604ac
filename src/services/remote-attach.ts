/**
 * `attach` to an agent of another node (issue 12): the node's registration says where its tmux
 * server is (host, socket, session), the agent's record which pane; hornets.json `attach.remote`
 * says how to get there (ssh by default, kubectl exec for containers). The command is built as an
 * argv (domain/attach-command.ts) and run with the terminal handed over.
 */
import { UsageError } from '../errors.js';
import { processNode, remoteAgentNode } from '../config/nodes.js';
import { remoteAttachArgv } from '../domain/attach-command.js';
import { runInteractive } from '../proc/interactive.js';
import type { ProjectContext } from './context.js';

/** What a node recorded about itself that attach needs (cluster NodeRecord, narrowed). */
export interface AttachNode {
  name: string;
  state: 'up' | 'lost' | 'stopped';
  host: string;
  tmuxSocket?: string;
  tmuxSession?: string;
}

export interface RemoteAttachPlan {
  agent: string;
  node: string;
  argv: string[];
}

/** The node of `agent` when another node runs it (a Redis team), else null: attach here. */
export function remoteNodeOf(ctx: ProjectContext, agent: string, here: string = processNode()): string | null {
  return remoteAgentNode(ctx.project, ctx.selection, here, agent);
}

/** The team's nodes as the registry has them (one short connection). */
export async function listAttachNodes(ctx: ProjectContext): Promise<AttachNode[]> {
  const s = ctx.selection;
  if (s.kind !== 'redis') return [];
  const { listNodes } = await import('../cluster/node-link.js');
  return listNodes({ url: s.url, cluster: s.cluster, prefix: s.prefix, connectTimeoutMs: s.connectTimeoutMs });
}

/**
 * The command that attaches to `agent` on `node`. `ctx` is the whole team's (not one node's view):
 * the agent's record holds the pane its node's tmux server gave it. `nodes` may come from a
 * registry read the caller already made (the console's).
 */
export async function planRemoteAttach(ctx: ProjectContext, agent: string, node: string, nodes?: readonly AttachNode[]): Promise<RemoteAttachPlan> {
  const known = nodes ?? (await listAttachNodes(ctx));
  const n = known.find((x) => x.name === node);
  const state = n?.state ?? 'not started';
  if (!n || n.state !== 'up') throw new UsageError(`${agent} runs on node "${node}", which is ${state}: nothing to attach to until it runs again (hornets-tui --headless --node ${node})`);
  if (!n.tmuxSocket || !n.tmuxSession) throw new UsageError(`node "${node}" did not record its tmux server (an older hornets-tui runs there): attach on that host, or upgrade it`);
  const record = await ctx.store.getAgent(agent);
  if (!record?.paneId) throw new UsageError(`${agent} is not running on node "${node}" (no pane recorded); restart it (R, or hornets-tui restart ${agent})`);
  const config = ctx.project.config;
  const argv = remoteAttachArgv(config.attach.remote, {
    host: config.attach.hosts?.[node] ?? n.host,
    pod: n.host,
    node,
    socket: n.tmuxSocket,
    session: n.tmuxSession,
    pane: record.paneId,
    window: `${n.tmuxSession}:${agent}`,
    agent,
  });
  ctx.log.info({ event: 'remote_attach', agent, node, program: argv[0] }, 'attaching to an agent on another node');
  return { agent, node, argv };
}

/** Runs the attach command with the terminal; resolves with its exit code. */
export function runRemoteAttach(plan: RemoteAttachPlan): Promise<number> {
  return runInteractive(plan.argv);
}
