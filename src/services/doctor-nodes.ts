/**
 * `doctor` on a team on Redis (issue 12): the nodes the team's agents name and the leader of the
 * cluster-wide duties, as the registry shows them. Pure: the caller reads the registry once.
 */
import type { Check } from './doctor-check.js';
import { fail, pass } from './doctor-check.js';

export interface TeamNodeRecord {
  name: string;
  state: 'up' | 'lost' | 'stopped';
  host: string;
  lastHeartbeatAt: number | null;
  stoppedAt: number | null;
}

export interface TeamNodesView {
  records: readonly TeamNodeRecord[];
  /** The node holding the leader lease, and its fencing token; null when none does. */
  leader: { node: string; token: number } | null;
  /** Each agent of hornets.json and the node that runs it. */
  agentNodes: ReadonlyMap<string, string>;
}

function ago(now: number, at: number | null): string {
  if (at === null) return 'never';
  const s = Math.max(0, Math.round((now - at) / 1000));
  return s < 120 ? `${s}s ago` : s < 7200 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
}

function startFix(node: string): string {
  return `start it on its host: hornets-tui --headless --node ${node} (or move its agents to another node in hornets.json)`;
}

/**
 * One check per node the agents name (plus lost nodes no agent names any more), then `leader`.
 * A node whose agents cannot run (lost, stopped, never started) fails: their messages wait.
 */
export function checkTeamNodes(view: TeamNodesView, now: number): Check[] {
  const agentsOf = new Map<string, string[]>();
  for (const [agent, node] of view.agentNodes) agentsOf.set(node, [...(agentsOf.get(node) ?? []), agent]);
  const byName = new Map(view.records.map((r) => [r.name, r]));
  const names = [...new Set([...agentsOf.keys(), ...view.records.filter((r) => r.state === 'lost').map((r) => r.name)])].sort();
  const checks = names.map((node): Check => {
    const agents = agentsOf.get(node) ?? [];
    const who = agents.length === 0 ? 'no agents in hornets.json' : `agents ${agents.join(', ')}`;
    const r = byName.get(node);
    const name = `node: ${node}`;
    if (!r) return agents.length === 0 ? pass(name, 'not running') : fail(name, `never started; ${who} wait for it`, startFix(node));
    if (r.state === 'up') return pass(name, `up on ${r.host}, heartbeat ${ago(now, r.lastHeartbeatAt)}; ${who}`);
    if (r.state === 'stopped') {
      const detail = `stopped ${ago(now, r.stoppedAt)} on ${r.host}`;
      return agents.length === 0 ? pass(name, detail) : fail(name, `${detail}; ${who} wait for it`, startFix(node));
    }
    return fail(
      name,
      `lost: no heartbeat since ${ago(now, r.lastHeartbeatAt)} (host ${r.host}); ${agents.length === 0 ? 'it runs no agent now' : `${who} wait, their messages are kept`}`,
      `check that host and its network to Redis; when its engine runs again it reconciles (${startFix(node)})`,
    );
  });
  const anyUp = view.records.some((r) => r.state === 'up');
  if (view.leader) {
    const holder = byName.get(view.leader.node);
    checks.push(
      holder && holder.state !== 'up'
        ? fail(
            'leader',
            `node ${view.leader.node} holds the lease but is ${holder.state}; another node takes over when the lease lapses`,
            'wait a few seconds; if it stays, see `hornets-tui logs` on the nodes that are up',
          )
        : pass('leader', `node ${view.leader.node} (fence ${view.leader.token}) runs the lease sweep, TTL expiry, dead-lettering and retention`),
    );
  } else if (anyUp) {
    checks.push(
      fail(
        'leader',
        'no node holds the leader lease: lease sweeps, TTL expiry and dead-lettering wait',
        'see `hornets-tui logs` on the nodes that are up; restart one engine (hornets-tui daemon stop && hornets-tui daemon start)',
      ),
    );
  } else {
    checks.push(pass('leader', 'not checked: no node of the team runs'));
  }
  return checks;
}
