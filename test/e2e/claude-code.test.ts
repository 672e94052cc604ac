import { afterEach, beforeAll, describe, it } from 'vitest';
import { assertBuilt } from '../helpers/cli.js';
import { ClaudeE2E, claudeRuns, hasToolResult, isCompactRequest, newText } from '../helpers/claude-e2e.js';

let env: ClaudeE2E | null = null;
afterEach(async () => { await env?.cleanup(); env = null; });
const allowEcho = { permissions: { allow: ['Bash(echo:*)'] } };
const echoTool = { name: 'Bash', input: { command: 'echo hornets-tool', description: 'echo' } };

describe('real Claude Code', () => {
  beforeAll(() => { assertBuilt(); if (!claudeRuns()) throw new Error('no claude'); });
  it('explore', async () => {
    const ids: string[] = [];
    env = await ClaudeE2E.create(async (req) => {
      const t = newText(req);
      if (isCompactRequest(req)) return { text: 'SUMMARY' };
      if (hasToolResult(req)) return { text: 'tool done' };
      if (t.includes('run the tool')) {
        for (let i = 0; i < 4; i++) ids.push(await env!.send(`BIG-${i} ` + 'y'.repeat(9000)));
        return { toolUse: echoTool };
      }
      if (t.includes('finish')) { ids.push(await env!.send('STOP-MSG')); return { text: 'first' }; }
      return { text: 'ok' };
    }, { committedSettings: allowEcho, briefing: 'RULE-42 be brief' });
    await env.up();
    await env.prompt('run the tool');
    await env.waitForHook('Stop', 'idle');
    const n = env.hookLog().length;
    await env.prompt('finish');
    await env.waitForHook('Stop', 'idle', { after: n });
    env.typeLine('/compact');
    await env.waitForHook('SessionStart', /rebrief/);
    await env.waitForPrompt();
    await env.prompt('after compact');
    for (const r of env.mainRequests()) { const t = newText(r); console.log('MAIN len', t.length, t.slice(0, 300).replace(/y{20,}/g, 'yyy…'), '\n ... ', t.slice(-2500).replace(/y{20,}/g, 'yyy…')); for (const id of ids) console.log('  ', id, t.split(`[msg ${id}`).length - 1); }
    console.log(ids, env.hookLog().map((l) => `${l.event} ${l.outcome} ${JSON.stringify(l.delivered)}`));
  }, 120_000);
});
