/**
 * An explicit reconciliation (after a change the caller just made) is never swallowed by a round
 * already under way, which may have looked before the change: one more round follows it, shared
 * by every caller meanwhile (the periodic timer included).
 */
import { describe, expect, it } from 'vitest';
import { Reconciler, type ReconcilerOptions } from '../../src/daemon/reconciler.js';
import { silentLogger } from '../../src/log.js';

describe('Reconciler.run', () => {
  it('a call during a round gets a round of its own after it; calls meanwhile share that one', async () => {
    let rounds = 0;
    const gates: (() => void)[] = [];
    const options = {
      store: {
        sweep: async () => {
          rounds++;
          await new Promise<void>((r) => gates.push(r));
          return { leasesReclaimed: 0, expired: 0 };
        },
        agentRecords: () => Promise.resolve([]),
      },
      agents: { project: { config: { agents: [] } } },
      log: silentLogger(),
      now: Date.now,
      staleBusyMs: 15_000,
      wake: () => undefined,
      onRecreated: () => undefined,
    } as unknown as ReconcilerOptions;
    const r = new Reconciler(options);
    const first = r.run();
    await new Promise((res) => setImmediate(res));
    expect(rounds).toBe(1);
    const second = r.run();
    const third = r.run();
    expect(second).toBe(third);
    gates.shift()!();
    await first;
    await new Promise((res) => setImmediate(res));
    expect(rounds).toBe(2);
    gates.shift()!();
    await second;
    expect(rounds).toBe(2);
  });
});
