import { describe, expect, it } from 'vitest';
import {
  agentNameFrom,
  mergeAgentHistory,
  planMigrationIn,
  planRollback,
  proposeMap,
  sameNameAgent,
  sqliteTimestamp,
  toTimestampMs,
  windowFor,
  type ToDatabase,
  type ToMessage,
} from '../../src/domain/tmux-orchestrator.js';
import type { Message } from '../../src/domain/message.js';

const msg = (id: number, agentId: string, o: Partial<ToMessage> = {}): ToMessage => ({
  id,
  agentId,
  message: `m${id}`,
  priority: 0,
  sequence: id,
  dependencyId: null,
  project: 'proj',
  status: 'pending',
  enqueuedAt: '2026-11-30 10:00:00',
  pulledAt: null,
  deliveredAt: null,
  ...o,
});
const db = (messages: ToMessage[], o: Partial<ToDatabase> = {}): ToDatabase => ({ path: 'x.db', agentColumn: 'agent_id', restartColumns: true, messages, agents: [], contexts: [], ...o });
const plan = (d: ToDatabase, map: [string, string | null][] = [], agents = ['marie', 'anga']) =>
  planMigrationIn({ db: d, map: new Map(map), agents, idOf: (m) => `to-${m.id}`, now: 1_000, maxAttempts: 5 });

describe('Tmux-Orchestrator → hornets plan', () => {
  it('timestamps: SQLite CURRENT_TIMESTAMP text is UTC; ISO with a zone is honoured; garbage is null; and back', () => {
    expect(toTimestampMs('2026-11-30 10:00:00')).toBe(Date.UTC(2026, 10, 30, 10, 0, 0));
    expect(toTimestampMs('2026-11-30T10:00:00.250+01:00')).toBe(Date.UTC(2026, 10, 30, 9, 0, 0, 250));
    expect(toTimestampMs('yesterday')).toBeNull();
    expect(toTimestampMs(null)).toBeNull();
    expect(sqliteTimestamp(Date.UTC(2026, 0, 2, 3, 4, 5, 678))).toBe('2026-01-02 03:04:05');
  });

  it.each<[string, string | null]>([
    ['marie', 'marie'],
    ['proj:marie', 'marie'],
    ['proj:0', null],
    ['other:anga', 'anga'],
  ])('same-name mapping of %s → %s', (id, agent) => expect(sameNameAgent(id, ['marie', 'anga'])).toBe(agent));

  it('pending and pulled messages are carried in sequence order (pulled as redeliveries); delivered and other states are not', () => {
    const p = plan(
      db([
        msg(3, 'proj:0', { sequence: 30, priority: 50 }),
        msg(1, 'proj:0', { sequence: 10, status: 'pulled', pulledAt: '2026-11-30 10:01:00' }),
        msg(2, 'proj:0', { sequence: 20, status: 'delivered' }),
        msg(4, 'proj:0', { sequence: 40, status: 'failed' }),
        msg(5, 'proj:0', { sequence: 5, priority: 150 }),
      ]),
      [['proj:0', 'marie']],
    );
    expect(p.unmapped).toEqual([]);
    expect(p.imports.map((i) => [i.message.id, i.message.priority, i.message.attempts, i.message.redeliveries, i.redelivery])).toEqual([
      ['to-5', 155, 0, 0, false],
      ['to-1', 5, 1, 1, true],
      ['to-3', 55, 0, 0, false],
    ]);
    expect(p.imports[0]!.message).toMatchObject({
      agent: 'marie',
      body: 'm5',
      createdAt: Date.UTC(2026, 10, 30, 10),
      meta: { migratedFrom: 'tmux-orchestrator', toId: 5, toAgent: 'proj:0', toSequence: 5 },
    });
    expect(p.skipped.map((s) => [s.to.id, s.reason])).toEqual([
      [2, 'delivered already'],
      [4, 'status "failed"'],
    ]);
  });

  it('an old agent with work and no mapping is listed (with what it has pending), and --skip leaves it behind', () => {
    const d = db([msg(1, 'proj:0'), msg(2, 'proj:1'), msg(3, 'proj:1'), msg(4, 'proj:2', { status: 'delivered' })], {
      agents: [{ agentId: 'proj:3', project: null, status: 'active', lastHeartbeat: null, restartCount: 2, lastRestart: null, lastError: null, contextPreserved: null }],
    });
    const p = plan(d, [['proj:0', 'marie']]);
    // proj:2 has nothing to carry (delivered only): it does not block.
    expect(p.unmapped).toEqual([
      { agentId: 'proj:1', pending: 2, suggestion: null },
      { agentId: 'proj:3', pending: 0, suggestion: null },
    ]);
    const skipped = plan(d, [
      ['proj:0', 'marie'],
      ['proj:1', null],
      ['proj:3', null],
    ]);
    expect(skipped.unmapped).toEqual([]);
    expect(skipped.imports.map((i) => i.message.id)).toEqual(['to-1']);
    expect(skipped.skipped.filter((s) => s.reason.includes('--skip')).map((s) => s.to.id)).toEqual([2, 3]);
  });

  it('priorities shift by 5 (the old default 0 is hornets normal 5), clamped to 0–200, the original kept in meta; dependencies are counted and kept in meta', () => {
    const p = plan(db([msg(1, 'marie', { priority: 250 }), msg(2, 'marie', { priority: -3, dependencyId: 1 })]));
    expect(p.mappedByName).toEqual([{ agentId: 'marie', agent: 'marie' }]);
    expect(p.imports.map((i) => [i.message.priority, i.message.meta?.toPriority, i.message.meta?.toDependency])).toEqual([
      [200, 250, undefined],
      [2, -3, 1],
    ]);
    expect(p.dependencies).toBe(1);
  });

  it('restart history and context carry over; merging never lowers a count or drops an error', () => {
    const d = db([], {
      agents: [{ agentId: 'proj:0', project: 'proj', status: 'active', lastHeartbeat: null, restartCount: 4, lastRestart: '2026-11-29 08:00:00', lastError: 'OOM', contextPreserved: 'yes' }],
      contexts: [{ agentId: 'proj:0', lastBriefing: '2026-11-29 07:00:00', briefingContent: 'rules', activitySummary: 'did X', checkpointData: '{"step":3}' }],
    });
    const p = plan(d, [['proj:0', 'anga']]);
    expect(p.agents).toEqual([{ agent: 'anga', from: 'proj:0', patch: { restartCount: 4, lastRestart: Date.UTC(2026, 10, 29, 8), lastError: 'OOM', contextPreserved: true } }]);
    expect(p.contexts).toEqual([
      { agent: 'anga', from: 'proj:0', patch: { lastBriefing: Date.UTC(2026, 10, 29, 7), briefingContent: 'rules', activitySummary: 'did X', checkpointData: { step: 3 } } },
    ]);
    const patch = p.agents[0]!.patch;
    expect(mergeAgentHistory({ restartCount: 0, lastRestart: null, lastError: null, contextPreserved: false }, patch)).toEqual(patch);
    expect(mergeAgentHistory({ restartCount: 9, lastRestart: Date.UTC(2026, 10, 30), lastError: 'newer', contextPreserved: true }, patch)).toEqual({});
  });
});

