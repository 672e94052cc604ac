/** The pure rules of the leader of a Redis team (issue 12): its timing, who runs a duty, its setting. */
import { describe, expect, it } from 'vitest';
import { leaderTiming, type LeaderTiming } from '../../src/domain/leader-timing.js';
import { dutyTurn, type DutyTurn } from '../../src/daemon/cluster-duties.js';
import { daemonConfigSchema } from '../../src/config/schema.js';
import { daemonSettings } from '../../src/config/env.js';
import type { DutyFence } from '../../src/queue/store.js';
import { Reconciler, type ReconcilerOptions } from '../../src/daemon/reconciler.js';
import { RetentionTimer } from '../../src/daemon/retention.js';
import { QueueError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';

describe('leaderTiming', () => {
  it.each<[number, LeaderTiming]>([
    [1_000, { leaseMs: 1_000, renewMs: 333, retryMs: 333, takeoverMs: 1_333 }],
    [3_000, { leaseMs: 3_000, renewMs: 1_000, retryMs: 1_000, takeoverMs: 4_000 }],
    [6_000, { leaseMs: 6_000, renewMs: 2_000, retryMs: 1_000, takeoverMs: 7_000 }],
    [300_000, { leaseMs: 300_000, renewMs: 100_000, retryMs: 1_000, takeoverMs: 301_000 }],
  ])('lease %i ms', (leaseMs, timing) => {
    expect(leaderTiming(leaseMs)).toEqual(timing);
  });

  it.each([0, 999, 300_001, 1500.5, Number.NaN, -6000])('refuses a lease of %s ms', (leaseMs) => {
    expect(() => leaderTiming(leaseMs)).toThrow(RangeError);
  });

  it('renews more than once per lease and retries no later than a renewal', () => {
    for (const leaseMs of [1_000, 1_001, 2_500, 6_000, 60_000, 299_999]) {
      const t = leaderTiming(leaseMs);
      expect(2 * t.renewMs).toBeLessThan(t.leaseMs);
      expect(t.retryMs).toBeLessThanOrEqual(t.renewMs);
      expect(t.takeoverMs).toBe(t.leaseMs + t.retryMs);
    }
  });
});

describe('dutyTurn', () => {
  const fence: DutyFence = { key: 'hornets:p:{cluster}:fence:leader', token: 7 };
  it.each<[string, 'single-host' | 'cluster', DutyFence | null, DutyTurn]>([
    ['a single host runs its duties unfenced', 'single-host', null, { run: true }],
    ['a single host ignores any fence', 'single-host', fence, { run: true }],
    ['the leader of a Redis team runs them with its fence', 'cluster', fence, { run: true, fence }],
    ['another node of a Redis team skips them', 'cluster', null, { run: false }],
  ])('%s', (_name, team, f, turn) => {
    expect(dutyTurn(team, f)).toEqual(turn);
  });
});

describe('daemon.leaderLease', () => {
  it('defaults to 6s: takeover within 7s', () => {
    const d = daemonConfigSchema.parse({});
    expect(d.leaderLease).toBe('6s');
    expect(daemonSettings({ daemon: d } as Parameters<typeof daemonSettings>[0]).leader).toEqual(leaderTiming(6_000));
  });

  it.each([
    ['1s', true],
    ['30s', true],
    ['5m', true],
    ['500ms', false],
    ['6m', false],
    ['soon', false],
  ])('%s valid: %s', (value, ok) => {
    expect(daemonConfigSchema.safeParse({ leaderLease: value }).success).toBe(ok);
  });
});

describe('the duties ask the gate', () => {
  const fence: DutyFence = { key: 'hornets:p:{cluster}:fence:leader', token: 3 };
  function reconciler(turn: DutyTurn, sweep: (o?: { fence?: DutyFence }) => Promise<unknown>) {
    const lines: string[] = [];
    const log = { info: (o: { event: string }) => lines.push(o.event), debug: (o: { event: string }) => lines.push(o.event), warn: (o: { event: string }) => lines.push(o.event) };
    const r = new Reconciler({ store: { sweep }, log, wake: () => undefined, duties: { turn: () => turn } } as unknown as ReconcilerOptions);
    return { r, lines };
  }

  it('a node that does not lead never sweeps', async () => {
    const calls: unknown[] = [];
    const { r } = reconciler({ run: false }, (o) => (calls.push(o), Promise.resolve({ expired: 0, leasesReclaimed: 0, dead: 0 })));
    await r.sweep();
    expect(calls).toEqual([]);
  });

  it('the leader sweeps with its fence and says so', async () => {
    const calls: unknown[] = [];
    const { r, lines } = reconciler({ run: true, fence }, (o) => (calls.push(o), Promise.resolve({ expired: 0, leasesReclaimed: 2, dead: 0 })));
    await r.sweep();
    expect(calls).toEqual([{ fence }]);
    expect(lines).toEqual(['leader_sweep']);
  });

  it('a sweep refused by the fence is logged, not thrown', async () => {
    const { r, lines } = reconciler({ run: true, fence }, () => Promise.reject(new QueueError('stale_fence', 'newer leader')));
    await r.sweep();
    expect(lines).toEqual(['leader_duty_refused']);
  });

  it('retention prunes only on its turn, with the fence', async () => {
    const calls: unknown[] = [];
    let turn: DutyTurn = { run: false };
    const store = {
      prune: (o: { fence?: DutyFence }) => (
        calls.push(o.fence),
        Promise.resolve({ cutoff: 0, messages: 0, events: 0, tasks: 0, agentEvents: 0, usageMessages: 0, reclaimedBytes: null, ms: 0, longestBatchMs: 0 })
      ),
    };
    const t = new RetentionTimer({ store, retention: { maxAge: '7d', interval: '1h' }, log: silentLogger(), duties: { turn: () => turn } });
    await t.runOnce();
    expect(calls).toEqual([]);
    turn = { run: true, fence };
    await t.runOnce();
    expect(calls).toEqual([fence]);
  });
});
