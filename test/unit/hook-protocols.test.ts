/**
 * The per-CLI protocol tables: which CLI event runs which handler and how each CLI's replies are
 * shaped. Claude Code's replies are the ones its e2e suite checks on the real CLI; Codex's the
 * shapes its own suite checks (test/e2e/codex.test.ts). A real SQLite store, no transport.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteStore, type SqliteMessageStore } from '../../src/queue/sqlite/sqlite-store.js';
import { HookHandler, type HookDeps } from '../../src/hooks/handlers.js';
import { GEMINI_COMPRESSION_ACK, compressionFingerprint } from '../../src/hooks/compression-marker.js';
import { claudeCodeProtocol, codexProtocol, contextReply, geminiProtocol, handlerFor, hookEvents, protocolForArg } from '../../src/hooks/protocols.js';

let dir: string;
let store: SqliteMessageStore;
const SESSION = '01a239d7-601e-7733-94a7-46838a4eacba';

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hornets-protocols-'));
  store = await openSqliteStore(join(dir, 'hornets.db'));
  await store.registerAgents([{ name: 'cx', profile: 'codex' }]);
  await store.transitionAgent('cx', { type: 'started' }, { generation: 1, paneId: '%1' });
});

afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function handler(more: Partial<HookDeps> = {}): HookHandler {
  return new HookHandler({
    store,
    agent: 'cx',
    generation: 1,
    now: Date.now,
    briefing: () => ({ agent: 'cx', project: 'p', role: null, briefingFile: null, briefingText: null }),
    git: () => Promise.resolve({ branch: null, status: null }),
    ...more,
  });
}

const payload = (more: Record<string, unknown> = {}) => ({ session_id: SESSION, cwd: dir, ...more });

describe('protocol tables', () => {
  it('every CLI event maps to a known handler, and an unknown word is Claude Code', () => {
    for (const p of [claudeCodeProtocol, codexProtocol, geminiProtocol]) for (const e of p.events) expect(hookEvents).toContain(e.handler);
    // BeforeModel is Gemini's alone (it watches for a compression Gemini does not announce).
    expect(claudeCodeProtocol.events.map((e) => e.handler)).toEqual(hookEvents.filter((e) => e !== 'BeforeModel'));
    expect(handlerFor(claudeCodeProtocol, 'BeforeModel')).toBeNull();
    expect(protocolForArg(undefined)).toBe(claudeCodeProtocol);
    expect(protocolForArg('nonsense')).toBe(claudeCodeProtocol);
    expect(protocolForArg('codex')).toBe(codexProtocol);
    expect(handlerFor(codexProtocol, 'Notification')).toBeNull();
    // Codex clamps SessionEnd hooks to 3 s and warns on every start about a longer one.
    expect(codexProtocol.events.find((e) => e.cliEvent === 'SessionEnd')?.timeout).toBe(3);
  });

  it('SessionStart text is plain stdout for Claude Code and additionalContext for Codex', () => {
    expect(contextReply(claudeCodeProtocol, 'SessionStart', 'brief')).toBe('brief\n');
    expect(JSON.parse(contextReply(codexProtocol, 'SessionStart', 'brief'))).toEqual({ hookSpecificOutput: { hookEventName: 'SessionStart', additionalContext: 'brief' } });
  });
});

describe('HookHandler under the Codex protocol', () => {
  it('SessionStart answers the briefing and pending messages as additionalContext', async () => {
    const { message } = await store.enqueue({ agent: 'cx', body: 'queued early', sender: 't' });
    const reply = await handler({ protocol: codexProtocol }).handle('SessionStart', payload({ source: 'startup', hook_event_name: 'SessionStart' }));
    const out = JSON.parse(reply.stdout) as { hookSpecificOutput: { hookEventName: string; additionalContext: string } };
    expect(out.hookSpecificOutput.hookEventName).toBe('SessionStart');
    expect(out.hookSpecificOutput.additionalContext).toContain('# hornets briefing for cx');
    expect(out.hookSpecificOutput.additionalContext).toContain(`[msg ${message.id} | from t] queued early`);
    expect(reply).toMatchObject({ outcome: 'briefing', delivered: [message.id] });
  });

  it('PostToolUse and Stop answer as Codex takes them; an event Codex has no hook for is ignored', async () => {
    const h = handler({ protocol: codexProtocol });
    await h.handle('SessionStart', payload({ source: 'startup' }));
    const a = (await store.enqueue({ agent: 'cx', body: 'mid-turn', sender: 't' })).message;
    const mid = await h.handle('PostToolUse', payload({ tool_name: 'Bash', tool_input: { command: 'echo hi' } }));
    expect(JSON.parse(mid.stdout)).toEqual({ hookSpecificOutput: { hookEventName: 'PostToolUse', additionalContext: `hornets: 1 new message for cx\n\n[msg ${a.id} | from t] mid-turn` } });
    const b = (await store.enqueue({ agent: 'cx', body: 'at the end', sender: 't' })).message;
    const end = await h.handle('Stop', payload({ stop_hook_active: false, last_assistant_message: 'done' }));
    expect(JSON.parse(end.stdout)).toEqual({ decision: 'block', reason: `hornets: 1 new message for cx\n\n[msg ${b.id} | from t] at the end` });
    expect((await h.handle('Notification', payload({ notification_type: 'idle_prompt' }))).outcome).toBe('ignored: unknown event Notification');
  });
});

/**
 * Gemini's BeforeModel payloads as 0.61.0 sent them (recorded against the stand-in API): before a
 * compression the history opens with the environment context and the first prompt; after one, the
 * summary is merged into the environment context's turn and the model's fixed acknowledgement follows.
 */
