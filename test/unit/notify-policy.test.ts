import { describe, expect, it } from 'vitest';
import type { AgentState } from '../../src/domain/agent.js';
import type { FeedEvent } from '../../src/domain/agent-events.js';
import { TerminalAlerts } from '../../src/tui/alerts.js';
import {
  OVER_BUDGET,
  clockTime,
  needsYouLine,
  notificationText,
  notifyDecision,
  terminalAlert,
  webhookBody,
  type NotifyMemory,
  type NotifyState,
  type StateChange,
} from '../../src/domain/notify-policy.js';

const QUIET = 60_000;

function change(agent: string, from: AgentState | null, to: NotifyState, at: number): StateChange {
  return { agent, from, to, at, reason: null, resetAt: null };
}

/** Runs a sequence of changes through the policy with its memory; returns which ones notified. */
function run(changes: StateChange[], quietMs = QUIET): boolean[] {
  let memory: NotifyMemory = new Map();
  return changes.map((c) => {
    const d = notifyDecision(memory, c, quietMs);
    memory = d.memory;
    return d.notify;
  });
}

describe('notification policy: one per agent per state change, a quiet period against repeats', () => {
  it.each<[string, StateChange[], boolean[]]>([
    ['entering needs-input notifies', [change('a1', 'idle', 'needs-input', 0)], [true]],
    ['every needs-you state notifies', [change('a1', 'busy', 'limited', 0), change('a2', 'idle', 'stuck', 0), change('a3', 'backing-off', 'failed', 0)], [true, true, true]],
    [
      'working states do not',
      [change('a1', 'idle', 'busy', 0), change('a1', 'busy', 'idle', 1), change('a1', 'idle', 'crashed', 2), change('a1', 'stopped', 'starting', 3)],
      [false, false, false, false],
    ],
    ['leaving a needs-you state does not', [change('a1', 'idle', 'needs-input', 0), change('a1', 'needs-input', 'busy', 1000)], [true, false]],
    [
      'flapping needs-input -> busy -> needs-input inside the quiet period: one',
      [
        change('a1', 'idle', 'needs-input', 0),
        change('a1', 'needs-input', 'busy', 1000),
        change('a1', 'busy', 'needs-input', 2000),
        change('a1', 'needs-input', 'busy', 3000),
        change('a1', 'busy', 'needs-input', QUIET - 1),
      ],
      [true, false, false, false, false],
    ],
    [
      'the same state again after the quiet period: again',
      [change('a1', 'idle', 'needs-input', 0), change('a1', 'needs-input', 'busy', 1000), change('a1', 'busy', 'needs-input', QUIET)],
      [true, false, true],
    ],
    [
      'another needs-you state inside the quiet period is news',
      [change('a1', 'idle', 'needs-input', 0), change('a1', 'needs-input', 'limited', 1000), change('a1', 'limited', 'needs-input', 2000)],
      [true, true, true],
    ],
    ['agents are counted apart', [change('a1', 'idle', 'needs-input', 0), change('a2', 'idle', 'needs-input', 10)], [true, true]],
    ['no change (same state) is nothing', [change('a1', 'needs-input', 'needs-input', 0)], [false]],
    ['over budget (a crossing) notifies, whatever the state', [change('a1', 'busy', OVER_BUDGET, 0), change('a2', 'paused', OVER_BUDGET, 0), change('a3', null, OVER_BUDGET, 0)], [true, true, true]],
    [
      'over budget again within the quiet period (lifted and crossed again): once; after it: again',
      [change('a1', 'busy', OVER_BUDGET, 0), change('a1', 'paused', 'idle', 1000), change('a1', 'busy', OVER_BUDGET, 2000), change('a1', 'busy', OVER_BUDGET, 2000 + QUIET)],
      [true, false, false, true],
    ],
    [
      'over budget and a needs-you state are news to each other',
      [change('a1', 'idle', 'needs-input', 0), change('a1', 'needs-input', OVER_BUDGET, 1000), change('a1', 'paused', 'needs-input', 2000)],
      [true, true, true],
    ],
    ['a quiet period of 0 repeats every change', [change('a1', 'idle', 'needs-input', 0), change('a1', 'needs-input', 'busy', 1), change('a1', 'busy', 'needs-input', 2)], [true, false, true]],
  ])('%s', (_name, changes, want) => {
    expect(run(changes, _name.includes('quiet period of 0') ? 0 : QUIET)).toEqual(want);
  });

  it('the memory given in is not changed (the caller keeps what comes out)', () => {
    const memory: NotifyMemory = new Map();
    notifyDecision(memory, change('a1', 'idle', 'needs-input', 0), QUIET);
    expect(memory.size).toBe(0);
  });
});

