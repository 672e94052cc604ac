/** `up`, `status`, `attach`, `stop`, `down`, `add`, `remove` and the tmux hook entry point. */
import { ExitCode, HornetsError, UsageError } from '../errors.js';
import { hostname } from 'node:os';
import { openProject, type ProjectContext } from '../services/context.js';
import { nodeContext } from '../services/project-context.js';
import { processNode } from '../config/nodes.js';
import type { AgentManager } from '../services/agents.js';
import { DeliveryService } from '../services/delivery.js';
import { control } from '../services/control.js';
import { updateConfigFile } from '../config/write.js';
import { appendAgent, checkNewAgent } from '../services/team.js';
import { AGENT_NAME_RE, agentNameRule } from '../config/schema.js';
import { json, type Output } from './output.js';
import { pokeDaemon } from '../engine-client/poke.js';
import { awaitEngine, engineStatus, launchEngine, NO_ENGINE_TEXT, type EngineLaunch } from '../engine-client/index.js';
import { projectOpener } from './queue-commands.js';
import * as hot from './hot-commands.js';
import { withAgentManager, type GlobalOptions } from './hot-commands.js';

/** The agents this process's node runs (all of them on SQLite): `up`, `down`, `attach`, `add`… */
function withAgents<T>(g: GlobalOptions, fn: (m: AgentManager, ctx: ProjectContext) => Promise<T>, component = 'agents'): Promise<T> {
  const open = projectOpener(g);
  return withAgentManager(async (c) => nodeContext(await open(c), processNode()), fn, component);
}

export function statusCommand(o: Output, g: GlobalOptions, opts: { json?: boolean }): Promise<void> {
  return hot.statusCommand(o, projectOpener(g), opts);
}

/**
 * `up`: the team's windows, and the engine unless --no-engine. The engine is started as soon as the
 * tmux session exists, so it starts while the windows are made (not after, against 50 agents
 * loading) and the agents' first hooks find it. `up` waits for the engine to answer, for as long as
 * it keeps making progress; an engine still starting then is reported, not failed — only one that
 * died is an error.
 */
export async function upCommand(o: Output, g: GlobalOptions, names: string[], opts: { json?: boolean; engine?: boolean }): Promise<void> {
  let launch: EngineLaunch | null = null;
  const { report, project } = await withAgents(g, async (m, ctx) => {
    await checkNodeFree(ctx);
    // As the console does: without an engine nothing types into idle agents, so a message waits for ever.
    const onServerReady = () => {
      if (opts.engine !== false) launch = launchEngine(ctx.project);
    };
    return { report: await m.up(names.length ? names : undefined, { onServerReady }), project: ctx.project };
  });
  const started: EngineLaunch | null = launch;
  const engine = started === null ? null : await awaitEngine(project, started, { whenSlow: 'report' });
  if (opts.json) json(o, { ...report, engine: engine ?? { started: false, pid: engineStatus(project.paths.root).pid, skipped: true } });
  else {
    const line = (label: string, list: string[]) => list.length && o.out(`${label}: ${list.join(', ')}`);
    line('started', report.created);
    line('restarted', report.restarted);
    line('already running', report.running);
    for (const f of report.failed) o.err(`failed: ${f.agent}: ${f.error}`);
    o.out(`tmux server "${report.socket}", session "${report.session}": hornets-tui attach <agent> to look in`);
    if (engine && !engine.ready) o.err(`note: the engine (pid ${engine.pid}) is still starting on this busy machine; \`hornets-tui daemon status\` shows when it answers`);
    else if (engine) o.out(engine.started ? `engine started (pid ${engine.pid}); \`hornets-tui daemon stop\` stops it, agents keep running` : `engine already running (pid ${engine.pid})`);
    else if (!engineStatus(project.paths.root).running) o.err(`note: --no-engine: ${NO_ENGINE_TEXT}`);
  }
  if (report.failed.length > 0) process.exitCode = 1;
}

/**
 * A Redis team: `up` as a node whose name a live engine elsewhere holds (another host, or another
 * state directory here) would start a second copy of its agents; refused before any window is made.
 */
async function checkNodeFree(ctx: ProjectContext): Promise<void> {
  const s = ctx.selection;
  if (s.kind !== 'redis') return;
  const node = processNode();
  const { listNodes } = await import('../cluster/node-link.js');
  const holder = (await listNodes({ url: s.url, cluster: s.cluster, prefix: s.prefix, connectTimeoutMs: s.connectTimeoutMs })).find((n) => n.name === node && n.state === 'up');
  if (!holder) return;
  const ours = engineStatus(ctx.project.paths.root);
  if (ours.running && holder.pid === ours.pid && holder.host === hostname()) return;
  throw new NodeTakenError(`node name "${node}" is already taken by a live node (host ${holder.host}, pid ${holder.pid}); stop it or choose another --node name. Nothing was started`);
}

class NodeTakenError extends HornetsError {
  readonly exitCode = ExitCode.failure;
}

export async function attachCommand(g: GlobalOptions, name: string): Promise<void> {
  const { planRemoteAttach, remoteNodeOf, runRemoteAttach } = await import('../services/remote-attach.js');
  const open = projectOpener(g);
  let team: ProjectContext | null = null;
  // The store closes before the terminal is handed over: attach can last for hours.
  type Target = { remote: Awaited<ReturnType<typeof planRemoteAttach>> } | { manager: AgentManager; pane: Awaited<ReturnType<AgentManager['paneOf']>> };
  const target = await withAgentManager(
    async (c) => nodeContext((team = await open(c)), processNode()),
    async (m): Promise<Target> => {
      // An agent of another node (a Redis team): its node's tmux is reached through attach.remote (ssh…).
      const node = remoteNodeOf(team!, name);
      return node !== null ? { remote: await planRemoteAttach(team!, name, node) } : { manager: m, pane: await m.paneOf(name) };
    },
  );
  if ('remote' in target) {
    if ((await runRemoteAttach(target.remote)) !== 0) process.exitCode = 1;
    return;
  }
  // attachPane, not attach(name): looking the pane up again would use the store closed above.
  const code = await target.manager.attachPane(target.pane);
  if (code !== 0) process.exitCode = 1;
}

