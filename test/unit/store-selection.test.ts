/** Which store a process uses: hornets.json's `store`, the seeds' Redis variables on top, clear errors naming the variable. */
import { mkdtempSync, rmSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hornetsConfigSchema, type HornetsConfig } from '../../src/config/schema.js';
import { describeStore, redactRedisUrl, resolveStoreSelection } from '../../src/config/store-selection.js';
import { checkStoreRecord, recordStore, storeRecordFile } from '../../src/config/store-record.js';
import { ConfigError, StoreMismatchError } from '../../src/errors.js';

function config(store?: unknown): HornetsConfig {
  return hornetsConfigSchema.parse({ project: 'team', agents: [{ name: 'marie', profile: 'demo' }], ...(store ? { store } : {}) });
}

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('store in hornets.json', () => {
  it('defaults to SQLite; redis needs a redis:// URL and gives clear errors', () => {
    expect(config().store).toEqual({ kind: 'sqlite' });
    expect(config({ kind: 'redis', url: 'redis://r1:6380/2' }).store).toMatchObject({ kind: 'redis', url: 'redis://r1:6380/2', connectTimeout: '5s' });
    for (const [url, message] of [
      ['http://r1:6379', 'unsupported scheme'],
      ['not a url', 'not a URL'],
      ['redis://r1:6379/abc', 'not a database number'],
    ] as const) {
      const r = hornetsConfigSchema.safeParse({ project: 'team', agents: [{ name: 'marie', profile: 'demo' }], store: { kind: 'redis', url } });
      expect(r.success).toBe(false);
      expect(JSON.stringify(r.error?.issues)).toContain(message);
    }
    expect(hornetsConfigSchema.safeParse({ project: 'team', agents: [{ name: 'marie', profile: 'demo' }], store: { kind: 'postgres' } }).success).toBe(false);
  });
});

describe('resolveStoreSelection', () => {
  it('SQLite with no Redis anywhere', () => {
    expect(resolveStoreSelection(config(), {})).toEqual({ kind: 'sqlite' });
  });

  it('hornets.json redis, with the project as prefix unless one is given', () => {
    expect(resolveStoreSelection(config({ kind: 'redis', url: 'redis://r1:6379' }), {})).toEqual({
      kind: 'redis',
      url: 'redis://r1:6379',
      prefix: 'team',
      connectTimeoutMs: 5_000,
      failoverWaitMs: 5_000,
      source: 'hornets.json store.url',
    });
    expect(resolveStoreSelection(config({ kind: 'redis', url: 'redis://r1', prefix: 'other', connectTimeout: '2s' }), {})).toMatchObject({ prefix: 'other', connectTimeoutMs: 2_000 });
  });

  it('REDIS_URL selects Redis over SQLite and over the file; HORNETS_REDIS_URL wins over REDIS_URL', () => {
    expect(resolveStoreSelection(config(), { REDIS_URL: 'redis://env:1' })).toMatchObject({ kind: 'redis', url: 'redis://env:1', source: 'REDIS_URL' });
    expect(resolveStoreSelection(config({ kind: 'redis', url: 'redis://file:1' }), { REDIS_URL: 'redis://env:1' })).toMatchObject({ url: 'redis://env:1' });
    expect(resolveStoreSelection(config(), { REDIS_URL: 'redis://env:1', HORNETS_REDIS_URL: 'redis://mine:2' })).toMatchObject({ url: 'redis://mine:2', source: 'HORNETS_REDIS_URL' });
  });

  it('the seed 004 variables: REDIS_HOST, REDIS_PORT (default 6379) and REDIS_PASSWORD fill in the URL', () => {
    expect(resolveStoreSelection(config(), { REDIS_HOST: 'redis-master' })).toMatchObject({ url: 'redis://redis-master:6379', source: 'REDIS_HOST' });
    const s = resolveStoreSelection(config(), { REDIS_HOST: 'redis-master', REDIS_PORT: '6380', REDIS_PASSWORD: 'p@ss word' });
    expect(s.kind === 'redis' && new URL(s.url)).toMatchObject({ hostname: 'redis-master', port: '6380' });
    expect(s.kind === 'redis' && decodeURIComponent(new URL(s.url).password)).toBe('p@ss word');
    // and the password replaces the file URL's
    const f = resolveStoreSelection(config({ kind: 'redis', url: 'redis://:old@r1:6379' }), { REDIS_PASSWORD: 'new' });
    expect(f.kind === 'redis' && new URL(f.url).password).toBe('new');
  });

  it('bad variables are named, every one at once, without repeating a password', () => {
    const m = configError(() => resolveStoreSelection(config(), { REDIS_URL: 'http://x' }));
    expect(m).toContain('REDIS_URL: unsupported scheme');
    const m2 = configError(() => resolveStoreSelection(config(), { REDIS_HOST: 'bad host!', REDIS_PORT: '70000' }));
    expect(m2).toContain('REDIS_HOST');
    expect(m2).toContain('REDIS_PORT: invalid port "70000"');
    const m3 = configError(() => resolveStoreSelection(config(), { REDIS_PASSWORD: 'secret-value', REDIS_PORT: '6379' }));
    expect(m3).toContain('REDIS_PASSWORD: is set, but no Redis store is configured');
    expect(m3).toContain('REDIS_PORT: is set, but no Redis store is configured');
    expect(m3).not.toContain('secret-value');
  });

  it('redacts passwords for display', () => {
    expect(redactRedisUrl('redis://:hunter2@r1:6379/1')).toBe('redis://:***@r1:6379/1');
    expect(redactRedisUrl('redis://user:hunter2@r1')).not.toContain('hunter2');
    expect(describeStore({ kind: 'redis', url: 'redis://:hunter2@r1:6379', prefix: 'team', connectTimeoutMs: 1, source: 'REDIS_URL' }, '/x/hornets.db')).toBe(
      'redis redis://:***@r1:6379 (prefix team, from REDIS_URL)',
    );
  });
});

