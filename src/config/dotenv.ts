/**
 * The seed systems keep their settings in a `.env` file (seed 003: `/shared/.env`). hornets reads
 * one beside hornets.json, at the start of every command (the engine it starts inherits the
 * result): only the variables hornets knows (its tables in env.ts and seed-env.ts, the store's
 * REDIS_*, HORNETS_*), and never over a variable the environment already sets. A `.env` also holds
 * API keys and the like; those stay out of hornets' process, and so out of every agent's pane.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { findConfig } from './paths.js';

export const DOTENV_FILE = '.env';

/**
 * Every variable hornets reads, by its bare name (each also with `HORNETS_`). A list of its own so
 * the lean CLI entry loads no zod for it; test/unit/dotenv.test.ts keeps it equal to the tables.
 */
export const DOTENV_VARIABLES: readonly string[] = [
  // env.ts
  'HEARTBEAT_INTERVAL',
  'MAX_RETRIES',
  'RETRY_BACKOFF',
  'INITIAL_RETRY_DELAY',
  'CIRCUIT_BREAKER_THRESHOLD',
  'CIRCUIT_BREAKER_TIMEOUT',
  'CIRCUIT_BREAKER_WINDOW',
  'TASK_TIMEOUT',
  'MAX_CONCURRENT_TASKS',
  'METRICS_PORT',
  'METRICS_HOST',
  'RETENTION_MAX_AGE',
  'LEADER_LEASE',
  'LOG_LEVEL',
  // seed-env.ts
  'TRIGGER_DIR',
  'PIPE_DIR',
  'HEARTBEAT_DIR',
  'TASK_DIR',
  'RESULT_DIR',
  'DLQ_DIR',
  'HOOKS_MODE',
  'ACTIVATION_MODE',
  'LOG_FORMAT',
  'ENABLE_METRICS',
  'CLAUDE_COMMAND',
  'WORKER_NAME',
  // the store (store-selection.ts)
  'REDIS_URL',
  'REDIS_HOST',
  'REDIS_PORT',
  'REDIS_PASSWORD',
  'REDIS_CLUSTER_NODES',
];

/** `KEY=value` lines; `export KEY=…`, quotes and `#` comments as shells and docker-compose write them. */
export function parseDotEnv(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2]!;
    const quote = value[0];
    if ((quote === '"' || quote === "'") && value.length >= 2 && value.endsWith(quote)) value = value.slice(1, -1);
    else value = value.replace(/\s+#.*$/, '').trim();
    out.set(m[1]!, value);
  }
  return out;
}

/** The hornets.json a command would use, found the way locate.ts finds it (no error when none). */
function configFor(argv: readonly string[], env: NodeJS.ProcessEnv, cwd: string): string | null {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    if ((a === '-c' || a === '--config') && argv[i + 1]) return resolve(cwd, argv[i + 1]!);
    if (a.startsWith('--config=')) return resolve(cwd, a.slice('--config='.length));
  }
  if (env.HORNETS_CONFIG) return resolve(cwd, env.HORNETS_CONFIG);
  return findConfig(cwd);
}

/** Sets the variables hornets reads from the project's `.env` where `env` lacks them; returns their names. */
export function applyDotEnv(argv: readonly string[], env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string[] {
  const config = configFor(argv, env, cwd);
  if (!config) return [];
  const file = join(dirname(config), DOTENV_FILE);
  if (!existsSync(file)) return [];
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const applied: string[] = [];
  for (const [name, value] of parseDotEnv(text)) {
    if (env[name] !== undefined || !(DOTENV_VARIABLES.includes(name) || name.startsWith('HORNETS_'))) continue;
    env[name] = value;
    applied.push(name);
  }
  return applied;
}
