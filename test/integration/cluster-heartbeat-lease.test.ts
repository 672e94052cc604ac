/**
 * A leading node renews its leader lease inside its heartbeat script (issue 12): one timer and one
 * round trip per period for both, seen on a real redis-server's MONITOR; the lease keeps its
 * semantics (kept alive only by those renewals, a replaced lease demotes, the campaign goes on).
 */
import { type Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { clusterKeys } from '../../src/cluster/keys.js';
import { LeaderElection, type DemotedReason } from '../../src/cluster/leader.js';
import { NodeRegistry } from '../../src/cluster/node-registry.js';
import { startRedisServer, testClient, type RedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/tmux.js';

let server: RedisServer;
const clients: Redis[] = [];
const stops: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  server = await startRedisServer();
}, 30_000);
afterAll(async () => {
  await server?.destroy();
});
afterEach(async () => {
  for (const s of stops.splice(0)) await s().catch(() => undefined);
  for (const c of clients.splice(0)) c.disconnect();
});

function client(): Redis {
  const c = testClient({ server });
  c.on('error', () => undefined);
  clients.push(c);
  return c;
}

async function leadingNode(project: string, events: { elected: number[]; demoted: DemotedReason[] }) {
  const keys = clusterKeys(project);
  const redis = client();
  const registry = new NodeRegistry({ redis, keys, heartbeatMs: 100, lostAfterMs: 300 });
  await registry.register('alpha', { host: 'h', pid: 1, startedAt: 0, version: '0' });
  const election = new LeaderElection({
    redis,
    keys,
    duty: 'leader',
    candidate: 'alpha',
    leaseMs: 600,
    renewMs: 200,
    retryMs: 100,
    renewer: registry,
    onElected: (t) => events.elected.push(t),
    onDemoted: (r) => events.demoted.push(r),
  });
  election.start();
  stops.push(
    () => election.stop(),
    () => registry.unregister(),
  );
  await waitFor('elected', () => events.elected.length === 1);
  return { keys, registry, election };
}

describe('the leader lease renewed in the node heartbeat', () => {
  it('one script call per period renews both; the lease lives on those renewals alone', async () => {
    const events = { elected: [] as number[], demoted: [] as DemotedReason[] };
    const { keys } = await leadingNode('hbl1', events);
    const monitor = await client().monitor();
    const calls: string[][] = [];
    // Round trips only: the commands a script runs are shown too, from source `lua`.
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (source !== 'lua' && args.some((a) => a.includes(':{cluster}:'))) calls.push(args);
    });
    // Several lease periods (600 ms): only renewals keep it.
    await new Promise((r) => setTimeout(r, 2000));
    monitor.disconnect();

    const claimKey = keys.nodeClaim('alpha');
    const leaseKey = keys.lease('leader');
    const touching = (key: string) => calls.filter((c) => c.includes(key));
    // Every call that renews the lease is a heartbeat too (same script call), and no other call touches it.
    expect(touching(leaseKey).length).toBeGreaterThanOrEqual(5);
    expect(touching(leaseKey).every((c) => c.includes(claimKey))).toBe(true);
    expect(touching(claimKey).every((c) => c.includes(leaseKey))).toBe(true);
    expect(events.demoted).toEqual([]);
    expect(await client().get(leaseKey)).toMatch(/^alpha\/.* 1$/);
  });

  it('a lease replaced under a carrying leader demotes it (lost); it campaigns again and takes the lease once free', async () => {
    const events = { elected: [] as number[], demoted: [] as DemotedReason[] };
    const { keys, election } = await leadingNode('hbl2', events);
    const admin = client();
    await admin.set(keys.lease('leader'), 'someone-else 99', 'PX', 400);
    await waitFor('demoted', () => events.demoted.length === 1);
    expect(events.demoted).toEqual(['lost']);
    expect(election.isLeader()).toBe(false);
    // The other lease lapses: the campaign, back on its own timer, takes it with a newer token.
    await waitFor('elected again', () => events.elected.length === 2, 5000);
    expect(events.elected[1]!).toBeGreaterThan(events.elected[0]!);
    expect(election.isLeader()).toBe(true);
  });
});
