import { describe, expect, it } from 'vitest';
import { transition, type LifecycleEvent, type LifecycleFacts } from '../../src/domain/agent-lifecycle.js';
import type { AgentState } from '../../src/domain/agent.js';
import { limitNote } from '../../src/domain/usage-limit.js';

const hook = (event: string, more: Partial<Extract<LifecycleEvent, { type: 'hook' }>> = {}): LifecycleEvent => ({ type: 'hook', event, ...more });
const at = (state: AgentState, more: Partial<LifecycleFacts> = {}): LifecycleFacts => ({ state, generation: 2, paused: false, lastError: null, ...more });

describe('agent life cycle: transition', () => {
  it.each<[LifecycleFacts, LifecycleEvent, AgentState]>([
    // hooks drive a running agent
    [at('starting'), hook('SessionStart', { source: 'startup' }), 'idle'],
    [at('idle'), hook('UserPromptSubmit'), 'busy'],
    [at('busy'), hook('PostToolUse'), 'busy'],
    [at('busy'), hook('Stop'), 'idle'],
    [at('busy'), hook('Stop', { blocked: true }), 'busy'],
    [at('busy'), hook('StopFailure', { error: 'overloaded' }), 'idle'],
    [at('busy'), hook('PreCompact'), 'compacting'],
    [at('compacting'), hook('SessionStart', { source: 'compact' }), 'idle'],
    [at('busy'), hook('Notification', { notification: 'permission_prompt' }), 'needs-input'],
    [at('needs-input'), hook('PostToolUse'), 'busy'],
    [at('busy'), hook('Notification', { notification: 'idle_prompt' }), 'idle'],
    [at('idle'), hook('Notification', { notification: 'auth_success' }), 'idle'],
    [at('unknown'), hook('SessionStart'), 'idle'],
    // SessionEnd: /exit typed by a person is a stop; /clear or an unknown end leaves it to the pane
    [at('busy'), hook('SessionEnd', { source: 'clear' }), 'busy'],
    [at('idle'), hook('SessionEnd', { source: 'other' }), 'idle'],
    [at('idle'), hook('SessionEnd', { source: 'prompt_input_exit' }), 'stopped'],
    [at('idle'), hook('SessionEnd', { source: 'logout' }), 'stopped'],
    [at('stopped'), hook('SessionStart', { source: 'startup' }), 'stopped'],
    // stuck: only real activity leaves it; the idle notice proves nothing
    [at('stuck'), hook('UserPromptSubmit'), 'busy'],
    [at('stuck'), hook('Stop'), 'idle'],
    [at('stuck'), hook('Notification', { notification: 'idle_prompt' }), 'stuck'],
    [at('stuck'), { type: 'screen', verdict: 'idle' }, 'stuck'],
    [at('idle'), { type: 'stuck', reason: 'x' }, 'stuck'],
    [at('crashed'), { type: 'stuck', reason: 'x' }, 'crashed'],
    // down states ignore hooks and screens: a late hook of a dying process revives nothing
    [at('failed'), hook('Stop'), 'failed'],
    [at('failed'), hook('SessionStart'), 'failed'],
    [at('failed'), { type: 'screen', verdict: 'idle' }, 'failed'],
    [at('crashed'), hook('Stop'), 'crashed'],
    [at('backing-off'), hook('SessionStart'), 'backing-off'],
    [at('stopped'), hook('Stop'), 'stopped'],
    [at('stopped'), { type: 'screen', verdict: 'idle' }, 'stopped'],
    // the pane
    [at('busy'), { type: 'pane-died', generation: 2, exitStatus: 1 }, 'crashed'],
    [at('starting'), { type: 'pane-died', generation: 1, exitStatus: 1 }, 'starting'],
    [at('stopped'), { type: 'pane-died', generation: 2 }, 'stopped'],
    [at('failed'), { type: 'pane-died', generation: 2 }, 'failed'],
    [at('backing-off'), { type: 'pane-died', generation: 2 }, 'backing-off'],
    // recovery
    [at('crashed'), { type: 'backing-off' }, 'backing-off'],
    [at('stopped'), { type: 'backing-off' }, 'stopped'],
    [at('backing-off'), { type: 'started' }, 'starting'],
    [at('backing-off'), { type: 'failed', reason: 'limit' }, 'failed'],
    [at('idle'), { type: 'failed', reason: 'auth' }, 'failed'],
    [at('stopped'), { type: 'failed', reason: 'late' }, 'stopped'],
    [at('failed'), { type: 'started' }, 'starting'],
    [at('stopped'), { type: 'started' }, 'starting'],
    [at('stopped', { paused: true }), { type: 'started' }, 'paused'],
    // operator
    [at('failed'), { type: 'reset' }, 'idle'],
    [at('stuck'), { type: 'reset' }, 'idle'],
    [at('busy'), { type: 'reset' }, 'busy'],
    [at('idle'), { type: 'pause' }, 'paused'],
    [at('stopped'), { type: 'pause' }, 'stopped'],
    [at('paused', { paused: true }), hook('Stop'), 'paused'],
    [at('paused', { paused: true }), { type: 'resume' }, 'idle'],
    [at('busy'), { type: 'resume' }, 'busy'],
    [at('failed'), { type: 'stopped' }, 'stopped'],
    [at('busy'), { type: 'stopped' }, 'stopped'],
    // screens (agents without hooks, or a hook agent gone quiet)
    [at('idle'), { type: 'screen', verdict: 'permission' }, 'needs-input'],
    [at('idle'), { type: 'screen', verdict: 'busy' }, 'busy'],
    [at('busy'), { type: 'screen', verdict: 'unknown' }, 'busy'],
    [at('crashed'), { type: 'screen', verdict: 'idle' }, 'crashed'],
    [at('paused', { paused: true }), { type: 'screen', verdict: 'busy' }, 'paused'],
    // a state read from the screen that no capture confirmed lapses (domain/screen-hold.ts)
    [at('needs-input'), { type: 'screen-expired' }, 'unknown'],
    [at('busy'), { type: 'screen-expired' }, 'unknown'],
    [at('idle'), { type: 'screen-expired' }, 'idle'],
    [at('stuck'), { type: 'screen-expired' }, 'stuck'],
    [at('crashed'), { type: 'screen-expired' }, 'crashed'],
    [at('paused', { paused: true }), { type: 'screen-expired' }, 'paused'],
    // a long hold is noted, not a state of its own
    [at('needs-input'), { type: 'held', note: 'held: x' }, 'needs-input'],
    [at('needs-input'), { type: 'released' }, 'needs-input'],
  ])('%j --%j--> %s', (from, event, to) => expect(transition(from, event).state).toBe(to));

  it('keeps the reason of a failure and of being stuck; clears them when they no longer hold', () => {
    expect(transition(at('failed', { lastError: 'authentication failed' }), hook('StopFailure', { error: 'rate limit' })).lastError).toBe('authentication failed');
    expect(transition(at('idle'), hook('StopFailure', { error: 'rate limit' })).lastError).toBe('rate limit');
    expect(transition(at('stuck', { lastError: 'stuck: refused' }), hook('UserPromptSubmit')).lastError).toBeNull();
    expect(transition(at('busy', { lastError: 'old' }), { type: 'started' }).lastError).toBeNull();
    expect(transition(at('failed', { lastError: 'x' }), { type: 'reset' }).lastError).toBeNull();
    expect(transition(at('busy'), { type: 'pane-died', generation: 2, exitStatus: 137 }).lastError).toBe('exited with status 137');
  });

  it('a hold note is set by `held` and goes with `released`, with the state it was about, or on stop; other errors stay', () => {
    const note = 'held: sh shows a permission prompt since 12:01:03 UTC';
    expect(transition(at('needs-input'), { type: 'held', note }).lastError).toBe(note);
    expect(transition(at('needs-input', { lastError: note }), { type: 'released' }).lastError).toBeNull();
    expect(transition(at('needs-input', { lastError: 'rate limit' }), { type: 'released' }).lastError).toBe('rate limit');
    expect(transition(at('needs-input', { lastError: note }), { type: 'screen', verdict: 'idle' }).lastError).toBeNull();
    expect(transition(at('needs-input', { lastError: note }), { type: 'screen', verdict: 'permission' }).lastError).toBe(note);
    expect(transition(at('needs-input', { lastError: note }), { type: 'screen-expired' }).lastError).toBeNull();
    expect(transition(at('needs-input', { lastError: note }), { type: 'stopped' }).lastError).toBeNull();
    // A stuck agent's reason is not overwritten; a dead one gets no note.
    expect(transition(at('stuck', { lastError: 'stuck: x' }), { type: 'held', note }).lastError).toBe('stuck: x');
    expect(transition(at('crashed'), { type: 'held', note }).lastError).toBeNull();
  });

  it('pause and resume set the flag whatever the state', () => {
    expect(transition(at('stopped'), { type: 'pause' }).paused).toBe(true);
    expect(transition(at('crashed', { paused: true }), { type: 'resume' })).toMatchObject({ state: 'crashed', paused: false });
    // A paused agent still records API errors (shown), without leaving paused.
    expect(transition(at('paused', { paused: true }), hook('StopFailure', { error: 'overloaded' }))).toMatchObject({ state: 'paused', lastError: 'overloaded' });
  });
});

