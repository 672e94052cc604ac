/**
 * bench:hooks and bench:push, `--smoke`, on the real agent CLIs (Claude Code, Codex, Gemini): each
 * runs to its end and prints a table per CLI, so the scripts cannot rot between the times someone
 * wants their figures. The figures are not checked (benchmarks print, tests do not time). Needs
 * `npm run build`, tmux and the pinned CLIs (scripts/install-agent-clis.mjs).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { runCompiled } from '../helpers/compiled.js';
import { requireAgentCli, skipAgentCliSuite } from '../helpers/agent-clis.js';

describe.skipIf(skipAgentCliSuite('codex') || skipAgentCliSuite('gemini'))('agent CLI benchmarks, --smoke', () => {
  beforeAll(() => {
    requireAgentCli('codex');
    requireAgentCli('gemini');
  });

  it('bench:hooks gives a tool-round table for each CLI, hornets rows included', async () => {
    const r = await runCompiled('test/bench/hooks-bench.ts', ['--smoke'], 420_000);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    for (const [cli, command] of [
      ['claude', 'claude -p'],
      ['codex', 'codex exec'],
      ['gemini', 'gemini -p'],
    ]) {
      expect(r.stdout).toMatch(new RegExp(`^agent's view: real ${cli} .*\\(${command}\\)`, 'm'));
    }
    // One row per CLI (the process-level rows say "empty queue" / "1 message" after it).
    expect(r.stdout.match(/^hornets (native|bash), daemon running +\d/gm)).toHaveLength(3);
  }, 480_000);

  it('bench:push gives the idle delivery table for each CLI, with the classic send-keys anchor', async () => {
    const r = await runCompiled('test/bench/push-bench.ts', ['--smoke'], 420_000);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    for (const name of ['Claude Code', 'Codex', 'Gemini']) expect(r.stdout).toContain(`idle delivery to a real idle ${name} pane`);
    expect(r.stdout.match(/^ {2}classic: send-keys text, sleep 0\.5, Enter -> API +\d+/gm)).toHaveLength(3);
    expect(r.stdout.match(/nudges per message: exactly 1 each/g)).toHaveLength(3);
  }, 480_000);
});
