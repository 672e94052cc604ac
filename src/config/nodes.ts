/**
 * Nodes (issue 12): on a Redis store one team runs across several hosts, each agent on the node
 * hornets.json names for it. A process acts as one node (`--node`, HORNETS_NODE, or the host name)
 * and starts, watches and restarts only that node's agents; `localAgents` is the one place that
 * decides which those are. On SQLite there is one host and nodes are ignored.
 */
import { hostname } from 'node:os';
import { ConfigError, UsageError, type ConfigIssue } from '../errors.js';
import type { Project } from './load.js';
import type { AgentConfig, HornetsConfig } from './schema.js';
import type { StoreSelection } from './store-selection.js';

// The agent-name rule (AGENT_NAME_RE in schema.ts), repeated here: `send` on the lean path must not load zod.
const NODE_NAME_RE = /^[a-z][a-z0-9_-]{0,31}$/;
const nodeNameRule = 'lower-case letter first, then lower-case letters, digits, "-" or "_", at most 32 characters';

/** A host name as a node name: lower-case, anything outside [a-z0-9_-] becomes "-". */
export function nodeFromHostname(host: string): string {
  const name = host.toLowerCase().replace(/[^a-z0-9_-]/g, '-');
  return /^[a-z]/.test(name) ? name.slice(0, 32) : `n${name}`.slice(0, 32);
}

export function checkNodeOption(node: string): string {
  if (!NODE_NAME_RE.test(node)) throw new UsageError(`invalid node name "${node}" (--node or HORNETS_NODE): ${nodeNameRule}`);
  return node;
}

/** `--node`: the process and everything it launches (the engine of `up`, `daemon start`) act as this node. */
export function setProcessNode(node: string): void {
  process.env.HORNETS_NODE = checkNodeOption(node);
}

/** This process's node: HORNETS_NODE (which `--node` sets), else the host name. */
export function processNode(env: NodeJS.ProcessEnv = process.env): string {
  const given = env.HORNETS_NODE?.trim();
  if (given) return checkNodeOption(given);
  return nodeFromHostname(hostname());
}

/** The node an agent runs on: its own `node`, else `defaults.node`; null when neither is set. */
export function agentNode(config: HornetsConfig, agent: AgentConfig): string | null {
  return agent.node ?? config.defaults.node ?? null;
}

/** On a Redis store every agent needs a node: a ConfigError naming each one without. */
export function checkAgentNodes(configPath: string, config: HornetsConfig, selection: StoreSelection): void {
  if (selection.kind !== 'redis') return;
  const issues: ConfigIssue[] = [];
  config.agents.forEach((a, i) => {
    if (agentNode(config, a) === null)
      issues.push({ path: `agents[${i}].node`, message: `agent "${a.name}" has no node: a team on Redis runs across hosts, so each agent names its node (or set defaults.node)` });
  });
  if (issues.length > 0) throw new ConfigError(configPath, issues);
}

/** Whether the project's agents are spread over nodes (a Redis store). */
export function isNodeTeam(selection: StoreSelection): boolean {
  return selection.kind === 'redis';
}

/** The agents `node` runs: all of them on SQLite (one host), those named for it on Redis. */
export function localAgents(config: HornetsConfig, selection: StoreSelection, node: string): AgentConfig[] {
  if (!isNodeTeam(selection)) return config.agents;
  return config.agents.filter((a) => agentNode(config, a) === node);
}

/**
 * The task workers whose runs `node`'s engine starts: every worker on SQLite (one host); on Redis
 * those whose `nodes` name it, or that name none (any node with a free slot takes the next task).
 */
export function hostedWorkers(config: HornetsConfig, selection: StoreSelection, node: string): string[] {
  if (!isNodeTeam(selection)) return config.workers.map((w) => w.name);
  return config.workers.filter((w) => !w.nodes || w.nodes.includes(node)).map((w) => w.name);
}

/**
 * The project as one node sees it: the same project with only that node's agents, so every part
 * that runs agents (AgentManager, the engine, watchers, heartbeats) needs no change of its own.
 */
export function nodeProject(project: Project, selection: StoreSelection, node: string): Project {
  if (!isNodeTeam(selection)) return project;
  return { ...project, config: { ...project.config, agents: localAgents(project.config, selection, node) } };
}

/** A control for an agent of another node is refused, naming that node. */
export function remoteAgentNode(project: Project, selection: StoreSelection, node: string, agent: string): string | null {
  if (!isNodeTeam(selection)) return null;
  const a = project.config.agents.find((x) => x.name === agent);
  if (!a) return null;
  const owner = agentNode(project.config, a);
  return owner !== null && owner !== node ? owner : null;
}
