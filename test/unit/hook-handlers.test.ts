/**
 * The hook handlers called directly, one row per event: what each prints for the agent CLI, what it
 * does to the queue and where it takes the agent's state. A real SQLite store (temp file) with an
 * injected clock; no tmux, no transport.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteStore, type SqliteMessageStore } from '../../src/queue/sqlite/sqlite-store.js';
import { HookHandler, MAX_STOP_BLOCKS, hookEvents, type HookDeps } from '../../src/hooks/handlers.js';
import type { AgentState } from '../../src/domain/agent.js';
import { geminiProtocol, type HookProtocol } from '../../src/hooks/protocols.js';
import { limitUntil } from '../../src/domain/usage-limit.js';

let dir: string;
let store: SqliteMessageStore;
const clock = { t: 1_800_000_000_000 };
const SESSION = 'sess-1';

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hornets-handlers-'));
  store = await openSqliteStore(join(dir, 'hornets.db'), { clock: () => clock.t });
  await store.registerAgents([{ name: 'marie', profile: 'claude-code' }]);
  await store.transitionAgent('marie', { type: 'started' }, { generation: 1, paneId: '%1' });
});

afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function handler(more: Partial<HookDeps> = {}): HookHandler {
  return new HookHandler({
    store,
    agent: 'marie',
    generation: 1,
    now: () => clock.t,
    briefing: () => ({ agent: 'marie', project: 'p', role: 'reviewer', briefingFile: null, briefingText: null }),
    git: () => Promise.resolve({ branch: 'hornets/marie', status: ' M a.ts' }),
    ...more,
  });
}

const payload = (more: Record<string, unknown> = {}) => ({ session_id: SESSION, transcript_path: '/tmp/t.jsonl', cwd: dir, ...more });
const state = async () => (await store.getAgent('marie'))!.state;
async function setState(s: AgentState): Promise<void> {
  const events: Record<string, Parameters<SqliteMessageStore['transitionAgent']>[1]> = {
    idle: { type: 'hook', event: 'Stop' },
    busy: { type: 'hook', event: 'UserPromptSubmit' },
    failed: { type: 'failed', reason: 'authentication failed: 401' },
    'needs-input': { type: 'hook', event: 'Notification', notification: 'permission_prompt' },
    limited: { type: 'limited', until: null, reason: 'rate_limit' },
  };
  await store.transitionAgent('marie', events[s]!);
}

interface Row {
  event: string;
  from: AgentState;
  payload: Record<string, unknown>;
  /** Pending message count before the hook. */
  queued: number;
  stdout: RegExp | '';
  outcome: RegExp;
  to: AgentState;
  /** The CLI whose event it is (Claude Code when not given). */
  protocol?: HookProtocol;
}

