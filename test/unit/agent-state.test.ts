import { describe, expect, it } from 'vitest';
import { nextState, type AgentSignal } from '../../src/domain/agent-state.js';
import type { AgentState } from '../../src/domain/agent.js';

const hook = (event: string, notification?: string): AgentSignal => ({ type: 'hook', event, notification });

describe('nextState', () => {
  it.each<[AgentState, AgentSignal, AgentState]>([
    ['starting', hook('SessionStart'), 'idle'],
    ['idle', hook('UserPromptSubmit'), 'busy'],
    ['busy', hook('PostToolUse'), 'busy'],
    ['busy', hook('Stop'), 'idle'],
    ['busy', hook('PreCompact'), 'compacting'],
    ['compacting', hook('SessionStart'), 'idle'],
    ['busy', hook('Notification', 'permission_prompt'), 'waiting-permission'],
    ['waiting-permission', hook('PostToolUse'), 'busy'],
    ['busy', hook('Notification', 'idle_prompt'), 'idle'],
    ['idle', hook('Notification', 'auth_success'), 'idle'],
    ['busy', hook('SessionEnd'), 'stopped'],
    ['busy', { type: 'pane-died' }, 'crashed'],
    ['stopped', { type: 'pane-died' }, 'stopped'],
    ['crashed', { type: 'backing-off' }, 'backing-off'],
    ['backing-off', { type: 'started' }, 'starting'],
    ['backing-off', { type: 'breaker-open' }, 'failed'],
    ['failed', hook('SessionStart'), 'failed'],
    ['idle', { type: 'pause' }, 'paused'],
    ['paused', hook('Stop'), 'paused'],
    ['paused', { type: 'resume' }, 'idle'],
    ['busy', { type: 'resume' }, 'busy'],
    ['idle', { type: 'pane', verdict: 'permission' }, 'waiting-permission'],
    ['idle', { type: 'pane', verdict: 'busy' }, 'busy'],
    ['crashed', { type: 'pane', verdict: 'idle' }, 'crashed'],
    ['paused', { type: 'pane', verdict: 'busy' }, 'paused'],
    ['busy', { type: 'pane', verdict: 'unknown' }, 'busy'],
  ])('%s --%j--> %s', (from, signal, to) => expect(nextState(from, signal)).toBe(to));
});
