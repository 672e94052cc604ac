/**
 * End to end on the real Gemini CLI (pinned in scripts/agent-clis.json, installed into .cache by
 * scripts/install-agent-clis.mjs) in a real tmux pane started by `hornets-tui up`, talking to the
 * scripted local Gemini API. Every check is on what reached the model (the request bodies the API
 * recorded) and on the queue, never on hornets' own word for it. Gemini runs our project hooks
 * only because `up` trusted the agent's worktree in GEMINI_CLI_HOME/.gemini/trustedFolders.json:
 * folder trust stays on, as the user set it.
 *
 * Each test has its own project, GEMINI_CLI_HOME, tmux server and API. Needs `npm run build` and
 * tmux. Outside CI, HORNETS_SKIP_GEMINI_E2E=1 skips the suite; in CI a missing CLI fails it.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt } from '../helpers/cli.js';
import { requireAgentCli, skipAgentCliSuite } from '../helpers/agent-clis.js';
import { AGENT, GeminiE2E, arrivalOrder, countOccurrences, deliveriesOf, hasToolOutput, hookContexts, newText, toolOutput, wholeText } from '../helpers/gemini-e2e.js';
import { GEMINI_COMPRESSION_SUMMARY, type GeminiRequest } from '../helpers/fake-gemini-api.js';
import { GEMINI_COMPRESSION_ACK } from '../../src/hooks/compression-marker.js';
import { staysFor } from '../helpers/claude-e2e.js';
import { git, waitFor } from '../helpers/tmux.js';

const TEST_TIMEOUT = 120_000;
/** Five turns and two compressions (each two summary calls) in one test. */
const COMPRESSION_TEST_TIMEOUT = 180_000;
const echo = { shell: 'echo hornets-tool' };

let env: GeminiE2E | null = null;

async function start(...args: Parameters<typeof GeminiE2E.create>): Promise<GeminiE2E> {
  env = await GeminiE2E.create(...args);
  return env;
}

afterEach(async (ctx) => {
  if (env && ctx.task.result?.state === 'fail') console.error(env.diagnostics());
  await env?.cleanup();
  env = null;
});

function findRequest(e: GeminiE2E, what: string, pred: (r: GeminiRequest) => boolean, timeoutMs = 30_000): Promise<GeminiRequest> {
  return waitFor(what, () => e.mainRequests().find(pred), timeoutMs, 50);
}

