import { describe, expect, it } from 'vitest';
import { checkTeamNodes, type TeamNodeRecord, type TeamNodesView } from '../../src/services/doctor-nodes.js';

const NOW = 1_800_000_000_000;
const rec = (name: string, state: TeamNodeRecord['state'], o: Partial<TeamNodeRecord> = {}): TeamNodeRecord => ({
  name,
  state,
  host: `${name}.lan`,
  lastHeartbeatAt: NOW - 2_000,
  stoppedAt: state === 'stopped' ? NOW - 600_000 : null,
  ...o,
});
const view = (records: TeamNodeRecord[], agents: Record<string, string>, leader: TeamNodesView['leader'] = null): TeamNodesView => ({
  records,
  leader,
  agentNodes: new Map(Object.entries(agents)),
});
const byName = (v: TeamNodesView) => Object.fromEntries(checkTeamNodes(v, NOW).map((c) => [c.name, c]));

describe('doctor: the nodes and the leader of a team on Redis', () => {
  it('all up with a leader: every check passes, naming each node’s agents and the fence', () => {
    const c = byName(view([rec('n1', 'up'), rec('n2', 'up')], { marie: 'n1', anga: 'n2', bob: 'n1' }, { node: 'n2', token: 7 }));
    expect(Object.keys(c)).toEqual(['node: n1', 'node: n2', 'leader']);
    expect(Object.values(c).every((x) => x.ok && x.fix === null)).toBe(true);
    expect(c['node: n1']!.detail).toBe('up on n1.lan, heartbeat 2s ago; agents marie, bob');
    expect(c.leader!.detail).toContain('node n2 (fence 7)');
  });

  it.each<[string, TeamNodeRecord | null, boolean, RegExp]>([
    ['lost with agents', rec('n2', 'lost', { lastHeartbeatAt: NOW - 95_000 }), false, /^lost: no heartbeat since 95s ago \(host n2\.lan\); agents anga wait, their messages are kept$/],
    ['stopped with agents', rec('n2', 'stopped'), false, /^stopped 10m ago on n2\.lan; agents anga wait for it$/],
    ['never started', null, false, /^never started; agents anga wait for it$/],
  ])('a node whose agents cannot run fails with the command that starts it: %s', (_label, n2, ok, detail) => {
    const c = byName(view([rec('n1', 'up'), ...(n2 ? [n2] : [])], { marie: 'n1', anga: 'n2' }, { node: 'n1', token: 3 }));
    expect(c['node: n2']!.ok).toBe(ok);
    expect(c['node: n2']!.detail).toMatch(detail);
    expect(c['node: n2']!.fix).toContain('hornets-tui --headless --node n2');
    expect(c.leader!.ok).toBe(true);
  });

  it('a stopped node no agent names any more is fine and not listed; a lost one is listed and fails', () => {
    const c = byName(view([rec('n1', 'up'), rec('old', 'stopped'), rec('gone', 'lost')], { marie: 'n1' }, { node: 'n1', token: 1 }));
    expect(Object.keys(c)).toEqual(['node: gone', 'node: n1', 'leader']);
    expect(c['node: gone']).toMatchObject({ ok: false });
    expect(c['node: gone']!.detail).toContain('it runs no agent now');
  });

  it('leader: nodes up but none holds the lease fails; a lease held by a node that is not up fails; nothing up is not checked', () => {
    expect(byName(view([rec('n1', 'up')], { marie: 'n1' })).leader).toMatchObject({ ok: false });
    expect(byName(view([rec('n1', 'up')], { marie: 'n1' })).leader!.detail).toMatch(/lease sweeps, TTL expiry and dead-lettering wait/);
    const stale = byName(view([rec('n1', 'up'), rec('n2', 'lost')], { marie: 'n1' }, { node: 'n2', token: 4 })).leader!;
    expect(stale).toMatchObject({ ok: false });
    expect(stale.detail).toMatch(/n2 holds the lease but is lost/);
    expect(byName(view([rec('n1', 'stopped')], { marie: 'n1' })).leader).toMatchObject({ ok: true, detail: 'not checked: no node of the team runs' });
  });
});