describe('notification texts', () => {
  const limited: StateChange = { agent: 'a3', from: 'busy', to: 'limited', at: Date.parse('2026-12-03T13:00:00Z'), reason: 'hook:StopFailure', resetAt: Date.parse('2026-12-03T14:05:00Z') };

  it('the webhook body: every documented field, and a Slack text line', () => {
    expect(webhookBody(limited, { project: 'demo', node: 'local' })).toEqual({
      text: 'hornets demo: a3 hit a usage limit until 2026-12-03T14:05:00.000Z',
      project: 'demo',
      node: 'local',
      agent: 'a3',
      state: 'limited',
      previousState: 'busy',
      reason: 'hook:StopFailure',
      since: '2026-12-03T13:00:00.000Z',
      resetAt: '2026-12-03T14:05:00.000Z',
    });
  });

  it('the tmux status line names who needs you, a limit with its reset time', () => {
    expect(
      needsYouLine([
        { name: 'a1', state: 'needs-input', resetAt: null },
        { name: 'a2', state: 'busy', resetAt: null },
        { name: 'a3', state: 'limited', resetAt: limited.resetAt },
      ]),
    ).toBe(`2 need you: a1 (needs-input), a3 (limited until ${clockTime(limited.resetAt!)})`);
    expect(needsYouLine([{ name: 'a1', state: 'failed', resetAt: null }])).toBe('1 needs you: a1 (failed)');
    expect(needsYouLine([{ name: 'a1', state: 'idle', resetAt: null }])).toBe('');
  });

  it('over budget: the webhook body says over-budget with the reason, the text carries it, the status line marks it', () => {
    const over: StateChange = { agent: 'a4', from: 'busy', to: OVER_BUDGET, at: Date.parse('2026-12-03T13:00:00Z'), reason: 'cost $1.2500 exceeds the budget of $1', resetAt: null };
    expect(webhookBody(over, { project: 'demo', node: 'local' })).toEqual({
      text: 'hornets demo: a4 is over its budget, delivery paused: cost $1.2500 exceeds the budget of $1',
      project: 'demo',
      node: 'local',
      agent: 'a4',
      state: 'over-budget',
      previousState: 'busy',
      reason: 'cost $1.2500 exceeds the budget of $1',
      since: '2026-12-03T13:00:00.000Z',
      resetAt: null,
    });
    // Control characters in a reason stay inert.
    expect(notificationText({ ...over, reason: 'x\x1b]0;y' }, 'demo')).toBe('hornets demo: a4 is over its budget, delivery paused: x ]0;y');
    expect(
      needsYouLine([
        { name: 'a1', state: 'paused', resetAt: null, overBudget: true },
        { name: 'a2', state: 'needs-input', resetAt: null, overBudget: true },
        { name: 'a3', state: 'paused', resetAt: null, overBudget: false },
      ]),
    ).toBe('2 need you: a1 (over budget), a2 (needs-input, over budget)');
  });

  it('bell and desktop sequences; control characters in the text cannot end the sequence', () => {
    expect(terminalAlert('a1 needs input', { bell: true, desktop: 'off', title: 'hornets' })).toBe('\x07');
    expect(terminalAlert('a1 needs input', { bell: false, desktop: 'osc9', title: 'hornets' })).toBe('\x1b]9;a1 needs input\x07');
    expect(terminalAlert('a1; needs input', { bell: true, desktop: 'osc777', title: 'hornets demo' })).toBe('\x1b]777;notify;hornets demo;a1, needs input\x07\x07');
    expect(terminalAlert('evil\x07\x1b]0;x', { bell: false, desktop: 'osc9', title: 't' })).toBe('\x1b]9;evil  ]0,x\x07');
    expect(terminalAlert('x', { bell: false, desktop: 'off', title: 't' })).toBe('');
  });
});

describe("the console's alerts (tui/alerts.ts) on the engine's feed", () => {
  const feed = (kind: string, agent: string, ts: number, o: { from?: string; to?: string; detail?: Record<string, unknown> } = {}): FeedEvent => ({
    id: ts,
    time: new Date(ts).toISOString(),
    ts,
    agent,
    kind,
    message: null,
    from: o.from ?? null,
    to: o.to ?? null,
    detail: o.detail ?? null,
  });

  it('over_budget rings once per crossing with the reason, like a needs-you state', () => {
    const written: string[] = [];
    const alerts = new TerminalAlerts({ bell: true, desktop: 'osc9', quiet: '10m' }, 'demo', (s) => written.push(s));
    alerts.onChange(feed('over_budget', 'a1', 1000, { detail: { reason: '1510 tokens exceed the budget of 1000' } }));
    alerts.onChange(feed('agent_state', 'a1', 1001, { from: 'busy', to: 'paused', detail: { on: 'pause' } }));
    alerts.onChange(feed('over_budget', 'a1', 2000, { detail: { reason: '1510 tokens exceed the budget of 1000' } }));
    expect(written).toEqual(['\x1b]9;hornets demo: a1 is over its budget, delivery paused: 1510 tokens exceed the budget of 1000\x07\x07']);
    alerts.onChange(feed('agent_state', 'a1', 3000, { from: 'idle', to: 'needs-input', detail: { on: 'hook:Notification' } }));
    expect(written).toHaveLength(2);
  });
});