describe('agent life cycle: needs you (issue 17)', () => {
  const note = limitNote(Date.parse('2026-12-03T15:00:00Z'), "You've hit your session limit · resets 3pm (UTC)");
  const limited: LifecycleEvent = { type: 'limited', until: Date.parse('2026-12-03T15:00:00Z'), reason: "You've hit your session limit · resets 3pm (UTC)" };
  it.each<[string, LifecycleFacts, LifecycleEvent, AgentState, string | null]>([
    // needs-input: entered by a prompt or a question, left by the next sign of work or of the prompt
    ['permission prompt', at('busy'), hook('Notification', { notification: 'permission_prompt' }), 'needs-input', null],
    ['MCP elicitation dialog', at('busy'), hook('Notification', { notification: 'elicitation_dialog' }), 'needs-input', null],
    ['AskUserQuestion pending', at('busy'), hook('PreToolUse', { tool: 'AskUserQuestion' }), 'needs-input', null],
    ['another tool about to run', at('busy'), hook('PreToolUse', { tool: 'Bash' }), 'busy', null],
    ['permission requested', at('busy'), hook('PermissionRequest', { tool: 'Bash' }), 'needs-input', null],
    ['answered: the tool ran', at('needs-input'), hook('PostToolUse'), 'busy', null],
    ['answered: the turn ended', at('needs-input'), hook('Stop'), 'idle', null],
    ['answered: the user typed', at('needs-input'), hook('UserPromptSubmit'), 'busy', null],
    ['denied with Esc: back at the prompt', at('needs-input'), hook('Notification', { notification: 'idle_prompt' }), 'idle', null],
    ['elicitation answered', at('needs-input'), hook('Notification', { notification: 'elicitation_response' }), 'busy', null],
    ['elicitation done while busy', at('busy'), hook('Notification', { notification: 'elicitation_complete' }), 'busy', null],
    // limited: entered by a limit failure, with its reset time in the note
    ['limit hit while busy', at('busy'), limited, 'limited', note],
    ['limit hit without a stated reset', at('busy'), { type: 'limited', until: null, reason: 'rate_limit' }, 'limited', 'limited: rate_limit'],
    ['limit again while limited: the newer note', at('limited', { lastError: limitNote(1, 'x') }), limited, 'limited', note],
    ['a paused agent keeps paused, the note is kept', at('paused', { paused: true }), limited, 'paused', note],
    ['a dead agent is not limited', at('crashed'), limited, 'crashed', null],
    ['a failed agent stays failed', at('failed', { lastError: 'auth' }), limited, 'failed', 'auth'],
    // limited: the idle notice and an idle screen prove nothing (the prompt shows while it waits)
    ['idle notice while limited', at('limited', { lastError: note }), hook('Notification', { notification: 'idle_prompt' }), 'limited', note],
    ['idle screen while limited', at('limited', { lastError: note }), { type: 'screen', verdict: 'idle' }, 'limited', note],
    ['a screen-read expiry while limited', at('limited', { lastError: note }), { type: 'screen-expired' }, 'limited', note],
    // limited: left at the reset, by the next turn that works, or by the operator
    ['the limit reset', at('limited', { lastError: note }), { type: 'limit-reset' }, 'idle', null],
    ['the reset of a limit already left', at('busy'), { type: 'limit-reset' }, 'busy', null],
    ['the reset of a paused limited agent', at('paused', { paused: true, lastError: note }), { type: 'limit-reset' }, 'paused', null],
    ['a turn submitted (someone typed)', at('limited', { lastError: note }), hook('UserPromptSubmit'), 'busy', null],
    ['a turn that ended well', at('limited', { lastError: note }), hook('Stop'), 'idle', null],
    ['a new session', at('limited', { lastError: note }), hook('SessionStart', { source: 'resume' }), 'idle', null],
    ['operator reset', at('limited', { lastError: note }), { type: 'reset' }, 'idle', null],
    ['stopped', at('limited', { lastError: note }), { type: 'stopped' }, 'stopped', null],
    ['its pane died', at('limited', { lastError: note }), { type: 'pane-died', generation: 2, exitStatus: 1 }, 'crashed', 'exited with status 1'],
    ['not a limit: an overload', at('busy'), hook('StopFailure', { error: 'overloaded' }), 'idle', 'overloaded'],
  ])('%s', (_name, from, event, to, lastError) => {
    expect(transition(from, event)).toMatchObject({ state: to, lastError });
  });
});
