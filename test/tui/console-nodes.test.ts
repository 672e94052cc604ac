/**
 * The console and `attach` across nodes (issue 12): one team on a real redis-server, node "beta"
 * running anga in its own engine and tmux server, node "alpha" (this console's) running marie.
 * The console, driven in a pane of a private tmux server like test/tui/console.test.ts, shows both
 * nodes' agents with their node and the nodes' health, sends controls to beta's agent through
 * beta, and shows beta's agents `lost` once beta's engine is killed. `attach` to beta's agent runs
 * the configured remote command: a stand-in `ssh` (and `kubectl`) first on PATH records its argv.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { Project, assertBuilt, binPath, cleanEnv } from '../helpers/cli.js';
import { TmuxFixture, initGitRepo, killServer, listPanes, tmux, tmuxOk, waitFor } from '../helpers/tmux.js';
import { startRedisServer, type RedisServer } from '../helpers/redis.js';
import { Redis } from 'ioredis';

const fx = new TmuxFixture();
let redis: RedisServer;
const consoles: string[] = [];

beforeAll(async () => {
  assertBuilt();
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.destroy();
});
afterEach(async () => {
  for (const s of consoles.splice(0)) await killServer(s);
  await fx.cleanup();
});

interface NodeProc {
  p: Project;
  env: { HORNETS_TMUX_SOCKET: string; HORNETS_HOME: string } & Record<string, string | undefined>;
}

interface Team {
  dir: string;
  configPath: string;
  base: Record<string, string | undefined>;
  node(name: string, extra?: Record<string, string | undefined>): NodeProc;
  /** A directory with stand-in `ssh` and `kubectl` that record their argv (NUL-separated) and exit 0. */
  bin: string;
  recorded(program: 'ssh' | 'kubectl'): string[] | null;
}

/** marie on alpha, anga on beta; one redis-server; stand-in remote programs. */
async function makeTeam(): Promise<Team> {
  const dir = fx.dir('hornets-consnodes-');
  initGitRepo(dir);
  const bin = fx.dir('hornets-consnodes-bin-');
  const records = fx.dir('hornets-consnodes-argv-');
  for (const program of ['ssh', 'kubectl']) {
    const file = path.join(bin, program);
    writeFileSync(file, `#!/bin/sh\nprintf '%s\\0' "$@" > '${path.join(records, program)}'\nexit 0\n`);
    chmodSync(file, 0o755);
  }
  const base = { TMUX: undefined, TMUX_PANE: undefined, REDIS_URL: redis.url, HORNETS_NODE: undefined, PATH: `${bin}:${process.env.PATH ?? ''}` };
  const setup = new Project(dir, { ...base, HORNETS_TMUX_SOCKET: fx.socket(), HORNETS_HOME: fx.dir('hornets-consnodes-setup-') });
  await setup.ok(['init', '--agents', 'marie,anga', '--project', 'consnodes']);
  const configPath = path.join(dir, 'hornets.json');
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as { agents: { name: string; node?: string }[]; defaults: Record<string, unknown> };
  delete config.defaults.node;
  for (const a of config.agents) a.node = a.name === 'anga' ? 'beta' : 'alpha';
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  return {
    dir,
    configPath,
    base,
    bin,
    node(name, extra = {}) {
      const env = { ...base, HORNETS_TMUX_SOCKET: fx.socket(), HORNETS_HOME: fx.dir(`hornets-consnodes-${name}-`), ...extra };
      const p = new Project(dir, env);
      fx.defer(() => p.run(['--node', name, 'down', '--timeout', '1']));
      fx.defer(() => p.run(['--node', name, 'daemon', 'stop']));
      return { p, env };
    },
    recorded(program) {
      const file = path.join(records, program);
      if (!existsSync(file)) return null;
      return readFileSync(file, 'utf8').split('\0').slice(0, -1);
    },
  };
}

function editConfig(t: Team, edit: (c: Record<string, unknown>) => void): void {
  const c = JSON.parse(readFileSync(t.configPath, 'utf8')) as Record<string, unknown>;
  edit(c);
  writeFileSync(t.configPath, JSON.stringify(c, null, 2));
}