describe('the store record (.hornets/store.json)', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const state = () => {
    const d = mkdtempSync(join(tmpdir(), 'hornets-store-record-'));
    dirs.push(d);
    return d;
  };
  const redis = (url: string, prefix = 'team') => ({ kind: 'redis' as const, url, prefix, connectTimeoutMs: 5_000, source: 'REDIS_URL' });

  it('the first open records the store (without the password); the same store again passes, also with another password', () => {
    const d = state();
    checkStoreRecord(d, join(d, 'hornets.db'), redis('redis://:hunter2@r1:6379'));
    expect(existsSync(storeRecordFile(d))).toBe(false); // the check alone records nothing
    recordStore(d, join(d, 'hornets.db'), redis('redis://:hunter2@r1:6379'));
    const text = readFileSync(storeRecordFile(d), 'utf8');
    expect(text).not.toContain('hunter2');
    expect(JSON.parse(text)).toMatchObject({ kind: 'redis', url: 'redis://:***@r1:6379', prefix: 'team' });
    checkStoreRecord(d, join(d, 'hornets.db'), redis('redis://:rotated@r1:6379'));
    checkStoreRecord(d, join(d, 'hornets.db'), redis('redis://r1'));
  });

  it('a command that resolved SQLite on a Redis project (REDIS_URL missing in this shell) is refused with what to do', () => {
    const d = state();
    recordStore(d, join(d, 'hornets.db'), redis('redis://r1:6379'));
    expect(() => checkStoreRecord(d, join(d, 'hornets.db'), { kind: 'sqlite' })).toThrow(StoreMismatchError);
    expect(() => recordStore(d, join(d, 'hornets.db'), { kind: 'sqlite' })).toThrow(StoreMismatchError);
    expect(() => checkStoreRecord(d, join(d, 'hornets.db'), { kind: 'sqlite' })).toThrow(/queue is in Redis redis:\/\/r1:6379 \(prefix team\).*resolved SQLite/);
    expect(() => checkStoreRecord(d, join(d, 'hornets.db'), redis('redis://r2:6379'))).toThrow(StoreMismatchError);
    expect(() => checkStoreRecord(d, join(d, 'hornets.db'), redis('redis://r1:6379', 'other'))).toThrow(StoreMismatchError);
  });

  it('a project from before the record with a SQLite database is SQLite: switching to Redis by setting REDIS_URL is refused', () => {
    const d = state();
    writeFileSync(join(d, 'hornets.db'), '');
    expect(() => checkStoreRecord(d, join(d, 'hornets.db'), redis('redis://r1:6379'))).toThrow(/queue is in SQLite/);
    expect(existsSync(storeRecordFile(d))).toBe(false);
    checkStoreRecord(d, join(d, 'hornets.db'), { kind: 'sqlite' });
  });
});

