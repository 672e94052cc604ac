/** The console's pure parts: keymap, snapshot assembly, views, layout, dialogs, control-mode parsing. */
import { describe, expect, it } from 'vitest';
import { limitNote } from '../../src/domain/usage-limit.js';
import { emptyUsage } from '../../src/domain/usage.js';
import { clockTime } from '../../src/domain/notify-policy.js';
import type { QueueEvent } from '../../src/domain/message.js';
import type { QueueStats } from '../../src/queue/store.js';
import { assembleSnapshot, type SnapshotFacts } from '../../src/services/snapshot.js';
import { parseControlLine } from '../../src/tmux/control.js';
import { ConfigError } from '../../src/errors.js';
import { buildKeymap, defaultKeymap, helpLines, hintsFor, resolveKey } from '../../src/tui/keymap.js';
import { computeLayout } from '../../src/tui/layout.js';
import { makeTheme, chooseColor } from '../../src/tui/theme.js';
import { fit, strWidth, truncate, esc } from '../../src/tui/text.js';
import { filterAgents, renderAgents } from '../../src/tui/views/agents.js';
import { renderQueue } from '../../src/tui/views/queue.js';
import { cutAnsi, previewWindow, sanitizeCapture } from '../../src/tui/views/preview.js';
import { renderHeader, renderStatus } from '../../src/tui/views/chrome.js';
import { ConfirmDialog, SendDialog, NewAgentDialog } from '../../src/tui/dialogs.js';
import { fixtureNow, messageFixture, paneFixture, projectFixture, recordFixture } from '../helpers/fixtures.js';

const now = fixtureNow;
const project = projectFixture;
const record = recordFixture;
const pane = paneFixture;
const message = messageFixture;

let eventId = 0;
function event(agent: string, kind: string, ts: number, detail: Record<string, unknown> | null = null): QueueEvent {
  return { id: ++eventId, ts, messageId: null, agent, kind, fromState: null, toState: null, detail };
}

function facts(patch: Partial<SnapshotFacts> = {}): SnapshotFacts {
  const stats: QueueStats = { agents: [], totals: {} as QueueStats['totals'] };
  return {
    now,
    project: project(['marie', 'anga', 'fabien']),
    session: 'demo',
    socket: 'hornets-demo',
    engine: { pid: 42, running: true, endpoint: true },
    tmuxOk: true,
    records: [record('marie'), record('anga'), record('fabien')],
    panes: [pane('%5'), pane('%4'), pane('%6')],
    stats,
    pending: [],
    recent: [],
    events: [],
    worktreeOf: (n) => `/p/.hornets/worktrees/${n}`,
    ...patch,
  };
}