const ENV = '<session_context>\nThis is the Gemini CLI. We are setting up the context for our chat.\n</session_context>';
const plainRequest = (...prompts: string[]) => ({
  llm_request: {
    model: 'gemini-2.5-flash',
    messages: prompts.flatMap((t, i) => [...(i > 0 ? [{ role: 'model', content: `ok ${i}` }] : []), { role: 'user', content: i === 0 ? `${ENV}${t}` : t }]),
    config: {},
  },
});
const compressedRequest = (summary: string, ...rest: string[]) => ({
  llm_request: {
    model: 'gemini-2.5-flash',
    messages: [{ role: 'user', content: `${ENV}<state_snapshot>${summary}</state_snapshot>` }, { role: 'model', content: GEMINI_COMPRESSION_ACK }, ...rest.map((t) => ({ role: 'user', content: t }))],
    config: {},
  },
});

describe('compressionFingerprint (Gemini BeforeModel)', () => {
  it('is null for a history never compressed, and names each compression by its summary', () => {
    expect(compressionFingerprint(plainRequest('first'))).toBeNull();
    expect(compressionFingerprint(plainRequest('first', 'second', 'third'))).toBeNull();
    expect(compressionFingerprint({})).toBeNull();
    expect(compressionFingerprint({ llm_request: { messages: 'nope' } })).toBeNull();
    const a = compressionFingerprint(compressedRequest('S1', 'prompt four'));
    expect(a).toMatch(/^[0-9a-f]{32}$/);
    // Later requests of the same compressed history keep its fingerprint; a new summary changes it.
    expect(compressionFingerprint(compressedRequest('S1', 'prompt four', 'prompt five'))).toBe(a);
    expect(compressionFingerprint(compressedRequest('S2', 'prompt six'))).not.toBe(a);
    // The summary and the environment context as two turns (not merged) are read the same way.
    const separate = {
      llm_request: {
        messages: [
          { role: 'user', content: ENV },
          { role: 'user', content: 'S1' },
          { role: 'model', content: GEMINI_COMPRESSION_ACK },
        ],
      },
    };
    expect(compressionFingerprint(separate)).toMatch(/^[0-9a-f]{32}$/);
    // The words later in a conversation are not the marker.
    expect(compressionFingerprint(plainRequest('first', 'second', GEMINI_COMPRESSION_ACK))).toBeNull();
  });
});

