/**
 * When the console redraws with nothing but the clock (tui/clock.ts): tables for the pieces, then
 * the whole frame walked through hours of an idle team and minutes of a busy one: at every planned
 * wake-up minus 1 ms the frame is still the one drawn (no change is missed); with the slack the
 * console uses, fifty idle agents' ages share a few frames a minute and none shows more than 10 s late.
 */
import { describe, expect, it } from 'vitest';
import type { AgentRecord } from '../../src/domain/agent.js';
import type { QueueEvent } from '../../src/domain/message.js';
import type { QueueStats } from '../../src/queue/store.js';
import { assembleSnapshot, type SnapshotFacts } from '../../src/services/snapshot.js';
import { nextAgeChange, nextClockChange, nextCountdownChange } from '../../src/tui/clock.js';
import { defaultKeymap } from '../../src/tui/keymap.js';
import { makeTheme } from '../../src/tui/theme.js';
import { ViewModel, messageTtl, type PreviewInput } from '../../src/tui/view-model.js';
import { fixtureNow, messageFixture, paneFixture, projectFixture, recordFixture } from '../helpers/fixtures.js';

const now = fixtureNow;
const record = (name: string, paneId: string, patch: Partial<AgentRecord> = {}) => recordFixture(name, { paneId, ...patch });
let eventId = 0;
const event = (agent: string, kind: string, ts: number, detail: Record<string, unknown> | null = null): QueueEvent => ({
  id: ++eventId,
  ts,
  messageId: null,
  agent,
  kind,
  fromState: null,
  toState: null,
  detail,
});

describe('clock: when a time-derived text changes', () => {
  it.each([
    [0, 1000],
    [1, 999],
    [1500, 500],
    [59_999, 1],
    [60_000, 60_000],
    [61_000, 59_000],
    [3_599_999, 1],
    [3_600_000, 3_600_000],
    [86_400_000, 86_400_000],
    [-5, 1000],
  ])('an age of %i ms shows another text in %i ms', (age, next) => {
    expect(nextAgeChange(age)).toBe(next);
  });

  it.each([
    [2500, 500],
    [2000, 1000],
    [1, 1],
    [0, Infinity],
    [-10, Infinity],
  ])('a countdown %i ms from its end changes in %s ms', (left, next) => {
    expect(nextCountdownChange(now + left, now)).toBe(next);
  });

  it('a restart counting down in tenths of a second asks for the shortest wake-up', () => {
    const facts = scenario('busy');
    const s = assembleSnapshot({ ...facts, now });
    expect(nextClockChange({ snapshot: s, now, messageExpiresAt: null })).toBeLessThanOrEqual(100);
  });
});

const W = 140;
const H = 44;
const noPreview: PreviewInput = { lines: [], shownPane: null, live: false };

function scenario(kind: 'idle' | 'busy'): SnapshotFacts {
  const names = ['marie', 'anga', 'fabien', 'lou'];
  const stats: QueueStats = { agents: [], totals: {} as QueueStats['totals'] };
  const base: SnapshotFacts = {
    now,
    project: projectFixture(names),
    session: 'demo',
    socket: 'hornets-demo',
    engine: { pid: 42, running: true, endpoint: true },
    tmuxOk: true,
    records: [
      record('marie', '%1', { lastEventAt: now - 2_300 }),
      record('anga', '%2', { lastEventAt: now - 59_400 }),
      record('fabien', '%3', { lastEventAt: now - 3_599_100 }),
      record('lou', '%4', { lastEventAt: null }),
    ],
    panes: [paneFixture('%1'), paneFixture('%2'), paneFixture('%3'), paneFixture('%4')],
    stats,
    pending: [],
    recent: [],
    events: names.map((n, i) => event(n, 'agent_started', now - 40_000 - i * 700, { paneId: `%${i + 1}` })),
    worktreeOf: (n) => `/p/.hornets/worktrees/${n}`,
  };
  if (kind === 'idle') return base;
  return {
    ...base,
    records: [...base.records.slice(0, 3), record('lou', '%4', { state: 'backing-off', lastEventAt: now - 7_250 })],
    panes: base.panes.slice(0, 3),
    pending: [messageFixture('m1', { agent: 'marie', createdAt: now - 4_400 }), messageFixture('m2', { agent: 'anga', seq: 2, createdAt: now - 65_123 })],
    recent: [messageFixture('m0', { agent: 'anga', state: 'confirmed', createdAt: now - 30_100, confirmedAt: now - 29_000 })],
    events: [...base.events, event('lou', 'restart_scheduled', now - 1_000, { at: now + 4_321, attempt: 2 })],
  };
}

