import { describe, expect, it } from 'vitest';
import { holdNote, isHoldNote, judgeHold, observeScreen, type HoldDecision, type ScreenHold } from '../../src/domain/screen-hold.js';
import type { PaneVerdict } from '../../src/domain/pane-state.js';

const T = { ttlMs: 15_000, alertAfterMs: 30_000 };
const hold = (more: Partial<ScreenHold> = {}): ScreenHold => ({ verdict: 'permission', since: 1_000, confirmedAt: 1_000, line: 'Proceed? [y/N]', escalatedAt: null, ...more });

describe('observeScreen: a fresh capture', () => {
  it.each<[string, ScreenHold | null, PaneVerdict, ScreenHold | null]>([
    ['a prompt starts a hold', null, 'permission', hold({ since: 5_000, confirmedAt: 5_000 })],
    ['the prompt again confirms it, keeping when it began', hold(), 'permission', hold({ confirmedAt: 5_000 })],
    ['the prompt gone ends it', hold(), 'idle', null],
    ['nothing recognisable ends it too: the prompt is not in the live region', hold(), 'unknown', null],
    ['an error line ends it', hold(), 'error', null],
    ['busy after a prompt is a new hold of another kind', hold(), 'busy', { verdict: 'busy', since: 5_000, confirmedAt: 5_000, line: 'Proceed? [y/N]', escalatedAt: null }],
    ['idle with none stays none', null, 'idle', null],
  ])('%s', (_label, prev, verdict, want) => {
    expect(observeScreen(prev, { verdict, line: 'Proceed? [y/N]' }, 5_000)).toEqual(want);
  });

  it('an escalated hold stays escalated while it is confirmed', () => {
    expect(observeScreen(hold({ escalatedAt: 31_000 }), { verdict: 'permission', line: null }, 40_000)).toEqual(hold({ escalatedAt: 31_000, confirmedAt: 40_000 }));
  });
});

describe('judgeHold: TTL and escalation (injected clock)', () => {
  it.each<[string, ScreenHold | null, number, HoldDecision['action']]>([
    ['no hold', null, 99_000, 'none'],
    ['fresh prompt', hold(), 2_000, 'none'],
    ['just inside the TTL', hold(), 1_000 + 14_999, 'none'],
    ['not confirmed for the TTL: it lapses', hold(), 1_000 + 15_000, 'expire'],
    ['confirmed lately, held long: escalate', hold({ confirmedAt: 30_000 }), 31_000, 'escalate'],
    ['just short of the alert', hold({ confirmedAt: 30_000 }), 30_999, 'none'],
    ['escalated once only', hold({ confirmedAt: 30_000, escalatedAt: 31_000 }), 35_000, 'none'],
    ['an escalated hold still lapses without captures', hold({ confirmedAt: 30_000, escalatedAt: 31_000 }), 45_000, 'expire'],
    ['busy for long is work, not a hold to escalate', hold({ verdict: 'busy', confirmedAt: 60_000 }), 61_000, 'none'],
    ['a busy reading lapses like any other', hold({ verdict: 'busy' }), 16_000, 'expire'],
  ])('%s', (_label, h, now, want) => {
    expect(judgeHold(h, now, T).action).toBe(want);
  });
});

describe('holdNote', () => {
  it('names the agent, since when (UTC) and the line', () => {
    const note = holdNote('marie', { since: Date.UTC(2026, 11, 2, 12, 1, 3), line: '  Do you want   to proceed?  ' });
    expect(note).toBe('held: marie shows a permission prompt since 12:01:03 UTC (line: Do you want to proceed?); delivery waits until it is answered (attach to answer it)');
    expect(isHoldNote(note)).toBe(true);
    expect(isHoldNote('stuck: x')).toBe(false);
    expect(isHoldNote(null)).toBe(false);
  });

  it('shortens a long line and leaves out a missing one', () => {
    expect(holdNote('a', { since: 0, line: 'x'.repeat(200) })).toContain(`(line: ${'x'.repeat(79)}…)`);
    expect(holdNote('a', { since: 0, line: null })).toBe('held: a shows a permission prompt since 00:00:00 UTC; delivery waits until it is answered (attach to answer it)');
  });
});
