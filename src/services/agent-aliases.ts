/**
 * The legacy `session:window` agent ids (DESIGN.md §2, seeds 001/002) accepted wherever an agent
 * name is: an id `migrate tmux-orchestrator` recorded for the agent that took its work
 * (`.hornets/aliases.json`), or this project's own `<session>:<window>` (the window's name, which
 * is the agent's, or its index, looked up in hornets' tmux server).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { writeFileAtomicSync } from '../util/private-files.js';
import type { Project } from '../config/load.js';
import { TmuxClient } from '../tmux/client.js';
import { serverFor } from './agents.js';

const FILE = 'aliases.json';

export function readAliases(stateDir: string): Map<string, string> {
  const file = join(stateDir, FILE);
  if (!existsSync(file)) return new Map();
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`${file} is not valid JSON (${(err as Error).message}); fix or remove it`);
  }
  const aliases = (parsed as { aliases?: unknown }).aliases;
  if (aliases === null || typeof aliases !== 'object' || Array.isArray(aliases)) throw new UsageError(`${file}: expected {"aliases": {"<session:window>": "<agent>"}}`);
  return new Map(Object.entries(aliases as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

export function writeAliases(stateDir: string, aliases: ReadonlyMap<string, string>): void {
  const sorted = Object.fromEntries([...aliases].sort(([a], [b]) => a.localeCompare(b)));
  writeFileAtomicSync(join(stateDir, FILE), `${JSON.stringify({ aliases: sorted }, null, 2)}\n`, 0o600);
}

/** True when `input` may be a legacy id rather than a name (agent names never hold a colon). */
export function looksLikeWindowId(input: string): boolean {
  return input.includes(':');
}

/**
 * The agent `input` names. A name is returned as it is (unknown names are the caller's error to
 * report); a `session:window` id is resolved or refused with what was tried.
 */
export async function resolveAgentId(project: Project, input: string, env: NodeJS.ProcessEnv): Promise<string> {
  if (!looksLikeWindowId(input)) return input;
  const names = project.config.agents.map((a) => a.name);
  const alias = readAliases(project.paths.root).get(input);
  if (alias !== undefined) {
    if (!names.includes(alias)) throw new UsageError(`"${input}" is an alias of "${alias}" (${join(project.paths.root, FILE)}), which is not an agent of ${project.configPath} any more`);
    return alias;
  }
  const i = input.lastIndexOf(':');
  const session = input.slice(0, i);
  const window = input.slice(i + 1);
  if (session === project.config.project) {
    if (names.includes(window)) return window;
    if (/^\d+$/.test(window)) {
      const name = await new TmuxClient({ server: serverFor(project, env) }).windowNameAt(session, Number(window));
      if (name !== null && names.includes(name)) return name;
      throw new UsageError(`"${input}": window ${window} of session ${session} ${name === null ? 'does not exist' : `is "${name}", not an agent`} (agents: ${names.join(', ')})`);
    }
  }
  throw new UsageError(
    `unknown agent "${input}": not an alias from \`migrate tmux-orchestrator\` and not a window of this project's session "${project.config.project}" (agents: ${names.join(', ')})`,
  );
}
