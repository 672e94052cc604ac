/**
 * Short run of the kill -9 harness (test/bench/kill9.ts; `npm run bench:kill9` runs the long one):
 * producer and consumers SIGKILLed at random under load must lose no accepted message and leave
 * an intact database whose message states agree with their event logs.
 */
import { afterEach, describe, expect, it } from 'vitest';

import { formatKill9, runKill9 } from '../bench/kill9.js';
import { compiledPath } from '../helpers/compiled.js';

const KILLS = 30;
// Only a guard against a hung run: each kill waits for a worker that reached the store, so the
// kill phase takes about one worker start per kill (under 1 s alone, 1.5-5 s at load 11-18).
const KILL_PHASE_CAP_S = 60;

let abort: AbortController | undefined;
afterEach(() => {
  // runKill9 kills its workers and removes its directory itself; this stops a run a timeout abandoned.
  abort?.abort();
  abort = undefined;
});

describe('kill -9 fault injection', () => {
  it(`survives ${KILLS} SIGKILLs of producer and consumers`, { timeout: 100_000 }, async () => {
    compiledPath('test/bench/kill9-worker.ts');
    abort = new AbortController();
    const result = await runKill9({ kills: KILLS, seconds: KILL_PHASE_CAP_S, consumers: 3, minGapMs: 30, maxGapMs: 400, signal: abort.signal });
    const report = [...formatKill9(result), ...result.violations.slice(0, 30)].join('\n');

    expect(result.violations, report).toEqual([]);
    expect(result.complete, report).toBe(true);
    expect(result.kills).toBeGreaterThanOrEqual(KILLS);
    expect(result.counts.lost).toBe(0);
    expect(result.integrity).toEqual({ beforeDrain: 'ok', afterDrain: 'ok' });
    // The run did real work, and the interesting paths happened.
    // A count, not a rate: a loaded machine (2 cores, other suites running) accepted 38 in one run,
    // and what this test proves (nothing accepted is lost across the kills) needs work, not speed.
    expect(result.counts.accepted).toBeGreaterThan(20);
    expect(result.counts.confirmedByConsumers).toBeGreaterThan(0);
    expect(result.counts.leaseExpiries + result.counts.leasesReclaimedInDrain).toBeGreaterThan(0);
    expect(result.killsByRole.producer).toBeGreaterThan(0);
    expect(result.killsByRole.consumer).toBeGreaterThan(0);
  });
});
