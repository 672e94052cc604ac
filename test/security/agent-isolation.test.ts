/**
 * One agent is not another (issue 11, item 10). Every agent can read <state>/run/hook-endpoint and
 * holds its own credential (HORNETS_HOOK_TOKEN): neither may let it take, confirm or stall another
 * agent's messages, post tmux's pane-died event, skip the generation check, or let a nested CLI
 * started in its worktree (same environment, another session) drain its queue. Held for the daemon
 * endpoint, both command hook clients and the Node fallback that opens the database itself.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStore, type SqliteMessageStore } from '../../src/queue/sqlite/sqlite-store.js';
import { HookServer } from '../../src/daemon/hook-server.js';
import { silentLogger } from '../../src/log.js';
import { agentCredential, loadOrCreateAgentKey } from '../../src/hooks/credentials.js';
import { hookClients } from '../helpers/hook-clients.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Setup {
  dir: string;
  store: SqliteMessageStore;
  server: HookServer;
  port: number;
  /** The CLI's token from run/hook-endpoint, which every agent can read. */
  endpointToken: string;
  /** Each agent's own credential, as its pane's environment holds it. */
  cred: { marie: string; bob: string };
  paneDied: string[];
}

async function setup(options: { daemon?: boolean } = {}): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), 'hornets-isolation-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const store = await openSqliteStore(join(dir, 'hornets.db'));
  cleanups.push(() => store.close());
  await store.registerAgents([
    { name: 'marie', profile: 'demo' },
    { name: 'bob', profile: 'demo' },
  ]);
  await store.updateAgent('marie', { generation: 3 });
  await store.updateAgent('bob', { generation: 5 });
  writeFileSync(
    join(dir, 'hornets.json'),
    JSON.stringify({
      project: 'p',
      agents: [
        { name: 'marie', profile: 'demo' },
        { name: 'bob', profile: 'demo' },
      ],
    }),
  );
  const paneDied: string[] = [];
  const server = new HookServer({ store, stateDir: dir, configPath: join(dir, 'hornets.json'), log: silentLogger(), onPaneDied: (pane) => paneDied.push(pane) });
  await server.start();
  cleanups.push(() => server.stop());
  const [port, endpointToken] = readFileSync(join(dir, 'run', 'hook-endpoint'), 'utf8')
    .trim()
    .split(' ');
  // What `up` puts in each pane's environment (the same key the engine verifies with).
  const key = loadOrCreateAgentKey(dir);
  const cred = { marie: agentCredential(key, 'marie', 3), bob: agentCredential(key, 'bob', 5) };
  if (options.daemon === false) await server.stop();
  return { dir, store, server, port: Number(port), endpointToken: endpointToken!, cred, paneDied };
}

async function request(port: number, path: string, body: unknown, headers: Record<string, string>): Promise<{ status: number; text: string; proof: string | null }> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: r.status, text: await r.text(), proof: r.headers.get('x-hornets-server') };
}

/** The headers a hook client sends: the client half of a credential, agent and generation. */
function as(agent: string, generation: string | null, credential: string): Record<string, string> {
  return { 'x-hornets-agent': agent, 'x-hornets-token': credential.split('.')[0]!, ...(generation === null ? {} : { 'x-hornets-generation': generation }) };
}

function runHook(program: string, dir: string, event: string, payload: unknown, env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, [process.execPath, event], { env: { PATH: process.env.PATH ?? '', HORNETS_HOME: dir, HORNETS_CONFIG: join(dir, 'hornets.json'), ...env } });
    const out: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.on('error', reject);
    child.on('close', () => resolve(Buffer.concat(out).toString('utf8')));
    child.stdin.end(JSON.stringify(payload));
  });
}

