/**
 * The engine as a user meets it through the CLI (issue 9, defects 9 and 10): `up` starts it
 * (unless --no-engine) and without one `send`, `queue why` and `status` say so and how to start
 * it; an engine whose project is deleted leaves by itself; `daemon status` shows where it
 * listens; `hooks verify` fails when agents need a `claude` that is not on PATH; no help text
 * promises features for "later". Real tmux on a private socket, real daemon processes.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Project, assertBuilt } from '../helpers/cli.js';
import { TmuxFixture, initGitRepo, waitFor } from '../helpers/tmux.js';
import { pidAlive } from '../../src/engine-client/pid.js';

const fx = new TmuxFixture();
beforeAll(() => assertBuilt());
afterEach(async () => {
  await fx.cleanup();
});

const NO_ENGINE = 'no engine is running: messages to idle agents wait until it runs; start it with `hornets-tui daemon start`';

/** A git repo with `hornets-tui init` (demo agents) and a private tmux socket; the engine is stopped at cleanup. */
async function team(agents = 'marie', env: Record<string, string> = {}): Promise<Project> {
  const dir = fx.dir('hornets-engine-');
  initGitRepo(dir);
  const p = new Project(dir, { HORNETS_TMUX_SOCKET: fx.socket(), TMUX: undefined, TMUX_PANE: undefined, ...env });
  await p.ok(['init', '--agents', agents]);
  fx.defer(() => p.run(['daemon', 'stop']));
  return p;
}

async function agentState(p: Project, agent: string): Promise<string | undefined> {
  const r = await p.ok(['status', '--json']);
  return (JSON.parse(r.stdout) as { name: string; state: string }[]).find((a) => a.name === agent)?.state;
}

async function messageState(p: Project, id: string): Promise<string> {
  return (JSON.parse((await p.ok(['queue', 'why', id, '--json'])).stdout) as { state: string }).state;
}

describe('up and the engine', () => {
  it('`up` starts the engine, so a message to an idle agent is delivered', async () => {
    const p = await team();
    const r = await p.ok(['up', '--json']);
    const report = JSON.parse(r.stdout) as { created: string[]; engine: { started: boolean; pid: number } };
    expect(report.created).toEqual(['marie']);
    expect(report.engine.started).toBe(true);
    const status = JSON.parse((await p.ok(['daemon', 'status', '--json'])).stdout) as { running: boolean; pid: number; answering: boolean };
    expect(status).toMatchObject({ running: true, pid: report.engine.pid, answering: true });
    await waitFor('marie idle', async () => (await agentState(p, 'marie')) === 'idle', 20_000, 100);
    const sent = await p.ok(['send', 'marie', 'hello from the test']);
    expect(sent.stderr).not.toContain('no engine');
    const id = /^queued ([0-9a-z]+)/.exec(sent.stdout)![1]!;
    await waitFor('message handed to marie', async () => ['delivered', 'confirmed'].includes(await messageState(p, id)), 20_000, 100);
    // Re-running `up` finds the engine and says so.
    const again = JSON.parse((await p.ok(['up', '--json'])).stdout) as { engine: { started: boolean; pid: number } };
    expect(again.engine).toEqual({ started: false, pid: report.engine.pid, ready: true });
  }, 90_000);

  it('without an engine, send, queue why and status say so plainly and name the fix', async () => {
    const p = await team();
    const up = await p.ok(['up', '--no-engine']);
    expect(up.stderr).toContain(NO_ENGINE);
    const daemon = await p.run(['daemon', 'status', '--json']);
    expect(daemon.code).toBe(3);
    expect(JSON.parse(daemon.stdout)).toMatchObject({ running: false });
    await waitFor('marie idle', async () => (await agentState(p, 'marie')) === 'idle', 20_000, 100);
    const sent = await p.ok(['send', 'marie', 'anyone there?']);
    expect(sent.stderr).toBe(`note: marie is idle and ${NO_ENGINE}\n`);
    const id = /^queued ([0-9a-z]+)/.exec(sent.stdout)![1]!;
    const json = JSON.parse((await p.ok(['send', 'marie', '--json', 'second'])).stdout) as { engineRunning: boolean; waitsForEngine: boolean };
    expect(json).toMatchObject({ engineRunning: false, waitsForEngine: true });
    const why = await p.ok(['queue', 'why', id]);
    expect(why.stdout).toContain(`marie is idle; ${NO_ENGINE}`);
    const status = await p.ok(['status']);
    expect(status.stderr).toContain(NO_ENGINE);
  }, 90_000);
});

describe('engine housekeeping', () => {
  it('an engine whose project directory is deleted notices and exits', async () => {
    const p = await team();
    const started = JSON.parse((await p.ok(['daemon', 'start', '--json'])).stdout) as { pid: number };
    expect(pidAlive(started.pid)).toBe(true);
    rmSync(p.dir, { recursive: true, force: true });
    await waitFor(`engine ${started.pid} gone after its project was deleted`, () => !pidAlive(started.pid), 20_000, 100);
  }, 60_000);

  it('daemon status shows the hook endpoint port and the metrics URL', async () => {
    const p = await team();
    const started = JSON.parse((await p.ok(['daemon', 'start', '--json'])).stdout) as { pid: number };
    const text = (await p.ok(['daemon', 'status'])).stdout;
    const endpoint = readFileSync(path.join(p.stateDir, 'run', 'hook-endpoint'), 'utf8').split(' ')[0]!;
    const metrics = readFileSync(path.join(p.stateDir, 'run', 'metrics-endpoint'), 'utf8').trim();
    expect(text).toContain(`daemon running (pid ${started.pid})`);
    expect(text).toContain(`hook endpoint: 127.0.0.1:${endpoint}`);
    expect(text).toContain(`metrics:       ${metrics}/metrics`);
    const json = JSON.parse((await p.ok(['daemon', 'status', '--json'])).stdout) as { hookPort: number; metrics: string };
    expect(json).toMatchObject({ hookPort: Number(endpoint), metrics: `${metrics}/metrics` });
    const res = await fetch(json.metrics);
    expect(res.status).toBe(200);
  }, 60_000);

  it('hooks verify fails when agents run claude and it is not on PATH, naming the fix', async () => {
    const p = await team('marie');
    const config = JSON.parse(readFileSync(path.join(p.dir, 'hornets.json'), 'utf8')) as { agents: { profile: string }[] };
    config.agents[0]!.profile = 'claude-code';
    writeFileSync(path.join(p.dir, 'hornets.json'), JSON.stringify(config));
    const env = { PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin`, HORNETS_CLAUDE_BIN: undefined };
    const r = await p.run(['hooks', 'verify'], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('claude is not on PATH but marie runs it: install it with `npm install -g @anthropic-ai/claude-code`, or point HORNETS_CLAUDE_BIN at it');
    // A team of demo agents does not need claude.
    const demo = await team('anga');
    expect((await demo.run(['hooks', 'verify'], { env })).code).toBe(0);
  }, 60_000);

  it('no help text promises features for "later"', async () => {
    const p = await team();
    for (const args of [['--help'], ['daemon', '--help'], ['hooks', '--help'], ['queue', '--help']]) {
      const r = await p.ok(args);
      expect(r.stdout, args.join(' ')).not.toMatch(/\blater\b/);
    }
    expect((await p.ok(['daemon', '--help'])).stdout).toMatch(/idle-agent delivery.*crash recovery/s);
  });
});
