/**
 * The node pod of deploy/k8s, run as processes on this machine: the team from the ConfigMap's
 * hornets.json, the container's args as the command, and its environment with the pod's paths
 * moved into temp directories (/work, /var/lib/hornets, /home/hornets) and the pod name as
 * HORNETS_NODE. Two "pods" (hornets-0, hornets-1) share a real redis-server; hornets-0 runs the
 * interactive agent, both run the worker, and each answers /healthz on METRICS_PORT. The agent
 * profiles become the demo ones (the real CLIs need accounts); everything else is as deployed.
 * Real tmux, real redis-server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cleanEnv, Project, repoRoot } from '../helpers/cli.js';
import { find, plainObjects } from '../helpers/deploy-k8s.js';
import { freePort } from '../helpers/ports.js';
import { startRedisServer, type RedisServer } from '../helpers/redis.js';
import { TmuxFixture, waitFor } from '../helpers/tmux.js';
import { readNodeContract } from '../../scripts/deploy/node-contract.js';

const fx = new TmuxFixture();
let redis: RedisServer;
beforeAll(async () => {
  assertBuilt();
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.destroy();
});
afterEach(async () => {
  await fx.cleanup();
});

interface Container {
  args: string[];
  env: { name: string; value?: string; valueFrom?: { fieldRef: { fieldPath: string } } }[];
}

const contract = readNodeContract(repoRoot);
const objects = plainObjects();
const container = (find(objects, 'StatefulSet', 'hornets').spec as { template: { spec: { containers: Container[] } } }).template.spec.containers[0]!;

describe('the node pod of deploy/k8s, as processes', () => {
  it('two pods from the manifests form one team: hornets-0 runs the agent, both serve /healthz on METRICS_PORT', async () => {
    const work = fx.dir('hornets-k8s-work-');
    const team = JSON.parse((find(objects, 'ConfigMap', 'hornets-config').data as Record<string, string>)['hornets.json']!) as {
      store: { url: string };
      agents: { profile: string }[];
      workers: { profile: string }[];
    };
    team.store.url = redis.url;
    for (const a of team.agents) a.profile = 'demo';
    for (const w of team.workers) w.profile = 'demo-oneshot';
    // The pod mounts hornets.json into the project directory; here it is written there.
    writeFileSync(path.join(work, 'hornets.json'), JSON.stringify(team, null, 2));

    const moved = (value: string, dirs: Map<string, string>) => [...dirs].reduce((v, [from, to]) => (v === from || v.startsWith(`${from}/`) ? to + v.slice(from.length) : v), value);
    const pod = async (name: string) => {
      const state = fx.dir(`hornets-k8s-${name}-state-`);
      const home = fx.dir(`hornets-k8s-${name}-home-`);
      const dirs = new Map([
        [contract.workDir, work],
        [contract.stateDir, state],
        ['/home/hornets', home],
      ]);
      const port = await freePort();
      const env: Record<string, string | undefined> = { TMUX: undefined, TMUX_PANE: undefined, HORNETS_TMUX_SOCKET: fx.socket() };
      for (const e of container.env) {
        if (e.valueFrom) env[e.name] = e.valueFrom.fieldRef.fieldPath === 'metadata.name' ? name : undefined;
        else env[e.name] = moved(e.value!, dirs);
      }
      // One machine, many pods: each its own free port instead of 9464; the metrics stay on loopback.
      env[contract.metricsPortEnv] = String(port);
      delete env[contract.metricsHostEnv];
      expect(container.args[0]).toBe('hornets-tui');
      const child: ChildProcess = spawn(process.execPath, [path.join(repoRoot, 'bin', 'hornets-tui.cjs'), ...container.args.slice(1)], { cwd: work, env: cleanEnv(env), stdio: 'ignore' });
      const cli = new Project(work, env);
      fx.defer(() => cli.run(['down', '--timeout', '1']));
      fx.defer(() => child.kill('SIGTERM'));
      mkdirSync(state, { recursive: true });
      return { name, port, cli, child };
    };
    const pods = [await pod('hornets-0'), await pod('hornets-1')];
    for (const p of pods) {
      const health = await waitFor(
        `${p.name} /healthz`,
        async () => {
          try {
            const r = await fetch(`http://127.0.0.1:${p.port}${contract.liveness.path}`);
            return r.ok ? ((await r.json()) as { status: string; agents: { name: string }[] }) : null;
          } catch {
            return null;
          }
        },
        60_000,
        250,
      );
      expect(health.status).toBe('ok');
      expect(health.agents.map((a) => a.name)).toEqual(p.name === 'hornets-0' ? ['lead'] : []);
    }
    const status = await waitFor(
      'lead idle on hornets-0',
      async () => {
        const r = await pods[1]!.cli.run(['status', '--json']);
        const rows = r.code === 0 ? (JSON.parse(r.stdout) as { name: string; node: string; state: string }[]) : [];
        const lead = rows.find((a) => a.name === 'lead');
        return lead?.node === 'hornets-0' && lead.state === 'idle' ? rows : null;
      },
      60_000,
      250,
    );
    expect(status.map((a) => a.name)).toEqual(['lead']);
    // Readiness as the probe asks it: both pods, the one without agents too, once their store answers.
    for (const p of pods) {
      await waitFor(
        `${p.name} ${contract.readiness.path}`,
        async () => {
          try {
            return (await fetch(`http://127.0.0.1:${p.port}${contract.readiness.path}`)).status === 200;
          } catch {
            return false;
          }
        },
        30_000,
        250,
      );
    }
  });
});
