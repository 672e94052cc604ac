/**
 * A team costs a fixed number of tmux round trips, and a pane death costs a small shell, not a
 * Node CLI (issue 10: 50 agents dying together on 2 cores made `down` time out and left dead
 * windows). Real tmux on private servers, the real CLI, a real engine; tmux calls are counted
 * through HORNETS_TMUX_BIN pointing at a wrapper that logs each call and runs the real tmux.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import { openSqliteStore } from '../../src/queue/sqlite/sqlite-store.js';
import { Project, assertBuilt, repoRoot } from '../helpers/cli.js';
import { TmuxFixture, initGitRepo, listPanes, serverAlive, tmux, waitFor } from '../helpers/tmux.js';
import { closeTeams, startTeam, stateOf } from '../helpers/team.js';

const fx = new TmuxFixture();
beforeAll(() => assertBuilt());
afterEach(async () => {
  await closeTeams();
  await fx.cleanup();
});

const notifier = path.join(repoRoot, 'bin', 'hornets-pane-died');

function runBash(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn('bash', args, { env, stdio: 'ignore' });
    child.on('close', (code) => resolve({ code, ms: Date.now() - started }));
  });
}

describe('the pane-died notifier (bin/hornets-pane-died)', () => {
  it('POSTs pane and exit status with its own token to the engine named in run/pane-died-endpoint; bad input and no engine are silent exits 0', async () => {
    const seen: { url: string; token: string; body: string }[] = [];
    const server = createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ url: req.url ?? '', token: String(req.headers['x-hornets-token'] ?? ''), body: Buffer.concat(chunks).toString('utf8') });
        res.end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const home = fx.dir('hornets-notifier-');
      mkdirSync(path.join(home, 'run'));
      const env = { PATH: process.env.PATH, HORNETS_HOME: home };
      // No endpoint file: no engine, nothing to tell.
      expect((await runBash([notifier, '%3', '1'], env)).code).toBe(0);
      // The CLI's endpoint (whose token every agent can read) is not the notifier's.
      writeFileSync(path.join(home, 'run', 'hook-endpoint'), `${(server.address() as AddressInfo).port} client-token server-token\n`);
      expect((await runBash([notifier, '%3', '1'], env)).code).toBe(0);
      writeFileSync(path.join(home, 'run', 'pane-died-endpoint'), `${(server.address() as AddressInfo).port} pane-died-token\n`);
      expect((await runBash([notifier, '%3', '137'], env)).code).toBe(0);
      expect((await runBash([notifier, '%12', ''], env)).code).toBe(0);
      // Values that are not what tmux formats give are never spliced into the request.
      expect((await runBash([notifier, '%4"}, "x": "', '1'], env)).code).toBe(0);
      expect((await runBash([notifier, '%5', '1"x'], env)).code).toBe(0);
      await waitFor('three requests', () => seen.length >= 3);
      expect(seen).toEqual([
        { url: '/event/pane-died', token: 'pane-died-token', body: '{"pane":"%3","status":"137"}' },
        { url: '/event/pane-died', token: 'pane-died-token', body: '{"pane":"%12","status":""}' },
        { url: '/event/pane-died', token: 'pane-died-token', body: '{"pane":"%5","status":""}' },
      ]);
    } finally {
      server.close();
    }
    // An endpoint nobody listens on any more (an engine killed -9): exit 0 at once.
    const home = fx.dir('hornets-notifier-');
    mkdirSync(path.join(home, 'run'));
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    writeFileSync(path.join(home, 'run', 'pane-died-endpoint'), `${port} t\n`);
    const r = await runBash([notifier, '%3', '1'], { PATH: process.env.PATH, HORNETS_HOME: home });
    expect(r.code).toBe(0);
    expect(r.ms).toBeLessThan(3000);
  });

  it('a killed agent is restarted by the engine through the notifier, with the safety-net round ten minutes away', async () => {
    const t = await startTeam([{ name: 'marie', profile: 'demo' }], { daemon: { reconcileMs: 600_000 } });
    await waitFor('marie idle', async () => (await stateOf(t, 'marie')) === 'idle', 20_000);
    const hook = tmux(t.socket, ['show-hooks', '-g', 'pane-died']).stdout;
    expect(hook).toContain('HORNETS_PANE_DIED');
    expect(hook).not.toMatch(/internal pane-died|HORNETS_NODE/);
    const first = (await t.ctx.store.getAgent('marie'))!;
    process.kill(listPanes(t.socket).find((p) => p.paneId === first.paneId)!.pid, 'SIGKILL');
    await waitFor('marie restarted', async () => (await t.ctx.store.getAgent('marie'))!.generation === first.generation + 1, 20_000, 50);
    const handled = await t.ctx.store.events({ agent: 'marie', kinds: ['crash_handled'] });
    // tmux 3.3a sometimes misses the process's exit and runs no hook at all: then the engine's
    // look at /proc (lost-exits.ts) found the zombie. Either way, once and not by reconciliation.
    expect(handled.map((e) => e.detail?.['source'])).toHaveLength(1);
    expect(['pane-died', 'lost-exit']).toContain(handled[0]!.detail?.['source']);
  });
});

describe('a team in a fixed number of tmux calls', () => {
  /** A tmux that logs every call (one line per process: its subcommands) before running the real one. */
  function countingTmux(dir: string): { bin: string; calls: () => string[]; reset: () => void } {
    const log = path.join(dir, 'tmux-calls.log');
    const bin = path.join(dir, 'tmux-counting');
    const real = spawnSyncWhich('tmux');
    writeFileSync(bin, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\nexec '${real}' "$@"\n`);
    chmodSync(bin, 0o755);
    return {
      bin,
      calls: () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : []),
      reset: () => writeFileSync(log, ''),
    };
  }

  it('up makes every window in one tmux call and down stops the team without one call per agent; both leave a consistent record', async () => {
    const dir = fx.dir('hornets-scale-');
    initGitRepo(dir);
    const socket = fx.socket();
    const counter = countingTmux(fx.dir('hornets-scale-bin-'));
    const names = Array.from({ length: 8 }, (_, i) => `a${i}`);
    const p = new Project(dir, { HORNETS_TMUX_SOCKET: socket, HORNETS_TMUX_BIN: counter.bin, TMUX: undefined, TMUX_PANE: undefined });
    await p.ok(['init', '--agents', names.join(',')]);

    counter.reset();
    const up = JSON.parse((await p.ok(['up', '--no-engine', '--json'])).stdout) as { created: string[]; failed: unknown[] };
    expect(up).toMatchObject({ created: names, failed: [] });
    // The agents' own start gates (`wait-for` inside each pane, on the pane's $TMUX) are not up's calls.
    const upCalls = counter.calls().filter((c) => !c.startsWith('wait-for hornets-start-'));
    expect(
      upCalls.filter((c) => c.includes('new-window')),
      upCalls.join('\n'),
    ).toHaveLength(1);
    // Set-up and look-ups are a handful whatever the team's size (list-panes may be asked again
    // when tmux has not reaped an exit yet).
    expect(upCalls.filter((c) => !/list-panes|display-message/.test(c)).length, upCalls.join('\n')).toBeLessThanOrEqual(6);
    const panes = listPanes(socket).filter((row) => row.window !== 'hornets');
    expect(panes.map((row) => row.window).sort()).toEqual([...names].sort());
    // The agents were held at a start gate while their windows were made: up released every one,
    // and the gate exec'd the agent in place, so the pane's pid is the agent's own process.
    await waitFor(
      'every pane running its demo agent',
      () => panes.every((row) => existsSync(`/proc/${row.pid}/cmdline`) && readFileSync(`/proc/${row.pid}/cmdline`, 'utf8').split('\0').includes('demo-agent')),
      20_000,
    );

    // Each window is its agent's: its own pane id, generation and worktree in the DB and in its env.
    const store = await openSqliteStore(p.dbPath);
    try {
      for (const name of names) {
        const r = (await store.getAgent(name))!;
        expect(r).toMatchObject({ generation: 1 });
        const pane = panes.find((row) => row.paneId === r.paneId)!;
        expect(pane.window).toBe(name);
        const environ = readFileSync(`/proc/${pane.pid}/environ`, 'utf8').split('\0');
        expect(environ).toContain(`HORNETS_AGENT_ID=${name}`);
        expect(environ).toContain('HORNETS_GENERATION=1');
        expect(tmux(socket, ['display-message', '-p', '-t', r.paneId!, '#{pane_current_path}']).stdout.trim()).toBe(path.join(dir, '.hornets', 'worktrees', name));
      }
    } finally {
      await store.close();
    }

    counter.reset();
    const down = JSON.parse((await p.ok(['down', '--json'])).stdout) as { stopped: string[] };
    expect(down.stopped).toEqual([...names].sort());
    const downCalls = counter.calls();
    expect(
      downCalls.filter((c) => /kill-window|kill-pane/.test(c)),
      downCalls.join('\n'),
    ).toEqual([]);
    expect(
      downCalls.filter((c) => c.includes('kill-server')),
      downCalls.join('\n'),
    ).toHaveLength(1);
    expect(serverAlive(socket)).toBe(false);
    const after = await openSqliteStore(p.dbPath);
    try {
      for (const name of names) {
        expect(await after.getAgent(name)).toMatchObject({ state: 'stopped', paneId: null });
        expect((await after.events({ agent: name, kinds: ['agent_stopped'] })).length).toBe(1);
        // Our own stop is not a crash: nothing recorded it as one.
        expect((await after.events({ agent: name, kinds: ['agent_exited'] })).length).toBe(0);
      }
    } finally {
      await after.close();
    }
  });
});

function spawnSyncWhich(cmd: string): string {
  for (const d of (process.env.PATH ?? '').split(':')) {
    const f = path.join(d, cmd);
    if (d && existsSync(f)) return f;
  }
  throw new Error(`${cmd} not on PATH`);
}
