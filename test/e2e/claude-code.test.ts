import { afterEach, beforeAll, describe, it } from 'vitest';
import { assertBuilt } from '../helpers/cli.js';
import { ClaudeE2E, claudeRuns, hasToolResult, isCompactRequest, newText } from '../helpers/claude-e2e.js';

let env: ClaudeE2E | null = null;
afterEach(async () => { await env?.cleanup(); env = null; });

describe('real Claude Code', () => {
  beforeAll(() => { assertBuilt(); if (!claudeRuns()) throw new Error('no claude'); });
  it('explore sizes', async () => {
    const ids: string[] = [];
    env = await ClaudeE2E.create(async (req) => {
      const t = newText(req);
      if (isCompactRequest(req)) return { text: 'SUMMARY' };
      if (t.includes('finish')) { for (let i = 0; i < 4; i++) ids.push(await env!.send(`STOPBIG-${i} ` + "z".repeat(11000))); return { text: 'first' }; }
      return { text: 'ok' };
    });
    for (let i = 0; i < 3; i++) ids.push(await env.send(`STARTBIG-${i} ` + 'y'.repeat(4500)));
    await env.up();
    await env.prompt('finish');
    await env.waitForHook('Stop', 'idle');
    for (const r of env.mainRequests()) { const t = newText(r); console.log('MAIN len', t.length, t.replace(/([yz])\1{20,}/g, '$1…')); for (const id of ids) console.log('  ', id, t.split(`[msg ${id}`).length - 1); }
    console.log(ids, env.hookLog().map((l) => `${l.event} ${l.outcome} ${JSON.stringify(l.delivered)}`));
  }, 120_000);
});
