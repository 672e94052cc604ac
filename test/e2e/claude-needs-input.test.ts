/**
 * Issue 17 on the real Claude Code CLI (the pinned devDependency) against the scripted local
 * Messages API: a tool call that needs the user's permission puts the agent in `needs-input` (its
 * Notification hook, permission_prompt), and answering the prompt in the pane takes it out (the
 * tool runs: PostToolUse; the turn ends: Stop). Needs `npm run build` and tmux; set
 * HORNETS_SKIP_CLAUDE_E2E=1 where the Claude Code binary cannot run.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt } from '../helpers/cli.js';
import { AGENT, ClaudeE2E, claudeRuns, hasToolResult, newText } from '../helpers/claude-e2e.js';
import { tmux, waitFor } from '../helpers/tmux.js';

let env: ClaudeE2E | null = null;

afterEach(async (ctx) => {
  if (env && ctx.task.result?.state === 'fail') console.error(env.diagnostics());
  await env?.cleanup();
  env = null;
});

async function agentStatus(e: ClaudeE2E): Promise<{ state: string; needsYou: boolean }> {
  const list = JSON.parse((await e.run(['status', '--json'])).stdout) as { name: string; state: string; needsYou: boolean }[];
  return list.find((a) => a.name === AGENT)!;
}

describe.skipIf(process.env.HORNETS_SKIP_CLAUDE_E2E === '1')('real Claude Code: needs-input (issue 17)', () => {
  beforeAll(() => {
    assertBuilt();
    if (!claudeRuns()) throw new Error('node_modules/.bin/claude does not run: `npm ci` installs the pinned @anthropic-ai/claude-code (or set HORNETS_SKIP_CLAUDE_E2E=1)');
  });

  it('a permission prompt puts the agent in needs-input; answering it takes it out', async () => {
    // No permission for the tool anywhere: Claude Code must ask.
    const e = (env = await ClaudeE2E.create((req) => {
      if (hasToolResult(req)) return { text: 'tool finished' };
      if (newText(req).includes('please list the files')) return { toolUse: { name: 'Bash', input: { command: 'touch asked-first.txt', description: 'create a file' } } };
      return { text: 'ok' };
    }));
    const pane = await e.up();
    await e.prompt('please list the files');
    await waitFor('the permission prompt on screen', () => /Do you want to proceed\?/.test(e.screen()), 60_000, 100);
    const asking = await waitFor('cc needs input', async () => ((await agentStatus(e)).state === 'needs-input' ? await agentStatus(e) : null), 30_000, 200);
    expect(asking.needsYou).toBe(true);
    // Both sources said so: the PermissionRequest hook (as the dialog came up) and the notification.
    await e.waitForHook('PermissionRequest', 'PermissionRequest:Bash');
    await e.waitForHook('Notification', 'notification:permission_prompt');
    // Yes (the highlighted first choice).
    expect(tmux(e.socket, ['send-keys', '-t', pane, 'Enter']).code).toBe(0);
    await waitFor('the tool result reached the model', () => e.mainRequests().some(hasToolResult), 60_000, 100);
    await e.waitForHook('Stop', 'idle');
    const after = await agentStatus(e);
    expect(after.state).toBe('idle');
    expect(after.needsYou).toBe(false);
  }, 180_000);
});
