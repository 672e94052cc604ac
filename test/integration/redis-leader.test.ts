/**
 * The leader of a Redis team's cluster-wide duties (issue 12), with real node processes: two
 * engines (nodes alpha and beta, each its own state directory and tmux server) on one
 * redis-server. Exactly one leads; the lease sweep runs on the leader only (it reclaims a lapsed
 * lease of the other node's agent, which that node then delivers); kill -9 of the leader's engine
 * and the other node takes over within daemon.leaderLease + its retry; a lease held for an agent
 * of the lost node is reclaimed by the new leader, the message waits, and it is delivered exactly
 * once when the node returns; a leader paused past its lease is replaced and, resumed, steps down.
 * Real tmux, real redis-server, demo agents.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { clusterKeys } from '../../src/cluster/keys.js';
import { currentLeader } from '../../src/cluster/leader.js';
import { openRedisStore } from '../../src/queue/redis/redis-store.js';
import { leaderTiming } from '../../src/domain/leader-timing.js';
import { Project, assertBuilt } from '../helpers/cli.js';
import { TmuxFixture, initGitRepo, waitFor } from '../helpers/tmux.js';
import { startRedisServer, type RedisServer } from '../helpers/redis.js';

const fx = new TmuxFixture();
let redis: RedisServer;
beforeAll(async () => {
  assertBuilt();
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.destroy();
});
afterEach(async () => {
  await fx.cleanup();
});

interface StatusRow {
  name: string;
  node: string | null;
  nodeState: string;
  leaderNode: string | null;
}

const LEASE = '1s';
/** Slack for timers and process scheduling on a loaded machine: the bound is correctness, not speed. */
const SLACK_MS = 3000;

function logEvents(home: string, event: string): Record<string, unknown>[] {
  const file = path.join(home, 'logs', 'hornets.log');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.includes(`"event":"${event}"`))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** `doctor --json` by check name; exit 1 exactly when some check fails. */
async function doctorChecks(p: Project, expectedCode?: number): Promise<Record<string, { ok: boolean; detail: string; fix: string | null }>> {
  const r = await p.run(['doctor', '--json']);
  const report = JSON.parse(r.stdout) as { ok: boolean; checks: { name: string; ok: boolean; detail: string; fix: string | null }[] };
  expect(r.code).toBe(report.ok ? 0 : 1);
  if (expectedCode !== undefined) expect(r.code).toBe(expectedCode);
  return Object.fromEntries(report.checks.map((c) => [c.name, c]));
}

