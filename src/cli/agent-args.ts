/**
 * Legacy `session:window` ids in place of agent names (services/agent-aliases.ts), for every command
 * that takes agents. Resolved before the command runs, and only for arguments with a colon: the
 * plain names everyone types cost nothing.
 */
import type { Command } from 'commander';
import { launchEnv } from '../config/process-env.js';

/** Command path → which positional arguments are agent names (`all`: every value of a variadic). */
const AGENT_ARGS: Record<string, 'first' | 'all'> = {
  send: 'first',
  attach: 'first',
  stop: 'all',
  up: 'all',
  remove: 'first',
  pause: 'first',
  resume: 'first',
  restart: 'first',
  reset: 'first',
  rebrief: 'first',
  history: 'first',
  'hooks install': 'all',
  'hooks uninstall': 'all',
  'hooks verify': 'all',
  'queue list': 'first',
  'queue dlq': 'first',
};

function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

export async function resolveAgentArgs(cmd: Command, configPath: string | undefined): Promise<void> {
  const which = AGENT_ARGS[commandPath(cmd)];
  if (!which) return;
  const args = cmd.processedArgs as unknown[];
  const first = args[0];
  const has = (v: unknown) => (typeof v === 'string' && v.includes(':')) || (Array.isArray(v) && v.some((x) => typeof x === 'string' && x.includes(':')));
  if (!has(first)) return;
  const { loadProject } = await import('../config/load.js');
  const { resolveAgentId } = await import('../services/agent-aliases.js');
  const project = loadProject({ configPath });
  const env = launchEnv();
  const one = (v: string) => resolveAgentId(project, v, env);
  if (which === 'all' && Array.isArray(first)) args[0] = await Promise.all((first as string[]).map(one));
  else if (typeof first === 'string') args[0] = await one(first);
}
