/**
 * End to end on the real Claude Code CLI (the pinned devDependency) in a real tmux pane started by
 * `hornets-tui up`, talking to the scripted local Messages API. Every check is on what reached the
 * model (the requests the API recorded) and on the queue, never on hornets' own word for it.
 *
 * Each test has its own project, HOME, tmux server and API. Needs `npm run build` (the CLI and the
 * hooks run from dist/) and tmux. Set HORNETS_SKIP_CLAUDE_E2E=1 to skip on a platform where the
 * Claude Code binary cannot run; anywhere else a missing binary fails the suite loudly.
 */
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RecordedRequest } from '../../scripts/fake-messages-api.js';
import { assertBuilt } from '../helpers/cli.js';
import { AGENT, ClaudeE2E, arrivalOrder, claudeRuns, deliveriesOf, hookContextBeside, hasToolResult, isCompactRequest, newMessages, newText, staysFor, textOf } from '../helpers/claude-e2e.js';
import { waitFor } from '../helpers/tmux.js';
import { freePort } from '../helpers/ports.js';

const TEST_TIMEOUT = 120_000;
const allowEcho = { permissions: { allow: ['Bash(echo:*)'] } };

const echoTool = { name: 'Bash', input: { command: 'echo hornets-tool', description: 'echo' } };

let env: ClaudeE2E | null = null;

async function start(...args: Parameters<typeof ClaudeE2E.create>): Promise<ClaudeE2E> {
  env = await ClaudeE2E.create(...args);
  return env;
}

afterEach(async (ctx) => {
  // Before cleanup removes the log and kills the pane: what the model saw, what the hooks did.
  if (env && ctx.task.result?.state === 'fail') console.error(env.diagnostics());
  await env?.cleanup();
  env = null;
});

async function messageState(e: ClaudeE2E, id: string): Promise<{ state: string; redeliveries: number }> {
  const m = (await e.queue()).find((x) => x.id === id);
  if (!m) throw new Error(`message ${id} is not in the queue`);
  return { state: m.state, redeliveries: m.redeliveries };
}

function findRequest(e: ClaudeE2E, what: string, pred: (r: RecordedRequest) => boolean, timeoutMs = 30_000): Promise<RecordedRequest> {
  return waitFor(what, () => e.mainRequests().find(pred), timeoutMs, 50);
}

