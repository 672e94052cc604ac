/**
 * One team across two nodes on Redis (issue 12), both on this machine: each node is a process with
 * its own node name, state directory (HORNETS_HOME) and tmux server (HORNETS_TMUX_SOCKET), sharing
 * hornets.json and one redis-server. Each node starts only its own agents; messages sent from a
 * third process reach agents on both and are confirmed once each. The first test starts its nodes
 * exactly as their containers do (deploy/node.json's command and variables); a second engine with a taken node
 * name is refused and starts nothing; a stopped node shows in `status` while the other delivers.
 * Real tmux, real redis-server, demo agents.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Project, assertBuilt } from '../helpers/cli.js';
import { TmuxFixture, initGitRepo, serverAlive, tmux, waitFor } from '../helpers/tmux.js';
import { startRedisServer, type RedisServer } from '../helpers/redis.js';
import { startNodeCommand, waitReady } from '../helpers/node-command.js';
import { Redis } from 'ioredis';

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

interface Row {
  id: string;
  agent: string;
  state: string;
}
interface StatusRow {
  name: string;
  node: string | null;
  nodeState: string;
  label: string;
}

function windows(socket: string): string[] {
  const r = tmux(socket, ['list-windows', '-a', '-F', '#{window_name}']);
  return r.code === 0
    ? r.stdout
        .split('\n')
        .filter((w) => w && w !== 'hornets')
        .sort()
    : [];
}

describe('a team on two nodes', () => {
  it('each node runs its own agents; sends from a third process are confirmed once; a taken name is refused; a stopped node shows', async () => {
    const dir = fx.dir('hornets-nodes-');
    initGitRepo(dir);
    const base = { TMUX: undefined, TMUX_PANE: undefined, REDIS_URL: redis.url, HORNETS_NODE: undefined };
    const sender = new Project(dir, { ...base, HORNETS_TMUX_SOCKET: fx.socket(), HORNETS_HOME: fx.dir('hornets-nodes-c-') });
    await sender.ok(['init', '--agents', 'marie,bob,anga']);
    const configPath = path.join(dir, 'hornets.json');
    const config = JSON.parse(readFileSync(configPath, 'utf8')) as { agents: { name: string; node?: string }[]; defaults: Record<string, unknown> };
    delete config.defaults.node;
    for (const a of config.agents) a.node = a.name === 'anga' ? 'beta' : 'alpha';
    writeFileSync(configPath, JSON.stringify(config, null, 2));

    const node = (name: string) => {
      const env = { ...base, HORNETS_TMUX_SOCKET: fx.socket(), HORNETS_HOME: fx.dir(`hornets-nodes-${name}-`) };
      const p = new Project(dir, env);
      fx.defer(() => p.run(['--node', name, 'down', '--timeout', '1']));
      fx.defer(() => p.run(['--node', name, 'daemon', 'stop']));
      return { p, env };
    };
    const alpha = node('alpha');
    const beta = node('beta');
    // Each node as its container runs it: deploy/node.json's command and variables (helpers/node-command.ts).
    for (const n of [
      { name: 'alpha', env: alpha.env },
      { name: 'beta', env: beta.env },
    ]) {
      const started = await startNodeCommand({ cwd: dir, name: n.name, env: n.env });
      fx.defer(async () => {
        await Promise.race([started.stop(), new Promise((r) => setTimeout(r, 20_000))]);
        started.child.kill('SIGKILL');
      });
      await waitReady(started);
    }
    // Each tmux server holds only its own node's agents.
    await waitFor('alpha windows', () => windows(alpha.env.HORNETS_TMUX_SOCKET).join() === 'bob,marie', 30_000, 200);
    await waitFor('beta windows', () => windows(beta.env.HORNETS_TMUX_SOCKET).join() === 'anga', 30_000, 200);
    expect(serverAlive(sender.env.HORNETS_TMUX_SOCKET!)).toBe(false);

    // From a third process (a node of its own with no agents): each message confirmed once.
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) for (const agent of ['marie', 'bob', 'anga']) ids.push(await sender.send(agent, `note ${i} for ${agent}`));
    const messages = async () => JSON.parse((await sender.ok(['queue', 'list', '--all', '--json'])).stdout) as Row[];
    await waitFor('every message confirmed', async () => (await messages()).filter((m) => ids.includes(m.id) && m.state === 'confirmed').length === ids.length, 90_000, 250);
    // Once each: every id reached exactly one agent's transcript, once.
    const transcripts = [alpha, alpha, beta].map((n, i) => path.join(n.env.HORNETS_HOME, 'demo', `${['marie', 'bob', 'anga'][i]}.jsonl`));
    const seen = transcripts
      .filter(existsSync)
      .map((f) => readFileSync(f, 'utf8'))
      .join('\n');
    for (const id of ids) expect(seen.split(`msg ${id}`).length - 1, id).toBe(1);

    // A second engine named alpha (its own state dir and tmux server) is refused and starts nothing.
    const intruder = node('alpha');
    const before = await messages();
    const refused = await intruder.p.run(['--node', 'alpha', '--headless']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('node name "alpha" is already taken');
    expect(serverAlive(intruder.env.HORNETS_TMUX_SOCKET)).toBe(false);
    const refusedUp = await intruder.p.run(['--node', 'alpha', 'up']);
    expect(refusedUp.code).toBe(1);
    expect(refusedUp.stderr).toContain('node name "alpha" is already taken');
    expect(serverAlive(intruder.env.HORNETS_TMUX_SOCKET)).toBe(false);
    // The rightful node re-running `up` is not refused by its own registration.
    await alpha.p.ok(['--node', 'alpha', 'up']);
    expect(await messages()).toEqual(before);

    const status = async () => JSON.parse((await sender.ok(['status', '--json'])).stdout) as StatusRow[];
    expect((await status()).map((a) => [a.name, a.node, a.nodeState])).toEqual([
      ['marie', 'alpha', 'up'],
      ['bob', 'alpha', 'up'],
      ['anga', 'beta', 'up'],
    ]);
    expect((await sender.ok(['status'])).stdout).toMatch(/AGENT\s+NODE/);

    // A control for another node's agent goes to that node's engine, which applies it.
    const paused = await sender.ok(['pause', 'anga']);
    expect(paused.stdout).toContain('pause sent to node "beta"');
    await waitFor('anga paused by beta', async () => (await status()).find((a) => a.name === 'anga')?.label === 'paused', 30_000, 250);
    await sender.ok(['resume', 'anga']);
    await waitFor('anga resumed by beta', async () => (await status()).find((a) => a.name === 'anga')?.label !== 'paused', 30_000, 250);
    const reset = await sender.run(['reset', 'anga']);
    expect(reset.code).toBe(2);
    expect(reset.stderr).toContain('anga runs on node "beta"');

    // Node beta's engine stops: beta and anga show as stopped; alpha still delivers.
    await beta.p.ok(['--node', 'beta', 'daemon', 'stop']);
    await waitFor('beta stopped in status', async () => (await status()).find((a) => a.name === 'anga')?.nodeState === 'stopped', 30_000, 250);
    const anga = (await status()).find((a) => a.name === 'anga')!;
    expect(anga.label).toBe('node stopped');
    expect((await sender.ok(['status'])).stdout).toMatch(/anga\s+beta \(stopped\)/);
    const toStopped = await sender.run(['pause', 'anga']);
    expect(toStopped.code).toBe(2);
    expect(toStopped.stderr).toContain('anga runs on node "beta", which is stopped');
    const late = await sender.send('marie', 'after beta stopped');
    await waitFor('marie still served', async () => (await messages()).find((m) => m.id === late)?.state === 'confirmed', 60_000, 250);
  }, 240_000);

  it('an engine whose node name is taken loses it: stops managing its agents and answering their hooks; holds it again once free, and delivers what waited', async () => {
    const dir = fx.dir('hornets-nodes-lost-');
    initGitRepo(dir);
    const env = { TMUX: undefined, TMUX_PANE: undefined, REDIS_URL: redis.url, HORNETS_NODE: undefined, HORNETS_TMUX_SOCKET: fx.socket(), HORNETS_HOME: fx.dir('hornets-nodes-lost-a-') };
    const p = new Project(dir, env);
    await p.ok(['init', '--agents', 'marie', '--project', 'lostteam']);
    const configPath = path.join(dir, 'hornets.json');
    const config = JSON.parse(readFileSync(configPath, 'utf8')) as { defaults: Record<string, unknown> };
    writeFileSync(configPath, JSON.stringify({ ...config, defaults: { ...config.defaults, node: 'alpha' } }, null, 2));
    fx.defer(() => p.run(['--node', 'alpha', 'down', '--timeout', '1']));
    fx.defer(() => p.run(['--node', 'alpha', 'daemon', 'stop']));
    await p.ok(['--node', 'alpha', 'up']);
    const first = await p.send('marie', 'before the loss');
    const state = async (id: string) => (JSON.parse((await p.ok(['queue', 'list', '--all', '--json'])).stdout) as Row[]).find((m) => m.id === id)?.state;
    await waitFor('delivered before the loss', async () => (await state(first)) === 'confirmed', 60_000, 250);

    // Someone else's hand on the name: the next renewal finds the claim not ours.
    const admin = new Redis(redis.url);
    const claim = 'hornets:lostteam:{cluster}:node:alpha';
    try {
      expect(await admin.set(claim, 'someone-else', 'PX', 120_000)).toBe('OK');
      const log = path.join(env.HORNETS_HOME, 'logs', 'hornets.log');
      await waitFor('node_lost logged', () => readFileSync(log, 'utf8').includes('"event":"node_lost"'), 30_000, 250);
      expect(readFileSync(log, 'utf8')).toContain('the engine stops managing its agents');
      // Nor does it serve its agents' hooks (they would take messages of a name not its own), and
      // while the name is held elsewhere it keeps trying without taking it.
      await waitFor('hook endpoint withdrawn', () => !existsSync(path.join(env.HORNETS_HOME, 'run', 'hook-endpoint')), 30_000, 100);
      await waitFor('a refused try to hold the name again', () => readFileSync(log, 'utf8').includes('"event":"node_rejoin_failed"'), 30_000, 250);
      const waiting = await p.send('marie', 'while the name is not ours');
      await new Promise((r) => setTimeout(r, 1_500));
      expect(await state(waiting)).toBe('queued');
      expect(await admin.get(claim)).toBe('someone-else');

      // The name is free again: the engine holds it, finds marie still running and delivers.
      expect(await admin.del(claim)).toBe(1);
      await waitFor('node_rejoined logged', () => readFileSync(log, 'utf8').includes('"event":"node_rejoined"'), 30_000, 250);
      await waitFor('the waiting message confirmed', async () => (await state(waiting)) === 'confirmed', 60_000, 250);
      const rows = JSON.parse((await p.ok(['--node', 'alpha', 'status', '--json'])).stdout) as StatusRow[];
      expect(rows.map((a) => [a.name, a.nodeState])).toEqual([['marie', 'up']]);
      // One engine all along: the same process took the name back.
      expect(existsSync(path.join(env.HORNETS_HOME, 'run', 'hook-endpoint'))).toBe(true);
    } finally {
      admin.disconnect();
    }
  }, 180_000);

  it('on Redis an agent without a node is a config error naming it', async () => {
    const dir = fx.dir('hornets-nodes-cfg-');
    initGitRepo(dir);
    const p = new Project(dir, { TMUX: undefined, TMUX_PANE: undefined, REDIS_URL: undefined, HORNETS_TMUX_SOCKET: fx.socket() });
    await p.ok(['init', '--agents', 'marie,bob']);
    // SQLite: nodes are ignored, as before.
    await p.ok(['status']);
    const r = await p.run(['status'], { env: { REDIS_URL: redis.url, HORNETS_HOME: fx.dir('hornets-nodes-cfg-h-') } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('agent "marie" has no node');
  }, 60_000);
});
