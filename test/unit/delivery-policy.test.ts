import { describe, expect, it } from 'vitest';
import { followNudge, nextDelivery, type DeliveryFacts, type DeliveryTiming } from '../../src/domain/delivery-policy.js';

const T: DeliveryTiming = { nudgeTimeoutMs: 2_000, stuckAfterMs: 20_000, stuckRetryMs: 30_000 };
const NOW = 1_000_000;
const f = (more: Partial<DeliveryFacts> = {}): DeliveryFacts => ({
  mode: 'hybrid',
  hasHooks: true,
  state: 'idle',
  paused: false,
  hasPane: true,
  held: false,
  waiting: 1,
  nudge: null,
  refusals: null,
  lastAttemptAt: null,
  ...more,
});

describe('delivery policy: nextDelivery', () => {
  it.each<[string, Partial<DeliveryFacts>, string]>([
    ['idle hook agent with a message: nudge', {}, 'nudge'],
    ['nothing waiting', { waiting: 0 }, 'none'],
    ['no pane', { hasPane: false }, 'none'],
    ['paused', { paused: true }, 'none'],
    ['held by recovery', { held: true }, 'none'],
    ['busy: its hooks take it', { state: 'busy' }, 'none'],
    ['waiting for permission: never typed into', { state: 'needs-input' }, 'none'],
    ['starting: SessionStart will hand it over', { state: 'starting' }, 'none'],
    ['pull-only profile', { mode: 'hooks' }, 'none'],
    ['push profile', { mode: 'push' }, 'push'],
    ['limited: messages wait for the reset (issue 17)', { state: 'limited' }, 'none'],
    ['limited push profile: not typed into either', { state: 'limited', mode: 'push' }, 'none'],
    ['limited hookless profile: not typed into either', { state: 'limited', hasHooks: false }, 'none'],
    ['profile without hooks pushes', { hasHooks: false }, 'push'],
    ['refused a moment ago: nudge again', { refusals: { firstAt: NOW - 5_000, lastAt: NOW - 150, count: 3, reason: 'it busy' } }, 'nudge'],
    ['refused for the stuck time: stuck', { refusals: { firstAt: NOW - 20_000, lastAt: NOW - 150, count: 40, reason: 'it busy' } }, 'stuck'],
    ['stuck, tried a moment ago: wait', { state: 'stuck', lastAttemptAt: NOW - 1_000 }, 'none'],
    ['stuck, retry time passed: nudge again', { state: 'stuck', lastAttemptAt: NOW - 30_000 }, 'nudge'],
    ['stuck but paused', { state: 'stuck', paused: true }, 'none'],
  ])('%s', (_name, facts, action) => expect(nextDelivery(f(facts), NOW, T).action).toBe(action));

  it('says why an agent is stuck', () => {
    const d = nextDelivery(f({ refusals: { firstAt: NOW - 25_000, lastAt: NOW, count: 12, reason: 'it busy' } }), NOW, T);
    expect(d).toEqual({ action: 'stuck', reason: '12 nudges refused over 25 s: hooks say idle but the screen shows it busy' });
  });
});

describe('delivery policy: followNudge', () => {
  it.each<[string, DeliveryFacts['nudge'], string | null]>([
    ['no nudge out', null, null],
    ['taken', { sentAt: NOW - 100, enters: 0, taken: true }, 'nudge-taken'],
    ['within its time', { sentAt: NOW - 1_999, enters: 0, taken: false }, 'await-nudge'],
    ['time up: press Enter once more', { sentAt: NOW - 2_000, enters: 0, taken: false }, 'press-enter'],
    ['Enter pressed, time up again: stuck', { sentAt: NOW - 2_000, enters: 1, taken: false }, 'stuck'],
    ['Enter pressed, still within its time', { sentAt: NOW - 500, enters: 1, taken: false }, 'await-nudge'],
  ])('%s', (_name, nudge, action) => expect(followNudge(f({ nudge }), NOW, T)?.action ?? null).toBe(action));

  it.each<[string, Partial<DeliveryFacts>]>([
    ['paused meanwhile', { paused: true }],
    ['pane gone', { hasPane: false }],
    ['held by recovery (crashed, backing off)', { held: true }],
  ])('a nudge out is void when the agent is %s', (_name, more) => {
    expect(followNudge(f({ ...more, nudge: { sentAt: NOW - 5_000, enters: 1, taken: false } }), NOW, T)).toEqual({ action: 'nudge-void' });
  });

  it('waits exactly until the nudge times out', () => {
    expect(followNudge(f({ nudge: { sentAt: NOW - 500, enters: 0, taken: false } }), NOW, T)).toEqual({ action: 'await-nudge', at: NOW + 1_500 });
  });
});
