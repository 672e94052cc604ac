/**
 * On a Redis team a hook never opens the store: with no engine listening, the Node hook entry has
 * nothing to fall back on. `up` starts the agents and the node's engine side by side, so an agent's
 * SessionStart may come before the engine listens: the entry then waits for the engine (a short
 * grace for its process to appear, then until it listens) and hands the event over with the same
 * proof check and deferred ack as the hook clients, so the session starts with its briefing and
 * its first messages. With no engine at all it gives up after the grace and exits 0, printing
 * nothing. Real redis-server, the real hook entry and engine processes.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { agentCredential, loadOrCreateAgentKey } from '../../src/hooks/credentials.js';
import { Project, assertBuilt, repoRoot } from '../helpers/cli.js';
import { TmuxFixture, initGitRepo } from '../helpers/tmux.js';
import { startRedisServer, type RedisServer } from '../helpers/redis.js';

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

async function redisTeam(): Promise<Project> {
  const dir = fx.dir('hornets-redis-handover-');
  initGitRepo(dir);
  const p = new Project(dir, { HORNETS_TMUX_SOCKET: fx.socket(), TMUX: undefined, TMUX_PANE: undefined, REDIS_URL: redis.url, HORNETS_NODE: 'n1' });
  await p.ok(['init', '--agents', 'marie']);
  fx.defer(() => p.run(['daemon', 'stop']));
  return p;
}

interface HookRun {
  code: number | null;
  stdout: string;
  ms: number;
}

/** The hook client's fallback as the agent's CLI starts it: the Node entry, the payload on stdin. */
function sessionStart(p: Project): Promise<HookRun> {
  const home = p.stateDir;
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(repoRoot, 'bin', 'hornets-hook.cjs'), 'SessionStart'], {
      env: {
        PATH: process.env.PATH ?? '',
        HORNETS_AGENT_ID: 'marie',
        HORNETS_HOME: home,
        HORNETS_CONFIG: path.join(p.dir, 'hornets.json'),
        HORNETS_GENERATION: '0',
        HORNETS_HOOK_TOKEN: agentCredential(loadOrCreateAgentKey(home), 'marie', 0),
      },
    });
    const out: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString('utf8'), ms: Date.now() - started }));
    child.stdin.end(JSON.stringify({ session_id: 'sess-1', hook_event_name: 'SessionStart', source: 'startup', cwd: p.dir }));
  });
}

async function messageState(p: Project, id: string): Promise<string | undefined> {
  const rows = JSON.parse((await p.ok(['queue', 'list', '--all', '--json'])).stdout) as { id: string; state: string }[];
  return rows.find((r) => r.id === id)?.state;
}

describe('a SessionStart on a Redis team before its engine listens', () => {
  it('waits for the engine that is starting and hands the event over: briefing and first message, acked once', async () => {
    const p = await redisTeam();
    const id = await p.send('marie', 'first words for marie');
    const hook = sessionStart(p);
    // `up` launches the engine while the agent starts: here it comes a moment after the hook.
    await new Promise((r) => setTimeout(r, 300));
    await p.ok(['daemon', 'start']);
    const run = await hook;
    expect(run.code).toBe(0);
    const log = () => readFileSync(path.join(p.stateDir, 'logs', 'hornets.log'), 'utf8');
    expect(run.stdout, log()).toContain('marie');
    expect(run.stdout).toContain(`[msg ${id}`);
    expect(run.stdout).toContain('first words for marie');
    expect(await messageState(p, id)).toBe('delivered');
  }, 60_000);

  it('with no engine at all: exits 0 after the grace, prints nothing, the message stays queued', async () => {
    const p = await redisTeam();
    const id = await p.send('marie', 'waits for the engine');
    const run = await sessionStart(p);
    expect(run).toMatchObject({ code: 0, stdout: '' });
    // The grace (3 s), not the hook's 7 s deadline: an agent started with --no-engine is not held long.
    expect(run.ms).toBeLessThan(6_000);
    expect(await messageState(p, id)).toBe('queued');
    const log = readFileSync(path.join(p.stateDir, 'logs', 'hornets.log'), 'utf8');
    expect(log).toContain('queue in redis: no engine');
  }, 60_000);
});