describe.skipIf(process.env.HORNETS_SKIP_CLAUDE_E2E === '1')('real Claude Code CLI through hornets hooks', () => {
  beforeAll(() => {
    assertBuilt();
    if (!claudeRuns()) throw new Error('node_modules/.bin/claude does not run: `npm ci` installs the pinned @anthropic-ai/claude-code (or set HORNETS_SKIP_CLAUDE_E2E=1)');
  });

  it(
    'SessionStart: a message queued before the agent starts is in the first main request',
    async () => {
      const e = await start(() => ({ text: 'noted' }), { briefing: 'RULE-START: answer in one line.' });
      const id = await e.send('queued before start');
      await e.up();
      const req = await e.prompt('first prompt');

      expect(e.mainRequests()[0]).toBe(req);
      const system = newMessages(req)
        .filter((m) => m.role === 'system')
        .map((m) => textOf([m]));
      const start_ = system.find((t) => t.startsWith('SessionStart:startup hook success:'));
      expect(start_).toBeDefined();
      expect(start_).toContain('# hornets briefing for cc');
      expect(start_).toContain('RULE-START: answer in one line.');
      expect(start_).toContain(`[msg ${id} | from cli] queued before start`);

      await e.waitForHook('Stop', 'idle');
      expect(e.hookLog().find((l) => l.event === 'SessionStart')).toMatchObject({ outcome: 'briefing', delivered: [id] });
      expect(deliveriesOf(e.mainRequests(), id)).toBe(1);
      // The prompt that followed in the same session confirmed it.
      expect(await messageState(e, id)).toEqual({ state: 'confirmed', redeliveries: 0 });
    },
    TEST_TIMEOUT,
  );

  it(
    'PostToolUse: a message queued while a tool runs arrives beside the tool result, in a system reminder',
    async () => {
      let id = '';
      const e = await start(
        async (req) => {
          if (hasToolResult(req)) return { text: 'tool finished' };
          if (newText(req).includes('please run the tool')) {
            id = await env!.send('sent while the tool runs');
            return { toolUse: echoTool };
          }
          return { text: 'ok' };
        },
        { committedSettings: allowEcho },
      );
      await e.up();
      const first = await e.prompt('please run the tool');
      const afterTool = await findRequest(e, 'the request with the tool result', hasToolResult);
      await e.waitForHook('Stop', 'idle');

      expect(id).not.toBe('');
      expect(newText(first)).not.toContain(`[msg ${id}`);
      expect(e.mainRequests().indexOf(afterTool)).toBe(e.mainRequests().indexOf(first) + 1);
      const toolTurn = newMessages(afterTool).find((m) => Array.isArray(m.content) && (m.content as { type?: string }[]).some((b) => b.type === 'tool_result'));
      const blocks = toolTurn!.content as { type: string; content?: unknown; text?: string }[];
      expect(blocks.find((b) => b.type === 'tool_result')?.content).toBe('hornets-tool');
      // 2.1.197 puts the context in a reminder block of the tool turn; 2.1.332 in a system message right after it.
      const reminder = hookContextBeside(afterTool, id);
      expect(reminder).toMatch(
        new RegExp(
          `^(<system-reminder>\\n)?PostToolUse:Bash hook additional context: hornets: 1 new message for cc\\n\\n\\[msg ${id} \\| from cli\\] sent while the tool runs(\\n</system-reminder>)?$`,
        ),
      );

      expect(e.hookLog().filter((l) => l.event === 'PostToolUse')).toMatchObject([{ outcome: 'delivered', delivered: [id] }]);
      expect(deliveriesOf(e.mainRequests(), id)).toBe(1);
      expect(await messageState(e, id)).toEqual({ state: 'confirmed', redeliveries: 0 });
    },
    TEST_TIMEOUT,
  );

  it(
    'PostToolUse as a Claude Code http hook (daemon.hookTransport "http"): the message arrives beside the tool result with no hook process, and ends confirmed',
    async () => {
      let id = '';
      const port = await freePort();
      const e = await start(
        async (req) => {
          if (hasToolResult(req)) return { text: 'tool finished' };
          if (newText(req).includes('please run the tool')) {
            id = await env!.send('sent while the tool runs');
            return { toolUse: echoTool };
          }
          return { text: 'ok' };
        },
        { committedSettings: allowEcho, daemon: { hookTransport: 'http', hookPort: port } },
      );
      await e.cli.ok(['daemon', 'start']);
      await e.up();
      const installed = JSON.parse(readFileSync(path.join(e.worktree, '.claude', 'settings.local.json'), 'utf8')) as { hooks: Record<string, { hooks: { type: string; url?: string }[] }[]> };
      expect(installed.hooks['PostToolUse']![0]!.hooks[0]).toMatchObject({ type: 'http', url: `http://127.0.0.1:${port}/hook/PostToolUse?hornets-tui` });
      expect(installed.hooks['Stop']![0]!.hooks[0]!.type).toBe('command');
      const first = await e.prompt('please run the tool');
      const afterTool = await findRequest(e, 'the request with the tool result', hasToolResult);
      await e.waitForHook('Stop', 'idle');

      expect(newText(first)).not.toContain(`[msg ${id}`);
      const toolTurn = newMessages(afterTool).find((m) => Array.isArray(m.content) && (m.content as { type?: string }[]).some((b) => b.type === 'tool_result'));
      const blocks = toolTurn!.content as { type: string; content?: unknown; text?: string }[];
      expect(blocks.some((b) => b.type === 'tool_result')).toBe(true);
      expect(hookContextBeside(afterTool, id)).toContain(`hornets: 1 new message for cc\n\n[msg ${id} | from cli] sent while the tool runs`);
      expect(e.hookLog().filter((l) => l.event === 'PostToolUse')).toMatchObject([{ outcome: 'delivered', delivered: [id] }]);
      expect(deliveriesOf(e.mainRequests(), id)).toBe(1);
      expect(await messageState(e, id)).toEqual({ state: 'confirmed', redeliveries: 0 });
    },
    TEST_TIMEOUT,
  );

  it(
    'Stop: a message queued before the turn ends comes back as Stop hook feedback, then the agent stops',
    async () => {
      let id = '';
      const e = await start(async (req) => {
        const t = newText(req);
        if (t.includes('Stop hook feedback')) return { text: 'handled the follow-up' };
        if (t.includes('wrap up now')) {
          id = await env!.send('one more thing before you stop');
          return { text: 'first answer' };
        }
        return { text: 'ok' };
      });
      await e.up();
      const turn = await e.prompt('wrap up now');
      const feedback = await findRequest(e, 'a request with Stop hook feedback', (r) => newText(r).includes('Stop hook feedback'));
      expect(e.mainRequests().indexOf(feedback)).toBe(e.mainRequests().indexOf(turn) + 1);
      expect(newText(turn)).not.toContain(`[msg ${id}`);
      expect(newText(feedback)).toMatch(new RegExp(`Stop hook feedback:\\nhornets: 1 new message for cc\\n\\n\\[msg ${id} \\| from cli\\] one more thing before you stop`));

      await e.waitForHook('Stop', 'idle');
      const settled = e.mainRequests().length;
      // The queue is empty, so the second Stop let the turn end: nothing more reaches the model.
      await staysFor('main requests after the idle Stop', () => e.mainRequests().length, settled, 3_000);
      expect(
        e
          .hookLog()
          .filter((l) => l.event === 'Stop')
          .map((l) => l.outcome),
      ).toEqual(['block 1', 'idle']);
      expect(e.hookLog().find((l) => l.event === 'Stop')?.delivered).toEqual([id]);
      expect(deliveriesOf(e.mainRequests(), id)).toBe(1);
      expect(await messageState(e, id)).toEqual({ state: 'confirmed', redeliveries: 0 });
      await e.waitForPrompt();
    },
    TEST_TIMEOUT,
  );

  it(
    'compaction: after /compact the next main request carries the rebrief (rules and the current task)',
    async () => {
      const e = await start(
        (req) => {
          if (isCompactRequest(req)) return { text: '<analysis>a</analysis>\n<summary>SUMMARY-OF-EARLIER-WORK</summary>' };
          // A tool round as part of the task: Claude Code will not compact a single exchange.
          if (hasToolResult(req)) return { text: 'ack: working on it' };
          if (newText(req).includes('start the task')) return { toolUse: echoTool };
          return { text: 'ack' };
        },
        { briefing: 'RULE-7: every answer starts with "ack".', committedSettings: allowEcho },
      );
      await e.up();
      // Queued only after the session started, so UserPromptSubmit (not SessionStart) hands it over.
      await e.waitForHook('SessionStart', 'briefing');
      const id = await e.send('TASK-ALPHA: refactor the parser');
      const taskReq = await e.prompt('start the task');
      // Handed over by UserPromptSubmit, next to the prompt.
      expect(newText(taskReq)).toContain(`UserPromptSubmit hook additional context: hornets: 1 new message for cc\n\n[msg ${id} | from cli] TASK-ALPHA`);
      await e.waitForHook('Stop', 'idle');
      const mark = e.hookLog().length;

      await e.submit('/compact');
      await findRequest(e, 'the summarisation request', isCompactRequest);
      await e.waitForHook('PreCompact', 'snapshot', { after: mark });
      await e.waitForHook('SessionStart', 'rebrief:compact', { after: mark });
      await e.waitForPrompt();
      const compactAt = e.mainRequests().findIndex(isCompactRequest);

      const req = await e.prompt('carry on after compaction');
      expect(e.mainRequests().indexOf(req)).toBe(compactAt + 1);
      // The history was replaced by the summary: the startup briefing is gone, the rebrief took its place.
      const whole = textOf(req.body.messages as Parameters<typeof textOf>[0]);
      expect(whole).toContain('SUMMARY-OF-EARLIER-WORK');
      expect(whole).not.toContain('SessionStart:startup hook success');
      const t = newText(req);
      const rebrief = t.slice(t.indexOf('SessionStart:compact hook success:'));
      expect(t.indexOf('SessionStart:compact hook success:')).toBeGreaterThanOrEqual(0);
      expect(rebrief).not.toContain('<persisted-output>');
      expect(rebrief).toContain('# hornets briefing for cc');
      expect(rebrief).toContain('RULE-7: every answer starts with "ack".');
      expect(rebrief).toContain('Your context was just compacted.');
      expect(rebrief).toMatch(new RegExp(`## Current task\\n- \\[msg ${id}\\] \\((received recently|handed over, not yet confirmed)\\) TASK-ALPHA: refactor the parser`));
      expect(rebrief).toMatch(/## Recent activity\n- \d\d:\d\d:\d\d Bash: echo hornets-tool/);
      expect(rebrief).toContain('## Your last reply\nack: working on it');
      expect(await messageState(e, id)).toEqual({ state: 'confirmed', redeliveries: 0 });
    },
    TEST_TIMEOUT,
  );

  it(
    "keeps the user's own settings.local.json hooks working and restores the file byte for byte",
    async () => {
      const e = await start(
        (req) => {
          if (hasToolResult(req)) return { text: 'tool finished' };
          if (newText(req).includes('run the echo tool')) return { toolUse: echoTool };
          return { text: 'ok' };
        },
        // No committed permission: the tool may only run through the user's own settings.local.json.
      );
      e.addWorktree();
      const userLog = path.join(e.tmp, 'user-hook.log');
      const file = path.join(e.worktree, '.claude', 'settings.local.json');
      // Hand-written: 4-space indents, odd key order, no final newline. Restored means these bytes.
      const original = [
        '{',
        '    "permissions": { "allow": ["Bash(echo:*)"] },',
        '    "hooks": {',
        '        "PostToolUse": [',
        `            { "matcher": "Bash", "hooks": [ { "type": "command", "command": "cat > /dev/null; echo user-hook-ran >> '${userLog}'" } ] }`,
        '        ]',
        '    },',
        '    "env": { "USER_OWN_SETTING": "kept" }',
        '}',
      ].join('\n');
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, original);

      const install = await e.run(['hooks', 'install', '--json']);
      expect(install.code, install.stderr).toBe(0);
      expect(JSON.parse(install.stdout)).toMatchObject([{ agent: AGENT, result: { changed: true, backup: `${file}.hornets-backup` } }]);
      const merged = JSON.parse(readFileSync(file, 'utf8')) as { permissions: unknown; env: unknown; hooks: Record<string, { hooks: { command: string }[] }[]> };
      expect(merged.permissions).toEqual({ allow: ['Bash(echo:*)'] });
      expect(merged.env).toEqual({ USER_OWN_SETTING: 'kept' });
      expect(merged.hooks.PostToolUse!.flatMap((g) => g.hooks.map((h) => h.command))).toEqual([
        `cat > /dev/null; echo user-hook-ran >> '${userLog}'`,
        expect.stringMatching(/ PostToolUse # hornets-tui$/),
      ]);
      const again = await e.run(['hooks', 'install', '--json']);
      expect(JSON.parse(again.stdout)).toMatchObject([{ result: { changed: false } }]);

      const verified = await e.run(['hooks', 'verify', '--json']);
      expect(verified.code, verified.stderr).toBe(0);
      const report = JSON.parse(verified.stdout) as { agents: { result: { events: Record<string, string>; userHooks: number } }[] };
      expect(Object.values(report.agents[0]!.result.events).every((s) => s === 'installed')).toBe(true);
      expect(report.agents[0]!.result.userHooks).toBe(1);

      await e.up();
      await e.prompt('run the echo tool');
      const afterTool = await findRequest(e, 'the request with the tool result', hasToolResult);
      await e.waitForHook('Stop', 'idle');
      // The user's permission let the tool run without a prompt, and both PostToolUse hooks ran.
      expect(newText(afterTool)).toContain('hornets-tool');
      await waitFor('the user hook to write its line', () => existsSync(userLog) && readFileSync(userLog, 'utf8') === 'user-hook-ran\n', 10_000, 50);
      expect(e.hookLog().filter((l) => l.event === 'PostToolUse')).toMatchObject([{ outcome: 'no messages' }]);

      const uninstall = await e.run(['hooks', 'uninstall', '--json']);
      expect(uninstall.code, uninstall.stderr).toBe(0);
      expect(JSON.parse(uninstall.stdout)).toMatchObject([{ result: { changed: true, restoredBackup: true } }]);
      expect(readFileSync(file, 'utf8')).toBe(original);
      expect(existsSync(`${file}.hornets-backup`)).toBe(false);

      const after = await e.run(['hooks', 'verify', '--json']);
      expect(after.code).toBe(1);
      const missing = JSON.parse(after.stdout) as { agents: { result: { events: Record<string, string>; userHooks: number } }[] };
      expect(Object.values(missing.agents[0]!.result.events).every((s) => s === 'missing')).toBe(true);
      expect(missing.agents[0]!.result.userHooks).toBe(1);
    },
    TEST_TIMEOUT,
  );

  it(
    'ten messages of mixed priority arrive in priority order, each exactly once, and end confirmed',
    async () => {
      const priorities = [5, 50, 0, 10, 100, 5, 50, 10, 0, 100];
      const ids: string[] = [];
      // ~1,500 characters each: more than Claude Code's 10,000-character cap on a hook's context, so
      // PostToolUse hands over what fits and the Stop hook brings the rest.
      const body = (i: number) => `ORDER-${i} priority ${priorities[i]} ${'lorem ipsum '.repeat(125)}`;
      const e = await start(
        async (req) => {
          const t = newText(req);
          if (t.includes('Stop hook feedback')) return { text: 'handled the rest' };
          if (hasToolResult(req)) return { text: 'tool finished' };
          if (t.includes('process the batch')) {
            ids.push(...(await env!.enqueueDirect(priorities.map((priority, i) => ({ body: body(i), priority })))));
            return { toolUse: echoTool };
          }
          return { text: 'ok' };
        },
        { committedSettings: allowEcho },
      );
      await e.up();
      await e.prompt('process the batch');
      await e.waitForHook('Stop', 'idle', { timeoutMs: 60_000 });
      await e.waitForPrompt();

      const expected = priorities
        .map((p, i) => ({ p, i }))
        .sort((a, b) => b.p - a.p || a.i - b.i)
        .map(({ i }) => ids[i]!);
      const requests = e.mainRequests();
      expect(arrivalOrder(requests, ids)).toEqual(expected);
      for (const id of ids) expect(deliveriesOf(requests, id), `deliveries of ${id}`).toBe(1);
      // Nothing was cut short by Claude Code: each body reached the model whole.
      for (const r of requests) expect(newText(r)).not.toContain('<persisted-output>');
      for (let i = 0; i < ids.length; i++) expect(requests.some((r) => newText(r).includes(`[msg ${ids[i]} | from e2e] ${body(i)}`))).toBe(true);

      // Split over two hooks, in order: hooks handed out exactly the expected sequence.
      const handed = e.hookLog().filter((l) => (l.delivered ?? []).length > 0);
      expect(handed.map((l) => l.event)).toEqual(['PostToolUse', 'Stop']);
      expect(handed.flatMap((l) => l.delivered ?? [])).toEqual(expected);

      const queue = await e.queue();
      expect(queue).toHaveLength(10);
      for (const m of queue) expect({ id: m.id, state: m.state, redeliveries: m.redeliveries }).toEqual({ id: m.id, state: 'confirmed', redeliveries: 0 });
    },
    TEST_TIMEOUT,
  );
});
