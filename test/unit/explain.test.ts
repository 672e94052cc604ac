import { describe, expect, it } from 'vitest';
import { explainMessage } from '../../src/domain/explain.js';
import type { Message } from '../../src/domain/message.js';
import { fixtureNow, messageFixture } from '../helpers/fixtures.js';

const now = fixtureNow;
const base: Message = messageFixture('abcd1234ef', { body: 'x', sender: null, createdAt: now - 60_000, updatedAt: now - 1000 });

const noEngine = /no engine is running: messages to idle agents wait until it runs; start it with `hornets-tui daemon start`$/;

const cases: [string, Partial<Message>, { ahead?: number; paused?: boolean; state?: string; engine?: boolean }, RegExp[]][] = [
  ['queued, next', {}, {}, [/^queued for marie at priority 5/, /next in line/]],
  ['queued, behind others', {}, { ahead: 3 }, [/3 messages ahead/]],
  ['queued, agent paused', {}, { paused: true }, [/marie is paused/]],
  ['queued, agent busy', {}, { state: 'busy' }, [/marie is busy/]],
  ['queued, redelivery', { redeliveries: 2 }, {}, [/redelivery #2/]],
  ['queued with ttl', { expiresAt: now + 90_000 }, {}, [/expires 2026-11-21 12:01:30Z \(in 1m30s\)/]],
  ['leased', { state: 'leased', leaseOwner: 'hook:PostToolUse', leaseExpiresAt: now + 30_000, attempts: 1 }, {}, [/leased by hook:PostToolUse until .*in 30s/, /attempt 1\/5/]],
  ['delivered', { state: 'delivered', sessionId: 's-1', deliveredAt: now - 5000 }, {}, [/delivered to marie \(session s-1\)/, /5.0s ago/, /confirm/]],
  ['confirmed', { state: 'confirmed', confirmedAt: now - 2000 }, {}, [/^done: confirmed by marie/]],
  ['failed, backing off', { state: 'failed', attempts: 2, lastError: 'pane busy', availableAt: now + 8000 }, {}, [/attempt 2\/5 failed \(pane busy\)/, /retrying at .*in 8.0s/]],
  ['dead', { state: 'dead', deadReason: 'failed 5/5 attempts; last error: boom' }, {}, [/^dead-lettered/, /boom/, /queue retry abcd1234ef/]],
  ['expired', { state: 'expired', expiresAt: now - 1000 }, {}, [/^expired at/, /TTL 59s/]],
  ['cancelled', { state: 'cancelled', lastError: 'changed plans' }, {}, [/^cancelled at .*: changed plans/]],
  // Issue 9, defect 9: an idle agent with no engine waits indefinitely; say so and how to fix it.
  ['queued, agent idle, no engine', {}, { state: 'idle', engine: false }, [/marie is idle; no engine is running/, noEngine]],
  ['failed, agent idle, no engine', { state: 'failed', attempts: 1, lastError: 'pane busy' }, { state: 'idle', engine: false }, [/retrying at the next delivery; no engine/, noEngine]],
];

/** Rows where the engine sentence must not appear: an engine runs, or something else holds the message. */
const withoutNote: [string, Partial<Message>, { paused?: boolean; state?: string; engine?: boolean }][] = [
  ['idle, engine running', {}, { state: 'idle', engine: true }],
  ['idle, engine not looked at', {}, { state: 'idle' }],
  ['busy, no engine (its hooks take it)', {}, { state: 'busy', engine: false }],
  ['paused, no engine', {}, { state: 'idle', paused: true, engine: false }],
  ['delivered, no engine', { state: 'delivered', deliveredAt: now }, { state: 'idle', engine: false }],
];

describe('explainMessage', () => {
  it.each(cases)('%s', (_name, over, facts, patterns) => {
    const line = explainMessage({ message: { ...base, ...over }, ahead: facts.ahead ?? 0, agentPaused: facts.paused ?? false, agentState: facts.state ?? null, engineRunning: facts.engine, now });
    expect(line).not.toContain('\n');
    for (const p of patterns) expect(line).toMatch(p);
  });

  it('free text from outside reaches the terminal inert', () => {
    const line = explainMessage({ message: { ...base, state: 'cancelled', lastError: 'no\x1b]2;pwned\x07 \x1b[31mred\rX' }, ahead: 0, agentPaused: false, agentState: null, now });
    // eslint-disable-next-line no-control-regex -- the point: no control character may remain
    expect(line).not.toMatch(/[\x00-\x1f\x7f-\x9f]/);
    expect(line).toMatch(/: no red X$/);
  });

  it.each(withoutNote)('no engine sentence: %s', (_name, over, facts) => {
    const line = explainMessage({ message: { ...base, ...over }, ahead: 0, agentPaused: facts.paused ?? false, agentState: facts.state ?? null, engineRunning: facts.engine, now });
    expect(line).not.toContain('no engine');
  });

  it('a stuck agent: the reason and what to do', () => {
    const line = explainMessage({
      message: base,
      ahead: 0,
      agentPaused: false,
      agentState: 'stuck',
      agentError: 'stuck: 9 nudges refused over 21 s: hooks say idle but the screen shows it busy',
      engineRunning: true,
      now,
    });
    expect(line).toMatch(
      /marie is stuck \(stuck: 9 nudges refused over 21 s: hooks say idle but the screen shows it busy\): it waits until marie takes a prompt again; attach to look, `hornets-tui reset marie` tries at once$/,
    );
  });

  it('a long permission hold is named instead of the bare state (issue 11, item 6)', () => {
    const note = 'held: marie shows a permission prompt since 12:01:03 UTC (line: Proceed? [y/N]); delivery waits until it is answered (attach to answer it)';
    const line = explainMessage({ message: base, ahead: 0, agentPaused: false, agentState: 'needs-input', agentError: note, engineRunning: true, now });
    expect(line).toContain(`; ${note}`);
    expect(line).not.toContain('marie is needs-input');
    // A control sequence in the quoted screen line reaches no terminal.
    const hostile = explainMessage({ message: base, ahead: 0, agentPaused: false, agentState: 'needs-input', agentError: 'held: x (line: \x1b]2;pwned\x07a)', engineRunning: true, now });
    expect(hostile).not.toContain('\x1b');
  });
});