describe('snapshot', () => {
  it('corrects stored states with what tmux says', () => {
    const s = assembleSnapshot(
      facts({
        records: [record('marie'), record('anga', { state: 'busy' }), record('fabien', { paused: true })],
        panes: [pane('%5', { dead: true, deadStatus: 3 }), pane('%4'), pane('%6')],
      }),
    );
    expect(s.agents.map((a) => [a.name, a.state])).toEqual([
      ['marie', 'crashed'],
      ['anga', 'busy'],
      ['fabien', 'paused'],
    ]);
    const gone = assembleSnapshot(facts({ panes: [] }));
    expect(gone.agents.every((a) => a.state === 'stopped' && !a.alive)).toBe(true);
    expect(gone.agents[0]!.heartbeatAgeMs).toBe(3000);
  });

  it('backing-off carries the scheduled restart; restarts in the last hour are counted; breaker', () => {
    const s = assembleSnapshot(
      facts({
        records: [record('marie', { state: 'backing-off' }), record('anga', { state: 'failed', lastError: '3 restarts within 60 min' }), record('fabien')],
        panes: [pane('%5', { dead: true }), pane('%4', { dead: true }), pane('%6')],
        events: [
          event('marie', 'agent_restarted', now - 2 * 3_600_000, { byRecovery: true }),
          event('marie', 'agent_restarted', now - 60_000, { byRecovery: true }),
          event('marie', 'restart_scheduled', now - 1000, { at: now + 4200, attempt: 2, delayMs: 5200 }),
          event('anga', 'agent_failed', now - 500, { reason: 'x' }),
        ],
      }),
    );
    const [marie, anga, fabien] = s.agents;
    expect(marie).toMatchObject({ state: 'backing-off', restartAt: now + 4200, restartAttempt: 2, restartsLastHour: 1, breaker: 'closed' });
    expect(anga).toMatchObject({ state: 'failed', breaker: 'open', lastError: '3 restarts within 60 min' });
    expect(fabien).toMatchObject({ state: 'idle', breaker: 'closed', restartsLastHour: 0 });
    expect(s.events[0]).toMatchObject({ agent: 'anga', kind: 'agent_failed', summary: 'failed: x' });
    expect(s.events.find((e) => e.kind === 'restart_scheduled')!.summary).toBe('restart scheduled in 4.2s, attempt 2');
  });

  it('queue rows: one line of body, age, and why (with the messages ahead)', () => {
    const s = assembleSnapshot(
      facts({
        pending: [message('m1', { priority: 20 }), message('m2', { seq: 2 }), message('m3', { agent: 'anga', state: 'delivered', attempts: 1, deliveredAt: now - 1000 })],
        recent: [message('m0', { state: 'confirmed', confirmedAt: now - 5000, attempts: 1 })],
      }),
    );
    expect(s.queue.map((q) => [q.id, q.pending])).toEqual([
      ['m1', true],
      ['m2', true],
      ['m3', true],
      ['m0', false],
    ]);
    expect(s.queue[0]).toMatchObject({ summary: 'hello ⏎ world', ageMs: 12_000 });
    expect(s.queue[0]!.why).toMatch(/next in line/);
    expect(s.queue[1]!.why).toMatch(/1 message ahead of it/);
    expect(s.queue[2]!.why).toMatch(/^delivered to anga/);
    expect(s.queue[3]!.why).toMatch(/^done: confirmed by marie/);
  });

  it("a team on Redis: another node's agent is never matched to a local pane of the same id; a lost node's agents show lost; every node is listed", () => {
    const nodes = (health: Record<string, 'up' | 'lost' | 'stopped'>) => ({
      here: 'alpha',
      nodeOf: new Map<string, string | null>([
        ['marie', 'alpha'],
        ['anga', 'beta'],
        ['fabien', 'gamma'],
      ]),
      health: new Map(Object.entries(health)),
      leader: 'beta',
    });
    // anga's record names %4, which is also a pane of this node's server (ids restart per server): not hers.
    const up = assembleSnapshot(
      facts({
        records: [record('marie'), record('anga', { state: 'busy' }), record('fabien')],
        panes: [pane('%5'), pane('%4', { dead: true })],
        nodes: nodes({ alpha: 'up', beta: 'up' }),
        nodeHosts: new Map([['beta', 'gpu-1']]),
      }),
    );
    const anga = up.agents.find((a) => a.name === 'anga')!;
    expect(anga).toMatchObject({ node: 'beta', nodeState: 'up', remote: true, state: 'busy', alive: false, paneId: null });
    expect(up.agents.find((a) => a.name === 'marie')).toMatchObject({ node: 'alpha', nodeState: 'up', remote: false, alive: true, paneId: '%5' });
    // gamma never started: its agent says so rather than what its record last said.
    expect(up.agents.find((a) => a.name === 'fabien')!.display.label).toBe('node down');
    expect(up.nodes).toEqual([
      { name: 'alpha', health: 'up', host: null, agents: 1, here: true, leader: false },
      { name: 'beta', health: 'up', host: 'gpu-1', agents: 1, here: false, leader: true },
      { name: 'gamma', health: 'unknown', host: null, agents: 1, here: false, leader: false },
    ]);
    const lost = assembleSnapshot(facts({ records: [record('marie'), record('anga', { state: 'busy' }), record('fabien')], nodes: nodes({ alpha: 'up', beta: 'lost', gamma: 'stopped' }) }));
    expect(lost.agents.map((a) => [a.name, a.display.label, a.display.colour])).toEqual([
      ['marie', 'idle', 'ok'],
      ['anga', 'lost', 'bad'],
      ['fabien', 'node stopped', 'muted'],
    ]);
    expect(lost.agents[1]!.display.detail).toMatch(/node "beta" stopped heartbeating.*Last known: busy/);
    // SQLite: no node column, no nodes.
    const plainTeam = assembleSnapshot(facts());
    expect(plainTeam.nodes).toEqual([]);
    expect(plainTeam.agents.every((a) => a.node === null && a.nodeState === null && !a.remote)).toBe(true);
  });
});

