/**
 * Environment overrides from the seed systems (HEARTBEAT_INTERVAL, MAX_RETRIES, …), parsed with
 * errors that name the variable, and merged over hornets.json. Each variable may also be given with
 * a `HORNETS_` prefix (`HORNETS_MAX_RETRIES`), which wins: the bare seed names are generic enough to
 * collide with other software's environment.
 */
import { isIP } from 'node:net';
import { ConfigError, type ConfigIssue } from '../errors.js';
import { parseDuration } from '../domain/duration.js';
import type { RestartPolicy } from '../domain/restart-settings.js';
import { defaultRestartPolicy } from '../domain/restart-settings.js';
import { leaderTiming, MAX_LEADER_LEASE_MS, MIN_LEADER_LEASE_MS, type LeaderTiming } from '../domain/leader-timing.js';
import { durationMs, type HornetsConfig } from './schema.js';
import { parseSeedEngineEnv } from './seed-env.js';

export const logLevels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

type Kind =
  | { type: 'duration'; minMs?: number; maxMs?: number }
  | { type: 'int'; min: number; max: number }
  /** An IPv4 or IPv6 address literal to listen on. */
  | { type: 'address' }
  | { type: 'enum'; values: readonly string[] }
  /** RETRY_BACKOFF: a duration for the agents' tasks (as before) and/or a plain-number multiplier for workers. */
  | { type: 'backoff' };

/** RETRY_BACKOFF as the workers' multiplier (seed 003: 2.0). */
export const WORKER_BACKOFF_MIN = 1;
export const WORKER_BACKOFF_MAX = 10;

export interface EnvVariable {
  name: string;
  kind: Kind;
  /** Where it lands, for the README and error messages. */
  setting: string;
  description: string;
}

/** Every honoured variable, in README order. */
export const envVariables: readonly EnvVariable[] = [
  { name: 'HEARTBEAT_INTERVAL', kind: { type: 'duration', minMs: 100 }, setting: 'daemon.heartbeatInterval', description: 'how often heartbeat files are rewritten (default 10s)' },
  { name: 'MAX_RETRIES', kind: { type: 'int', min: 0, max: 100 }, setting: 'daemon.taskMaxRetries', description: 'retries of a failed or timed-out task when the task file gives none (default 2)' },
  {
    name: 'RETRY_BACKOFF',
    kind: { type: 'backoff' },
    setting: 'daemon.taskRetryBackoff, daemon.workerRetryBackoff',
    description: "agents' tasks: first delay before a retry, doubling (a duration, default 10s; unchanged); workers: the seed's multiplier when the value is a plain number 1–10 (2.0 = ×2; default 2)",
  },
  { name: 'INITIAL_RETRY_DELAY', kind: { type: 'duration' }, setting: 'daemon.workerInitialRetryDelay', description: 'workers: delay before the first retry of a failed run (default 1s)' },
  {
    name: 'CIRCUIT_BREAKER_THRESHOLD',
    kind: { type: 'int', min: 0, max: 1000 },
    setting: 'daemon.restart.maxRestarts, daemon.workerBreakerThreshold',
    description: 'agents: restarts allowed within the window before the breaker opens (default 3); workers: consecutive failed runs that open it, 0 = off (default 5)',
  },
  {
    name: 'CIRCUIT_BREAKER_TIMEOUT',
    kind: { type: 'duration', minMs: 1000 },
    setting: 'daemon.workerBreakerTimeout',
    description: 'workers: an open breaker lets one half-open trial run through after this (default 60s)',
  },
  {
    name: 'CIRCUIT_BREAKER_WINDOW',
    kind: { type: 'duration', minMs: 1000 },
    setting: 'daemon.restart.window',
    description: 'rolling window of the restart limit; the half-open trial comes after it (default 1h)',
  },
  {
    name: 'TASK_TIMEOUT',
    kind: { type: 'duration', minMs: 1000 },
    setting: 'daemon.taskTimeout',
    description: 'time a task may run (agents: from delivery; workers: one run) when the task file or worker gives none (default 30m)',
  },
  {
    name: 'MAX_CONCURRENT_TASKS',
    kind: { type: 'int', min: 1, max: 1000 },
    setting: 'daemon.maxConcurrentTasks',
    description: 'workers: one-shot runs at once per worker that sets no maxConcurrent (default 4); agents take one task at a time',
  },
  {
    name: 'METRICS_PORT',
    kind: { type: 'int', min: 0, max: 65535 },
    setting: 'daemon.metricsPort',
    description: 'port of /metrics, /healthz and /readyz (on METRICS_HOST); 0 picks a free one (default 0)',
  },
  {
    name: 'METRICS_HOST',
    kind: { type: 'address' },
    setting: 'daemon.metricsHost',
    description: 'address the metrics server listens on (default 127.0.0.1; 0.0.0.0 in a container, logged at start as exposed)',
  },
  { name: 'RETENTION_MAX_AGE', kind: { type: 'duration', minMs: 3_600_000 }, setting: 'retention.maxAge', description: 'finished queue history older than this is pruned (default 7d; at least 1h)' },
  {
    name: 'LEADER_LEASE',
    kind: { type: 'duration', minMs: MIN_LEADER_LEASE_MS, maxMs: MAX_LEADER_LEASE_MS },
    setting: 'daemon.leaderLease',
    description: 'Redis teams: lease of the leader of the cluster-wide duties; a dead leader is replaced within about this plus 1s (default 6s; 1s–5m)',
  },
  { name: 'LOG_LEVEL', kind: { type: 'enum', values: logLevels }, setting: 'log level', description: `${logLevels.join(', ')} (default info; same as HORNETS_LOG_LEVEL)` },
];

