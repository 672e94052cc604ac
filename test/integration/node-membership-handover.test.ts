/**
 * A node that leads and stops cleanly hands the cluster-wide duties over at once: it gives its lease
 * back and wakes the other nodes, whose candidates then try for it instead of waiting until the
 * lease they saw would have lapsed (they no longer poll it every second). Two NodeMemberships on a
 * real redis-server; no tmux or engine is needed for the membership itself.
 */
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { NodeMembership } from '../../src/daemon/node-membership.js';
import { silentLogger } from '../../src/log.js';
import { startRedisServer, type RedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/tmux.js';

let redis: RedisServer;
const members: NodeMembership[] = [];
beforeAll(async () => {
  redis = await startRedisServer();
});
afterEach(async () => {
  for (const m of members.splice(0)) await m.stop();
});
afterAll(async () => {
  await redis?.destroy();
});

// A long lease: a candidate that found it held would try again only ~20 s later.
const LEASE = { leaseMs: 20_000, renewMs: 6_000, retryMs: 1_000, takeoverMs: 21_000 };

function member(node: string, leading: string[]): NodeMembership {
  const m = new NodeMembership({
    selection: { kind: 'redis', url: redis.url, prefix: 'handover', connectTimeoutMs: 5_000, source: 'test' },
    node,
    log: silentLogger(),
    hookEndpoint: () => undefined,
    metricsUrl: () => undefined,
    tmux: { socket: `s-${node}`, session: 'handover' },
    wake: () => undefined,
    control: async () => undefined,
    onLost: () => undefined,
    leader: LEASE,
    onLeadership: (on) => leading.push(`${node}:${on}`),
  });
  members.push(m);
  return m;
}

it('a leader stopped cleanly: another node leads at once, not when the lease it saw would have lapsed', async () => {
  const leading: string[] = [];
  const a = member('alpha', leading);
  await a.start();
  await waitFor('alpha leads', () => a.leaderFence() !== null, 10_000, 20);
  const b = member('beta', leading);
  await b.start();
  // beta has found the lease held by now (its first try is at once).
  await new Promise((r) => setTimeout(r, 500));
  expect(b.leaderFence()).toBeNull();

  const stoppedAt = Date.now();
  await a.stop();
  members.splice(members.indexOf(a), 1);
  await waitFor('beta leads', () => b.leaderFence() !== null, 15_000, 20);
  // Well inside the 20 s lease beta saw: it was told, it did not wait the lease out.
  expect(Date.now() - stoppedAt).toBeLessThan(10_000);
  expect(leading).toEqual(['alpha:true', 'alpha:false', 'beta:true']);
});
