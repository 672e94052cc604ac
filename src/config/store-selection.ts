/**
 * Which store a process uses: hornets.json's `store`, with the seeds' environment on top
 * (REDIS_URL from seed 000; REDIS_HOST, REDIS_PORT, REDIS_PASSWORD from seed 004; REDIS_CLUSTER_NODES
 * for a Redis Cluster; each also as HORNETS_REDIS_…, which wins). Every process of a project must pick the same store — a `send` that
 * wrote to SQLite while the engine reads Redis would split the queue — so the choice is also
 * recorded in the state directory and checked (config/store-record.ts).
 */
import { ConfigError, type ConfigIssue } from '../errors.js';
import { durationMs } from '../domain/duration.js';
import type { HornetsConfig } from './schema.js';
import { redisClusterNodeProblem, redisUrlProblem } from './redis-url.js';

export type StoreSelection =
  | { kind: 'sqlite' }
  | {
      kind: 'redis';
      /** The server; on a Redis Cluster its first seed node (what messages name). */
      url: string;
      /** Seed nodes of a Redis Cluster (URLs with the password filled in), or null for one server. */
      cluster?: string[] | null;
      /** Keys live under hornets:<prefix>:… */
      prefix: string;
      connectTimeoutMs: number;
      /** Redis Cluster: how long an operation waits out a slot migration or a failover. */
      failoverWaitMs?: number;
      /** Where the URL came from, for messages: "hornets.json", "REDIS_URL", "REDIS_HOST", … */
      source: string;
    };

function lookup(env: NodeJS.ProcessEnv, name: string): { variable: string; value: string } | null {
  for (const variable of [`HORNETS_${name}`, name]) {
    const value = env[variable];
    if (value !== undefined && value.trim() !== '') return { variable, value: value.trim() };
  }
  return null;
}

/** The URL with its password replaced, for logs, errors and `status`. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return '(unparsable Redis URL)';
  }
}

/**
 * REDIS_CLUSTER_NODES: comma- or space-separated nodes, each redis://… or host:port. The problems
 * name the entry by its position, never its text (it may hold a password).
 */
function clusterNodes(variable: string, value: string, issues: ConfigIssue[]): string[] {
  const out: string[] = [];
  for (const [i, entry] of value
    .split(/[\s,]+/)
    .filter((e) => e !== '')
    .entries()) {
    const url = /^[a-z]+:\/\//i.test(entry) ? entry : `redis://${entry}`;
    const problem = redisClusterNodeProblem(url);
    if (problem) issues.push({ path: variable, message: `node ${i + 1}: ${problem}` });
    else out.push(url);
  }
  if (out.length === 0 && issues.length === 0) issues.push({ path: variable, message: 'names no node: expected redis://host:port or host:port entries separated by commas' });
  return out;
}

/** The store of this project for this process; a ConfigError naming each bad variable. */
export function resolveStoreSelection(config: HornetsConfig, env: NodeJS.ProcessEnv = process.env): StoreSelection {
  const issues: ConfigIssue[] = [];
  const url = lookup(env, 'REDIS_URL');
  const host = lookup(env, 'REDIS_HOST');
  const port = lookup(env, 'REDIS_PORT');
  const password = lookup(env, 'REDIS_PASSWORD');
  const nodes = lookup(env, 'REDIS_CLUSTER_NODES');
  const file = config.store;

  let chosen: { url: string; cluster?: string[]; source: string } | null = null;
  if (url && nodes) {
    issues.push({ path: nodes.variable, message: `is set together with ${url.variable}: one Redis server or a Redis Cluster, not both` });
  } else if (nodes) {
    const list = clusterNodes(nodes.variable, nodes.value, issues);
    if (host) issues.push({ path: host.variable, message: `is set together with ${nodes.variable}: one Redis server or a Redis Cluster, not both` });
    if (issues.length === 0) chosen = { url: list[0]!, cluster: list, source: nodes.variable };
  } else if (url) {
    const problem = redisUrlProblem(url.value);
    if (problem) issues.push({ path: url.variable, message: problem });
    else chosen = { url: url.value, source: url.variable };
  } else if (host) {
    if (!/^[A-Za-z0-9._-]+$|^\[[0-9a-fA-F:]+\]$/.test(host.value)) issues.push({ path: host.variable, message: `"${host.value}" is not a host name or address` });
    if (port && !(/^\d{1,5}$/.test(port.value) && Number(port.value) >= 1 && Number(port.value) <= 65535)) {
      issues.push({ path: port.variable, message: `invalid port "${port.value}": expected 1–65535` });
    }
    if (issues.length === 0) chosen = { url: `redis://${host.value}:${port?.value ?? '6379'}`, source: host.variable };
  } else if (file.kind === 'redis' && file.cluster) {
    chosen = { url: file.cluster[0]!, cluster: [...file.cluster], source: 'hornets.json store.cluster' };
    if (port) issues.push({ path: port.variable, message: 'is set without REDIS_HOST; a Redis Cluster takes its nodes from store.cluster or REDIS_CLUSTER_NODES' });
  } else if (file.kind === 'redis' && file.url !== undefined) {
    chosen = { url: file.url, source: 'hornets.json store.url' };
    if (port) issues.push({ path: port.variable, message: 'is set without REDIS_HOST; give the port in REDIS_HOST/REDIS_PORT together or in the URL' });
  } else {
    for (const v of [port, password]) {
      if (v) issues.push({ path: v.variable, message: `is set, but no Redis store is configured: set REDIS_URL or REDIS_HOST, or "store": {"kind": "redis", …} in hornets.json` });
    }
  }
  if (issues.length > 0) throw new ConfigError('environment', issues);
  if (!chosen) return { kind: 'sqlite' };

  // The seeds keep the password in its own secret variable: it fills in (or replaces) the URL's.
  const withPassword = (raw: string): string => {
    if (!password) return raw;
    const u = new URL(raw);
    u.password = password.value;
    return u.toString();
  };
  const cluster = chosen.cluster ? chosen.cluster.map(withPassword) : null;
  return {
    kind: 'redis',
    url: cluster ? cluster[0]! : withPassword(chosen.url),
    ...(cluster ? { cluster } : {}),
    prefix: (file.kind === 'redis' ? file.prefix : undefined) ?? config.project,
    connectTimeoutMs: file.kind === 'redis' ? durationMs(file.connectTimeout) : 5_000,
    ...(file.kind === 'redis' ? { failoverWaitMs: durationMs(file.failoverWait) } : {}),
    source: chosen.source,
  };
}

/** One line for `status`, `doctor` and logs (no password). */
export function describeStore(s: StoreSelection, sqlitePath: string): string {
  if (s.kind === 'sqlite') return `sqlite ${sqlitePath}`;
  const where = s.cluster ? `cluster ${s.cluster.map(redactRedisUrl).join(', ')}` : redactRedisUrl(s.url);
  return `redis ${where} (prefix ${s.prefix}, from ${s.source})`;
}