describe('keymap', () => {
  it('resolves panel-specific keys before global ones', () => {
    const km = buildKeymap(undefined);
    expect(resolveKey(km, 'agents', { full: 'enter' })).toBe('attach');
    expect(resolveKey(km, 'queue', { full: 'enter' })).toBe('explain');
    expect(resolveKey(km, 'agents', { ch: 'R', full: 'S-r' })).toBe('restart');
    expect(resolveKey(km, 'agents', { ch: 'r', full: 'r' })).toBeNull();
    expect(resolveKey(km, 'agents', { ch: '?', full: '?' })).toBe('help');
    expect(resolveKey(km, 'agents', { full: 'S-tab' })).toBe('prevPanel');
  });

  it('takes overrides from hornets.json and rejects unknown actions', () => {
    const km = buildKeymap({ restart: 'C-r', attach: ['enter', 'o'] });
    expect(resolveKey(km, 'agents', { ch: 'R', full: 'S-r' })).toBeNull();
    expect(resolveKey(km, 'agents', { full: 'C-r' })).toBe('restart');
    expect(resolveKey(km, 'agents', { ch: 'o', full: 'o' })).toBe('attach');
    expect(() => buildKeymap({ restrat: 'r' })).toThrow(ConfigError);
    expect(() => buildKeymap({ restrat: 'r' })).toThrow(/unknown console action "restrat"/);
    // The defaults are not mutated.
    expect(defaultKeymap.find((b) => b.action === 'restart')!.keys).toEqual(['R']);
  });

  it('generates help and status hints from the table', () => {
    const km = buildKeymap({ rebrief: 'B' });
    const help = helpLines(km).join('\n');
    for (const b of km) expect(help).toContain(b.description);
    expect(help).toMatch(/\n {2}B +rebrief now/);
    const hints = hintsFor(km, 'queue');
    expect(hints[0]).toEqual({ key: 'Enter', label: 'details' });
    expect(hints.find((h) => h.label === 'attach')).toEqual({ key: 'a', label: 'attach' });
    expect(hints.at(-1)).toEqual({ key: 'q', label: 'quit' });
    expect(hintsFor(km, 'agents')[0]).toEqual({ key: 'Enter/a', label: 'attach' });
  });
});