export interface EnvOverrides {
  daemon: {
    heartbeatInterval?: string;
    taskMaxRetries?: number;
    taskRetryBackoff?: string;
    restart?: { maxRestarts?: number; window?: string };
    workerRetryBackoff?: number;
    workerInitialRetryDelay?: string;
    workerBreakerThreshold?: number;
    workerBreakerTimeout?: string;
    taskTimeout?: string;
    maxConcurrentTasks?: number;
    metricsPort?: number;
    metricsHost?: string;
    leaderLease?: string;
  };
  retention?: { maxAge?: string };
  logLevel?: LogLevel;
  /** `NAME=value` pairs that were applied, for the startup log line. */
  applied: string[];
  /** How a variable read two ways was taken (RETRY_BACKOFF), for the startup log line; absent when none. */
  notes?: string[];
}

type BackoffReading = { duration: string | null; multiplier: number | null };

/**
 * RETRY_BACKOFF has two meanings: hornets has read it as the first retry delay of the agents'
 * tasks (a duration: `10s`, or a number of seconds), seed 003 as the workers' multiplier (`2.0`).
 * Every value that was valid before keeps its old effect on the agents' tasks; a plain number from
 * 1 to 10 is also the workers' multiplier. A value valid in neither way is an error.
 */
function readBackoff(value: string): BackoffReading {
  let duration: string | null = null;
  try {
    parseDuration(value);
    duration = value;
  } catch {
    duration = null;
  }
  const plain = /^\d+(\.\d+)?$/.test(value) ? Number(value) : NaN;
  const multiplier = plain >= WORKER_BACKOFF_MIN && plain <= WORKER_BACKOFF_MAX ? plain : null;
  return { duration, multiplier };
}

function lookup(env: NodeJS.ProcessEnv, name: string): { variable: string; value: string } | null {
  for (const variable of [`HORNETS_${name}`, name]) {
    const value = env[variable];
    if (value !== undefined && value.trim() !== '') return { variable, value: value.trim() };
  }
  return null;
}