const rows: Row[] = [
  { event: 'SessionStart', from: 'starting', payload: { source: 'startup' }, queued: 1, stdout: /# hornets briefing for marie[\s\S]*hornets: 1 new message/, outcome: /^briefing$/, to: 'idle' },
  { event: 'SessionStart', from: 'busy', payload: { source: 'compact' }, queued: 0, stdout: /rebrief|compact/i, outcome: /^rebrief:compact$/, to: 'idle' },
  {
    event: 'UserPromptSubmit',
    from: 'idle',
    payload: { prompt: '[hornets:abcdef123456] 1 new message' },
    queued: 1,
    stdout: /"hookEventName":"UserPromptSubmit","additionalContext":"hornets: 1 new message/,
    outcome: /^nudge: delivered$/,
    to: 'busy',
  },
  { event: 'UserPromptSubmit', from: 'idle', payload: { prompt: 'hello' }, queued: 0, stdout: '', outcome: /^no messages$/, to: 'busy' },
  {
    event: 'PostToolUse',
    from: 'busy',
    payload: { tool_name: 'Bash', tool_input: { command: 'ls' } },
    queued: 2,
    stdout: /"hookEventName":"PostToolUse".*2 new messages/,
    outcome: /^delivered$/,
    to: 'busy',
  },
  { event: 'PostToolUse', from: 'busy', payload: { tool_name: 'Bash', tool_input: { command: 'ls' } }, queued: 0, stdout: '', outcome: /^no messages$/, to: 'busy' },
  {
    event: 'Stop',
    from: 'busy',
    payload: { stop_hook_active: false, last_assistant_message: 'done' },
    queued: 1,
    stdout: /"decision":"block","reason":"hornets: 1 new message/,
    outcome: /^block 1$/,
    to: 'busy',
  },
  { event: 'Stop', from: 'busy', payload: { stop_hook_active: false, last_assistant_message: 'done' }, queued: 0, stdout: '', outcome: /^idle$/, to: 'idle' },
  { event: 'Stop', from: 'failed', payload: { stop_hook_active: false }, queued: 0, stdout: '', outcome: /^idle$/, to: 'failed' },
  { event: 'PreCompact', from: 'busy', payload: { trigger: 'auto' }, queued: 0, stdout: '', outcome: /^snapshot$/, to: 'compacting' },
  {
    event: 'Notification',
    from: 'busy',
    payload: { notification_type: 'permission_prompt', message: 'Claude needs your permission to use Bash' },
    queued: 0,
    stdout: '',
    outcome: /^notification:permission_prompt$/,
    to: 'needs-input',
  },
  {
    event: 'Notification',
    from: 'busy',
    payload: { notification_type: 'idle_prompt', message: 'Claude is waiting for your input' },
    queued: 0,
    stdout: '',
    outcome: /^notification:idle_prompt$/,
    to: 'idle',
  },
  { event: 'SessionEnd', from: 'idle', payload: { reason: 'clear' }, queued: 0, stdout: '', outcome: /^session end: 0 requeued$/, to: 'idle' },
  { event: 'SessionEnd', from: 'idle', payload: { reason: 'prompt_input_exit' }, queued: 0, stdout: '', outcome: /^session end: 0 requeued$/, to: 'stopped' },
  { event: 'StopFailure', from: 'busy', payload: { error: 'overloaded_error' }, queued: 0, stdout: '', outcome: /^stop failure: 0 requeued$/, to: 'idle' },
  // Gemini's, before every model call: it only looks for a compression (hook-protocols.test.ts).
  {
    event: 'BeforeModel',
    from: 'busy',
    payload: { llm_request: { messages: [{ role: 'user', content: 'hi' }] } },
    queued: 1,
    stdout: '',
    outcome: /^no compression$/,
    to: 'busy',
    protocol: geminiProtocol,
  },
  // issue 17: a limit is no failure to move on from, the agent waits for its reset
  {
    event: 'StopFailure',
    from: 'busy',
    payload: { error: 'rate_limit', last_assistant_message: "You've hit your session limit · resets 3pm (UTC)" },
    queued: 0,
    stdout: '',
    outcome: /^limited: 0 requeued$/,
    to: 'limited',
  },
  { event: 'StopFailure', from: 'busy', payload: { error: 'billing_error' }, queued: 0, stdout: '', outcome: /^limited: 0 requeued$/, to: 'limited' },
  {
    event: 'Notification',
    from: 'busy',
    payload: { notification_type: 'elicitation_dialog', message: 'Claude Code needs your input' },
    queued: 0,
    stdout: '',
    outcome: /^notification:elicitation_dialog$/,
    to: 'needs-input',
  },
  {
    event: 'Notification',
    from: 'busy',
    payload: { notification_type: 'ToolPermission', message: 'Action required' },
    queued: 0,
    stdout: '',
    outcome: /^notification:ToolPermission$/,
    to: 'needs-input',
  },
  {
    event: 'Notification',
    from: 'limited',
    payload: { notification_type: 'idle_prompt', message: 'Claude is waiting for your input' },
    queued: 0,
    stdout: '',
    outcome: /^notification:idle_prompt$/,
    to: 'limited',
  },
  { event: 'PermissionRequest', from: 'busy', payload: { tool_name: 'Bash', tool_input: { command: 'rm x' } }, queued: 1, stdout: '', outcome: /^PermissionRequest:Bash$/, to: 'needs-input' },
  { event: 'PreToolUse', from: 'busy', payload: { tool_name: 'AskUserQuestion', tool_input: {} }, queued: 0, stdout: '', outcome: /^PreToolUse:AskUserQuestion$/, to: 'needs-input' },
  { event: 'PreToolUse', from: 'busy', payload: { tool_name: 'Bash', tool_input: {} }, queued: 0, stdout: '', outcome: /^PreToolUse:Bash$/, to: 'busy' },
  { event: 'PostToolUse', from: 'needs-input', payload: { tool_name: 'Bash', tool_input: { command: 'ls' } }, queued: 0, stdout: '', outcome: /^no messages$/, to: 'busy' },
];

describe('hook handlers, one row per event', () => {
  it('every hook event has at least one row', () => {
    expect(new Set(rows.map((r) => r.event))).toEqual(new Set(hookEvents));
  });

  it.each(rows.map((r) => [`${r.event} ${JSON.stringify(r.payload).slice(0, 60)} from ${r.from} with ${r.queued} queued`, r] as const))('%s', async (_name, r) => {
    if (r.from !== 'starting') await setState(r.from);
    for (let i = 0; i < r.queued; i++) await store.enqueue({ agent: 'marie', body: `message ${i}` });
    const reply = await handler(r.protocol ? { protocol: r.protocol } : {}).handle(r.event, payload(r.payload));
    if (r.stdout === '') expect(reply.stdout).toBe('');
    else expect(reply.stdout).toMatch(r.stdout);
    expect(reply.outcome).toMatch(r.outcome);
    expect(await state()).toBe(r.to);
    // What was printed is what was handed over: acked (delivered) here, not merely claimed.
    const delivered = await store.list({ agent: 'marie', states: ['delivered'] });
    expect(delivered.map((m) => m.id).sort()).toEqual([...reply.delivered].sort());
    expect((await store.getAgent('marie'))!.lastEventAt).toBe(clock.t);
  });

  it('a limit with a stated reset is kept with its reset time (the engine resumes the agent then)', async () => {
    await setState('busy');
    await handler().handle('StopFailure', payload({ error: 'rate_limit', last_assistant_message: "You've hit your session limit · resets in 2h" }));
    const a = (await store.getAgent('marie'))!;
    expect(a.state).toBe('limited');
    expect(limitUntil(a.lastError)).toBe(clock.t + 2 * 3_600_000);
  });

  it('ignores events of an older generation, unknown events and malformed input without touching anything', async () => {
    await store.transitionAgent('marie', { type: 'started' }, { generation: 2 });
    await store.enqueue({ agent: 'marie', body: 'keep' });
    expect((await handler({ generation: 1 }).handle('PostToolUse', payload())).outcome).toMatch(/stale generation/);
    expect((await handler({ generation: 2 }).handle('Bogus', payload())).outcome).toMatch(/unknown event/);
    expect((await handler({ generation: 2 }).handle('Stop', [1, 2])).outcome).toMatch(/not an object/);
    expect((await handler({ generation: 2 }).handle('Stop', payload({ session_id: '../../etc --x' }))).outcome).toMatch(/malformed session_id/);
    expect(await store.list({ agent: 'marie', states: ['queued'] })).toHaveLength(1);
    expect(await state()).toBe('starting');
  });

  it('a later event of the session confirms what it was handed; a new session gets unconfirmed messages again', async () => {
    await setState('busy');
    const { message } = await store.enqueue({ agent: 'marie', body: 'do it' });
    await handler().handle('PostToolUse', payload({ tool_name: 'Bash' }));
    expect((await store.get(message.id)).state).toBe('delivered');
    clock.t += 1000;
    await handler().handle('PostToolUse', payload({ tool_name: 'Bash' }));
    expect((await store.get(message.id)).state).toBe('confirmed');
    const second = await store.enqueue({ agent: 'marie', body: 'again' });
    await handler().handle('PostToolUse', payload({ tool_name: 'Bash' }));
    expect((await store.get(second.message.id)).state).toBe('delivered');
    const reply = await handler().handle('SessionStart', payload({ source: 'startup', session_id: 'sess-2' }));
    expect(reply.delivered).toEqual([second.message.id]);
    expect((await store.get(second.message.id)).redeliveries).toBe(1);
  });

  it(`blocks Stop at most ${MAX_STOP_BLOCKS} times in a row, then lets the agent stop`, async () => {
    await setState('busy');
    for (let i = 0; i < MAX_STOP_BLOCKS + 2; i++) await store.enqueue({ agent: 'marie', body: `m${i}`.padEnd(30_000, '.') });
    const outcomes: string[] = [];
    for (let i = 0; i <= MAX_STOP_BLOCKS; i++) outcomes.push((await handler().handle('Stop', payload({ stop_hook_active: i > 0 }))).outcome);
    expect(outcomes.slice(0, MAX_STOP_BLOCKS)).toEqual(Array.from({ length: MAX_STOP_BLOCKS }, (_, i) => `block ${i + 1}`));
    expect(outcomes[MAX_STOP_BLOCKS]).toMatch(/block cap reached/);
    expect(await state()).toBe('idle');
  });

  it('a deferred ack leaves the lease to the transport: nothing is delivered until it acks', async () => {
    await setState('busy');
    const { message } = await store.enqueue({ agent: 'marie', body: 'x' });
    const reply = await handler({ deferAck: true }).handle('PostToolUse', payload({ tool_name: 'Bash' }));
    expect(reply.ackToken).toBeTruthy();
    expect((await store.get(message.id)).state).toBe('leased');
    await store.ack({ leaseToken: reply.ackToken!, sessionId: SESSION });
    expect((await store.get(message.id)).state).toBe('delivered');
  });

  it("Gemini's resume: SessionStart hands nothing over (its context may land in a chat the resume replaces); the next BeforeAgent brings the rebrief and the messages, once", async () => {
    await setState('idle');
    const { message } = await store.enqueue({ agent: 'marie', body: 'waiting through the restart' });
    const gemini = () => handler({ protocol: geminiProtocol });
    const start = await gemini().handle('SessionStart', payload({ source: 'resume' }));
    expect(start).toMatchObject({ stdout: '', outcome: 'rebrief:resume', delivered: [] });
    expect((await store.get(message.id)).state).toBe('queued');
    clock.t += 1000;
    const first = await gemini().handle('BeforeAgent', payload({ prompt: 'go on' }));
    expect(first.outcome).toBe('rebrief: delivered');
    expect(first.delivered).toEqual([message.id]);
    const context = (JSON.parse(first.stdout) as { hookSpecificOutput: { hookEventName: string; additionalContext: string } }).hookSpecificOutput;
    expect(context.hookEventName).toBe('BeforeAgent');
    expect(context.additionalContext).toMatch(/^[\s\S]*resumed after a restart[\s\S]*\n\nhornets: 1 new message[\s\S]*waiting through the restart/);
    const second = await gemini().handle('BeforeAgent', payload({ prompt: 'and again' }));
    expect(second).toMatchObject({ stdout: '', outcome: 'no messages', delivered: [] });
  });

  it("Gemini: a rebrief pending for another session is dropped, not handed to this one; Claude Code's resume still rebriefs at SessionStart", async () => {
    await setState('idle');
    await handler({ protocol: geminiProtocol }).handle('SessionStart', payload({ source: 'resume', session_id: 'sess-old' }));
    // A restart without resume: generation 2 starts a fresh session.
    await store.transitionAgent('marie', { type: 'started' }, { generation: 2, paneId: '%2' });
    const next = (protocol?: HookProtocol) => handler({ generation: 2, ...(protocol ? { protocol } : {}) });
    await next(geminiProtocol).handle('SessionStart', payload({ source: 'startup' }));
    expect(await next(geminiProtocol).handle('BeforeAgent', payload({ prompt: 'hi' }))).toMatchObject({ stdout: '', outcome: 'no messages' });
    const claude = await next().handle('SessionStart', payload({ source: 'resume' }));
    expect(claude.outcome).toBe('rebrief:resume');
    expect(claude.stdout).toMatch(/resumed after a restart/);
    expect((await next().handle('UserPromptSubmit', payload({ prompt: 'hi' }))).stdout).toBe('');
  });
});
