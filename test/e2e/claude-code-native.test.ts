/**
 * The Claude Code end-to-end suite (claude-code.test.ts) once more, on the newest Claude Code: the
 * native binary `@anthropic-ai/claude-code-linux-x64` (2.1.332), pinned in scripts/agent-clis.json
 * and installed into .cache by scripts/install-agent-clis.mjs (its npm package declares Node >= 22;
 * the binary needs no Node). Outside CI, HORNETS_SKIP_CLAUDE_NATIVE_E2E=1 skips it; in CI a missing
 * binary fails it.
 */
import { describe, expect, it } from 'vitest';
import { requireAgentCli, skipAgentCliSuite } from '../helpers/agent-clis.js';

const CLI = 'claude-native';

if (skipAgentCliSuite(CLI)) {
  describe.skip('real Claude Code (newest native binary) through hornets hooks', () => {
    it('is skipped by HORNETS_SKIP_CLAUDE_NATIVE_E2E=1', () => undefined);
  });
} else {
  // Missing or not the pinned version: fail here, at collection, with the command that installs it.
  requireAgentCli(CLI);
  // Set before the suite's helpers load: they pick the binary from it.
  process.env.HORNETS_E2E_CLAUDE_CLI = CLI;
  await import('./claude-code.test.js');
  const { claudeBin } = await import('../helpers/claude-e2e.js');
  describe('the suite above', () => {
    it('drove the native binary, not the npm package', () => {
      expect(claudeBin).toContain(`${CLI}@`);
    });
  });
}