describe('HookHandler under the Gemini protocol: rebrief after a compression', () => {
  beforeEach(async () => {
    await store.registerAgents([{ name: 'gm', profile: 'gemini' }]);
    await store.transitionAgent('gm', { type: 'started' }, { generation: 1, paneId: '%2' });
  });
  const gemini = () => handler({ protocol: geminiProtocol, agent: 'gm', briefing: () => ({ agent: 'gm', project: 'p', role: 'tester', briefingFile: null, briefingText: 'RULE-G' }) });
  const contextOf = (stdout: string) => (JSON.parse(stdout) as { hookSpecificOutput: { additionalContext: string } }).hookSpecificOutput.additionalContext;
  const rebriefs = async () => (await store.list({ agent: 'gm', limit: 100 })).filter((m) => m.sender === 'hornets:rebrief');

  it('BeforeModel confirms nothing: the request carrying a handed-over message has not gone out yet', async () => {
    const h = gemini();
    await h.handle('SessionStart', payload({ source: 'startup' }));
    const m = (await store.enqueue({ agent: 'gm', body: 'hello', sender: 't' })).message;
    expect((await h.handle('BeforeAgent', payload({ prompt: 'go' }))).delivered).toEqual([m.id]);
    await h.handle('BeforeModel', payload(plainRequest('go')));
    expect((await store.get(m.id)).state).toBe('delivered');
    await h.handle('AfterAgent', payload({ prompt: 'go', prompt_response: 'done', stop_hook_active: false }));
    expect((await store.get(m.id)).state).toBe('confirmed');
  });

  it('BeforeModel without a compression queues nothing and records no event', async () => {
    const h = gemini();
    await h.handle('SessionStart', payload({ source: 'startup' }));
    expect((await h.handle('BeforeModel', payload(plainRequest('first')))).outcome).toBe('no compression');
    expect((await h.handle('BeforeModel', payload(plainRequest('first', 'second')))).outcome).toBe('no compression');
    expect(await rebriefs()).toEqual([]);
    expect(await h.handle('BeforeAgent', payload({ prompt: 'third' }))).toMatchObject({ stdout: '', outcome: 'no messages' });
    expect(await store.events({ agent: 'gm', kinds: ['compression_seen', 'hook:BeforeModel'] })).toEqual([]);
  });

  it('a new compression queues one rebrief ahead of the messages; the next context hook hands it over first, once', async () => {
    const h = gemini();
    await h.handle('SessionStart', payload({ source: 'startup' }));
    const m = (await store.enqueue({ agent: 'gm', body: 'waiting already', sender: 't', priority: 100 })).message;
    await h.handle('BeforeModel', payload(plainRequest('first', 'second')));
    expect((await h.handle('BeforeModel', payload(compressedRequest('S1', 'third')))).outcome).toBe('compression seen: rebrief queued');
    // The same compressed history on the next model calls is no new compression.
    expect((await h.handle('BeforeModel', payload(compressedRequest('S1', 'third', 'fourth')))).outcome).toBe('no new compression');
    const [r] = await rebriefs();
    expect(r).toMatchObject({ state: 'queued', priority: 200 });
    expect(r!.body.startsWith('# hornets briefing for gm (project p)')).toBe(true);
    expect(r!.body).toContain('RULE-G');
    expect(r!.body).toContain('Your context was just compacted.');
    const given = await h.handle('AfterTool', payload({ tool_name: 'run_shell_command', tool_input: { command: 'ls' } }));
    expect(given).toMatchObject({ outcome: 'delivered', delivered: [r!.id, m.id] });
    const text = contextOf(given.stdout);
    expect(text.indexOf(`[msg ${r!.id} | from hornets:rebrief] # hornets briefing for gm`)).toBeGreaterThan(0);
    expect(text.indexOf('Your context was just compacted.')).toBeLessThan(text.indexOf(`[msg ${m.id} | from t] waiting already`));
    expect(await h.handle('BeforeAgent', payload({ prompt: 'fifth' }))).toMatchObject({ stdout: '', outcome: 'no messages' });
    expect(await rebriefs()).toHaveLength(1);
    expect(await store.events({ agent: 'gm', kinds: ['compression_seen'] })).toHaveLength(1);
  });

  it('each compression gets its own rebrief, which lists no earlier rebrief as a task', async () => {
    const h = gemini();
    await h.handle('SessionStart', payload({ source: 'startup' }));
    await h.handle('BeforeModel', payload(compressedRequest('S1', 'a')));
    expect((await h.handle('BeforeAgent', payload({ prompt: 'b' }))).delivered).toHaveLength(1);
    expect((await h.handle('BeforeModel', payload(compressedRequest('S2', 'c')))).outcome).toBe('compression seen: rebrief queued');
    const all = await rebriefs();
    expect(all).toHaveLength(2);
    const second = all.find((x) => x.state === 'queued')!;
    expect(second.body).toContain('No message from hornets is in progress.');
  });
});
