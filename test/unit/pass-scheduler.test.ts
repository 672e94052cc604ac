import { describe, expect, it } from 'vitest';
import { PassScheduler } from '../../src/daemon/pass-scheduler.js';

/** A pass that stays open until the test ends it, so the timing of overlapping wakes is the test's. */
function harness(agents: string[]) {
  const passes: { agents: string[]; end: () => void; fail: (e: Error) => void }[] = [];
  const errors: unknown[] = [];
  let inFlight = new Map<string, number>();
  let overlap = false;
  const s = new PassScheduler({
    agents: () => agents,
    run: (batch) =>
      new Promise<void>((resolve, reject) => {
        for (const a of batch) {
          if ((inFlight.get(a) ?? 0) > 0) overlap = true;
          inFlight.set(a, (inFlight.get(a) ?? 0) + 1);
        }
        const done = () => {
          for (const a of batch) inFlight.set(a, inFlight.get(a)! - 1);
        };
        passes.push({
          agents: batch,
          end: () => {
            done();
            resolve();
          },
          fail: (e) => {
            done();
            reject(e);
          },
        });
      }),
    onError: (e) => errors.push(e),
  });
  const turn = () => new Promise((r) => setImmediate(r));
  return {
    s,
    passes,
    errors,
    turn,
    overlap: () => overlap,
    reset: () => {
      inFlight = new Map();
    },
  };
}

describe('PassScheduler', () => {
  it('a wake for one agent while a pass is busy with another runs at once, beside it', async () => {
    const h = harness(['a', 'b', 'c']);
    h.s.wake('a');
    await h.turn();
    expect(h.passes.map((p) => p.agents)).toEqual([['a']]);
    h.s.wake('b');
    await h.turn();
    // The pass over a has not ended: b did not wait for it.
    expect(h.passes.map((p) => p.agents)).toEqual([['a'], ['b']]);
    h.passes[0]!.end();
    h.passes[1]!.end();
    await h.s.idle();
    expect(h.passes).toHaveLength(2);
  });

  it('an agent under consideration is never in two passes at once: its wake runs it again after its pass', async () => {
    const h = harness(['a', 'b']);
    h.s.wake('a');
    await h.turn();
    h.s.wake('a');
    await h.turn();
    await h.turn();
    expect(h.passes.map((p) => p.agents)).toEqual([['a']]);
    h.passes[0]!.end();
    await h.turn();
    await h.turn();
    expect(h.passes.map((p) => p.agents)).toEqual([['a'], ['a']]);
    h.passes[1]!.end();
    await h.s.idle();
    expect(h.overlap()).toBe(false);
  });

  it('wake(null) and a wake for an agent not of this engine look at every agent, in the team order; a busy one after its pass', async () => {
    const h = harness(['a', 'b', 'c']);
    h.s.wake('b');
    await h.turn();
    h.s.wake(null);
    await h.turn();
    expect(h.passes.map((p) => p.agents)).toEqual([['b'], ['a', 'c']]);
    h.passes[0]!.end();
    await h.turn();
    await h.turn();
    expect(h.passes.map((p) => p.agents)).toEqual([['b'], ['a', 'c'], ['b']]);
    h.passes[1]!.end();
    h.passes[2]!.end();
    await h.s.idle();
    h.s.wake('someone-else');
    await h.turn();
    expect(h.passes[3]!.agents).toEqual(['a', 'b', 'c']);
    h.passes[3]!.end();
    await h.s.idle();
    expect(h.overlap()).toBe(false);
  });

  it('wakes of one turn make one pass', async () => {
    const h = harness(['a', 'b', 'c']);
    h.s.wake('c');
    h.s.wake('a');
    h.s.wake('c');
    await h.turn();
    expect(h.passes.map((p) => p.agents)).toEqual([['a', 'c']]);
    h.passes[0]!.end();
    await h.s.idle();
    expect(h.passes).toHaveLength(1);
  });

  it('a failed pass is reported and later wakes still run', async () => {
    const h = harness(['a']);
    h.s.wake('a');
    await h.turn();
    h.passes[0]!.fail(new Error('store down'));
    await h.s.idle();
    expect(h.errors.map(String)).toEqual(['Error: store down']);
    h.s.wake('a');
    await h.turn();
    expect(h.passes).toHaveLength(2);
    h.passes[1]!.end();
    await h.s.idle();
  });

  it('stop() waits for the running passes; a wake after it, or queued before it, runs nothing', async () => {
    const h = harness(['a', 'b']);
    h.s.wake('a');
    await h.turn();
    h.s.wake('b');
    let stopped = false;
    const stopping = h.s.stop().then(() => (stopped = true));
    await h.turn();
    await h.turn();
    expect(stopped).toBe(false);
    h.passes[0]!.end();
    await stopping;
    h.s.wake('a');
    await h.turn();
    expect(h.passes.map((p) => p.agents)).toEqual([['a']]);
  });
});