describe.skipIf(skipAgentCliSuite('gemini'))('real Gemini CLI through hornets hooks', () => {
  beforeAll(() => {
    assertBuilt();
    requireAgentCli('gemini');
  });

  it(
    'SessionStart: the briefing and a message queued before the agent starts are in the first turn request, as hook context',
    async () => {
      const e = await start(() => ({ text: 'noted' }), { briefing: 'RULE-START: answer in one line.' });
      const id = await e.send('queued before start');
      await e.up();
      await e.waitForHook('SessionStart', 'briefing');
      const req = await e.prompt('first prompt');

      expect(e.mainRequests()[0]).toBe(req);
      const briefing = hookContexts(req).find((t) => t.startsWith('# hornets briefing for gm'));
      expect(briefing).toBeDefined();
      expect(briefing).toContain('RULE-START: answer in one line.');
      expect(briefing).toContain(`[msg ${id} | from cli] queued before start`);

      await e.waitForHook('AfterAgent', 'idle');
      expect(e.hookLog().find((l) => l.event === 'SessionStart')).toMatchObject({ outcome: 'briefing', delivered: [id] });
      expect(deliveriesOf(e.mainRequests(), id)).toBe(1);
      expect(await e.messageState(id)).toEqual({ state: 'confirmed', redeliveries: 0 });
    },
    TEST_TIMEOUT,
  );

  it(
    'AfterTool: a message queued while a tool runs arrives inside the tool output of the next request',
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
      await e.waitForHook('AfterAgent', 'idle');

      expect(id).not.toBe('');
      expect(newText(first)).not.toContain(`[msg ${id}`);
      expect(e.mainRequests().indexOf(afterTool)).toBe(e.mainRequests().indexOf(first) + 1);
      // Gemini appends AfterTool's context to the tool's own output, in the same round. (The output
      // itself is Gemini's: under load its shell tool now and then reports `Output: (empty)` for
      // the echo, which is not hornets' to check.)
      expect(toolOutput(afterTool)).toMatch(/^<untrusted_context>\nOutput: (hornets-tool|\(empty\))\n[\s\S]*<\/untrusted_context>\n\n<hook_context>/);
      expect(toolOutput(afterTool)).toContain(`<hook_context>hornets: 1 new message for gm\n\n[msg ${id} | from cli] sent while the tool runs</hook_context>`);

      expect(e.hookLog().filter((l) => l.event === 'AfterTool')).toMatchObject([{ outcome: 'delivered', delivered: [id] }]);
      expect(deliveriesOf(e.mainRequests(), id)).toBe(1);
      expect(await e.messageState(id)).toEqual({ state: 'confirmed', redeliveries: 0 });
    },
    TEST_TIMEOUT,
  );

  it(
    'AfterAgent: a message queued before the turn ends comes back as a new user message, then the agent stops',
    async () => {
      let id = '';
      const e = await start(async (req) => {
        const t = newText(req);
        if (t.includes('one more thing before you stop')) return { text: 'handled the follow-up' };
        if (t.includes('wrap up now')) {
          id = await env!.send('one more thing before you stop');
          return { text: 'first answer' };
        }
        return { text: 'ok' };
      });
      await e.up();
      const turn = await e.prompt('wrap up now');
      const feedback = await findRequest(e, 'a request with the AfterAgent reason', (r) => newText(r).includes('one more thing before you stop'));
      expect(e.mainRequests().indexOf(feedback)).toBe(e.mainRequests().indexOf(turn) + 1);
      expect(newText(turn)).not.toContain(`[msg ${id}`);
      expect(newText(feedback).startsWith(`hornets: 1 new message for gm\n\n[msg ${id} | from cli] one more thing before you stop`)).toBe(true);

      await waitFor('two AfterAgent hooks', () => (e.hookLog().filter((l) => l.event === 'AfterAgent').length >= 2 ? true : null), 30_000, 50);
      const settled = e.mainRequests().length;
      await staysFor('turn requests after the idle AfterAgent', () => e.mainRequests().length, settled, 3_000);
      expect(
        e
          .hookLog()
          .filter((l) => l.event === 'AfterAgent')
          .map((l) => l.outcome),
      ).toEqual(['block 1', 'idle']);
      expect(e.hookLog().find((l) => l.event === 'AfterAgent')?.delivered).toEqual([id]);
      expect(deliveriesOf(e.mainRequests(), id)).toBe(1);
      expect(await e.messageState(id)).toEqual({ state: 'confirmed', redeliveries: 0 });
      await e.waitForPrompt();
    },
    TEST_TIMEOUT,
  );
});

