/**
 * Which store a process uses: hornets.json's `store`, with the seeds' environment on top
 * (REDIS_URL from seed 000; REDIS_HOST, REDIS_PORT, REDIS_PASSWORD from seed 004; each also as
 * HORNETS_REDIS_…, which wins). Every process of a project must pick the same store — a `send` that
 * wrote to SQLite while the engine reads Redis would split the queue — so the choice is also
 * recorded in the state directory and checked (config/store-record.ts).
 */
import { ConfigError, type ConfigIssue } from '../errors.js';
import { durationMs } from '../domain/duration.js';
import type { HornetsConfig } from './schema.js';
import { redisUrlProblem } from './redis-url.js';

export type StoreSelection =
  | { kind: 'sqlite' }
  | {
      kind: 'redis';
      url: string;
      /** Keys live under hornets:<prefix>:… */
      prefix: string;
      connectTimeoutMs: number;
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

/** The store of this project for this process; a ConfigError naming each bad variable. */
export function resolveStoreSelection(config: HornetsConfig, env: NodeJS.ProcessEnv = process.env): StoreSelection {
  const issues: ConfigIssue[] = [];
  const url = lookup(env, 'REDIS_URL');
  const host = lookup(env, 'REDIS_HOST');
  const port = lookup(env, 'REDIS_PORT');
  const password = lookup(env, 'REDIS_PASSWORD');
  const file = config.store;

  let chosen: { url: string; source: string } | null = null;
  if (url) {
    const problem = redisUrlProblem(url.value);
    if (problem) issues.push({ path: url.variable, message: problem });
    else chosen = { url: url.value, source: url.variable };
  } else if (host) {
    if (!/^[A-Za-z0-9._-]+$|^\[[0-9a-fA-F:]+\]$/.test(host.value)) issues.push({ path: host.variable, message: `"${host.value}" is not a host name or address` });
    if (port && !(/^\d{1,5}$/.test(port.value) && Number(port.value) >= 1 && Number(port.value) <= 65535)) {
      issues.push({ path: port.variable, message: `invalid port "${port.value}": expected 1–65535` });
    }
    if (issues.length === 0) chosen = { url: `redis://${host.value}:${port?.value ?? '6379'}`, source: host.variable };
  } else if (file.kind === 'redis') {
    chosen = { url: file.url, source: 'hornets.json store.url' };
    if (port) issues.push({ path: port.variable, message: 'is set without REDIS_HOST; give the port in REDIS_HOST/REDIS_PORT together or in the URL' });
  } else {
    for (const v of [port, password]) {
      if (v) issues.push({ path: v.variable, message: `is set, but no Redis store is configured: set REDIS_URL or REDIS_HOST, or "store": {"kind": "redis", …} in hornets.json` });
    }
  }
  if (issues.length > 0) throw new ConfigError('environment', issues);
  if (!chosen) return { kind: 'sqlite' };

  let finalUrl = chosen.url;
  if (password) {
    // The seeds keep the password in its own secret variable: it fills in (or replaces) the URL's.
    const u = new URL(finalUrl);
    u.password = password.value;
    finalUrl = u.toString();
  }
  return {
    kind: 'redis',
    url: finalUrl,
    prefix: (file.kind === 'redis' ? file.prefix : undefined) ?? config.project,
    connectTimeoutMs: file.kind === 'redis' ? durationMs(file.connectTimeout) : 5_000,
    source: chosen.source,
  };
}

/** One line for `status`, `doctor` and logs (no password). */
export function describeStore(s: StoreSelection, sqlitePath: string): string {
  return s.kind === 'sqlite' ? `sqlite ${sqlitePath}` : `redis ${redactRedisUrl(s.url)} (prefix ${s.prefix}, from ${s.source})`;
}
