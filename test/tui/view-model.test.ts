/**
 * The console's view-model without tmux or blessed: snapshots (assembled from fixture facts by the
 * real assembleSnapshot) and keys in, frames out. The clock is an argument.
 */
import { describe, expect, it } from 'vitest';
import type { AgentRecord } from '../../src/domain/agent.js';
import type { Message } from '../../src/domain/message.js';
import type { QueueStats } from '../../src/queue/store.js';
import { assembleSnapshot, type SnapshotFacts, type TeamSnapshot } from '../../src/services/snapshot.js';
import { ConfirmDialog } from '../../src/tui/dialogs.js';
import { defaultKeymap } from '../../src/tui/keymap.js';
import { makeTheme } from '../../src/tui/theme.js';
import { fixtureNow, messageFixture, paneFixture, projectFixture, recordFixture } from '../helpers/fixtures.js';
import { QUIT_WHEN_STARTED, ViewModel, messageTtl, type PreviewInput } from '../../src/tui/view-model.js';

const now = fixtureNow;
const project = projectFixture;
const pane = paneFixture;
const record = (name: string, paneId: string, patch: Partial<AgentRecord> = {}): AgentRecord => recordFixture(name, { paneId, ...patch });
const message = (id: string, agent: string, patch: Partial<Message> = {}): Message => messageFixture(id, { agent, body: `for ${agent}`, ...patch });
const W = 120;
const H = 36;

function snapshot(patch: Partial<SnapshotFacts> = {}): TeamSnapshot {
  const stats: QueueStats = { agents: [], totals: {} as QueueStats['totals'] };
  return assembleSnapshot({
    now,
    project: project(['marie', 'anga', 'fabien']),
    session: 'demo',
    socket: 'hornets-demo',
    engine: { pid: 42, running: true, endpoint: true },
    tmuxOk: true,
    records: [record('marie', '%1'), record('anga', '%2'), record('fabien', '%3')],
    panes: [pane('%1'), pane('%2'), pane('%3')],
    stats,
    pending: [message('m1', 'marie'), message('m2', 'anga'), message('m3', 'anga', { seq: 2 })],
    recent: [],
    events: [],
    worktreeOf: (n) => `/p/.hornets/worktrees/${n}`,
    ...patch,
  });
}

const noPreview: PreviewInput = { lines: [], shownPane: null, live: false };

function vm(s: TeamSnapshot = snapshot()): ViewModel {
  const v = new ViewModel(defaultKeymap, makeTheme(false), W, H, 3);
  v.setSnapshot(s);
  return v;
}

/** Content without blessed tags. */
const plain = (text: string) => text.replace(/\{\/?[a-z-]+\}/g, '');
const rowOf = (text: string, agent: string) =>
  plain(text)
    .split('\n')
    .find((l) => new RegExp(`^.[ !]${agent}\\s`).test(l)) ?? '';