describe('Redis Cluster', () => {
  it('hornets.json store.cluster: the seed nodes; url and cluster are one or the other; no database', () => {
    const s = resolveStoreSelection(config({ kind: 'redis', cluster: ['redis://n1:7000', 'redis://n2:7001'] }), {});
    expect(s).toEqual({
      kind: 'redis',
      url: 'redis://n1:7000',
      cluster: ['redis://n1:7000', 'redis://n2:7001'],
      prefix: 'team',
      connectTimeoutMs: 5_000,
      failoverWaitMs: 5_000,
      source: 'hornets.json store.cluster',
    });
    for (const [store, path, message] of [
      [{ kind: 'redis' }, 'url', 'needs "url" (one server) or "cluster"'],
      [{ kind: 'redis', url: 'redis://a:1', cluster: ['redis://b:2'] }, 'cluster', 'not both'],
      [{ kind: 'redis', cluster: [] }, 'cluster', 'at least one node'],
      [{ kind: 'redis', cluster: ['redis://n1:7000/3'] }, 'cluster', 'only database 0'],
      [{ kind: 'redis', cluster: ['redis://:sekret@n1:7000', 'http://:sekret@n2:1'] }, 'cluster', 'unsupported scheme'],
    ] as const) {
      const r = hornetsConfigSchema.safeParse({ project: 'team', agents: [{ name: 'marie', profile: 'demo' }], store });
      expect(r.success).toBe(false);
      const issue = r.error!.issues.find((i) => i.message.includes(message));
      expect(issue, JSON.stringify(r.error?.issues)).toBeDefined();
      expect(issue!.path.join('.')).toContain(`store.${path}`);
      expect(JSON.stringify(r.error?.issues)).not.toContain('sekret');
    }
  });

  it('REDIS_CLUSTER_NODES: URLs or host:port, REDIS_PASSWORD fills in every node; clear errors without the password', () => {
    const s = resolveStoreSelection(config(), { REDIS_CLUSTER_NODES: 'n1:7000, redis://n2:7001', REDIS_PASSWORD: 'pw' });
    expect(s).toMatchObject({ kind: 'redis', url: 'redis://:pw@n1:7000', cluster: ['redis://:pw@n1:7000', 'redis://:pw@n2:7001'], source: 'REDIS_CLUSTER_NODES' });
    expect(resolveStoreSelection(config({ kind: 'redis', url: 'redis://file:1' }), { HORNETS_REDIS_CLUSTER_NODES: 'n1:7000' })).toMatchObject({
      cluster: ['redis://n1:7000'],
      source: 'HORNETS_REDIS_CLUSTER_NODES',
    });
    const bad = configError(() => resolveStoreSelection(config(), { REDIS_CLUSTER_NODES: 'redis://:sekret@n1:7000,redis://:sekret@n2:7001/2' }));
    expect(bad).toContain('REDIS_CLUSTER_NODES');
    expect(bad).toContain('node 2');
    expect(bad).not.toContain('sekret');
    expect(configError(() => resolveStoreSelection(config(), { REDIS_CLUSTER_NODES: 'n1:7000', REDIS_URL: 'redis://a:1' }))).toContain('not both');
    expect(configError(() => resolveStoreSelection(config(), { REDIS_CLUSTER_NODES: ' , ' }))).toContain('names no node');
  });

  it('status line and store record name the nodes without passwords; another node set is another store', () => {
    const s = resolveStoreSelection(config(), { REDIS_CLUSTER_NODES: 'redis://:sekret@n1:7000,redis://:sekret@n2:7001' });
    const line = describeStore(s, '/x/hornets.db');
    expect(line).toContain('cluster redis://:***@n1:7000, redis://:***@n2:7001');
    expect(line).not.toContain('sekret');
    const dir = mkdtempSync(join(tmpdir(), 'hornets-cluster-record-'));
    try {
      recordStore(dir, join(dir, 'hornets.db'), s);
      const recorded = readFileSync(storeRecordFile(dir), 'utf8');
      expect(recorded).not.toContain('sekret');
      expect(JSON.parse(recorded)).toMatchObject({ kind: 'redis', cluster: ['redis://:***@n1:7000', 'redis://:***@n2:7001'], prefix: 'team' });
      // The same nodes in another order, another password: the same store.
      checkStoreRecord(dir, join(dir, 'hornets.db'), resolveStoreSelection(config(), { REDIS_CLUSTER_NODES: 'n2:7001,n1:7000', REDIS_PASSWORD: 'other' }));
      expect(() => checkStoreRecord(dir, join(dir, 'hornets.db'), resolveStoreSelection(config(), { REDIS_URL: 'redis://n1:7000' }))).toThrow(StoreMismatchError);
      expect(() => checkStoreRecord(dir, join(dir, 'hornets.db'), resolveStoreSelection(config(), { REDIS_CLUSTER_NODES: 'n1:7000' }))).toThrow(StoreMismatchError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