describe('views', () => {
  const plain = (s: string) => s.replace(/\{\/?[a-z-]+\}/g, '');
  const mono = makeTheme(false);
  const color = makeTheme(true);

  it('agent rows fill the panel width exactly, selection marked, countdown shown', () => {
    const s = assembleSnapshot(
      facts({
        records: [record('marie', { state: 'backing-off' }), record('anga', { state: 'needs-input', lastError: 'rate limit {429}' }), record('fabien')],
        panes: [pane('%5', { dead: true }), pane('%4'), pane('%6')],
        events: [event('marie', 'restart_scheduled', now - 500, { at: now + 2500, attempt: 1 })],
      }),
    );
    for (const width of [78, 118, 158]) {
      const text = renderAgents(s.agents, { width, height: 10, selected: 1, offset: 0, now, theme: mono });
      const lines = plain(text.replace(/\{open\}/g, '{').replace(/\{close\}/g, '}')).split('\n');
      expect(lines).toHaveLength(4);
      for (const l of lines) expect(strWidth(l)).toBe(width);
      expect(lines[1]).toMatch(/^ {2}marie\s+demo\s+backing-off 3s\s/);
      expect(lines[2]).toMatch(/^▸!anga\s+demo\s+needs-input\s/);
    }
    const wide = renderAgents(s.agents, { width: 118, height: 10, selected: 1, offset: 0, now, theme: color });
    expect(wide).toContain('{open}429{close}'); // user text cannot become a blessed tag
    expect(wide).toContain('{yellow-fg}backing-off 3s');
    expect(renderAgents(s.agents, { width: 118, height: 10, selected: 1, offset: 0, now, theme: mono })).not.toMatch(/-fg\}/);
  });

  it('a team on Redis: a NODE column after the agent name, a lost node coloured; the header lists the nodes', () => {
    const s = assembleSnapshot(
      facts({
        nodes: {
          here: 'alpha',
          nodeOf: new Map<string, string | null>([
            ['marie', 'alpha'],
            ['anga', 'beta'],
            ['fabien', 'beta'],
          ]),
          health: new Map([
            ['alpha', 'up'],
            ['beta', 'lost'],
          ]),
        },
      }),
    );
    const lines = plain(renderAgents(s.agents, { width: 118, height: 10, selected: 0, offset: 0, now, theme: mono })).split('\n');
    expect(lines[0]).toMatch(/^ {2}AGENT\s+NODE\s+PROFILE\s+STATE/);
    expect(lines[1]).toMatch(/^▸ marie\s+alpha\s+demo\s+idle\s/);
    expect(lines[2]).toMatch(/^ {2}anga\s+beta\s+demo\s+lost\s/);
    for (const l of lines) expect(strWidth(l)).toBe(118);
    expect(renderAgents(s.agents, { width: 118, height: 10, selected: 0, offset: 0, now, theme: color })).toMatch(/\{red-fg\}beta/);
    expect(filterAgents(s.agents, 'lost').map((a) => a.name)).toEqual(['anga', 'fabien']);
    // alpha is up and nobody leads (beta, which did, is lost): the header says so.
    expect(plain(renderHeader(s, { width: 160, theme: mono, filter: '', now }))).toContain('nodes alpha* up, beta lost · no leader · 3 agents (1 idle, 2 lost)');
    const led = assembleSnapshot(facts({ nodes: { here: 'alpha', nodeOf: new Map([['marie', 'alpha']]), health: new Map([['alpha', 'up']]), leader: 'alpha' } }));
    expect(plain(renderHeader(led, { width: 160, theme: mono, filter: '', now }))).toContain('nodes alpha* up (leader) · 3 agents');
  });

  it('agents that need you sort first (in team order among themselves), are marked, and the header counts them (issue 17)', () => {
    const s = assembleSnapshot(
      facts({
        project: project(['marie', 'anga', 'fabien', 'zoe']),
        records: [record('marie'), record('anga', { state: 'busy' }), record('fabien', { state: 'limited', lastError: 'limited: rate_limit' }), record('zoe', { state: 'needs-input' })],
        panes: [pane('%5'), pane('%4'), pane('%6'), pane('%3')],
      }),
    );
    expect(filterAgents(s.agents, '').map((a) => a.name)).toEqual(['fabien', 'zoe', 'marie', 'anga']);
    expect(filterAgents(s.agents, 'a').map((a) => a.name)).toEqual(['fabien', 'marie', 'anga']);
    const lines = plain(renderAgents(filterAgents(s.agents, ''), { width: 118, height: 10, selected: 2, offset: 0, now, theme: mono })).split('\n');
    expect(lines[1]).toMatch(/^ !fabien\s+demo\s+limited\s/);
    expect(lines[2]).toMatch(/^ !zoe\s+demo\s+needs-input\s/);
    expect(lines[3]).toMatch(/^▸ marie\s+demo\s+idle\s/);
    expect(lines[4]).toMatch(/^ {2}anga\s+demo\s+busy\s/);
    expect(plain(renderHeader(s, { width: 200, theme: mono, filter: '', now }))).toContain('4 agents (1 idle, 1 busy, 1 limited, 1 needs-input) · 2 need you ·');
    const calm = assembleSnapshot(facts());
    expect(plain(renderHeader(calm, { width: 200, theme: mono, filter: '', now }))).not.toContain('need you');
  });

  it('an agent paused over its budget needs you too: sorted first, marked, counted in the header (issue 17)', () => {
    const s = assembleSnapshot(
      facts({
        records: [record('marie'), record('anga', { state: 'paused', paused: true }), record('fabien', { state: 'needs-input' })],
        usage: [{ ...emptyUsage('anga'), output: 5000, overBudget: true }],
      }),
    );
    expect(filterAgents(s.agents, '').map((a) => a.name)).toEqual(['anga', 'fabien', 'marie']);
    const lines = plain(renderAgents(filterAgents(s.agents, ''), { width: 118, height: 10, selected: 2, offset: 0, now, theme: mono })).split('\n');
    expect(lines[1]).toMatch(/^ !anga\s+demo\s+over-budget\s/);
    expect(plain(renderHeader(s, { width: 200, theme: mono, filter: '', now }))).toContain('· 2 need you ·');
  });

  it('a limited agent shows when its limit resets in its LAST ERROR cell (issue 17)', () => {
    const resetAt = now + 65 * 60_000;
    const s = assembleSnapshot(
      facts({
        records: [
          record('marie', { state: 'limited', lastError: limitNote(resetAt, "You've hit your session limit") }),
          record('anga', { state: 'limited', lastError: 'limited: rate_limit' }),
          record('fabien'),
        ],
      }),
    );
    const lines = plain(renderAgents(s.agents, { width: 140, height: 10, selected: 0, offset: 0, now, theme: mono })).split('\n');
    const marie = lines.find((l) => l.includes('marie'))!;
    expect(marie).toMatch(/limited 1h05m/);
    expect(marie).toContain(`resets ${clockTime(resetAt)}: You've hit your session limit`);
    // No reset stated: the CLI's words as they are.
    expect(lines.find((l) => l.includes('anga'))).toMatch(/limited: rate_limit/);
  });

  it('filters agents by name, profile or state', () => {
    const s = assembleSnapshot(facts({ records: [record('marie'), record('anga', { state: 'busy' }), record('fabien')] }));
    expect(filterAgents(s.agents, 'AN').map((a) => a.name)).toEqual(['anga']);
    expect(filterAgents(s.agents, 'busy').map((a) => a.name)).toEqual(['anga']);
    expect(filterAgents(s.agents, '').length).toBe(3);
  });

  it('queue rows take two lines and stay within the width', () => {
    const s = assembleSnapshot(facts({ pending: [message('m1', { body: 'x'.repeat(300) })] }));
    const text = plain(renderQueue(s.queue, { width: 50, height: 10, selected: 0, offset: 0, showAgent: true, focused: true, theme: mono }));
    const lines = text.split('\n');
    expect(lines).toHaveLength(3);
    for (const l of lines) expect(strWidth(l)).toBe(50);
    expect(lines[1]).toMatch(/^▸ +5 +12s 0\/5 +queued +marie +console: x+…$/);
    expect(lines[2]).toMatch(/^ {4}↳ queued for marie at priority 5/);
  });

  it('preview keeps colours only, cuts lines to the width, scrolls from the bottom', () => {
    expect(sanitizeCapture('a\x1b[31mred\x1b[0m\x1b]0;title\x07\x1b[2Jb\x07')).toBe('a\x1b[31mred\x1b[0mb');
    expect(cutAnsi('\x1b[1mabcdef\x1b[0m', 3)).toBe('\x1b[1mabc');
    expect(cutAnsi('日本語', 4)).toBe('日本');
    expect(previewWindow(100, 20, 0)).toEqual({ start: 80, end: 100, scrollBack: 0 });
    expect(previewWindow(100, 20, 500)).toEqual({ start: 0, end: 20, scrollBack: 80 });
    expect(previewWindow(5, 20, 3)).toEqual({ start: 0, end: 5, scrollBack: 0 });
  });

  it('status bar always keeps help and quit', () => {
    const hints = hintsFor(buildKeymap(undefined), 'agents');
    const bar = plain(renderStatus(hints, { width: 50, theme: mono, panel: 'Agents' }));
    expect(bar).toMatch(/\? help {2}q quit$/);
    expect(strWidth(bar)).toBeLessThanOrEqual(50);
  });

  it('text helpers', () => {
    expect(strWidth('日本a')).toBe(5);
    expect(truncate('abcdef', 4)).toBe('abc…');
    expect(fit('ab', 4, 'right')).toBe('  ab');
    expect(esc('{bold}')).toBe('{open}bold{close}');
    expect(chooseColor('auto', 256, true)).toBe(false);
    expect(chooseColor('auto', 256, false)).toBe(true);
    expect(chooseColor('auto', 2, false)).toBe(false);
    expect(chooseColor('color', 2, true)).toBe(true);
  });
});