export async function stopCommand(o: Output, g: GlobalOptions, names: string[], opts: { timeout?: string; json?: boolean }): Promise<void> {
  const timeoutMs = opts.timeout ? Number(opts.timeout) * 1000 : undefined;
  const ctx = await openProject({ configPath: g.config, component: 'control' });
  try {
    // The operator service: through the engine when one runs (it forgets nudges and restarts).
    const results = await Promise.all(names.map(async (n) => ({ agent: n, result: await control(ctx, 'stop', n, { timeoutMs }) })));
    if (opts.json)
      return json(
        o,
        results.map((r) => ({ agent: r.agent, result: /was not running/.test(r.result) ? 'not-running' : 'stopped' })),
      );
    for (const r of results) o.out(r.result);
  } finally {
    await ctx.close();
  }
}

export async function downCommand(o: Output, g: GlobalOptions, opts: { removeWorktrees?: boolean; timeout?: string; json?: boolean }): Promise<void> {
  const timeoutMs = opts.timeout ? Number(opts.timeout) * 1000 : undefined;
  const r = await withAgents(g, (m) => m.down({ removeWorktrees: opts.removeWorktrees, timeoutMs }));
  if (opts.json) return json(o, r);
  o.out(r.stopped.length ? `stopped: ${r.stopped.join(', ')}` : 'no agent was running');
  if (r.worktreesRemoved.length) o.out(`removed worktrees: ${r.worktreesRemoved.join(', ')}`);
  o.out('tmux server stopped; the queue is kept');
}

export async function addCommand(o: Output, g: GlobalOptions, name: string, opts: { profile: string; role?: string; worktree?: string; start?: boolean; json?: boolean }): Promise<void> {
  const agent = { name, profile: opts.profile, role: opts.role, worktree: opts.worktree };
  if (!AGENT_NAME_RE.test(name)) throw new UsageError(`invalid agent name "${name}": ${agentNameRule}`);
  // Under the agents lock: a racing `add` or `up` neither loses this edit nor starts the agent twice.
  const { configPath, report } = await withAgents(g, (m, ctx) =>
    m.locked(`add ${name}`, async () => {
      checkNewAgent(ctx.project, agent);
      const configPath = ctx.project.configPath;
      appendAgent(configPath, agent);
      // The engine serves the new agent from now on (trigger folder, pipes, delivery), before it starts.
      await pokeDaemon(ctx.project.paths.root, '/event/config-changed', {}, 10_000);
      const report = opts.start === false ? null : await withAgents({ ...g, config: configPath }, (fresh) => fresh.up([name]));
      return { configPath, report };
    }),
  );
  if (report === null) {
    o.out(`added ${name} (${opts.profile}) to ${configPath}; start it with hornets-tui up ${name}`);
    return;
  }
  if (opts.json) return json(o, report);
  if (report.failed.length) {
    o.err(`added ${name} to ${configPath} but it failed to start: ${report.failed[0]!.error}`);
    process.exitCode = 1;
  } else o.out(`added and started ${name} (${opts.profile})`);
}

export async function removeCommand(o: Output, g: GlobalOptions, name: string, opts: { json?: boolean }): Promise<void> {
  const configPath = await withAgents(g, (m, ctx) =>
    m.locked(`remove ${name}`, async () => {
      await m.stop(name);
      updateConfigFile(ctx.project.configPath, (raw) => {
        raw.agents = (Array.isArray(raw.agents) ? raw.agents : []).filter((a: { name?: string }) => a?.name !== name);
      });
      // The engine drops its pipes and watchers now rather than at its next look at the file.
      await pokeDaemon(ctx.project.paths.root, '/event/config-changed', {}, 10_000);
      return ctx.project.configPath;
    }),
  );
  if (opts.json) return json(o, { removed: name });
  o.out(`stopped and removed ${name} from ${configPath}; its queued messages and worktree are kept`);
}

export async function pushNowCommand(o: Output, g: GlobalOptions, agent: string, until: string | undefined, asJson: boolean | undefined): Promise<void> {
  const r = await withAgents(g, (m, ctx) => new DeliveryService(m, ctx.store, ctx.log).pushPending(agent, { until }), 'delivery');
  if (asJson) return json(o, r);
  for (const d of r.delivered) o.out(`delivered ${d.id} to ${agent} (${d.ms} ms${d.enterPresses > 1 ? `, Enter pressed ${d.enterPresses}×` : ''})`);
  for (const d of r.refused) o.err(`not typed (${d.id}): ${d.reason}; it stays queued`);
  for (const d of r.failed) o.err(`push failed (${d.id}): ${d.error}; will retry`);
  if (r.failed.length > 0) process.exitCode = 1;
}

export async function paneDiedCommand(paneId: string, status: string): Promise<void> {
  // Runs from a tmux hook: never throw, never print; the log says what happened.
  try {
    const code = status === '' ? null : Number(status);
    const stateDir = await withAgents(
      {},
      async (m, ctx) => {
        await m.paneDied(paneId, code);
        return ctx.project.paths.root;
      },
      'pane-died',
    );
    await pokeDaemon(stateDir, '/event/pane-died', { pane: paneId, status: code });
  } catch {
    process.exitCode = 0;
  }
}