describe('hook endpoint: a hook acts only for its own agent generation', () => {
  it('the endpoint file token alone (readable by every agent) takes, confirms and stalls nothing', async () => {
    const s = await setup();
    const m = await s.store.enqueue({ agent: 'bob', body: 'for bob only' });
    const h = { 'x-hornets-agent': 'bob', 'x-hornets-generation': '5', 'x-hornets-token': s.endpointToken };
    const pulled = await request(s.port, '/hook/PostToolUse', { session_id: 'evil', tool_name: 'Bash' }, h);
    expect(pulled.status).toBe(401);
    expect(pulled.text).toBe('');
    const faked = await request(s.port, '/hook/Notification', { session_id: 'evil', notification_type: 'permission_prompt', message: 'needs permission' }, h);
    expect(faked.status).toBe(401);
    expect((await s.store.get(m.message.id)).state).toBe('queued');
    expect((await s.store.getAgent('bob'))!.state).not.toBe('needs-input');
  });

  it("marie's credential cannot pull, confirm, ack or fake a permission prompt for bob", async () => {
    const s = await setup();
    // bob takes one message legitimately: delivered, waiting for his next event to confirm it.
    const first = await s.store.enqueue({ agent: 'bob', body: 'first' });
    const got = await request(s.port, '/hook/SessionStart', { session_id: 'bob-s', source: 'startup' }, as('bob', '5', s.cred.bob));
    expect(got.status).toBe(200);
    expect(got.text).toContain('first');
    expect((await s.store.get(first.message.id)).state).toBe('delivered');
    const second = await s.store.enqueue({ agent: 'bob', body: 'second' });

    for (const [agent, generation] of [
      ['bob', '5'],
      ['bob', '3'],
    ] as const) {
      const h = as(agent, generation, s.cred.marie);
      expect((await request(s.port, '/hook/PostToolUse', { session_id: 'bob-s', tool_name: 'Bash' }, h)).status, 'pull').toBe(401);
      expect((await request(s.port, '/hook/UserPromptSubmit', { session_id: 'bob-s', prompt: 'x' }, h)).status, 'confirm').toBe(401);
      expect((await request(s.port, '/hook/Notification', { session_id: 'bob-s', notification_type: 'permission_prompt' }, h)).status, 'permission').toBe(401);
      expect((await request(s.port, '/hook/SessionEnd', { session_id: 'bob-s', reason: 'other' }, h)).status, 'requeue').toBe(401);
    }
    expect((await s.store.get(first.message.id)).state).toBe('delivered');
    expect((await s.store.get(second.message.id)).state).toBe('queued');
    expect((await s.store.getAgent('bob'))!.state).not.toBe('needs-input');

    // A lease of bob's acked by marie (her own headers, his lease token) stays leased.
    const leased = await request(s.port, '/hook/PostToolUse', { session_id: 'bob-s', tool_name: 'Bash' }, { ...as('bob', '5', s.cred.bob), 'x-hornets-defer-ack': '1' });
    expect(leased.text).toContain('second');
    const lease = (await s.store.get(second.message.id)).leaseToken!;
    const stolen = await fetch(`http://127.0.0.1:${s.port}/ack`, { method: 'POST', headers: { ...as('marie', '3', s.cred.marie), 'x-hornets-ack': `${lease} ${second.message.id}` } });
    expect(await stolen.text()).toBe('0');
    expect((await s.store.get(second.message.id)).state).toBe('leased');
  });

  it('the generation is mandatory and bound to the credential', async () => {
    const s = await setup();
    const m = await s.store.enqueue({ agent: 'bob', body: 'x' });
    expect((await request(s.port, '/hook/PostToolUse', { session_id: 's', tool_name: 'Bash' }, as('bob', null, s.cred.bob))).status, 'missing').toBe(401);
    expect((await request(s.port, '/hook/PostToolUse', { session_id: 's', tool_name: 'Bash' }, as('bob', '', s.cred.bob))).status, 'empty').toBe(401);
    expect((await request(s.port, '/hook/PostToolUse', { session_id: 's', tool_name: 'Bash' }, as('bob', '6', s.cred.bob))).status, 'another generation').toBe(401);
    expect((await s.store.get(m.message.id)).state).toBe('queued');
    const ok = await request(s.port, '/hook/PostToolUse', { session_id: 's', tool_name: 'Bash' }, as('bob', '5', s.cred.bob));
    expect(ok.status).toBe(200);
    // The answer proves itself with bob's half of his credential, not a token every agent can read.
    expect(ok.proof).toBe(s.cred.bob.split('.')[1]);
  });

  it("pane-died is tmux's alone: neither an agent's credential nor the endpoint file token posts it", async () => {
    const s = await setup();
    for (const token of [s.endpointToken, s.cred.marie.split('.')[0]!, s.cred.marie]) {
      expect((await request(s.port, '/event/pane-died', { pane: '%1', status: '0' }, { 'x-hornets-token': token })).status).toBe(401);
    }
    expect(s.paneDied).toEqual([]);
    const [port, token] = readFileSync(join(s.dir, 'run', 'pane-died-endpoint'), 'utf8')
      .trim()
      .split(' ');
    expect(Number(port)).toBe(s.port);
    expect((await request(s.port, '/event/pane-died', { pane: '%1', status: '0' }, { 'x-hornets-token': token! })).status).toBe(200);
    expect(s.paneDied).toEqual(['%1']);
  });

  it('a nested CLI in the worktree (same environment, another session) cannot drain or confirm its parent’s queue', async () => {
    const s = await setup();
    const h = as('bob', '5', s.cred.bob);
    expect((await request(s.port, '/hook/SessionStart', { session_id: 'parent', source: 'startup' }, h)).status).toBe(200);
    const m = await s.store.enqueue({ agent: 'bob', body: 'for the parent' });
    const child = await request(s.port, '/hook/SessionStart', { session_id: 'child', source: 'startup' }, h);
    // The child carries on (200, nothing), and takes nothing.
    expect(child.status).toBe(200);
    expect(child.text).not.toContain('for the parent');
    for (const event of ['UserPromptSubmit', 'PostToolUse', 'Stop']) {
      const r = await request(s.port, `/hook/${event}`, { session_id: 'child', prompt: 'hi', tool_name: 'Bash' }, h);
      expect(r.status).toBe(200);
      expect(r.text, event).toBe('');
    }
    expect((await s.store.get(m.message.id)).state).toBe('queued');
    const parent = await request(s.port, '/hook/PostToolUse', { session_id: 'parent', tool_name: 'Bash' }, h);
    expect(parent.text).toContain('for the parent');
    // The parent's /clear (SessionEnd, then SessionStart with a new id) moves the pin; the child stays out.
    await request(s.port, '/hook/SessionEnd', { session_id: 'parent', reason: 'clear' }, h);
    await request(s.port, '/hook/SessionStart', { session_id: 'parent-2', source: 'clear' }, h);
    const later = await s.store.enqueue({ agent: 'bob', body: 'after the clear' });
    expect((await request(s.port, '/hook/PostToolUse', { session_id: 'child', tool_name: 'Bash' }, h)).text).toBe('');
    expect((await request(s.port, '/hook/PostToolUse', { session_id: 'parent-2', tool_name: 'Bash' }, h)).text).toContain('after the clear');
    expect((await s.store.get(later.message.id)).state).toBe('delivered');
  });
});

