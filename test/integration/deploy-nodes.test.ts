/**
 * The container's node, run here as it runs in deploy/compose.yaml (issue 15): the compose team's
 * hornets.json on a real redis-server, and each compose node started with exactly deploy/node.json's
 * command and environment variables (read from the file; only the metrics address is 127.0.0.1 and
 * the port a free one, since both nodes share this machine's network). Both become ready; their
 * /metrics carry the seed 004 families with their node label; every query of the Grafana dashboard
 * names only metric families a live engine exports; SIGTERM (docker stop) with the image's
 * HORNETS_DOWN_ON_SIGNAL brings the node's agents and tmux server down and the process exits 0
 * within node.json's grace period. Real tmux, redis-server, demo agents and the demo worker.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, repoRoot } from '../helpers/cli.js';
import { TmuxFixture, initGitRepo, serverAlive, waitFor } from '../helpers/tmux.js';
import { nodeSpec, startNodeCommand, waitReady, type NodeProcess } from '../helpers/node-command.js';
import { startRedisServer, type RedisServer } from '../helpers/redis.js';
import { promqlMetricNames } from '../helpers/promql.js';

const team = JSON.parse(readFileSync(path.join(repoRoot, 'deploy', 'compose', 'hornets.json'), 'utf8')) as { store: { url: string }; agents: { name: string; node: string; worktree: string }[] };
const nodeNames = [...new Set(team.agents.map((a) => a.node))].sort();

const fx = new TmuxFixture();
let redis: RedisServer;
const nodes: (NodeProcess & { home: string; socket: string })[] = [];

async function startNode(dir: string, name: string): Promise<NodeProcess & { home: string; socket: string }> {
  const home = fx.dir(`hornets-deploy-${name}-`);
  const socket = fx.socket();
  // Beside node.json's variables, what the image sets (deploy/docker/Dockerfile ENV).
  const n = await startNodeCommand({ cwd: dir, name, env: { HORNETS_HOME: home, HORNETS_DOWN_ON_SIGNAL: '1', HORNETS_TMUX_SOCKET: socket } });
  const node = { ...n, home, socket };
  nodes.push(node);
  return node;
}

async function status(url: string): Promise<number> {
  try {
    return (await fetch(url)).status;
  } catch {
    return 0;
  }
}

beforeAll(async () => {
  assertBuilt();
  redis = await startRedisServer();
});
afterAll(async () => {
  for (const n of nodes) {
    await Promise.race([n.stop(), new Promise((r) => setTimeout(r, 30_000))]);
    if (n.child.exitCode === null) n.child.kill('SIGKILL');
  }
  await fx.cleanup();
  await redis?.destroy();
});

describe('the compose nodes, started with node.json', () => {
  it('become ready, export the seed families with their node label, serve every dashboard query, and stop their agents on SIGTERM', async () => {
    const dir = fx.dir('hornets-deploy-');
    initGitRepo(dir);
    writeFileSync(path.join(dir, 'hornets.json'), JSON.stringify({ ...team, store: { ...team.store, url: redis.url } }, null, 2));
    for (const a of team.agents) mkdirSync(path.join(dir, a.worktree), { recursive: true });
    expect(nodeNames).toEqual(['node-a', 'node-b']);
    const started = await Promise.all(nodeNames.map((name) => startNode(dir, name)));
    for (const n of started) {
      await waitReady(n);
      expect(await status(`${n.url}${nodeSpec.liveness.path}`)).toBe(200);
    }
    const [a, b] = started as [(typeof started)[0], (typeof started)[0]];

    // A task for the worker (taken in by node-a) and a message to an agent of node-b.
    mkdirSync(path.join(a.home, 'tasks', 'tester'), { recursive: true });
    writeFileSync(path.join(a.home, 'tasks', 'tester', 't1.json'), JSON.stringify({ task_id: 't1', description: 'check the build' }));
    const metricsOf = async (n: NodeProcess) => (await fetch(`${n.url}/metrics`)).text();
    await waitFor('the task completed', async () => /^tasks_completed\{node="node-[ab]",worker="tester"\} 1$/m.test((await metricsOf(a)) + (await metricsOf(b))), 60_000, 250);
    const text = await metricsOf(a);
    expect(text).toMatch(/^tasks_total\{node="node-a",worker="tester"\} 1$/m);
    expect(text).toMatch(/^pending_tasks\{node="node-a"\} \d+$/m);
    expect(text).toMatch(/^workers_active\{node="node-a"\} \d+$/m);
    expect(await metricsOf(b)).toMatch(/^pending_tasks\{node="node-b"\} \d+$/m);
    expect(text).toMatch(/^hornets_queue_depth\{agent="marie",priority="normal"\} \d+$/m);

    // A backlog for the worker both nodes run: each node's pending_tasks is its half of the queue
    // (the HPA averages over pods), the agents' own waiting tasks counted whole.
    for (let i = 0; i < 12; i++) writeFileSync(path.join(a.home, 'tasks', 'tester', `slow${i}.json`), JSON.stringify({ task_id: `slow${i}`, description: 'work [sleep 3s]' }));
    const share = await waitFor(
      'a backlog on node-a',
      async () => {
        const t = await metricsOf(a);
        const sizes = [...t.matchAll(/^watcher_task_queue_size\{worker="([^"]+)"\} (\S+)$/gm)].map(([, w, v]) => [w!, Number(v)] as const);
        const tester = sizes.find(([w]) => w === 'tester')?.[1] ?? 0;
        const pending = Number(/^pending_tasks\{node="node-a"\} (\S+)$/m.exec(t)?.[1]);
        return tester >= 4 ? { tester, pending, agents: sizes.filter(([w]) => w !== 'tester').reduce((x, [, v]) => x + v, 0) } : null;
      },
      30_000,
      100,
    );
    expect(share.pending).toBe(share.agents + share.tester / 2);

    // Every query of the dashboard names families the engine exports (Prometheus' own `up` aside).
    const exported = new Set([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].flatMap(([, name, type]) => (type === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name!])));
    const dashboard = JSON.parse(readFileSync(path.join(repoRoot, 'deploy', 'grafana', 'dashboards', 'hornets.json'), 'utf8')) as { panels: { title: string; targets: { expr: string }[] }[] };
    const named = dashboard.panels.flatMap((p) => p.targets.flatMap((t) => promqlMetricNames(t.expr).map((m) => ({ panel: p.title, metric: m }))));
    expect(named.length).toBeGreaterThan(10);
    for (const { panel, metric } of named) if (metric !== 'up') expect(exported.has(metric), `${panel}: ${metric}`).toBe(true);

    // docker stop: SIGTERM; node-b's agents and tmux server go, the process exits 0 in the grace period.
    const agentsOfB = team.agents.filter((x) => x.node === 'node-b').map((x) => x.name);
    expect(agentsOfB.length).toBeGreaterThan(0);
    expect(serverAlive(b.socket)).toBe(true);
    const t0 = Date.now();
    const code = await b.stop();
    expect(code, b.stderr()).toBe(0);
    expect(Date.now() - t0).toBeLessThan(nodeSpec.stopGracePeriodSeconds * 1000);
    expect(serverAlive(b.socket)).toBe(false);
    // node-a serves on.
    expect(await status(`${a.url}${nodeSpec.readiness.path}`)).toBe(200);
  });
});