describe('view-model: selection and moving', () => {
  it('selects the first agent, follows j/k within bounds, and resets the queue selection', () => {
    const v = vm();
    expect(v.selected).toBe('marie');
    expect(v.wantedPane()).toBe('%1');
    expect(v.queueRows().map((m) => m.id)).toEqual(['m1']);
    v.move(1, 0, now);
    expect(v.selected).toBe('anga');
    expect(v.queueSelected).toBe('m2');
    v.move(10, 0, now);
    expect(v.selected).toBe('fabien');
    v.move('top', 0, now);
    expect(v.selected).toBe('marie');
    v.move(-1, 0, now);
    expect(v.selected).toBe('marie');
  });

  it('keeps the selection when a snapshot drops the selected agent (moves to the first)', () => {
    const v = vm();
    v.move(2, 0, now);
    expect(v.selected).toBe('fabien');
    v.setSnapshot(snapshot({ project: project(['marie', 'anga']), records: [record('marie', '%1'), record('anga', '%2')] }));
    expect(v.selected).toBe('marie');
  });

  it('moves in the focused panel: queue rows, after Tab', () => {
    const v = vm();
    v.move(1, 0, now);
    v.cyclePanel(true);
    v.cyclePanel(true);
    expect(v.focus).toBe('queue');
    v.move(1, 0, now);
    expect(v.queueSelected).toBe('m3');
    expect(v.selectedQueueRow()!.id).toBe('m3');
    v.cyclePanel(false);
    v.cyclePanel(false);
    v.cyclePanel(false);
    expect(v.focus).toBe('recovery');
  });

  it('filter narrows the rows (Enter keeps, Esc clears) and selects a visible agent', () => {
    const v = vm();
    v.startFilter();
    for (const ch of 'ang') v.filterKey({ ch, full: ch });
    expect(v.visibleAgents().map((a) => a.name)).toEqual(['anga']);
    expect(v.selected).toBe('anga');
    expect(plain(v.frame(now, noPreview).message)).toMatch(/\/ ang/);
    v.filterKey({ full: 'enter' });
    expect(v.filterInput).toBeNull();
    expect(v.frame(now, noPreview).agents.label).toBe(' ▶ Agents 1/3 (filter "ang") ');
    v.startFilter();
    v.filterKey({ full: 'escape', name: 'escape' });
    expect(v.filter).toBe('');
    expect(v.visibleAgents()).toHaveLength(3);
  });

  it('scope: the queue of the selected agent or of the whole team', () => {
    const v = vm();
    expect(v.toggleScope()).toBe('queue and recovery: the whole team');
    expect(v.queueRows().map((m) => m.id)).toEqual(['m1', 'm2', 'm3']);
    expect(v.frame(now, noPreview).queue.label).toBe(' Queue · all agents · 3 pending ');
    expect(v.toggleScope()).toBe('queue and recovery: marie only');
  });
});