describe.each(hookClients)('$name hook client: only its own agent, with the daemon and without', (client) => {
  it.skipIf(!client.available)('with the daemon: another agent’s credential or the endpoint token alone gets nothing; its own gets the message', async () => {
    const s = await setup();
    const m = await s.store.enqueue({ agent: 'bob', body: 'for bob' });
    const payload = { session_id: 'bob-s', tool_name: 'Bash' };
    const bob = { HORNETS_AGENT_ID: 'bob', HORNETS_GENERATION: '5' };
    expect(await runHook(client.program, s.dir, 'PostToolUse', payload, { ...bob, HORNETS_HOOK_TOKEN: s.cred.marie }), "marie's credential").toBe('');
    expect(await runHook(client.program, s.dir, 'PostToolUse', payload, { ...bob, HORNETS_HOOK_TOKEN: `${s.endpointToken}.${s.endpointToken}` }), 'endpoint token').toBe('');
    expect(await runHook(client.program, s.dir, 'PostToolUse', payload, bob), 'no credential').toBe('');
    expect(await runHook(client.program, s.dir, 'PostToolUse', payload, { HORNETS_AGENT_ID: 'bob', HORNETS_HOOK_TOKEN: s.cred.bob }), 'no generation').toBe('');
    expect((await s.store.get(m.message.id)).state).toBe('queued');
    expect(await runHook(client.program, s.dir, 'PostToolUse', payload, { ...bob, HORNETS_HOOK_TOKEN: s.cred.bob })).toContain('for bob');
    expect((await s.store.get(m.message.id)).state).toBe('delivered');
  });

  it.skipIf(!client.available)('without the daemon (the Node fallback opens the database): the same', async () => {
    const s = await setup({ daemon: false });
    const m = await s.store.enqueue({ agent: 'bob', body: 'for bob' });
    const payload = { session_id: 'bob-s', tool_name: 'Bash' };
    const bob = { HORNETS_AGENT_ID: 'bob', HORNETS_GENERATION: '5' };
    expect(await runHook(client.program, s.dir, 'PostToolUse', payload, { ...bob, HORNETS_HOOK_TOKEN: s.cred.marie }), "marie's credential").toBe('');
    expect(await runHook(client.program, s.dir, 'PostToolUse', payload, bob), 'no credential').toBe('');
    expect(await runHook(client.program, s.dir, 'PostToolUse', payload, { HORNETS_AGENT_ID: 'bob', HORNETS_HOOK_TOKEN: s.cred.bob }), 'no generation').toBe('');
    expect((await s.store.get(m.message.id)).state).toBe('queued');
    expect(await runHook(client.program, s.dir, 'PostToolUse', payload, { ...bob, HORNETS_HOOK_TOKEN: s.cred.bob })).toContain('for bob');
    expect((await s.store.get(m.message.id)).state).toBe('delivered');
  });
});