function check(variable: string, value: string, kind: Kind): string | null {
  switch (kind.type) {
    case 'duration': {
      let ms: number;
      try {
        ms = parseDuration(value, variable);
      } catch {
        return `invalid duration "${value}": expected e.g. 30 (seconds), 500ms, 30s, 5m, 2h or 1h30m`;
      }
      if (kind.minMs !== undefined && ms < kind.minMs) return `"${value}" is too short; at least ${kind.minMs} ms`;
      if (kind.maxMs !== undefined && ms > kind.maxMs) return `"${value}" is too long; at most ${kind.maxMs} ms`;
      return null;
    }
    case 'int': {
      if (!/^\d+$/.test(value)) return `invalid value "${value}": expected a whole number ${kind.min}–${kind.max}`;
      const n = Number(value);
      if (n < kind.min || n > kind.max) return `${value} is out of range: expected ${kind.min}–${kind.max}`;
      return null;
    }
    case 'address':
      return isIP(value) === 0 ? `invalid address "${value}": expected an IPv4 or IPv6 address such as 127.0.0.1 or 0.0.0.0` : null;
    case 'enum':
      return kind.values.includes(value.toLowerCase()) ? null : `invalid value "${value}": expected one of ${kind.values.join(', ')}`;
    case 'backoff': {
      const r = readBackoff(value);
      if (r.duration !== null || r.multiplier !== null) return null;
      return `invalid value "${value}": expected a duration for the agents' tasks (e.g. 10s, the first retry delay) or a plain number ${WORKER_BACKOFF_MIN}–${WORKER_BACKOFF_MAX} for the workers' multiplier (e.g. 2.0)`;
    }
  }
}

/** Reads the overrides; every bad variable is reported at once in one ConfigError naming it. */
export function parseEnvOverrides(env: NodeJS.ProcessEnv = process.env): EnvOverrides {
  const out: EnvOverrides = { daemon: {}, applied: [] };
  const issues: ConfigIssue[] = [];
  for (const v of envVariables) {
    const found = lookup(env, v.name);
    if (!found) continue;
    const problem = check(found.variable, found.value, v.kind);
    if (problem) {
      issues.push({ path: found.variable, message: problem });
      continue;
    }
    out.applied.push(`${found.variable}=${found.value}`);
    const d = out.daemon;
    switch (v.name) {
      case 'HEARTBEAT_INTERVAL':
        d.heartbeatInterval = found.value;
        break;
      case 'MAX_RETRIES':
        d.taskMaxRetries = Number(found.value);
        break;
      case 'RETRY_BACKOFF': {
        const r = readBackoff(found.value);
        if (r.duration !== null) d.taskRetryBackoff = r.duration;
        if (r.multiplier !== null) d.workerRetryBackoff = r.multiplier;
        const note =
          r.multiplier === null
            ? `${found.variable}=${found.value}: the agents' first task retry delay only; it is no worker multiplier (a plain number ${WORKER_BACKOFF_MIN}–${WORKER_BACKOFF_MAX})`
            : r.duration === null
              ? `${found.variable}=${found.value}: the workers' retry multiplier only`
              : `${found.variable}=${found.value}: the agents' first task retry delay (${found.value} s) and the workers' retry multiplier (×${r.multiplier})`;
        (out.notes ??= []).push(note);
        break;
      }
      case 'INITIAL_RETRY_DELAY':
        d.workerInitialRetryDelay = found.value;
        break;
      case 'CIRCUIT_BREAKER_THRESHOLD':
        d.restart = { ...d.restart, maxRestarts: Number(found.value) };
        d.workerBreakerThreshold = Number(found.value);
        break;
      case 'CIRCUIT_BREAKER_TIMEOUT':
        d.workerBreakerTimeout = found.value;
        break;
      case 'CIRCUIT_BREAKER_WINDOW':
        d.restart = { ...d.restart, window: found.value };
        break;
      case 'TASK_TIMEOUT':
        d.taskTimeout = found.value;
        break;
      case 'MAX_CONCURRENT_TASKS':
        d.maxConcurrentTasks = Number(found.value);
        break;
      case 'METRICS_PORT':
        d.metricsPort = Number(found.value);
        break;
      case 'METRICS_HOST':
        d.metricsHost = found.value;
        break;
      case 'LEADER_LEASE':
        d.leaderLease = found.value;
        break;
      case 'RETENTION_MAX_AGE':
        out.retention = { maxAge: found.value };
        break;
      case 'LOG_LEVEL':
        out.logLevel = found.value.toLowerCase() as LogLevel;
        break;
    }
  }
  if (issues.length > 0) throw new ConfigError('environment', issues);
  return out;
}