describe('view-model: frames', () => {
  it('panels, labels, focus mark, status line and header', () => {
    const v = vm();
    const f = v.frame(now, { lines: ['demo> '], shownPane: '%1', live: true });
    expect(f.agents).toMatchObject({ label: ' ▶ Agents 3 ', focused: true });
    expect(f.preview).toMatchObject({ label: ' Preview · marie %1 · live ', focused: false });
    expect(f.preview.content).toContain('demo>');
    expect(f.queue.label).toBe(' Queue · marie · 1 pending ');
    expect(rowOf(f.agents.content, 'marie')).toMatch(/^▸ marie\s+demo\s+idle\s/);
    expect(plain(f.status)).toMatch(/^ \[Agents\] .*attach.*send.*quit/);
    expect(plain(f.header)).toMatch(/hornets-tui · demo/);
    expect(f.dialog).toBeNull();
    expect(f.layout.agents.width).toBeGreaterThan(0);
  });

  it("an agent with no pane: stopped in its row, the display rule's detail in the preview", () => {
    const v = vm(snapshot({ panes: [pane('%2'), pane('%3')] }));
    const f = v.frame(now, noPreview);
    expect(rowOf(f.agents.content, 'marie')).toMatch(/^▸ marie\s+demo\s+stopped\s/);
    expect(f.preview.label).toBe(' Preview · marie (not running) ');
    expect(f.preview.content).toContain('marie is stopped: no tmux pane (last known state: idle)');
  });

  it("the stuck escalation and a failed agent show with the display rule's labels", () => {
    const v = vm(
      snapshot({
        records: [
          record('marie', '%1', { state: 'stuck', lastError: 'stuck: a nudge got no UserPromptSubmit' }),
          record('anga', '%2', { state: 'failed', lastError: 'auth' }),
          record('fabien', '%3', { state: 'backing-off' }),
        ],
        panes: [pane('%1'), pane('%2')],
      }),
    );
    const f = v.frame(now, noPreview);
    expect(rowOf(f.agents.content, 'marie')).toMatch(/marie\s+demo\s+stuck\s/);
    expect(rowOf(f.agents.content, 'anga')).toMatch(/anga\s+demo\s+failed\s.*OPEN/);
    expect(rowOf(f.agents.content, 'fabien')).toMatch(/fabien\s+demo\s+backing-off\s/);
    // Colour keys reach the theme: stuck warns (yellow), failed is fatal (bold red).
    const colour = new ViewModel(defaultKeymap, makeTheme(true), W, H, 3);
    colour.setSnapshot(v.snapshot!);
    const c = colour.frame(now, noPreview).agents.content;
    expect(c).toMatch(/\{yellow-fg\}stuck/);
    expect(c).toMatch(/\{bold\}\{red-fg\}failed/);
  });

  it('help comes from the keymap: every binding has its line', () => {
    const v = vm();
    const help = v.helpText().join('\n');
    for (const b of defaultKeymap) expect(help).toContain(b.description.slice(0, 20));
  });

  it('dialogs: the top one is centred; closing shows the next', () => {
    const v = vm();
    const a = new ConfirmDialog(' One ', 'first?', '');
    const b = new ConfirmDialog(' Two ', 'second?', '');
    v.openDialog(a);
    v.openDialog(b);
    let d = v.frame(now, noPreview).dialog!;
    expect(d.title).toBe(' Two ');
    expect(d.rect.left * 2 + d.rect.width).toBeGreaterThanOrEqual(W - 1);
    expect(d.rect.left * 2 + d.rect.width).toBeLessThanOrEqual(W);
    v.closeDialog(b);
    d = v.frame(now, noPreview).dialog!;
    expect(d.title).toBe(' One ');
    v.closeDialog(a);
    expect(v.frame(now, noPreview).dialog).toBeNull();
  });

  it('the message line fades: info after 10 s, errors after 30 s, busy stays', () => {
    const v = vm();
    v.flash('queued m1', 'ok', now);
    expect(plain(v.frame(now + 9_000, noPreview).message)).toContain('queued m1');
    expect(v.frame(now + 10_001, noPreview).message).toBe('');
    v.flash('cannot read state', 'error', now);
    expect(plain(v.frame(now + 29_000, noPreview).message)).toContain('cannot read state');
    expect(v.frame(now + 30_001, noPreview).message).toBe('');
    v.flash(QUIT_WHEN_STARTED, 'busy', now);
    expect(plain(v.frame(now + 3_600_000, noPreview).message)).toContain('quitting when done');
    expect(messageTtl('busy')).toBe(Infinity);
  });

  it('before the first snapshot: reading state, laid out for the configured team', () => {
    const v = new ViewModel(defaultKeymap, makeTheme(false), 80, 24, 5);
    const f = v.frame(now, noPreview);
    expect(f.agents.content).toContain('reading state…');
    expect(f.agents.label).toBe(' ▶ Agents 0 ');
    v.resize(160, 50);
    expect(v.frame(now, noPreview).layout.status.width).toBe(160);
  });
});

describe('view-model: the next agent that needs you (issue 17, `!`)', () => {
  it("cycles through the agents that need you in the console's order; none: null", () => {
    const v = vm(
      snapshot({
        records: [record('marie', '%1'), record('anga', '%2', { state: 'needs-input' }), record('fabien', '%3', { state: 'failed' })],
      }),
    );
    // They sort first: anga, fabien, then marie.
    expect(v.visibleAgents().map((a) => a.name)).toEqual(['anga', 'fabien', 'marie']);
    v.select('marie');
    expect(v.selectNextNeedsYou()?.name).toBe('anga');
    expect(v.selected).toBe('anga');
    expect(v.selectNextNeedsYou()?.name).toBe('fabien');
    expect(v.selectNextNeedsYou()?.name).toBe('anga');
    expect(v.wantedPane()).toBe('%2');
    const calm = vm();
    calm.select('anga');
    expect(calm.selectNextNeedsYou()).toBeNull();
    expect(calm.selected).toBe('anga');
  });

  it('the key is in the keymap, the help and the status bar', () => {
    const v = vm();
    expect(v.helpText().join('\n')).toMatch(/!\s+jump to the next agent that needs you/);
    expect(plain(v.statusLine())).toMatch(/! needs you/);
  });
});
