/**
 * End to end on the real Codex CLI (pinned in scripts/agent-clis.json, installed into .cache by
 * scripts/install-agent-clis.mjs) in a real tmux pane started by `hornets-tui up`, talking to the
 * scripted local Responses API. Every check is on what reached the model (the request bodies the
 * API recorded) and on the queue, never on hornets' own word for it. Codex runs our hooks only
 * because `up` wrote their trust entries into CODEX_HOME/config.toml: untrusted, it would stop at
 * its "hooks need review" dialog and no prompt would ever show.
 *
 * Each test has its own project, CODEX_HOME, tmux server and API. Needs `npm run build` and tmux.
 * Outside CI, HORNETS_SKIP_CODEX_E2E=1 skips the suite; in CI a missing CLI fails it.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt } from '../helpers/cli.js';
import { requireAgentCli, skipAgentCliSuite } from '../helpers/agent-clis.js';
import { AGENT, CodexE2E, arrivalOrder, deliveriesOf, developerTexts, hasToolOutput, newItems, newText, textOfItems } from '../helpers/codex-e2e.js';
import { COMPACTION_SUMMARY, isCompactionRequest, type RecordedRequest } from '../helpers/fake-responses-api.js';
import { staysFor } from '../helpers/claude-e2e.js';
import { waitFor } from '../helpers/tmux.js';
import { codexTrustHash } from '../../src/hooks/codex-installer.js';
import { loadProfiles } from '../../src/config/load.js';
import { builtinProfilesDir } from '../../src/config/paths.js';
import { readPane } from '../../src/domain/pane-state.js';

const TEST_TIMEOUT = 120_000;
const echo = { exec: { cmd: 'echo hornets-tool' } };

let env: CodexE2E | null = null;

async function start(...args: Parameters<typeof CodexE2E.create>): Promise<CodexE2E> {
  env = await CodexE2E.create(...args);
  return env;
}

afterEach(async (ctx) => {
  if (env && ctx.task.result?.state === 'fail') console.error(env.diagnostics());
  await env?.cleanup();
  env = null;
});

function findRequest(e: CodexE2E, what: string, pred: (r: RecordedRequest) => boolean, timeoutMs = 30_000): Promise<RecordedRequest> {
  return waitFor(what, () => e.mainRequests().find(pred), timeoutMs, 50);
}

describe.skipIf(skipAgentCliSuite('codex'))('real Codex CLI through hornets hooks', () => {
  beforeAll(() => {
    assertBuilt();
    requireAgentCli('codex');
  });

  it(
    'SessionStart: the briefing and a message queued before the agent starts are in the first turn request, as a developer message',
    async () => {
      const e = await start(() => ({ text: 'noted' }), { briefing: 'RULE-START: answer in one line.' });
      const id = await e.send('queued before start');
      await e.up();
      const req = await e.prompt('first prompt');

      expect(e.mainRequests()[0]).toBe(req);
      const briefing = developerTexts(req).find((t) => t.startsWith('# hornets briefing for cx'));
      expect(briefing).toBeDefined();
      expect(briefing).toContain('RULE-START: answer in one line.');
      expect(briefing).toContain(`[msg ${id} | from cli] queued before start`);

      await e.waitForHook('Stop', 'idle');
      expect(e.hookLog().find((l) => l.event === 'SessionStart')).toMatchObject({ outcome: 'briefing', delivered: [id] });
      expect(deliveriesOf(e.mainRequests(), id)).toBe(1);
      expect(await e.messageState(id)).toEqual({ state: 'confirmed', redeliveries: 0 });
    },
    TEST_TIMEOUT,
  );
});

describe.skipIf(skipAgentCliSuite('codex'))('real Codex CLI through hornets hooks: deliveries', () => {
  beforeAll(() => {
    assertBuilt();
    requireAgentCli('codex');
  });

  it(
    'PostToolUse: a message queued while a tool runs arrives beside the tool output, as a developer message',
    async () => {
      let id = '';
      const e = await start(async (req) => {
        if (hasToolOutput(req)) return { text: 'tool finished' };
        if (newText(req).includes('please run the tool')) {
          id = await env!.send('sent while the tool runs');
          return echo;
        }
        return { text: 'ok' };
      });
      await e.up();
      const first = await e.prompt('please run the tool');
      const afterTool = await findRequest(e, 'the request with the tool output', hasToolOutput);
      await e.waitForHook('Stop', 'idle');

      expect(id).not.toBe('');
      expect(newText(first)).not.toContain(`[msg ${id}`);
      expect(e.mainRequests().indexOf(afterTool)).toBe(e.mainRequests().indexOf(first) + 1);
      const fresh = newItems(afterTool);
      const output = fresh.findIndex((it) => it.type === 'function_call_output');
      const context = fresh.findIndex((it) => it.type === 'message' && it.role === 'developer');
      expect(String(fresh[output]!.output)).toContain('hornets-tool');
      // Codex puts PostToolUse's context right before the tool's output, in the same round.
      expect(context).toBe(output - 1);
      expect(developerTexts(afterTool)).toEqual([`hornets: 1 new message for cx\n\n[msg ${id} | from cli] sent while the tool runs`]);

      expect(e.hookLog().filter((l) => l.event === 'PostToolUse')).toMatchObject([{ outcome: 'delivered', delivered: [id] }]);
      expect(deliveriesOf(e.mainRequests(), id)).toBe(1);
      expect(await e.messageState(id)).toEqual({ state: 'confirmed', redeliveries: 0 });
    },
    TEST_TIMEOUT,
  );

  it(
    'Stop: a message queued before the turn ends comes back as a new user message, then the agent stops',
    async () => {
      let id = '';
      const e = await start(async (req) => {
        const t = newText(req);
        if (t.includes('<hook_prompt')) return { text: 'handled the follow-up' };
        if (t.includes('wrap up now')) {
          id = await env!.send('one more thing before you stop');
          return { text: 'first answer' };
        }
        return { text: 'ok' };
      });
      await e.up();
      const turn = await e.prompt('wrap up now');
      const feedback = await findRequest(e, 'a request with the Stop hook prompt', (r) => newText(r).includes('<hook_prompt'));
      expect(e.mainRequests().indexOf(feedback)).toBe(e.mainRequests().indexOf(turn) + 1);
      expect(newText(turn)).not.toContain(`[msg ${id}`);
      const user = newItems(feedback).filter((it) => it.type === 'message' && it.role === 'user');
      expect(user).toHaveLength(1);
      expect(newText(feedback)).toMatch(
        new RegExp(`^<hook_prompt hook_run_id="stop:[^"]*">hornets: 1 new message for cx\\n\\n\\[msg ${id} \\| from cli\\] one more thing before you stop</hook_prompt>$`),
      );

      await e.waitForHook('Stop', 'idle');
      const settled = e.mainRequests().length;
      await staysFor('turn requests after the idle Stop', () => e.mainRequests().length, settled, 3_000);
      expect(
        e
          .hookLog()
          .filter((l) => l.event === 'Stop')
          .map((l) => l.outcome),
      ).toEqual(['block 1', 'idle']);
      expect(e.hookLog().find((l) => l.event === 'Stop')?.delivered).toEqual([id]);
      expect(deliveriesOf(e.mainRequests(), id)).toBe(1);
      expect(await e.messageState(id)).toEqual({ state: 'confirmed', redeliveries: 0 });
      await e.waitForPrompt();
    },
    TEST_TIMEOUT,
  );

  it(
    'idle nudge: with the engine running, a message sent while Codex waits at its prompt is typed as a nudge, handed over by UserPromptSubmit, and confirmed',
    async () => {
      const e = await start((req) => (newText(req).includes('[hornets:') ? { text: 'got it' } : { text: 'ok' }));
      await e.cli.ok(['daemon', 'start']);
      await e.up();
      // Codex 0.171.0 starts its session (and runs SessionStart) only with the first prompt.
      await e.prompt('hello');
      await e.waitForHook('Stop', 'idle');
      await e.waitForPrompt();
      const id = await e.send('delivered through a nudge');
      const nudged = await findRequest(e, 'the turn the nudge started', (r) => newText(r).includes('[hornets:'), 60_000);
      await e.waitForHook('UserPromptSubmit', 'nudge: delivered');
      await e.waitForHook('Stop', 'idle');

      // The nudge carries a nonce, never the message; the message comes as the hook's context.
      expect(newText(nudged)).not.toMatch(new RegExp(`\\[hornets:[0-9a-z]+\\][^\\n]*delivered through a nudge`));
      expect(developerTexts(nudged)).toContain(`hornets: 1 new message for cx\n\n[msg ${id} | from cli] delivered through a nudge`);
      expect(deliveriesOf(e.mainRequests(), id)).toBe(1);
      await waitFor('the message to be confirmed', async () => (await e.messageState(id)).state === 'confirmed', 20_000, 200);
      expect(await e.messageState(id)).toEqual({ state: 'confirmed', redeliveries: 0 });
    },
    TEST_TIMEOUT,
  );

  it(
    'ten messages of mixed priority arrive in priority order, each exactly once and whole, and end confirmed',
    async () => {
      const priorities = [5, 50, 0, 10, 100, 5, 50, 10, 0, 100];
      const ids: string[] = [];
      // ~1,500 characters each: more than the 10,000 characters a context hook hands over at once,
      // so PostToolUse hands over what fits and the Stop hook brings the rest.
      const body = (i: number) => `ORDER-${i} priority ${priorities[i]} ${'lorem ipsum '.repeat(125)}`;
      const e = await start(async (req) => {
        const t = newText(req);
        if (t.includes('<hook_prompt')) return { text: 'handled the rest' };
        if (hasToolOutput(req)) return { text: 'tool finished' };
        if (t.includes('process the batch')) {
          ids.push(...(await env!.enqueueDirect(priorities.map((priority, i) => ({ body: body(i), priority })))));
          return echo;
        }
        return { text: 'ok' };
      });
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
      // Each body reached the model whole (Codex trims the trailing space of a Stop reason's last line).
      for (let i = 0; i < ids.length; i++) expect(requests.some((r) => newText(r).includes(`[msg ${ids[i]} | from e2e] ${body(i).trimEnd()}`))).toBe(true);

      const handed = e.hookLog().filter((l) => (l.delivered ?? []).length > 0);
      expect(handed.map((l) => l.event)).toEqual(['PostToolUse', 'Stop']);
      expect(handed.flatMap((l) => l.delivered ?? [])).toEqual(expected);

      const queue = await e.queue();
      expect(queue).toHaveLength(10);
      for (const m of queue) expect({ id: m.id, state: m.state, redeliveries: m.redeliveries }).toEqual({ id: m.id, state: 'confirmed', redeliveries: 0 });
    },
    TEST_TIMEOUT,
  );

  it(
    "keeps the user's own hooks.json hook working beside ours and restores hooks.json and config.toml byte for byte",
    async () => {
      const e = await start((req) => {
        if (hasToolOutput(req)) return { text: 'tool finished' };
        if (newText(req).includes('run the echo tool')) return echo;
        return { text: 'ok' };
      });
      e.addWorktree();
      const userLog = path.join(e.tmp, 'user-hook.log');
      const file = path.join(e.codexHome, 'hooks.json');
      const userCommand = `cat > /dev/null; echo user-hook-ran >> '${userLog}'`;
      // Hand-written: 4-space indents, odd key order, no final newline.
      const original = ['{', '    "hooks": {', `        "PostToolUse": [ { "hooks": [ { "timeout": 10, "type": "command", "command": ${JSON.stringify(userCommand)} } ] } ]`, '    }', '}'].join('\n');
      writeFileSync(file, original);
      // The user approved their hook in Codex, which recorded its trust entry.
      const userConfig = `${readFileSync(e.configToml, 'utf8')}\n[hooks.state.${JSON.stringify(`${file}:post_tool_use:0:0`)}]\ntrusted_hash = "${codexTrustHash('PostToolUse', { command: userCommand, timeout: 10 })}"\n`;
      writeFileSync(e.configToml, userConfig);

      const install = await e.run(['hooks', 'install', '--json']);
      expect(install.code, install.stderr).toBe(0);
      expect(JSON.parse(install.stdout)).toMatchObject([
        { agent: AGENT, result: { changed: true, backup: `${file}.hornets-backup`, trust: { changed: true, backup: `${e.configToml}.hornets-backup` } } },
      ]);
      const merged = JSON.parse(readFileSync(file, 'utf8')) as { hooks: Record<string, { hooks: { command: string }[] }[]> };
      expect(merged.hooks.PostToolUse!.flatMap((g) => g.hooks.map((h) => h.command))).toEqual([userCommand, expect.stringMatching(/ PostToolUse codex # hornets-tui$/)]);
      const again = await e.run(['hooks', 'install', '--json']);
      expect(JSON.parse(again.stdout)).toMatchObject([{ result: { changed: false, trust: { changed: false } } }]);
      const verified = await e.run(['hooks', 'verify', '--json']);
      expect(verified.code, verified.stdout).toBe(0);
      const report = JSON.parse(verified.stdout) as { agents: { result: { events: Record<string, string>; userHooks: number; untrusted: string[] } }[] };
      expect(Object.values(report.agents[0]!.result.events).every((s) => s === 'installed')).toBe(true);
      expect(report.agents[0]!.result).toMatchObject({ userHooks: 1, untrusted: [] });
      // The version of the binary the profile runs, against the one the protocol table was checked on.
      expect((JSON.parse(verified.stdout) as { codex: unknown }).codex).toEqual([{ binary: e.codexBin, agents: [AGENT], version: '0.171.0', support: 'codex 0.171.0: hooks verified on 0.171.0' }]);

      await e.up();
      await e.prompt('run the echo tool');
      await findRequest(e, 'the request with the tool output', hasToolOutput);
      await e.waitForHook('Stop', 'idle');
      await waitFor('the user hook to write its line', () => existsSync(userLog) && readFileSync(userLog, 'utf8') === 'user-hook-ran\n', 10_000, 50);
      expect(e.hookLog().filter((l) => l.event === 'PostToolUse')).toMatchObject([{ outcome: 'no messages' }]);

      const uninstall = await e.run(['hooks', 'uninstall', '--json']);
      expect(uninstall.code, uninstall.stderr).toBe(0);
      expect(JSON.parse(uninstall.stdout)).toMatchObject([{ result: { changed: true, restoredBackup: true, trustRemoved: true } }]);
      expect(readFileSync(file, 'utf8')).toBe(original);
      expect(readFileSync(e.configToml, 'utf8')).toBe(userConfig);
      expect(existsSync(`${file}.hornets-backup`)).toBe(false);
      expect(existsSync(`${e.configToml}.hornets-backup`)).toBe(false);

      const after = await e.run(['hooks', 'verify', '--json']);
      expect(after.code).toBe(1);
    },
    TEST_TIMEOUT,
  );

  it(
    "restart resumes the agent's own session (`codex resume <id>`, the id taken from its hooks): the history is back and SessionStart rebriefs",
    async () => {
      const e = await start((req) => (newText(req).includes('what was the word') ? { text: 'PELICAN' } : { text: 'noted' }), { briefing: 'RULE-R: keep it short.' });
      await e.up();
      await e.prompt('remember the word PELICAN');
      await e.waitForHook('Stop', 'idle');
      const { sessionId, generation } = await e.agentRecord();
      expect(sessionId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      const mark = e.hookLog().length;
      const before = e.mainRequests().length;

      await e.cli.ok(['restart', AGENT]);
      await waitFor('the pane restarted with resume', () => (e.paneCommand().includes(`resume ${sessionId!}`) ? true : null), 20_000, 100);
      await e.waitForPrompt();
      const req = await e.prompt('what was the word');
      await e.waitForHook('Stop', 'idle', { after: mark });

      expect(e.mainRequests().indexOf(req)).toBe(before);
      // The resumed session sends the earlier conversation with the new prompt.
      expect(textOfItems(req.body.input as Parameters<typeof textOfItems>[0])).toContain('remember the word PELICAN');
      const start_ = e
        .hookLog()
        .slice(mark)
        .find((l) => l.event === 'SessionStart');
      expect(start_?.outcome).toBe('rebrief:resume');
      const rebrief = developerTexts(req).find((t) => t.includes('This session was resumed after a restart.'));
      expect(rebrief).toContain('RULE-R: keep it short.');
      const after = await e.agentRecord();
      expect(after).toMatchObject({ sessionId, generation: generation + 1 });
    },
    TEST_TIMEOUT,
  );

  it(
    'compaction: after /compact (PreCompact snapshot) the next turn carries the rebrief from SessionStart "compact": rules, the current task, recent activity, the last reply',
    async () => {
      const e = await start(
        (req) => {
          if (hasToolOutput(req)) return { text: 'ack: working on it' };
          if (newText(req).includes('start the task')) return echo;
          return { text: 'ack' };
        },
        { briefing: 'RULE-7: every answer starts with "ack".' },
      );
      await e.up();
      await e.prompt('hello');
      await e.waitForHook('Stop', 'idle');
      const id = await e.send('TASK-ALPHA: refactor the parser');
      const taskMark = e.hookLog().length;
      const taskReq = await e.prompt('start the task');
      expect(developerTexts(taskReq)).toContain(`hornets: 1 new message for cx\n\n[msg ${id} | from cli] TASK-ALPHA: refactor the parser`);
      await findRequest(e, 'the request with the tool output', hasToolOutput);
      await e.waitForHook('Stop', 'idle', { after: taskMark });
      await e.waitForPrompt();
      const mark = e.hookLog().length;

      await e.submit('/compact');
      await waitFor('the compaction request', () => e.api.requests.find(isCompactionRequest), 30_000, 50);
      await e.waitForHook('PreCompact', 'snapshot', { after: mark });
      await e.waitForPrompt();

      const req = await e.prompt('carry on after compaction');
      await e.waitForHook('SessionStart', 'rebrief:compact', { after: mark });
      const whole = textOfItems(req.body.input as Parameters<typeof textOfItems>[0]);
      expect(whole).toContain(COMPACTION_SUMMARY);
      const rebrief = developerTexts(req).find((t) => t.includes('Your context was just compacted.')) ?? '';
      expect(rebrief).toContain('# hornets briefing for cx');
      expect(rebrief).toContain('RULE-7: every answer starts with "ack".');
      expect(rebrief).toMatch(new RegExp(`## Current task\\n- \\[msg ${id}\\] \\((received recently|handed over, not yet confirmed)\\) TASK-ALPHA: refactor the parser`));
      expect(rebrief).toMatch(/## Recent activity\n- \d\d:\d\d:\d\d Bash: echo hornets-tool/);
      expect(rebrief).toContain('## Your last reply\nack: working on it');
      expect(await e.messageState(id)).toEqual({ state: 'confirmed', redeliveries: 0 });
    },
    TEST_TIMEOUT,
  );

  it(
    'no one types: Codex runs SessionStart only with a first prompt, so the engine nudges, and the session that starts hands over the briefing and the message',
    async () => {
      const e = await start(() => ({ text: 'ok' }));
      await e.cli.ok(['daemon', 'start']);
      const id = await e.send('waiting before the first prompt');
      await e.up();
      const nudged = await findRequest(e, 'the turn the nudge started', (r) => newText(r).includes('[hornets:'), 90_000);
      await e.waitForHook('Stop', 'idle');
      expect(e.hookLog().map((l) => `${l.event} ${l.outcome ?? ''}`)).toEqual(['SessionStart briefing', 'UserPromptSubmit nudge: queue empty', 'Stop idle']);
      const briefing = developerTexts(nudged).find((t) => t.startsWith('# hornets briefing for cx')) ?? '';
      expect(briefing).toContain(`[msg ${id} | from cli] waiting before the first prompt`);
      expect(deliveriesOf(e.mainRequests(), id)).toBe(1);
      await waitFor('the message to be confirmed', async () => (await e.messageState(id)).state === 'confirmed', 20_000, 200);
    },
    TEST_TIMEOUT,
  );
});

describe.skipIf(skipAgentCliSuite('codex'))('real Codex CLI through hornets hooks: its approval prompt', () => {
  beforeAll(() => {
    assertBuilt();
    requireAgentCli('codex');
  });

  it(
    'while Codex asks to approve a command, the profile reads its screen as a permission prompt and the engine types nothing into it; approved, the tool runs and PostToolUse hands the message over',
    async () => {
      const e = await start(
        (req) => {
          if (hasToolOutput(req)) return { text: 'tool finished' };
          // The model asks to run outside the sandbox, which "on-request" puts to the user.
          if (newText(req).includes('make the file'))
            return { exec: { cmd: 'touch made-by-tool.txt', sandbox_permissions: 'require_escalated', justification: 'Create the file the user asked for' } as { cmd: string } };
          return { text: 'ok' };
        },
        { config: ['approval_policy = "on-request"', 'sandbox_mode = "workspace-write"'] },
      );
      await e.cli.ok(['daemon', 'start']);
      await e.up();
      await e.prompt('hello');
      await e.waitForHook('Stop', 'idle');
      await e.waitForPrompt();
      await e.prompt('make the file');
      await waitFor('the approval prompt', () => (/Yes, proceed/.test(e.screen()) ? true : null), 30_000, 100);
      const patterns = loadProfiles([builtinProfilesDir()]).get('codex')!.patterns;
      expect(readPane(patterns, e.screen(), { typed: ['make the file'] })).toEqual({ verdict: 'permission', line: '› 1. Yes, proceed (y)' });

      const id = await e.send('sent while Codex asks');
      // Past the engine's "busy but silent" limit (15 s) and a reconciliation (every 10 s): the
      // screen is read, and a permission prompt is no prompt to type a nudge into.
      await staysFor('the approval prompt on screen, nothing typed into it', () => /Yes, proceed/.test(e.screen()) && !e.screen().includes('[hornets:'), true, 30_000);
      expect(await e.messageState(id)).toEqual({ state: 'queued', redeliveries: 0 });
      expect((await e.agentRecord()).state).toBe('busy');

      e.keys('y');
      const afterTool = await findRequest(e, 'the request with the tool output', hasToolOutput);
      await e.waitForHook('Stop', 'idle');
      expect(existsSync(path.join(e.worktree, 'made-by-tool.txt'))).toBe(true);
      expect(developerTexts(afterTool)).toEqual([`hornets: 1 new message for cx\n\n[msg ${id} | from cli] sent while Codex asks`]);
      expect(deliveriesOf(e.mainRequests(), id)).toBe(1);
      await waitFor('the message to be confirmed', async () => (await e.messageState(id)).state === 'confirmed', 20_000, 200);
    },
    TEST_TIMEOUT,
  );
});
