import { describe, expect, it } from 'vitest';
import type { AgentState } from '../../src/domain/agent.js';
import { isLimitFailure, isLimitNote, limitNote, limitResumePlan, limitUntil, parseLimitReset } from '../../src/domain/usage-limit.js';

const t = (iso: string) => Date.parse(iso);

describe('usage limit: the reset time the CLI states', () => {
  it.each<[string, string, string | null]>([
    // Claude Code 2.x: "You've hit your <limit> · resets <time> (<zone>)"; the time is the next one to come
    ["You've hit your session limit · resets 3pm (UTC)", '2026-12-03T09:45:00Z', '2026-12-03T15:00:00Z'],
    ["You've hit your session limit · resets 3:30pm (UTC)", '2026-12-03T09:45:00Z', '2026-12-03T15:30:00Z'],
    ["You've hit your session limit · resets 3pm (Europe/Berlin)", '2026-12-03T09:45:00Z', '2026-12-03T14:00:00Z'],
    ["You've hit your session limit · resets 3pm (America/New_York)", '2026-07-03T09:45:00Z', '2026-07-03T19:00:00Z'],
    ["You've hit your session limit · resets 8am (UTC)", '2026-12-03T09:45:00Z', '2026-12-04T08:00:00Z'],
    ["You've hit your session limit · resets 12am (UTC)", '2026-12-03T09:45:00Z', '2026-12-04T00:00:00Z'],
    ["You've hit your session limit · resets 12pm (UTC)", '2026-12-03T09:45:00Z', '2026-12-03T12:00:00Z'],
    ["You've hit your weekly limit · resets Dec 9, 10am (UTC)", '2026-12-03T09:45:00Z', '2026-12-09T10:00:00Z'],
    ["You've hit your weekly limit · resets Jan 2, 2027, 10:15am (UTC)", '2026-12-30T09:45:00Z', '2027-01-02T10:15:00Z'],
    ["You've hit your weekly limit · resets Jan 2, 10am (UTC)", '2026-12-30T09:45:00Z', '2027-01-02T10:00:00Z'],
    // no zone named: the machine's zone is not known to a pure function; UTC is assumed
    ["You've hit your session limit · resets 3pm", '2026-12-03T09:45:00Z', '2026-12-03T15:00:00Z'],
    // relative, and the older epoch form
    ['Fast limit reached and temporarily disabled · resets in 5m', '2026-12-03T09:45:00Z', '2026-12-03T09:50:00Z'],
    ['rate limited · resets in 1h 30m', '2026-12-03T09:45:00Z', '2026-12-03T11:15:00Z'],
    ['Claude AI usage limit reached|1796313600', '2026-12-03T09:45:00Z', '2026-12-03T16:00:00Z'],
    // nothing stated, or nonsense
    ['API Error: 429 rate_limit_error', '2026-12-03T09:45:00Z', null],
    ["You've hit your session limit · resets 13pm (UTC)", '2026-12-03T09:45:00Z', null],
    ["You've hit your session limit · resets 3pm (Not/AZone)", '2026-12-03T09:45:00Z', null],
  ])('%s at %s -> %s', (text, now, want) => {
    expect(parseLimitReset(text, t(now))).toBe(want === null ? null : t(want));
  });
});

describe('usage limit: which failures are limits', () => {
  it.each<[string | null, string, boolean]>([
    ['rate_limit', '', true],
    ['billing_error', '', true],
    ['overloaded', 'API Error: 529 overloaded', false],
    ['server_error', 'API Error: 500', false],
    [null, "You've hit your session limit · resets 3pm (UTC)", true],
    [null, 'Claude AI usage limit reached|1796313600', true],
    [null, 'Claude needs your permission to use Bash', false],
  ])('%s / %s -> %s', (kind, text, want) => {
    expect(isLimitFailure(kind, text)).toBe(want);
  });
});

describe('usage limit: the note kept as the agent last error', () => {
  it('carries the reset time, read back exactly', () => {
    const note = limitNote(t('2026-12-03T15:00:00Z'), "You've hit your session limit · resets 3pm (UTC)");
    expect(note).toBe("limited until 2026-12-03T15:00:00.000Z: You've hit your session limit · resets 3pm (UTC)");
    expect(isLimitNote(note)).toBe(true);
    expect(limitUntil(note)).toBe(t('2026-12-03T15:00:00Z'));
  });
  it('without a reset time it is still a limit note, with no time', () => {
    const note = limitNote(null, 'rate_limit');
    expect(note).toBe('limited: rate_limit');
    expect(isLimitNote(note)).toBe(true);
    expect(limitUntil(note)).toBeNull();
  });
  it.each([null, 'exited with status 1', 'limited by nothing', 'held: since 10:00'])('%s is no limit note', (s) => {
    expect(isLimitNote(s)).toBe(false);
    expect(limitUntil(s)).toBeNull();
  });
});

describe('usage limit: when the engine resumes limited agents (injected clock)', () => {
  const until = (ms: number | null) => (ms === null ? 'limited: rate_limit' : limitNote(ms, 'x'));
  const a = (name: string, state: AgentState, lastError: string | null, paused = false) => ({ name, state, lastError, paused });
  it.each<[string, ReturnType<typeof a>[], number, string[], number | null]>([
    ['none limited', [a('m', 'idle', null), a('n', 'busy', null)], 1000, [], null],
    ['reset ahead: wake then', [a('m', 'limited', until(5000))], 1000, [], 5000],
    ['reset due: resume', [a('m', 'limited', until(1000))], 1000, ['m'], null],
    ['reset past (an engine started late): resume', [a('m', 'limited', until(10))], 1000, ['m'], null],
    ['the nearest reset wins the wake', [a('m', 'limited', until(9000)), a('n', 'limited', until(4000)), a('o', 'limited', until(500))], 1000, ['o'], 4000],
    ['no reset stated: nothing to schedule', [a('m', 'limited', until(null))], 1000, [], null],
    ['paused: resumed by the operator, not the clock', [a('m', 'limited', until(10), true)], 1000, [], null],
    ['a note left on a state that is not limited is not acted on', [a('m', 'idle', until(10))], 1000, [], null],
  ])('%s', (_name, agents, now, due, wakeAt) => {
    expect(limitResumePlan(agents, now)).toEqual({ due, wakeAt });
  });
});
