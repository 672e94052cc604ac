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
import { claudeCodeProtocol, codexProtocol, contextReply, handlerFor, hookEvents, protocolForArg } from '../../src/hooks/protocols.js';

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
    for (const p of [claudeCodeProtocol, codexProtocol]) for (const e of p.events) expect(hookEvents).toContain(e.handler);
    expect(claudeCodeProtocol.events.map((e) => e.handler)).toEqual([...hookEvents]);
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