describe('attach to an agent on another node', () => {
  it('runs the configured command (default ssh, then a kubectl form and a host override) with the exact argv; a bad template is refused', async () => {
    const t = await makeTeam();
    const beta = t.node('beta');
    await beta.p.ok(['--node', 'beta', 'up']);
    const pane = await waitFor('anga has a pane on beta', () => listPanes(beta.env.HORNETS_TMUX_SOCKET).find((p) => p.window === 'anga')?.paneId, 30_000, 100);

    // From node alpha (another state dir and tmux server, as on another host).
    const alpha = t.node('alpha');
    await alpha.p.ok(['--node', 'alpha', 'attach', 'anga']);
    expect(t.recorded('ssh')).toEqual(['-t', hostname(), 'tmux', '-L', beta.env.HORNETS_TMUX_SOCKET, 'attach', '-t', pane]);
    // What the stand-in was told works: that target is anga's pane on beta's server.
    expect(tmuxOk(beta.env.HORNETS_TMUX_SOCKET, ['display-message', '-p', '-t', pane, '#{window_name}']).trim()).toBe('anga');

    editConfig(t, (c) => {
      c.attach = { remote: 'kubectl exec -it {pod} -- tmux -L {socket} attach -t {window}', hosts: { beta: 'ops@10.9.8.7' } };
    });
    await alpha.p.ok(['--node', 'alpha', 'attach', 'anga']);
    expect(t.recorded('kubectl')).toEqual(['exec', '-it', hostname(), '--', 'tmux', '-L', beta.env.HORNETS_TMUX_SOCKET, 'attach', '-t', 'consnodes:anga']);
    expect(tmuxOk(beta.env.HORNETS_TMUX_SOCKET, ['display-message', '-p', '-t', 'consnodes:anga', '#{pane_id}']).trim()).toBe(pane);

    editConfig(t, (c) => {
      c.attach = { remote: ['ssh', '-t', '{host}', 'tmux', '-L', '{socket}', 'attach', '-t', '{pane}'], hosts: { beta: 'ops@10.9.8.7' } };
    });
    await alpha.p.ok(['--node', 'alpha', 'attach', 'anga']);
    expect(t.recorded('ssh')).toEqual(['-t', 'ops@10.9.8.7', 'tmux', '-L', beta.env.HORNETS_TMUX_SOCKET, 'attach', '-t', pane]);

    editConfig(t, (c) => {
      c.attach = { remote: 'ssh -t {hostname} tmux attach -t {pane}' };
    });
    const bad = await alpha.p.run(['--node', 'alpha', 'attach', 'anga']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('attach.remote');
    expect(bad.stderr).toContain('unknown placeholder {hostname}');

    // A node that is not up: refused, naming it; nothing is run.
    editConfig(t, (c) => {
      delete c.attach;
    });
    await beta.p.ok(['--node', 'beta', 'daemon', 'stop']);
    const down = await alpha.p.run(['--node', 'alpha', 'attach', 'anga']);
    expect(down.code).toBe(2);
    expect(down.stderr).toContain('anga runs on node "beta", which is stopped');
  }, 180_000);
});

// ------------------------------------------------------------------------------------ console

interface Tui {
  socket: string;
  exitFile: string;
}

function startConsole(t: Team, alpha: NodeProc): Tui {
  const socket = fx.socket();
  consoles.push(socket);
  const conf = path.join(t.dir, 'console-tmux.conf');
  writeFileSync(conf, 'set -g remain-on-exit on\nset -g default-terminal tmux-256color\nset -g status off\n');
  const exitFile = path.join(t.dir, 'console.exit');
  const vars = { ...alpha.env, HORNETS_NODE: 'alpha' };
  const env = cleanEnv({ ...vars, NO_COLOR: undefined });
  const term = [
    'env',
    '-u',
    'TMUX',
    '-u',
    'TMUX_PANE',
    ...Object.entries(vars)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${v}`),
    'sh',
    '-c',
    '"$@"; echo $? > "$0"',
    exitFile,
    process.execPath,
    binPath,
  ];
  const r = spawnSync('tmux', ['-L', socket, '-f', conf, 'new-session', '-d', '-s', 'console', '-x', '140', '-y', '36', '-c', t.dir, '--', ...term], { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cannot start the console's tmux server: ${r.stderr}`);
  return { socket, exitFile };
}

function screen(c: Tui): string {
  const r = tmux(c.socket, ['capture-pane', '-p', '-t', 'console']);
  return r.code === 0 ? r.stdout : '';
}

async function waitScreen(c: Tui, what: string, check: (s: string) => boolean, timeoutMs = 30_000): Promise<string> {
  let last = '';
  try {
    return await waitFor(
      what,
      () => {
        last = screen(c);
        return check(last) ? last : null;
      },
      timeoutMs,
      50,
    );
  } catch (err) {
    const status = existsSync(c.exitFile) ? readFileSync(c.exitFile, 'utf8').trim() : null;
    throw new Error(`${(err as Error).message.split(' (last value')[0]}\n--- screen${status !== null ? ` (console exited, status ${status})` : ''} ---\n${last}`);
  }
}

/** The agents-panel row of an agent: name, node, profile. */
function row(s: string, agent: string, node: string): string {
  return s.split('\n').find((l) => new RegExp(`^│[▸ ] ${agent}\\s+${node}\\s+demo\\s`).test(l)) ?? '';
}

describe('the console across nodes', () => {
  it("shows every node's agents with their node and the nodes' health; controls reach beta's agent through beta; Enter attaches there; a killed node's agents show lost", async () => {
    const t = await makeTeam();
    const beta = t.node('beta');
    await beta.p.ok(['--node', 'beta', 'up']);
    const anga = await waitFor('anga has a pane on beta', () => listPanes(beta.env.HORNETS_TMUX_SOCKET).find((p) => p.window === 'anga')?.paneId, 30_000, 100);
    const alpha = t.node('alpha');
    mkdirSync(alpha.env.HORNETS_HOME, { recursive: true });
    const c = startConsole(t, alpha);

    // Both nodes' agents, each with its node; both nodes up; marie runs here, anga is not started here.
    let s = await waitScreen(c, 'marie idle on alpha, anga idle on beta', (x) => /\sidle\s/.test(row(x, 'marie', 'alpha')) && /\sidle\s/.test(row(x, 'anga', 'beta')), 60_000);
    expect(s).toMatch(/AGENT\s+NODE\s+PROFILE\s+STATE/);
    // beta's engine started first and leads the cluster-wide duties.
    expect(s).toMatch(/nodes alpha\* up, beta up \(leader\)/);
    expect(listPanes(alpha.env.HORNETS_TMUX_SOCKET).map((p) => p.window)).not.toContain('anga');
    expect(listPanes(beta.env.HORNETS_TMUX_SOCKET).map((p) => p.window)).not.toContain('marie');

    // Its refreshes reuse the console's one registry connection: over a dozen ticks (500 ms each)
    // of a steady team, no new connection reaches redis-server.
    const admin = new Redis(redis.url);
    try {
      const connections = async () => Number(/total_connections_received:(\d+)/.exec(await admin.info('stats'))![1]);
      const before = await connections();
      await new Promise((r) => setTimeout(r, 6_000));
      expect(await connections()).toBe(before);
    } finally {
      admin.disconnect();
    }

    // Select anga (second row) and pause it: beta's engine applies it; resume likewise.
    tmuxOk(c.socket, ['send-keys', '-t', 'console', 'j']);
    await waitScreen(c, 'anga selected', (x) => row(x, 'anga', 'beta').startsWith('│▸'));
    s = await waitScreen(c, 'the preview says where anga runs', (x) => x.includes('anga runs on node beta'));
    tmuxOk(c.socket, ['send-keys', '-t', 'console', 'p']);
    await waitScreen(c, 'pause sent to beta', (x) => x.includes('pause sent to node "beta"'));
    await waitScreen(c, 'anga paused', (x) => /\spaused\s/.test(row(x, 'anga', 'beta')));
    tmuxOk(c.socket, ['send-keys', '-t', 'console', 'p']);
    await waitScreen(c, 'anga resumed', (x) => /\sidle\s/.test(row(x, 'anga', 'beta')));

    // s: a message for anga, delivered by beta (whose engine is woken through Redis) and confirmed.
    tmuxOk(c.socket, ['send-keys', '-t', 'console', 's']);
    await waitScreen(c, 'the send dialog', (x) => x.includes('Send to anga'));
    tmuxOk(c.socket, ['send-keys', '-t', 'console', '-l', 'hello from alpha']);
    tmuxOk(c.socket, ['send-keys', '-t', 'console', 'C-s']);
    s = await waitScreen(c, 'queued for anga', (x) => /queued \S+ for anga/.test(x));
    const id = /queued (\S+) for anga/.exec(s)![1]!;
    await waitFor(
      'the message confirmed by anga on beta',
      async () => (JSON.parse((await alpha.p.ok(['queue', 'list', '--all', '--json'])).stdout) as { id: string; state: string }[]).find((m) => m.id === id)?.state === 'confirmed',
      60_000,
      250,
    );
    expect(readFileSync(path.join(beta.env.HORNETS_HOME, 'demo', 'anga.jsonl'), 'utf8')).toContain(`msg ${id}`);

    // Enter on anga: the remote attach command, with the terminal handed over and back.
    tmuxOk(c.socket, ['send-keys', '-t', 'console', 'Enter']);
    await waitScreen(c, 'back from anga', (x) => x.includes('back from anga (node beta)'));
    expect(t.recorded('ssh')).toEqual(['-t', hostname(), 'tmux', '-L', beta.env.HORNETS_TMUX_SOCKET, 'attach', '-t', anga]);

    // Beta's engine dies (kill -9): its registration expires and anga shows lost; marie is unaffected.
    const pid = Number(readFileSync(path.join(beta.env.HORNETS_HOME, 'run', 'daemon.pid'), 'utf8').trim());
    process.kill(pid, 'SIGKILL');
    s = await waitScreen(c, 'anga lost', (x) => /\slost\s/.test(row(x, 'anga', 'beta')) && /nodes alpha\* up \(leader\), beta lost/.test(x), 60_000);
    expect(row(s, 'marie', 'alpha')).toMatch(/\sidle\s/);
    // A control to a lost node's agent is refused, naming it.
    tmuxOk(c.socket, ['send-keys', '-t', 'console', 'p']);
    await waitScreen(c, 'pause refused', (x) => x.includes('anga runs on node "beta", which is lost'));

    tmuxOk(c.socket, ['send-keys', '-t', 'console', 'q']);
    await waitFor('the console to exit', () => existsSync(c.exitFile), 15_000);
  }, 240_000);
});