/** hornets.json with the environment's values on top (the input is not modified). */
export function applyEnvOverrides(config: HornetsConfig, overrides: EnvOverrides): HornetsConfig {
  const o = overrides.daemon;
  const { restart, ...flat } = o;
  return {
    ...config,
    daemon: {
      ...config.daemon,
      ...flat,
      restart: { ...config.daemon.restart, ...restart },
    },
    retention: { ...config.retention, ...overrides.retention },
  };
}

/** The daemon section in milliseconds, ready for the components. */
export interface DaemonSettings {
  heartbeatIntervalMs: number;
  integrityCheckMs: number;
  metricsPort: number;
  metricsHost: string;
  restartPolicy: RestartPolicy;
  taskTimeoutMs: number;
  taskMaxRetries: number;
  taskRetryBackoffMs: number;
  maxConcurrentTasks: number;
  holdAlertMs: number;
  /** Redis teams: how the leader of the cluster-wide duties is elected and replaced. */
  leader: LeaderTiming;
  /** Redis teams: the node's heartbeat period and when a silent node counts as lost. */
  node: { heartbeatMs: number; lostAfterMs: number };
}

export function daemonSettings(config: HornetsConfig): DaemonSettings {
  const d = config.daemon;
  return {
    heartbeatIntervalMs: durationMs(d.heartbeatInterval),
    integrityCheckMs: durationMs(d.integrityCheckInterval),
    metricsPort: d.metricsPort,
    metricsHost: d.metricsHost,
    restartPolicy: {
      ...defaultRestartPolicy,
      maxRestarts: d.restart.maxRestarts,
      windowMs: durationMs(d.restart.window),
      backoffBaseMs: durationMs(d.restart.backoff),
      backoffMaxMs: durationMs(d.restart.backoffMax),
    },
    taskTimeoutMs: durationMs(d.taskTimeout),
    taskMaxRetries: d.taskMaxRetries,
    taskRetryBackoffMs: durationMs(d.taskRetryBackoff),
    maxConcurrentTasks: d.maxConcurrentTasks,
    holdAlertMs: durationMs(d.deliveryHoldAlert),
    leader: leaderTiming(durationMs(d.leaderLease)),
    // hornets.json's schema checks that lost comes after a beat.
    node: { heartbeatMs: durationMs(d.nodeHeartbeat), lostAfterMs: durationMs(d.nodeLostAfter) },
  };
}

/** Reads the environment and returns the merged config, settings and log level in one call. */
export function resolveDaemonConfig(
  config: HornetsConfig,
  env: NodeJS.ProcessEnv = process.env,
): { config: HornetsConfig; settings: DaemonSettings; logLevel: LogLevel | undefined; applied: string[]; notes: string[] } {
  // Every bad variable of both tables in one error (parseEnvOverrides throws with its own).
  const seedIssues: ConfigIssue[] = [];
  const redisStore = config.store.kind === 'redis' || ['REDIS_URL', 'REDIS_HOST', 'REDIS_CLUSTER_NODES'].some((n) => (env[n] ?? env[`HORNETS_${n}`] ?? '').trim() !== '');
  const seed = parseSeedEngineEnv(env, redisStore, seedIssues);
  let overrides: EnvOverrides;
  try {
    overrides = parseEnvOverrides(env);
  } catch (err) {
    if (err instanceof ConfigError && seedIssues.length > 0) throw new ConfigError('environment', [...err.issues, ...seedIssues]);
    throw err;
  }
  if (seedIssues.length > 0) throw new ConfigError('environment', seedIssues);
  let merged = applyEnvOverrides(config, overrides);
  if (seed.watch) merged = { ...merged, watch: { ...merged.watch, mode: seed.watch.mode } };
  return { config: merged, settings: daemonSettings(merged), logLevel: overrides.logLevel, applied: [...overrides.applied, ...seed.applied], notes: overrides.notes ?? [] };
}