describe.skipIf(skipAgentCliSuite('gemini'))('real Gemini CLI through hornets hooks: engine, order, user settings', () => {
  beforeAll(() => {
    assertBuilt();
    requireAgentCli('gemini');
  });

  it(
    'idle nudge: with the engine running, a message sent while Gemini waits at its prompt is typed as a nudge, handed over by BeforeAgent, and confirmed',
    async () => {
      const e = await start((req) => (newText(req).includes('[hornets:') ? { text: 'got it' } : { text: 'ok' }));
      await e.cli.ok(['daemon', 'start']);
      await e.up();
      await e.prompt('hello');
      await e.waitForHook('AfterAgent', 'idle');
      await e.waitForPrompt();
      const id = await e.send('delivered through a nudge');
      const nudged = await findRequest(e, 'the turn the nudge started', (r) => newText(r).includes('[hornets:'), 60_000);
      await e.waitForHook('BeforeAgent', 'nudge: delivered');

      // The nudge carries a nonce, never the message; the message comes as the hook's context.
      expect(newText(nudged)).not.toMatch(/\[hornets:[0-9a-z]+\][^\n]*delivered through a nudge/);
      expect(hookContexts(nudged)).toContain(`hornets: 1 new message for gm\n\n[msg ${id} | from cli] delivered through a nudge`);
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
      // ~1,500 characters each: more than one context hook hands over at once, so AfterTool hands
      // over what fits and AfterAgent brings the rest.
      const body = (i: number) => `ORDER-${i} priority ${priorities[i]} ${'lorem ipsum '.repeat(125)}`;
      const e = await start(async (req) => {
        const t = newText(req);
        if (t.startsWith('hornets: ')) return { text: 'handled the rest' };
        if (hasToolOutput(req)) return { text: 'tool finished' };
        if (t.includes('process the batch')) {
          ids.push(...(await env!.enqueueDirect(priorities.map((priority, i) => ({ body: body(i), priority })))));
          return echo;
        }
        return { text: 'ok' };
      });
      await e.up();
      await e.prompt('process the batch');
      await e.waitForHook('AfterAgent', 'idle', { timeoutMs: 60_000 });
      await e.waitForPrompt();

      const expected = priorities
        .map((p, i) => ({ p, i }))
        .sort((a, b) => b.p - a.p || a.i - b.i)
        .map(({ i }) => ids[i]!);
      const requests = e.mainRequests();
      expect(arrivalOrder(requests, ids)).toEqual(expected);
      for (const id of ids) expect(deliveriesOf(requests, id), `deliveries of ${id}`).toBe(1);
      for (let i = 0; i < ids.length; i++) expect(requests.some((r) => newText(r).includes(`[msg ${ids[i]} | from e2e] ${body(i).trimEnd()}`))).toBe(true);

      const handed = e.hookLog().filter((l) => (l.delivered ?? []).length > 0);
      expect(handed.map((l) => l.event)).toEqual(['AfterTool', 'AfterAgent']);
      expect(handed.flatMap((l) => l.delivered ?? [])).toEqual(expected);

      const queue = await e.queue();
      expect(queue).toHaveLength(10);
      for (const m of queue) expect({ id: m.id, state: m.state, redeliveries: m.redeliveries }).toEqual({ id: m.id, state: 'confirmed', redeliveries: 0 });
    },
    TEST_TIMEOUT,
  );

  it(
    "keeps the user's own project hook working beside ours and restores .gemini/settings.json and trustedFolders.json byte for byte",
    async () => {
      const e = await start((req) => {
        if (hasToolOutput(req)) return { text: 'tool finished' };
        if (newText(req).includes('run the echo tool')) return echo;
        return { text: 'ok' };
      });
      e.addWorktree();
      const userLog = path.join(e.tmp, 'user-hook.log');
      const file = path.join(e.worktree, '.gemini', 'settings.json');
      const userCommand = `cat > /dev/null; echo user-hook-ran >> '${userLog}'`;
      mkdirSync(path.dirname(file));
      // Hand-written: 4-space indents, odd key order, no final newline.
      const original = ['{', '    "hooks": {', `        "AfterTool": [ { "hooks": [ { "timeout": 10000, "type": "command", "command": ${JSON.stringify(userCommand)} } ] } ]`, '    }', '}'].join('\n');
      writeFileSync(file, original);
      // The user trusts another folder of theirs.
      const userTrust = `{\n  ${JSON.stringify(path.join(e.tmp, 'elsewhere'))}: "TRUST_FOLDER"\n}`;
      writeFileSync(e.trustFile, userTrust);

      const install = await e.run(['hooks', 'install', '--json']);
      expect(install.code, install.stderr).toBe(0);
      expect(JSON.parse(install.stdout)).toMatchObject([
        { agent: AGENT, result: { changed: true, backup: `${file}.hornets-backup`, trust: { changed: true, backup: `${e.trustFile}.hornets-backup` } } },
      ]);
      const merged = JSON.parse(readFileSync(file, 'utf8')) as { hooks: Record<string, { hooks: { command: string }[] }[]> };
      expect(merged.hooks.AfterTool!.flatMap((g) => g.hooks.map((h) => h.command))).toEqual([userCommand, expect.stringMatching(/ AfterTool gemini # hornets-tui$/)]);
      const again = await e.run(['hooks', 'install', '--json']);
      expect(JSON.parse(again.stdout)).toMatchObject([{ result: { changed: false, trust: { changed: false } } }]);
      const verified = await e.run(['hooks', 'verify', '--json']);
      expect(verified.code, verified.stdout).toBe(0);
      const report = JSON.parse(verified.stdout) as { agents: { result: { events: Record<string, string>; userHooks: number; untrusted: string[] } }[] };
      expect(Object.values(report.agents[0]!.result.events).every((s) => s === 'installed')).toBe(true);
      expect(report.agents[0]!.result).toMatchObject({ userHooks: 1, untrusted: [] });
      // The version of the binary the profile runs, against the one the protocol table was checked on.
      expect((JSON.parse(verified.stdout) as { gemini: unknown }).gemini).toEqual([{ binary: e.geminiBin, agents: [AGENT], version: '0.61.0', support: 'gemini 0.61.0: hooks verified on 0.61.0' }]);

      await e.up();
      // `up` keeps our file (and its backup) out of the agent's commits.
      expect(git(e.worktree, ['status', '--porcelain', '--untracked-files=all'])).not.toContain('.gemini');
      await e.prompt('run the echo tool');
      await findRequest(e, 'the request with the tool output', hasToolOutput);
      await e.waitForHook('AfterAgent', 'idle');
      await waitFor('the user hook to write its line', () => existsSync(userLog) && readFileSync(userLog, 'utf8') === 'user-hook-ran\n', 10_000, 50);
      expect(e.hookLog().filter((l) => l.event === 'AfterTool')).toMatchObject([{ outcome: 'no messages' }]);

      const uninstall = await e.run(['hooks', 'uninstall', '--json']);
      expect(uninstall.code, uninstall.stderr).toBe(0);
      expect(JSON.parse(uninstall.stdout)).toMatchObject([{ result: { changed: true, restoredBackup: true, trustRemoved: true } }]);
      expect(readFileSync(file, 'utf8')).toBe(original);
      expect(readFileSync(e.trustFile, 'utf8')).toBe(userTrust);
      expect(existsSync(`${file}.hornets-backup`)).toBe(false);
      expect(existsSync(`${e.trustFile}.hornets-backup`)).toBe(false);
    },
    TEST_TIMEOUT,
  );

  it(
    "restart resumes the agent's own session (`gemini --resume <id>`, the id taken from its hooks): the history is back, and the rebrief and a waiting message reach the first request once",
    async () => {
      const e = await start((req) => (newText(req).includes('what was the word') ? { text: 'PELICAN' } : { text: 'noted' }), { briefing: 'RULE-R: keep it short.' });
      await e.up();
      await e.prompt('remember the word PELICAN');
      await e.waitForHook('AfterAgent', 'idle');
      const { sessionId, generation } = await e.agentRecord();
      expect(sessionId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      const mark = e.hookLog().length;
      // No daemon, so no nudge: it waits through the restart for the first hook that can hand it over.
      const id = await e.send('waiting through the restart');

      await e.cli.ok(['restart', AGENT]);
      await waitFor('the pane restarted with resume', () => (e.paneCommand().includes(`--resume ${sessionId!}`) ? true : null), 20_000, 100);
      await e.waitForPrompt();
      const req = await e.prompt('what was the word');
      await e.waitForHook('AfterAgent', 'idle', { after: mark });

      expect(wholeText(req)).toContain('remember the word PELICAN');
      const start_ = e
        .hookLog()
        .slice(mark)
        .find((l) => l.event === 'SessionStart');
      expect(start_?.outcome).toBe('rebrief:resume');
      expect(wholeText(req)).toContain('This session was resumed after a restart.');
      // Gemini may drop SessionStart's context on resume (protocols.ts): BeforeAgent hands both over,
      // into the first request, once.
      expect(e.mainRequests().reduce((n, r) => n + countOccurrences(newText(r), 'This session was resumed after a restart.'), 0)).toBe(1);
      expect(newText(req)).toContain(`[msg ${id} | from cli] waiting through the restart`);
      expect(deliveriesOf(e.mainRequests(), id)).toBe(1);
      expect(await e.agentRecord()).toMatchObject({ sessionId, generation: generation + 1 });
    },
    TEST_TIMEOUT,
  );

  it(
    'no one types: the briefing and the waiting message go in with SessionStart, and the engine nudges the idle agent so that a turn carries them',
    async () => {
      const e = await start(() => ({ text: 'ok' }));
      await e.cli.ok(['daemon', 'start']);
      const id = await e.send('waiting before the first prompt');
      await e.up();
      const nudged = await findRequest(e, 'the turn the nudge started', (r) => newText(r).includes('[hornets:'), 90_000);
      await e.waitForHook('AfterAgent', 'idle');
      expect(e.hookLog().find((l) => l.event === 'SessionStart')).toMatchObject({ outcome: 'briefing', delivered: [id] });
      const briefing = hookContexts(nudged).find((t) => t.startsWith('# hornets briefing for gm')) ?? '';
      expect(briefing).toContain(`[msg ${id} | from cli] waiting before the first prompt`);
      expect(deliveriesOf(e.mainRequests(), id)).toBe(1);
      await waitFor('the message to be confirmed', async () => (await e.messageState(id)).state === 'confirmed', 20_000, 200);
      expect(await e.messageState(id)).toEqual({ state: 'confirmed', redeliveries: 0 });
    },
    TEST_TIMEOUT,
  );
});

/** The rebrief's own line (compose.ts), the same text Claude Code gets after SessionStart `compact`. */
const REBRIEF = 'Your context was just compacted.';
/** Occurrences of the rebrief in what each request brought in new: how often it was handed over. */
const rebriefsHandedOver = (requests: GeminiRequest[]) => requests.reduce((n, r) => n + countOccurrences(newText(r), REBRIEF), 0);
const summaryRe = new RegExp(`<state_snapshot>${GEMINI_COMPRESSION_SUMMARY}-\\d+</state_snapshot>`);

describe.skipIf(skipAgentCliSuite('gemini'))('real Gemini CLI through hornets hooks: rebrief after a compression', () => {
  beforeAll(() => {
    assertBuilt();
    requireAgentCli('gemini');
  });

  it(
    'an automatic compression (the last turn filled half the window) is seen by BeforeModel, and the rebrief it queues reaches the model once, with the next AfterTool context',
    async () => {
      const e = await start(
        (req) => {
          const t = newText(req);
          if (hasToolOutput(req)) return { text: 'tool finished' };
          if (t.includes('fill the window')) return { text: 'window full', promptTokens: 900_000 };
          if (t.includes('after the compression')) return echo;
          return { text: 'ok' };
        },
        { briefing: 'RULE-C: never forget the pelican.' },
      );
      await e.up();
      let mark = e.hookLog().length;
      await e.prompt('remember the pelican');
      await e.waitForHook('AfterAgent', 'idle', { after: mark });
      mark = e.hookLog().length;
      const full = await e.prompt('fill the window');
      await e.waitForHook('AfterAgent', 'idle', { after: mark });
      mark = e.hookLog().length;
      const compressed = await e.prompt('after the compression');
      const afterTool = await findRequest(e, 'the request with the tool output', hasToolOutput);
      await e.waitForHook('AfterAgent', 'idle', { after: mark });

      // Gemini compressed before the turn's model call: the history opens with its summary and the
      // acknowledgement after it, and the SessionStart briefing went into the summary.
      expect(wholeText(full)).toContain('RULE-C: never forget the pelican.');
      expect(wholeText(compressed)).toMatch(summaryRe);
      expect(wholeText(compressed)).toContain(GEMINI_COMPRESSION_ACK);
      expect(wholeText(compressed)).not.toContain('RULE-C');
      // That call's context was composed before the compression: the rebrief comes with the next.
      expect(wholeText(compressed)).not.toContain(REBRIEF);
      expect(e.mainRequests().indexOf(afterTool)).toBe(e.mainRequests().indexOf(compressed) + 1);
      const [rebrief] = (await e.queue()).filter((m) => m.sender === 'hornets:rebrief');
      const handed = toolOutput(afterTool);
      expect(handed).toContain(`<hook_context>hornets: 1 new message for ${AGENT}\n\n[msg ${rebrief!.id} | from hornets:rebrief] # hornets briefing for ${AGENT}`);
      expect(handed).toContain('RULE-C: never forget the pelican.');
      expect(countOccurrences(handed, REBRIEF)).toBe(1);
      expect(e.hookLog().filter((l) => l.event === 'AfterTool')).toMatchObject([{ outcome: 'delivered', delivered: [rebrief!.id] }]);

      // Once: no later hook hands it over again, and the history keeps the one copy.
      mark = e.hookLog().length;
      const later = await e.prompt('and now');
      await e.waitForHook('AfterAgent', 'idle', { after: mark });
      expect(rebriefsHandedOver(e.mainRequests())).toBe(1);
      expect(countOccurrences(wholeText(later), REBRIEF)).toBe(1);
      const seen = e
        .hookLog()
        .filter((l) => l.event === 'BeforeModel')
        .map((l) => l.outcome);
      expect(seen).toEqual(['no compression', 'no compression', 'compression seen: rebrief queued', 'no new compression', 'no new compression']);
      expect(await e.messageState(rebrief!.id)).toEqual({ state: 'confirmed', redeliveries: 0 });
    },
    COMPRESSION_TEST_TIMEOUT,
  );

  it(
    '/compress: one Gemini finds not beneficial (PreCompress fired, nothing compressed) brings no rebrief; after one that compresses, the next turn sees it and AfterAgent hands the rebrief over once',
    async () => {
      const e = await start(
        (req) => {
          if (newText(req).includes('grow the history')) return { text: 'grown', promptTokens: 5_000 };
          return { text: 'ok' };
        },
        { briefing: 'RULE-M: keep the manual.' },
      );
      // The user's own PreCompress hook shows when Gemini fired the event (hornets installs none).
      e.addWorktree();
      const preCompressLog = path.join(e.tmp, 'precompress.log');
      mkdirSync(path.join(e.worktree, '.gemini'));
      writeFileSync(
        path.join(e.worktree, '.gemini', 'settings.json'),
        JSON.stringify({ hooks: { PreCompress: [{ hooks: [{ type: 'command', command: `cat >> '${preCompressLog}'; echo >> '${preCompressLog}'`, timeout: 10_000 }] }] } }),
      );
      const triggers = () =>
        existsSync(preCompressLog)
          ? readFileSync(preCompressLog, 'utf8')
              .split('\n')
              .filter(Boolean)
              .map((l) => (JSON.parse(l) as { trigger: string }).trigger)
          : [];
      await e.up();
      let mark = e.hookLog().length;
      await e.prompt('first');
      await e.waitForHook('AfterAgent', 'idle', { after: mark });

      const manual = triggers().length;
      expect(await e.compress()).toBe('Compression was not beneficial for this history size.');
      await waitFor('the PreCompress hook of /compress', () => (triggers().slice(manual).includes('manual') ? true : null), 10_000, 50);
      mark = e.hookLog().length;
      await e.prompt('second');
      await e.waitForHook('AfterAgent', 'idle', { after: mark });
      expect(rebriefsHandedOver(e.mainRequests())).toBe(0);
      expect(e.mainRequests().some((r) => wholeText(r).includes(GEMINI_COMPRESSION_ACK))).toBe(false);
      expect(
        new Set(
          e
            .hookLog()
            .filter((l) => l.event === 'BeforeModel')
            .map((l) => l.outcome),
        ),
      ).toEqual(new Set(['no compression']));
      expect((await e.queue()).filter((m) => m.sender === 'hornets:rebrief')).toEqual([]);
      // Every turn fired an automatic PreCompress too, and none compressed.
      expect(triggers().filter((t) => t === 'auto').length).toBeGreaterThanOrEqual(2);

      mark = e.hookLog().length;
      await e.prompt('grow the history');
      await e.waitForHook('AfterAgent', 'idle', { after: mark });
      expect(await e.compress()).toMatch(/^Chat history compressed from 5000 to \d+ tokens\.$/);
      mark = e.hookLog().length;
      const compressed = await e.prompt('third');
      const feedback = await findRequest(e, 'the request with the AfterAgent reason', (r) => newText(r).includes(REBRIEF));
      await e.waitForHook('AfterAgent', 'idle', { after: mark });
      expect(wholeText(compressed)).toMatch(summaryRe);
      expect(wholeText(compressed)).not.toContain('RULE-M');
      // BeforeAgent ran before this call's BeforeModel saw the compression: the turn's end brings it.
      expect(newText(compressed)).not.toContain(REBRIEF);
      expect(e.mainRequests().indexOf(feedback)).toBe(e.mainRequests().indexOf(compressed) + 1);
      const [rebrief] = (await e.queue()).filter((m) => m.sender === 'hornets:rebrief');
      expect(newText(feedback).startsWith(`hornets: 1 new message for ${AGENT}\n\n[msg ${rebrief!.id} | from hornets:rebrief] # hornets briefing for ${AGENT}`)).toBe(true);
      expect(newText(feedback)).toContain('RULE-M: keep the manual.');
      const ends = e
        .hookLog()
        .slice(mark)
        .filter((l) => l.event === 'AfterAgent')
        .map((l) => l.outcome);
      expect(ends).toEqual(['block 1', 'idle']);

      mark = e.hookLog().length;
      await e.prompt('fourth');
      await e.waitForHook('AfterAgent', 'idle', { after: mark });
      expect(rebriefsHandedOver(e.mainRequests())).toBe(1);
      expect(await e.messageState(rebrief!.id)).toEqual({ state: 'confirmed', redeliveries: 0 });
    },
    COMPRESSION_TEST_TIMEOUT,
  );
});
