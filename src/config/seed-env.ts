/**
 * The seed systems' own environment variables (seeds 000 and 003) beyond the settings env.ts maps:
 * each is honoured with the seed's meaning or refused, naming the hornets setting that replaces
 * it — never silently ignored or reinterpreted (issue 16). Refusals surface where the variable
 * would act: the directories when a project is loaded, the rest when the engine starts.
 */
import { isAbsolute } from 'node:path';
import { ConfigError, type ConfigIssue } from '../errors.js';

export interface SeedVariable {
  name: string;
  /** What hornets does with it, for the README's table. */
  does: string;
}

/** The directories of seeds 000/003 (`/shared/triggers`, …): honoured, as absolute paths. */
export const seedDirVariables = {
  TRIGGER_DIR: 'triggers',
  PIPE_DIR: 'pipes',
  HEARTBEAT_DIR: 'heartbeats',
  TASK_DIR: 'tasks',
  RESULT_DIR: 'results',
  DLQ_DIR: 'dlq',
} as const;

type SeedDirs = Record<(typeof seedDirVariables)[keyof typeof seedDirVariables], string>;

export const seedVariables: readonly SeedVariable[] = [
  ...Object.entries(seedDirVariables).map(([name, key]) => ({
    name,
    does: `honoured: the engine's ${key} directory instead of \`.hornets/${key}/\` (an absolute path; the CLI and the engine must see the same value)`,
  })),
  { name: 'HOOKS_MODE', does: '`1`: honoured (delivery through the agents\' hooks is what profiles with hooks do); any other value is refused: choose per profile with `"delivery": "push"`' },
  {
    name: 'ACTIVATION_MODE',
    does: '`inotify`: `watch.mode` "events"; `polling`: `watch.mode` "poll" (every 1 s, the seed\'s rate, unless `watch.interval` says otherwise); `redis`: honoured when the queue is in Redis (wake-ups go through it), refused otherwise',
  },
  { name: 'LOG_FORMAT', does: '`json`: honoured (the log file is pino JSON lines); any other value is refused: read it with `hornets-tui logs`' },
  {
    name: 'ENABLE_METRICS',
    does: '`true`/`1`: honoured; `false`/`0` is refused: `/metrics`, `/healthz` and `/readyz` stay on (`METRICS_HOST`, default 127.0.0.1, and `METRICS_PORT`), since health checks need them',
  },
  { name: 'CLAUDE_COMMAND', does: "honoured: the program agents of a `claude` profile run (a name on PATH or a path); with arguments it is refused: put them in the profile's `command`" },
  {
    name: 'WORKER_NAME',
    does: 'refused: one engine runs every agent of hornets.json; a host runs the agents whose `node` names it (`--node`, `HORNETS_NODE`), and `hornets-tui up <agent>` starts one',
  },
];

function lookup(env: NodeJS.ProcessEnv, name: string): { variable: string; value: string } | null {
  for (const variable of [`HORNETS_${name}`, name]) {
    const value = env[variable];
    if (value !== undefined && value.trim() !== '') return { variable, value: value.trim() };
  }
  return null;
}

/** The state paths with the seed directory variables applied; each bad one is an issue. */
export function applySeedDirs<T extends SeedDirs>(paths: T, env: NodeJS.ProcessEnv, issues: ConfigIssue[]): T {
  let out = paths;
  for (const [name, key] of Object.entries(seedDirVariables)) {
    const found = lookup(env, name);
    if (!found) continue;
    if (!isAbsolute(found.value)) {
      issues.push({ path: found.variable, message: `"${found.value}" is not an absolute path (the CLI and the engine may run in different directories)` });
      continue;
    }
    out = { ...out, [key]: found.value };
  }
  return out;
}

export interface SeedEngineOverrides {
  watch?: { mode: 'events' | 'poll'; interval?: string };
  /** CLAUDE_COMMAND: the program of `claude` commands. */
  claudeProgram?: string;
  applied: string[];
}

/**
 * The engine-time variables: honoured ones as overrides, refused ones as issues naming the setting
 * that replaces them. `redisStore`: whether this team's queue is in Redis (ACTIVATION_MODE=redis).
 */
export function parseSeedEngineEnv(env: NodeJS.ProcessEnv, redisStore: boolean, issues: ConfigIssue[]): SeedEngineOverrides {
  const out: SeedEngineOverrides = { applied: [] };
  const take = (name: string, check: (value: string, variable: string) => string | null) => {
    const found = lookup(env, name);
    if (!found) return;
    const problem = check(found.value, found.variable);
    if (problem) issues.push({ path: found.variable, message: problem });
    else out.applied.push(`${found.variable}=${found.value}`);
  };
  take('HOOKS_MODE', (v) =>
    v === '1' || v.toLowerCase() === 'true' ? null : `"${v}": hornets has no global switch off hooks; to type messages into an agent's pane instead, set "delivery": "push" in its profile`,
  );
  take('ACTIVATION_MODE', (v) => {
    switch (v.toLowerCase()) {
      case 'inotify':
        out.watch = { mode: 'events' };
        return null;
      case 'polling':
        out.watch = { mode: 'poll' };
        return null;
      case 'redis':
        return redisStore ? ((out.watch = { mode: 'events' }), null) : '"redis": wake-ups go through Redis only when the queue is in Redis: set REDIS_URL (or store.kind "redis" in hornets.json)';
      default:
        return `"${v}": expected inotify, polling or redis (hornets.json: watch.mode "events" or "poll")`;
    }
  });
  take('LOG_FORMAT', (v) => (v.toLowerCase() === 'json' ? null : `"${v}": hornets writes its log as JSON lines only (.hornets/logs/hornets.log); \`hornets-tui logs\` shows it`));
  take('ENABLE_METRICS', (v) =>
    ['true', '1', 'yes'].includes(v.toLowerCase())
      ? null
      : ['false', '0', 'no'].includes(v.toLowerCase())
        ? `"${v}": metrics cannot be turned off: /metrics, /healthz and /readyz serve on daemon.metricsHost (METRICS_HOST, default 127.0.0.1) and daemon.metricsPort (METRICS_PORT), and health checks need them`
        : `"${v}": expected true or false`,
  );
  take('CLAUDE_COMMAND', (v) => {
    const problem = claudeCommandProblem(v);
    if (!problem) out.claudeProgram = v;
    return problem;
  });
  take(
    'WORKER_NAME',
    (v) => `"${v}": one engine runs every agent of hornets.json; to run some agents on this host give them "node" in hornets.json and start this host with --node <name> (HORNETS_NODE)`,
  );
  return out;
}

function claudeCommandProblem(v: string): string | null {
  return /\s/.test(v) ? `"${v}" has arguments: set only the program here, and the arguments in the claude profile's "command" (profiles/claude-code.json)` : null;
}

/**
 * CLAUDE_COMMAND for whoever starts agents (the CLI's `up`, the engine's restarts): the program a
 * `claude` command runs instead, or null. A bad value throws, naming the variable.
 */
export function claudeProgramOverride(env: NodeJS.ProcessEnv): string | null {
  const found = lookup(env, 'CLAUDE_COMMAND');
  if (!found) return null;
  const problem = claudeCommandProblem(found.value);
  if (problem) throw new ConfigError('environment', [{ path: found.variable, message: problem }]);
  return found.value;
}