describe('the leader of a team on two nodes', () => {
  it('one node leads; the sweep runs there only; kill -9 of the leader hands the duties over in time; a lost node’s lease is reclaimed and its message delivered once when it returns', async () => {
    const dir = fx.dir('hornets-leader-');
    initGitRepo(dir);
    const base = { TMUX: undefined, TMUX_PANE: undefined, REDIS_URL: redis.url, HORNETS_NODE: undefined };
    const sender = new Project(dir, { ...base, HORNETS_TMUX_SOCKET: fx.socket(), HORNETS_HOME: fx.dir('hornets-leader-c-') });
    await sender.ok(['init', '--agents', 'marie,anga', '--project', 'leaderteam']);
    const configPath = path.join(dir, 'hornets.json');
    const config = JSON.parse(readFileSync(configPath, 'utf8')) as { agents: { name: string; node?: string }[]; defaults: Record<string, unknown>; daemon?: Record<string, unknown> };
    delete config.defaults.node;
    for (const a of config.agents) a.node = a.name === 'anga' ? 'beta' : 'alpha';
    config.daemon = { ...config.daemon, leaderLease: LEASE };
    writeFileSync(configPath, JSON.stringify(config, null, 2));

    const node = (name: string) => {
      const env = { ...base, HORNETS_TMUX_SOCKET: fx.socket(), HORNETS_HOME: fx.dir(`hornets-leader-${name}-`) };
      const p = new Project(dir, env);
      fx.defer(() => p.run(['--node', name, 'down', '--timeout', '1']));
      fx.defer(() => p.run(['--node', name, 'daemon', 'stop']));
      return { p, env, home: env.HORNETS_HOME };
    };
    const alpha = node('alpha');
    const beta = node('beta');
    const admin = new Redis(redis.url);
    fx.defer(() => admin.disconnect());
    const keys = clusterKeys('leaderteam');
    const leader = async () => (await currentLeader(admin, keys, 'leader'))?.candidate ?? null;
    const store = await openRedisStore({ url: redis.url, prefix: 'leaderteam' });
    fx.defer(() => store.close());
    const state = async (id: string) => (await store.get(id)).state;
    const status = async () => JSON.parse((await sender.ok(['status', '--json'])).stdout) as StatusRow[];

    // alpha starts first and leads; beta joins and does not.
    await alpha.p.ok(['--node', 'alpha', 'up']);
    await waitFor('alpha leads', async () => (await leader()) === 'alpha', 30_000, 100);
    await beta.p.ok(['--node', 'beta', 'up']);
    const seen = new Set<string | null>();
    for (let i = 0; i < 10; i++) {
      seen.add(await leader());
      await new Promise((r) => setTimeout(r, 200));
    }
    expect([...seen]).toEqual(['alpha']);
    expect((await status()).map((a) => [a.name, a.leaderNode])).toEqual([
      ['marie', 'alpha'],
      ['anga', 'alpha'],
    ]);
    expect((await sender.ok(['status'])).stdout).toContain('leader: node alpha');
    expect(logEvents(alpha.home, 'leader_elected').map((e) => e.node)).toEqual(['alpha']);
    expect(logEvents(beta.home, 'leader_elected')).toEqual([]);
    // doctor from a host that runs no agent: both nodes up, alpha leads, no engine needed here.
    const healthy = await doctorChecks(sender);
    expect(healthy['node: alpha']).toMatchObject({ ok: true });
    expect(healthy['node: alpha']!.detail).toMatch(/^up on .+, heartbeat \d+s ago; agents marie$/);
    expect(healthy['node: beta']).toMatchObject({ ok: true });
    expect(healthy.leader).toMatchObject({ ok: true });
    expect(healthy.leader!.detail).toMatch(/^node alpha \(fence \d+\)/);
    expect(healthy.engine).toMatchObject({ ok: true });
    expect(healthy.engine!.detail).toMatch(/not needed/);

    // A lease of beta's agent nobody will ack (its hook died after the claim): the leader — alpha,
    // not beta — reclaims it, and beta then delivers the message to anga.
    const forAnga = (await store.enqueue({ agent: 'anga', body: 'lease lapses on beta' })).message.id;
    expect((await store.claim('anga', { owner: 'hook:gone', leaseMs: 500 }))[0]?.id).toBe(forAnga);
    await waitFor('anga message reclaimed and confirmed', async () => (await state(forAnga)) === 'confirmed', 90_000, 250);
    const alphaSweeps = logEvents(alpha.home, 'leader_sweep');
    expect(alphaSweeps.some((e) => Number(e.leasesReclaimed) >= 1)).toBe(true);
    expect(logEvents(beta.home, 'leader_sweep')).toEqual([]);

    // A message of alpha's agent claimed just before alpha's engine dies (kill -9): nobody acks it.
    const forMarie = (await store.enqueue({ agent: 'marie', body: 'in flight when alpha dies' })).message.id;
    expect((await store.claim('marie', { owner: 'hook:alpha', leaseMs: 4000 }))[0]?.id).toBe(forMarie);
    const alphaPid = Number(readFileSync(path.join(alpha.home, 'run', 'daemon.pid'), 'utf8').trim());
    process.kill(alphaPid, 'SIGKILL');
    const killedAt = Date.now();
    await waitFor('beta leads', async () => (await leader()) === 'beta', 30_000, 50);
    const takeover = Date.now() - killedAt;
    expect(takeover).toBeLessThan(leaderTiming(1000).takeoverMs + SLACK_MS);
    await waitFor('beta says it leads', () => logEvents(beta.home, 'leader_elected').length === 1, 10_000, 100);

    // alpha is lost; the leader (beta) reclaims marie's lapsed lease: the message waits, not lost.
    await waitFor('alpha lost', async () => (await status()).find((a) => a.name === 'marie')?.nodeState === 'lost', 30_000, 250);
    await waitFor('marie lease reclaimed by the leader', async () => (await state(forMarie)) === 'failed', 30_000, 250);
    const lost = await doctorChecks(sender, 1);
    expect(lost['node: alpha']).toMatchObject({ ok: false });
    expect(lost['node: alpha']!.detail).toMatch(/^lost: no heartbeat since \d+s ago .*agents marie wait, their messages are kept$/);
    expect(lost['node: alpha']!.fix).toContain('hornets-tui --headless --node alpha');
    expect(lost.leader!.detail).toMatch(/^node beta /);
    expect(logEvents(beta.home, 'leader_sweep').some((e) => Number(e.leasesReclaimed) >= 1)).toBe(true);
    const events = await store.events({ messageId: forMarie });
    expect(events.filter((e) => e.kind === 'lease_expired')).toHaveLength(1);

    // alpha returns: it reconciles and delivers the waiting message, exactly once.
    await alpha.p.ok(['--node', 'alpha', 'up']);
    await waitFor('marie message confirmed', async () => (await state(forMarie)) === 'confirmed', 90_000, 250);
    const transcript = readFileSync(path.join(alpha.home, 'demo', 'marie.jsonl'), 'utf8');
    expect(transcript.split(`msg ${forMarie}`).length - 1).toBe(1);
    // beta still leads: the returning node does not take the duties over.
    expect(await leader()).toBe('beta');

    // A leader paused (SIGSTOP) past its lease is replaced; resumed, it knows it is deposed.
    const betaPid = Number(readFileSync(path.join(beta.home, 'run', 'daemon.pid'), 'utf8').trim());
    process.kill(betaPid, 'SIGSTOP');
    try {
      await waitFor('alpha leads while beta is paused', async () => (await leader()) === 'alpha', 30_000, 50);
    } finally {
      process.kill(betaPid, 'SIGCONT');
    }
    await waitFor('beta says it lost the lead', () => logEvents(beta.home, 'leader_lost').length === 1, 15_000, 100);
    expect(await leader()).toBe('alpha');
    expect(logEvents(alpha.home, 'leader_elected')).toHaveLength(2);
  }, 300_000);
});
