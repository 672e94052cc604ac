/**
 * Defect 4 (second half): `status` and the console showed different states for an agent with no
 * pane. A real team on a private tmux server, real SQLite: the agents' panes vanish (their tmux
 * server is killed) while the records say failed / backing-off / idle, and `hornets-tui status`,
 * `status --json` and the console's agents panel (the same snapshot and view code the console runs)
 * must show the same state for every agent.
 */
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import { openProject } from '../../src/services/context.js';
import { AgentManager } from '../../src/services/agents.js';
import { SnapshotService } from '../../src/services/snapshot.js';
import { TmuxClient } from '../../src/tmux/client.js';
import { renderAgents } from '../../src/tui/views/agents.js';
import { makeTheme } from '../../src/tui/theme.js';
import { Project, assertBuilt } from '../helpers/cli.js';
import { TmuxFixture, initGitRepo, killServer, listPanes, waitFor } from '../helpers/tmux.js';

const fx = new TmuxFixture();
beforeAll(() => assertBuilt());
afterEach(async () => {
  await fx.cleanup();
});

const TEAM = ['marie', 'anga', 'fabien', 'lea'];

/** STATE column of `status` (a plain table: AGENT PROFILE STATE PANE …). */
function tableStates(text: string): Map<string, string> {
  const [header, ...rows] = text.split('\n');
  const at = header!.indexOf('STATE');
  const end = header!.indexOf('PANE');
  return new Map(rows.map((r) => [r.split(/\s+/)[0]!, r.slice(at, end).trim()]));
}

describe('one display rule: status, status --json and the console agree', () => {
  it('for agents whose panes vanished (records failed, backing-off, idle, stopped)', async () => {
    const dir = fx.dir('hornets-display-');
    initGitRepo(dir);
    const socket = fx.socket();
    const p = new Project(dir, { HORNETS_TMUX_SOCKET: socket, TMUX: undefined, TMUX_PANE: undefined });
    await p.ok(['init', '--agents', TEAM.join(',')]);
    await p.ok(['up', '--no-engine']);
    await waitFor('four agent panes', () => listPanes(socket).filter((x) => TEAM.includes(x.window)).length === 4 || null);

    const ctx = await openProject({ configPath: path.join(dir, 'hornets.json'), component: 'test' });
    fx.defer(() => ctx.close());
    const manager = new AgentManager(ctx.project, ctx.store, ctx.log, new TmuxClient({ server: { socket, configFile: path.join(dir, '.hornets', 'tmux.conf') } }));
    await ctx.store.transitionAgent('lea', { type: 'stopped' });
    // The panes vanish with their server; what the records last said differs per agent.
    await killServer(socket);
    await ctx.store.transitionAgent('marie', { type: 'failed', reason: 'invalid api key' });
    await ctx.store.transitionAgent('anga', { type: 'backing-off' });
    await ctx.store.transitionAgent('fabien', { type: 'hook', event: 'Stop' });

    const json = new Map((JSON.parse((await p.ok(['status', '--json'])).stdout) as { name: string; state: string; alive: boolean }[]).map((a) => [a.name, a]));
    const table = tableStates((await p.ok(['status'])).stdout);
    const snapshots = new SnapshotService(ctx.project, ctx.store, manager);
    await snapshots.refreshPanes();
    const snap = await snapshots.build();
    const panel = renderAgents(snap.agents, { width: 120, height: 10, selected: -1, offset: 0, now: snap.takenAt, theme: makeTheme(false) })
      .split('\n')
      .map((l) => l.replace(/\{\/?[a-z-]+\}/g, '')); // blessed tags (mono keeps bold)

    const seen: Record<string, string[]> = {};
    for (const name of TEAM) {
      const row = snap.agents.find((a) => a.name === name)!;
      // The row's first two columns: selection and the needs-you mark (issue 17).
      const line = panel.find((l) => new RegExp(`^[\\s!]+${name}\\s+demo\\s`).test(l)) ?? '';
      const consoleLabel = line
        .replace(new RegExp(`^[\\s!]+${name}\\s+demo\\s+`), '')
        .split(/\s{2,}|\s\S+s?\s+\d+\s/)[0]!
        .trim();
      seen[name] = [json.get(name)!.state, table.get(name)!, row.state, consoleLabel];
      expect(json.get(name)!.alive).toBe(false);
    }
    // Recovery's own states say more than "no pane"; the others are simply not running.
    expect(seen).toEqual({
      marie: ['failed', 'failed', 'failed', 'failed'],
      anga: ['backing-off', 'backing-off', 'backing-off', 'backing-off'],
      fabien: ['stopped', 'stopped', 'stopped', 'stopped'],
      lea: ['stopped', 'stopped', 'stopped', 'stopped'],
    });
  });
});