/** Everything the console draws that the clock can move, with the texts it refreshes on purpose less often made equal. */
function frameAt(facts: SnapshotFacts, t: number, flashAt: number): string {
  const v = new ViewModel(defaultKeymap, makeTheme(false), W, H, facts.project.config.agents.length);
  v.setSnapshot(assembleSnapshot({ ...facts, now: t }));
  v.flash('queued m1 for marie', 'ok', flashAt);
  v.cyclePanel(true); // the queue panel focused: its why lines show
  const f = v.frame(t, noPreview);
  return [f.header, f.agents.content, f.queue.content, f.recovery.content, f.message]
    .join('\n')
    .replace(/restart scheduled in [\d.]+s/g, 'restart scheduled in …') // tenths: bounded by the refresh period
    .replace(/(done: confirmed by .* at \S+ \S+) \([^)]*\)/g, '$1 (…)'); // history's "ago": HISTORY_TEXT_MS
}

function walk(kind: 'idle' | 'busy', untilMs: number): number[] {
  const facts = scenario(kind);
  const flashAt = now - 2_000;
  const delays: number[] = [];
  let t = now;
  while (t < now + untilMs) {
    const s = assembleSnapshot({ ...facts, now: t });
    const d = nextClockChange({ snapshot: s, now: t, messageExpiresAt: flashAt + messageTtl('ok'), exact: true });
    const drawn = frameAt(facts, t, flashAt);
    // Nothing on screen changes before the planned wake-up.
    expect(frameAt(facts, t + d - 1, flashAt), `frame changed before ${t + d - now} ms (planned at ${t - now} ms)`).toBe(drawn);
    delays.push(d);
    t += d;
  }
  return delays;
}

describe('clock: the whole frame', () => {
  it('an idle team: no change missed, exact wake-ups once a second in the first minute and then rarely', () => {
    const delays = walk('idle', 3 * 3_600_000);
    let t = 0;
    const late = delays.filter((d) => (t += d) > 5 * 60_000);
    // After five minutes every age is in minutes: wake-ups only at their boundaries and the header's minute.
    expect(late.length).toBeLessThan(3 * 60 * 9);
    expect(delays.length).toBeLessThan(1200);
  });

  it('a busy team (queue, back-off countdown, history): no change missed over five minutes', () => {
    const delays = walk('busy', 5 * 60_000);
    expect(delays.length).toBeGreaterThan(100);
  });

  it('fifty idle agents share frames: a few a minute once their ages are in minutes, each text at most 10 s late', () => {
    const names = Array.from({ length: 50 }, (_, i) => `a${i}`);
    const facts: SnapshotFacts = {
      ...scenario('idle'),
      project: projectFixture(names),
      // Heartbeats spread over a minute: fifty different minute boundaries.
      records: names.map((n, i) => record(n, `%${i}`, { lastEventAt: now - 1_000 - ((i * 7_919) % 60_000) })),
      panes: names.map((_, i) => paneFixture(`%${i}`)),
      events: names.map((n, i) => event(n, 'agent_started', now - 2_000 - ((i * 7_919) % 60_000))),
    };
    let t = now + 2 * 60_000;
    const end = t + 10 * 60_000;
    let wakeUps = 0;
    while (t < end) {
      const s = assembleSnapshot({ ...facts, now: t });
      const exact = nextClockChange({ snapshot: s, now: t, messageExpiresAt: null, exact: true });
      const d = nextClockChange({ snapshot: s, now: t, messageExpiresAt: null });
      expect(d).toBeGreaterThanOrEqual(exact);
      expect(d - exact).toBeLessThanOrEqual(10_000);
      t += d;
      wakeUps++;
    }
    // Without the slack: fifty-one per minute (each age and the header's clock).
    expect(wakeUps / 10).toBeLessThanOrEqual(8);
  });
});