describe('layout', () => {
  it('panels tile the screen at 80x24 and 160x50', () => {
    for (const [w, h, n] of [
      [80, 24, 3],
      [160, 50, 50],
      [100, 30, 10],
    ] as const) {
      const L = computeLayout(w, h, n);
      expect(L.header.height + L.agents.height + L.preview.height + L.recovery.height + L.message.height + L.status.height).toBe(h);
      expect(L.preview.width + L.queue.width).toBe(w);
      expect(L.queue.top).toBe(L.preview.top);
      expect(L.recovery.top).toBe(L.preview.top + L.preview.height);
      expect(L.agents.height).toBeGreaterThanOrEqual(5);
    }
    expect(computeLayout(80, 24, 3).agents.height).toBe(6); // every row fits
  });
});

describe('dialogs', () => {
  it('send: multi-line text, priority choice, Ctrl-S submits, Esc cancels', () => {
    const d = new SendDialog('marie', 5);
    for (const ch of 'hi') d.key({ ch, full: ch });
    d.key({ full: 'enter' });
    d.key({ ch: 'x', full: 'x' });
    d.key({ full: 'tab' });
    d.key({ full: 'right' });
    expect(d.key({ full: 'C-s', ch: '\x13' })).toEqual({ type: 'submit', value: { text: 'hi\nx', priority: 20 } });
    expect(new SendDialog('marie', 5).key({ full: 'C-s' })).toEqual({ type: 'keep' });
    expect(new SendDialog('marie', 7).value.priority).toBe(7);
    expect(new SendDialog('marie', 5).key({ full: 'escape' })).toEqual({ type: 'close' });
  });

  it('confirm and new-agent', () => {
    const c = new ConfirmDialog(' Restart ', 'Restart marie?');
    expect(c.key({ ch: 'x', full: 'x' })).toEqual({ type: 'keep' });
    expect(c.key({ ch: 'y', full: 'y' })).toEqual({ type: 'submit', value: true });
    const n = new NewAgentDialog(
      [
        { name: 'claude-code', description: '' },
        { name: 'demo', description: '' },
      ],
      'demo',
      (name) => (name === 'marie' ? 'exists' : null),
    );
    for (const ch of 'marie') n.key({ ch, full: ch });
    expect(n.key({ full: 'enter' })).toEqual({ type: 'keep' });
    expect(n.error).toBe('exists');
    for (let i = 0; i < 5; i++) n.key({ full: 'backspace' });
    for (const ch of 'zed') n.key({ ch, full: ch });
    n.key({ full: 'enter' });
    n.key({ full: 'up' });
    expect(n.key({ full: 'enter' })).toEqual({ type: 'submit', value: { name: 'zed', profile: 'claude-code' } });
  });
});

describe('tmux control mode', () => {
  it('parses the notifications the preview needs', () => {
    expect(parseControlLine('%output %12 hello\\015\\012')).toEqual({ kind: 'output', pane: '%12' });
    expect(parseControlLine('%extended-output %3 120 : data')).toEqual({ kind: 'output', pane: '%3' });
    // The attach's own reply block ending: the client is attached.
    expect(parseControlLine('%end 1733140000 281 0')).toEqual({ kind: 'block-end' });
    expect(parseControlLine('%error 1733140000 281 0')).toEqual({ kind: 'block-end' });
    expect(parseControlLine('%window-add @4')).toEqual({ kind: 'windows' });
    expect(parseControlLine('%unlinked-window-close @2')).toEqual({ kind: 'windows' });
    expect(parseControlLine('%exit')).toEqual({ kind: 'exit', reason: 'exit' });
    expect(parseControlLine('%begin 1 2 0')).toBeNull();
  });
});
