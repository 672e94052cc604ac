import { describe, expect, it } from 'vitest';
import { eventKey, feedEvent, formatEvent, parseSince, parseWaitFor, waitVerdict, type WaitTarget } from '../../src/domain/agent-events.js';
import { UsageError } from '../../src/errors.js';
import type { AgentState } from '../../src/domain/agent.js';
import type { MessageState } from '../../src/domain/message.js';

describe('events: shape, key and text', () => {
  const agentEvent = feedEvent({
    id: 7,
    ts: Date.parse('2026-12-03T10:01:02.345Z'),
    messageId: null,
    agent: 'marie',
    kind: 'agent_state',
    fromState: 'idle',
    toState: 'busy',
    detail: { on: 'hook:UserPromptSubmit' },
  });
  const messageEvent = feedEvent({ id: 3, ts: Date.parse('2026-12-03T10:01:03Z'), messageId: 'abc123', agent: 'marie', kind: 'confirmed', fromState: 'delivered', toState: 'confirmed', detail: null });
  it('keeps agent and message events apart in the key', () => {
    expect(eventKey(agentEvent)).toBe('a7');
    expect(eventKey(messageEvent)).toBe('mabc123.3');
  });
  it('one readable line each, no control characters', () => {
    expect(formatEvent(agentEvent)).toBe('10:01:02.345 marie agent_state idle -> busy {"on":"hook:UserPromptSubmit"}');
    expect(formatEvent(messageEvent)).toBe('10:01:03.000 marie confirmed abc123 delivered -> confirmed');
    // Details are JSON (escaped already); the other fields are printed as they are stored.
    const hostile = formatEvent({ ...agentEvent, kind: 'x\u001b[2J\ny', from: null, to: null, detail: null });
    expect(hostile).not.toContain('\n');
    expect(hostile).not.toContain('\u001b');
  });
});

describe('events: --since', () => {
  const now = Date.parse('2026-12-03T10:00:00Z');
  it.each<[string, number]>([
    ['2026-12-03T09:00:00Z', Date.parse('2026-12-03T09:00:00Z')],
    ['10m', now - 600_000],
    ['1h30m', now - 5_400_000],
  ])('%s', (text, want) => expect(parseSince(text, now)).toBe(want));
  it.each(['yesterday', '2026-13-45T99:00:00Z', '-5m'])('%s is a usage error', (text) => expect(() => parseSince(text, now)).toThrow(UsageError));
});

describe('wait --for', () => {
  it.each<[string, WaitTarget]>([
    ['idle', { kind: 'state', state: 'idle', text: 'idle' }],
    ['needs-input', { kind: 'state', state: 'needs-input', text: 'needs-input' }],
    ['state:limited', { kind: 'state', state: 'limited', text: 'state:limited' }],
    ['state:busy', { kind: 'state', state: 'busy', text: 'state:busy' }],
    ['confirmed:Abc123', { kind: 'confirmed', message: 'abc123', text: 'confirmed:Abc123' }],
  ])('%s', (text, want) => expect(parseWaitFor(text)).toEqual(want));
  it.each(['busy', 'state:sleepy', 'confirmed:', 'confirmed:a b', '', 'idle!'])('%j is a usage error naming the choices', (text) => {
    expect(() => parseWaitFor(text)).toThrow(UsageError);
    expect(() => parseWaitFor(text)).toThrow(/idle, needs-input, confirmed:<message id> or state:<state>/);
  });

  const facts = (state: AgentState | null, message: MessageState | null = null, paused = false) => ({ state, paused, message: message === null ? null : { agent: 'marie', state: message } });
  it.each<[string, WaitTarget, ReturnType<typeof facts>, boolean, boolean]>([
    ['idle reached', parseWaitFor('idle'), facts('idle'), true, false],
    ['idle not yet', parseWaitFor('idle'), facts('busy'), false, false],
    ['a paused idle agent is paused, not idle', parseWaitFor('idle'), facts('idle', null, true), false, false],
    ['state:paused of a paused agent', parseWaitFor('state:paused'), facts('idle', null, true), true, false],
    ['needs-input', parseWaitFor('needs-input'), facts('needs-input'), true, false],
    ['confirmed', parseWaitFor('confirmed:abc'), facts('idle', 'confirmed'), true, false],
    ['delivered, not yet confirmed', parseWaitFor('confirmed:abc'), facts('busy', 'delivered'), false, false],
    ['dead: never', parseWaitFor('confirmed:abc'), facts('idle', 'dead'), false, true],
    ['cancelled: never', parseWaitFor('confirmed:abc'), facts('idle', 'cancelled'), false, true],
  ])('%s', (_name, target, f, done, never) => {
    const v = waitVerdict(target, f);
    expect(v.done).toBe(done);
    expect(!v.done && v.never !== undefined).toBe(never);
  });
});
