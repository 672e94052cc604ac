/**
 * Operator actions (pause, resume, restart, reset, rebrief, stop): the one path the CLI, the
 * console, the control pipe and the engine all take. A client hands the action to a running engine
 * (it owns recovery timers and nudges); with no engine, or inside the engine itself, the same
 * `applyOperatorAction` runs here, so every caller gets the same rules and the same answers.
 */
import { budgetKey } from '../domain/usage.js';
import { request } from 'node:http';
import { UsageError } from '../errors.js';
import { pokeDaemon, readEndpoint } from '../engine-client/poke.js';
import type { ProjectContext } from './context.js';
import { AgentManager } from './agents.js';
import { composeRebrief } from './rebrief.js';
import { processNode, remoteAgentNode } from '../config/nodes.js';

export const controlActions = ['pause', 'resume', 'restart', 'reset', 'rebrief', 'stop'] as const;
export type ControlAction = (typeof controlActions)[number];

export function parseControlAction(action: string): ControlAction {
  if ((controlActions as readonly string[]).includes(action)) return action as ControlAction;
  throw new UsageError(`unknown action "${action}"; expected one of: ${controlActions.join(', ')}`);
}

/** What an engine running in this process adds to an action: its recovery state and timers. */
export interface EngineControl {
  /** Close the breaker and drop any scheduled restart or API back-off. */
  resetRecovery(agent: string): Promise<void>;
  /** Restart now, serialised with crash handling; does not spend the crash-restart budget. */
  restart(agent: string): Promise<void>;
  /** Forget nudges and scheduled restarts of an agent the operator stopped. */
  stopped(agent: string): void;
  wake(agent: string): void;
}

export interface ControlOptions {
  /** `stop`: how long the agent gets to exit after SIGTERM before its window is killed. */
  timeoutMs?: number;
}

export async function applyOperatorAction(ctx: ProjectContext, action: ControlAction, agent: string, engine: EngineControl | null, options: ControlOptions = {}): Promise<string> {
  const manager = new AgentManager(ctx.project, ctx.store, ctx.log);
  manager.agentConfig(agent);
  switch (action) {
    case 'pause':
      await ctx.store.transitionAgent(agent, { type: 'pause' });
      return `${agent} paused: nothing is delivered until resumed`;
    case 'resume': {
      // Over its budget: the operator lets it go on over this budget (domain/usage.ts budgetVerdict).
      const usage = (await ctx.store.agentUsage([agent]))[0];
      if (usage?.overBudget) {
        const budget = ctx.project.config.agents.find((a) => a.name === agent)?.budget ?? {};
        await ctx.store.markBudget(agent, { overBudget: false, waivedBudget: budgetKey(budget) });
        await ctx.store.recordEvent({ agent, kind: 'budget_waived', detail: { budget, costUsd: usage.costUsd } });
      }
      await ctx.store.transitionAgent(agent, { type: 'resume' });
      engine?.wake(agent);
      return `${agent} resumed`;
    }
    case 'restart':
      if (engine) {
        await engine.resetRecovery(agent);
        await engine.restart(agent);
      } else {
        await manager.restartAgent(agent, { resume: true });
        await ctx.store.recordEvent({ agent, kind: 'agent_restarted', detail: { byRecovery: false, manual: true } });
      }
      return `${agent} restarted`;
    case 'reset':
      await engine?.resetRecovery(agent);
      await ctx.store.transitionAgent(agent, { type: 'reset' });
      await ctx.store.recordEvent({ agent, kind: 'breaker_closed', detail: { manual: true } });
      engine?.wake(agent);
      return `${agent}: breaker closed, restarts allowed again`;
    case 'rebrief': {
      const id = await composeRebrief(ctx, agent);
      if (engine) engine.wake(agent);
      else await pokeDaemon(ctx.project.paths.root, '/wake', { agent });
      return `rebrief queued for ${agent} as ${id}`;
    }
    case 'stop': {
      engine?.stopped(agent);
      const r = await manager.stop(agent, { timeoutMs: options.timeoutMs });
      return `${agent}: ${r === 'stopped' ? 'stopped (queue kept)' : 'was not running'}`;
    }
  }
}

type DaemonAnswer = { ok: true; text: string } | { ok: false; text: string } | null;

function viaDaemon(stateDir: string, action: string, agent: string, options: ControlOptions): Promise<DaemonAnswer> {
  const ep = readEndpoint(stateDir);
  if (!ep) return Promise.resolve(null);
  const data = JSON.stringify({ action, agent, ...options });
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: ep.port,
        path: '/control',
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), 'x-hornets-token': ep.token },
        timeout: 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ ok: res.statusCode === 200, text });
        });
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
    req.end(data);
  });
}

/** From a client (CLI, console): through the running engine, or applied here when none runs. */
export async function control(ctx: ProjectContext, action: string, agent: string, options: ControlOptions = {}): Promise<string> {
  const parsed = parseControlAction(action);
  new AgentManager(ctx.project, ctx.store, ctx.log).agentConfig(agent);
  const owner = remoteAgentNode(ctx.project, ctx.selection, processNode(), agent);
  if (owner !== null) return controlOnNode(ctx, owner, parsed, agent);
  const answer = await viaDaemon(ctx.project.paths.root, parsed, agent, options);
  if (answer !== null) {
    if (!answer.ok) throw new UsageError(answer.text);
    return answer.text;
  }
  return applyOperatorAction(ctx, parsed, agent, null, options);
}

/**
 * An agent of another node: the control goes to that node's engine as an entry of its control
 * stream, which it reads in order, also after a lost connection. An engine reads only entries
 * added while it runs, so a node that is not up is refused here rather than sent a control it
 * would never read.
 */
async function controlOnNode(ctx: ProjectContext, node: string, action: string, agent: string): Promise<string> {
  const s = ctx.selection;
  const { CONTROL_ACTIONS } = await import('../cluster/bus.js');
  const remote = CONTROL_ACTIONS.find((a) => a === action);
  if (s.kind !== 'redis' || remote === undefined) throw new UsageError(`${agent} runs on node "${node}": run \`hornets-tui ${action} ${agent}\` there (--node ${node})`);
  const { listNodes, sendRemoteControl } = await import('../cluster/node-link.js');
  const state = (await listNodes({ url: s.url, cluster: s.cluster, prefix: s.prefix, connectTimeoutMs: s.connectTimeoutMs })).find((n) => n.name === node)?.state ?? 'not started';
  if (state !== 'up') throw new UsageError(`${agent} runs on node "${node}", which is ${state}: start it there (hornets-tui --node ${node} up), then retry`);
  await sendRemoteControl({ url: s.url, cluster: s.cluster, prefix: s.prefix, connectTimeoutMs: s.connectTimeoutMs }, node, remote, agent);
  ctx.log.info({ event: 'remote_control_sent', action, agent, node }, 'control sent to another node');
  return `${agent}: ${action} sent to node "${node}" (its engine applies it)`;
}
