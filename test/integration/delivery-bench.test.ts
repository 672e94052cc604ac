/**
 * `npm run bench:delivery -- --smoke` runs to its end and prints the seed-shaped table: the script
 * cannot rot between the times someone wants its figures. The figures themselves are not checked
 * (benchmarks print, tests do not time). Needs `npm run build` and tmux.
 */
import { describe, expect, it } from 'vitest';
import { runCompiled } from '../helpers/compiled.js';

describe('bench:delivery --smoke', () => {
  it('measures every seed mode and prints the table in the seed shape', async () => {
    const r = await runCompiled('test/bench/delivery-bench.ts', ['--smoke'], 240_000);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^\| Feature +\| Polling +\| Event-Driven +\| Hooks +\| Hybrid +\|$/m);
    expect(r.stdout).toMatch(/^\| \*\*Latency\*\* p50 \(hornets\) +\|( +\d+ ms +\|){4}$/m);
    // Each mode delivered the way it is configured: typed, beside a tool result (or at the end of that turn), or as hook context.
    expect(r.stdout).toMatch(/^\| arrived as +\| prompt ×2 +\| prompt ×2 +\| (mid-turn|stop-feedback)[^|]* +\| context ×2 +\|$/m);
    expect(r.stdout).toMatch(/^anchor: send-keys/m);
  }, 300_000);
});