describe('hornets → Tmux-Orchestrator rollback plan', () => {
  const m = (id: string, agent: string, seq: number, o: Partial<Message> = {}): Message => ({ id, seq, agent, priority: 5, body: `b-${id}`, createdAt: 1_000 + seq, meta: null, ...o }) as Message;

  it('rows in seq order under the old id (the map first, then the id a message came from); agents with no old id are listed', () => {
    const p = planRollback({
      pending: [
        m('c', 'marie', 3),
        m('a', 'marie', 1, { meta: { toAgent: 'proj:0', toPriority: 250 }, priority: 200 }),
        m('b', 'anga', 2, { meta: { toAgent: 'proj:1', toProject: 'old' } }),
        m('d', 'bob', 4),
      ],
      reverse: new Map([['marie', 'proj:0']]),
      project: 'proj',
      existing: [],
      migrated: new Set(),
    });
    expect(p.rows.map((r) => [r.hornetsId, r.agentId, r.priority, r.project])).toEqual([
      ['a', 'proj:0', 250, 'proj'],
      ['b', 'proj:1', 0, 'old'],
      ['c', 'proj:0', 0, 'proj'],
    ]);
    expect(p.unmapped).toEqual([{ agent: 'bob', pending: 1 }]);
  });

  it('into the database migrate read: rows still pending in hornets are kept (pulled ones requeued), rows hornets finished are settled, the rest are new', () => {
    const p = planRollback({
      pending: [m('to-1', 'marie', 1, { meta: { toAgent: 'proj:0' } }), m('to-2', 'marie', 2, { meta: { toAgent: 'proj:0' } }), m('new', 'marie', 9)],
      reverse: new Map([['marie', 'proj:0']]),
      project: 'proj',
      existing: [
        { toId: 1, hornetsId: 'to-1', status: 'pending' },
        { toId: 2, hornetsId: 'to-2', status: 'pulled' },
        { toId: 3, hornetsId: 'to-3', status: 'pending' }, // migrated, confirmed by hornets since
        { toId: 4, hornetsId: 'to-4', status: 'delivered' }, // migrated? no: delivered already, left alone
        { toId: 5, hornetsId: 'to-5', status: 'pending' }, // never migrated (skipped agent): left alone
      ],
      migrated: new Set(['to-1', 'to-2', 'to-3', 'to-4']),
    });
    expect(p.rows.map((r) => r.hornetsId)).toEqual(['new']);
    expect(p).toMatchObject({ kept: 2, requeue: [2], settle: [3], unmapped: [] });
  });
});

describe('a map proposed from live windows', () => {
  const w = (session: string, index: number, name: string, path: string) => ({ session, index, name, path });
  const windows = [w('proj', 0, 'Lead', '/src/a/'), w('proj', 1, 'anga', '/src/b'), w('solo', 0, 'x', '/src/c')];
  it.each<[string, number | null]>([
    ['proj:0', 0],
    ['proj:anga', 1],
    ['solo', 0],
    ['proj:7', null],
    ['other:0', null],
  ])('%s names window %s', (id, index) => expect(windowFor(id, windows)?.index ?? null).toBe(index === null ? null : index));
  it.each([
    ['Build Bot', 'build-bot'],
    ['42 answers', 'answers'],
    ['___', 'agent'],
    ['Ünïcode-Win', 'n-code-win'],
  ])('window %j becomes agent name %j', (name, agent) => expect(agentNameFrom(name)).toBe(agent));
  it('by directory (trailing slashes ignored), then by name; else none with the add that fits', () => {
    const p = proposeMap(['proj:0', 'proj:1', 'solo', 'gone:3'], windows, [
      { name: 'marie', dir: '/src/a' },
      { name: 'anga', dir: '/elsewhere' },
    ]);
    expect(p.map((x) => [x.agentId, x.agent, x.how, x.add])).toEqual([
      ['gone:3', null, 'none', null],
      ['proj:0', 'marie', 'same directory', null],
      ['proj:1', 'anga', 'same name', null],
      ['solo', null, 'none', ['add', 'x', '--profile', 'claude-code', '--worktree', '/src/c']],
    ]);
  });
});
