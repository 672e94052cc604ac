/**
 * Issue 17, a usage limit, on the real Claude Code CLI (the pinned devDependency) against the
 * scripted local Messages API. Claude Code states a limit and its reset only to a claude.ai
 * subscriber (OAuth): with an API key it retries a 429 and at last shows "Request rejected (429)".
 * So the agent runs with an OAuth token (CLAUDE_CODE_OAUTH_TOKEN, no API key), and the stand-in
 * answers the 429 a subscriber's limit gets: the unified rate-limit headers with the reset epoch.
 * Claude Code then gives up at once ("You've hit your session limit · resets 1:23pm (UTC)"), its
 * StopFailure hook puts the agent in `limited` with that reset, messages wait, and at the reset the
 * engine resumes it with a message that idle delivery nudges in. Needs `npm run build` and tmux.
 */
import { readFileSync } from 'node:fs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt } from '../helpers/cli.js';
import { AGENT, ClaudeE2E, claudeRuns, deliveriesOf, newText } from '../helpers/claude-e2e.js';
import { waitFor } from '../helpers/tmux.js';

let env: ClaudeE2E | null = null;
let daemonOf: ClaudeE2E | null = null;

afterEach(async (ctx) => {
  if (env && ctx.task.result?.state === 'fail') {
    console.error(env.diagnostics());
    console.error(
      readFileSync(env.logFile, 'utf8')
        .split('\n')
        .filter((l) => /limit|nudge|push/.test(l))
        .join('\n'),
    );
  }
  if (daemonOf) await daemonOf.cli.run(['daemon', 'stop']);
  daemonOf = null;
  await env?.cleanup();
  env = null;
});

interface Status {
  name: string;
  state: string;
  resetAt: string | null;
  needsYou: boolean;
}

async function agentStatus(e: ClaudeE2E): Promise<Status> {
  const list = JSON.parse((await e.run(['status', '--json'])).stdout) as Status[];
  return list.find((a) => a.name === AGENT)!;
}

describe.skipIf(process.env.HORNETS_SKIP_CLAUDE_E2E === '1')('real Claude Code: usage limit (issue 17)', () => {
  beforeAll(() => {
    assertBuilt();
    if (!claudeRuns()) throw new Error('node_modules/.bin/claude does not run: `npm ci` installs the pinned @anthropic-ai/claude-code (or set HORNETS_SKIP_CLAUDE_E2E=1)');
  });

  it('a 429 with a reset: limited until then, messages wait, resumed with a nudge at the reset', async () => {
    // Claude Code states the reset to the minute: a whole minute, far enough ahead for the 429 and its hook.
    const resetMs = Math.ceil((Date.now() + 25_000) / 60_000) * 60_000;
    const limitHeaders = {
      'anthropic-ratelimit-unified-status': 'rejected',
      'anthropic-ratelimit-unified-representative-claim': 'five_hour',
      'anthropic-ratelimit-unified-reset': String(resetMs / 1000),
    };
    const e = (env = await ClaudeE2E.create(
      (req) => {
        if (Date.now() < resetMs && newText(req).includes('work until the limit'))
          return { error: { status: 429, headers: limitHeaders, body: { type: 'error', error: { type: 'rate_limit_error', message: 'Rate limited' } } } };
        return { text: 'carrying on' };
      },
      { agentEnv: { ANTHROPIC_API_KEY: null, CLAUDE_CODE_OAUTH_TOKEN: 'sk-ant-oat01-hornets-e2e-fake', TZ: 'UTC' } },
    ));
    await e.cli.ok(['daemon', 'start']);
    daemonOf = e;
    await e.up();
    const asked = e.mainRequests().length;
    await e.prompt('work until the limit');
    const limited = await waitFor(
      'cc limited',
      async () => {
        const s = await agentStatus(e);
        return s.state === 'limited' ? s : null;
      },
      30_000,
      200,
    );
    expect(limited.resetAt).toBe(new Date(resetMs).toISOString());
    expect(/You've hit your session limit · resets \d{1,2}(:\d{2})?[ap]m/.test(e.screen())).toBe(true);
    // One request: Claude Code did not retry the limit.
    expect(e.mainRequests().length).toBe(asked + 1);

    // A message sent meanwhile waits for the reset.
    const id = await e.send('after the limit');
    await new Promise((r) => setTimeout(r, 3000));
    expect((await e.queue()).find((m) => m.id === id)?.state).toBe('queued');
    expect(Date.now()).toBeLessThan(resetMs);

    // At the reset: resumed with the engine's message (nudged in), then the queued one.
    const resumed = await waitFor('the resume message at the model', () => e.mainRequests().find((r) => newText(r).includes('Your usage limit reset at')), resetMs - Date.now() + 60_000, 200);
    expect(resumed.at).toBeGreaterThanOrEqual(resetMs);
    await waitFor('the waiting message delivered', () => deliveriesOf(e.mainRequests(), id) > 0, 60_000, 200);
    await waitFor('cc out of limited', async () => ((await agentStatus(e)).state !== 'limited' ? true : null), 30_000, 200);
  }, 240_000);
});
