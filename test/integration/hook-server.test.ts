/**
 * The hook transports directly: the daemon endpoint (token, server proof, stale generations,
 * malformed input, the Stop block cap) and the bash fast path (bin/hornets-hook), including a
 * stale endpoint file whose port now belongs to someone else.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStore, type SqliteMessageStore } from '../../src/queue/sqlite/sqlite-store.js';
import { HookServer } from '../../src/daemon/hook-server.js';
import { silentLogger } from '../../src/log.js';
import { MAX_STOP_BLOCKS } from '../../src/hooks/handlers.js';

const hook = resolve(__dirname, '..', '..', 'bin', 'hornets-hook');
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(): Promise<{ dir: string; store: SqliteMessageStore; server: HookServer; endpoint: { port: number; token: string; proof: string } }> {
  const dir = mkdtempSync(join(tmpdir(), 'hornets-hookserver-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const store = await openSqliteStore(join(dir, 'hornets.db'));
  cleanups.push(() => store.close());
  await store.registerAgents([{ name: 'marie', profile: 'demo' }]);
  await store.updateAgent('marie', { generation: 3 });
  writeFileSync(join(dir, 'hornets.json'), JSON.stringify({ project: 'p', agents: [{ name: 'marie', profile: 'demo' }] }));
  const server = new HookServer({ store, stateDir: dir, configPath: join(dir, 'hornets.json'), log: silentLogger() });
  await server.start();
  cleanups.push(() => server.stop());
  const [port, token, proof] = readFileSync(join(dir, 'run', 'hook-endpoint'), 'utf8')
    .trim()
    .split(' ');
  return { dir, store, server, endpoint: { port: Number(port), token: token!, proof: proof! } };
}

async function post(port: number, event: string, body: unknown, headers: Record<string, string>): Promise<{ status: number; text: string; headers: Headers }> {
  const r = await fetch(`http://127.0.0.1:${port}/hook/${event}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: r.status, text: await r.text(), headers: r.headers };
}

/** Async: the daemon under test lives in this process and must keep serving while the hook runs. */
function runHook(dir: string, event: string, payload: unknown, env: Record<string, string> = {}): Promise<{ status: number | null; stdout: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(hook, [process.execPath, event], { env: { PATH: process.env.PATH ?? '', HORNETS_AGENT_ID: 'marie', HORNETS_HOME: dir, HORNETS_GENERATION: '3', ...env } });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.on('error', reject);
    child.on('close', (status) => resolvePromise({ status, stdout, ms: Date.now() - started }));
    child.stdin.end(JSON.stringify(payload));
  });
}

describe('daemon hook endpoint', () => {
  it('refuses requests without the token and proves itself on every answer', async () => {
    const { endpoint } = await setup();
    expect((await post(endpoint.port, 'Stop', {}, { 'x-hornets-agent': 'marie' })).status).toBe(401);
    expect((await post(endpoint.port, 'Stop', {}, { 'x-hornets-agent': 'marie', 'x-hornets-token': 'x'.repeat(48) })).status).toBe(401);
    const ok = await post(endpoint.port, 'Stop', { session_id: 's1' }, { 'x-hornets-agent': 'marie', 'x-hornets-token': endpoint.token, 'x-hornets-generation': '3' });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('x-hornets-server')).toBe(endpoint.proof);
  });

  it('answers malformed payloads, stale generations and bad session ids with nothing, and delivers nothing', async () => {
    const { endpoint, store } = await setup();
    const m = await store.enqueue({ agent: 'marie', body: 'keep me' });
    const h = { 'x-hornets-agent': 'marie', 'x-hornets-token': endpoint.token };
    expect((await post(endpoint.port, 'PostToolUse', '{not json', { ...h, 'x-hornets-generation': '3' })).text, 'malformed').toBe('');
    expect((await post(endpoint.port, 'PostToolUse', { session_id: 's1', tool_name: 'Bash' }, { ...h, 'x-hornets-generation': '2' })).text, 'stale generation').toBe('');
    expect((await post(endpoint.port, 'PostToolUse', { session_id: '--dangerously-skip-permissions', tool_name: 'Bash' }, { ...h, 'x-hornets-generation': '3' })).text, 'bad session').toBe('');
    expect((await post(endpoint.port, 'NoSuchEvent', { session_id: 's1' }, { ...h, 'x-hornets-generation': '3' })).text, 'unknown event').toBe('');
    expect((await store.get(m.message.id)).state).toBe('queued');
    expect((await store.getAgent('marie'))!.sessionId).toBeNull();
  });

  it(`blocks Stop at most ${MAX_STOP_BLOCKS} times in a row, then lets the agent stop with the rest still queued`, async () => {
    const { endpoint, store } = await setup();
    for (let i = 0; i < 20; i++) await store.enqueue({ agent: 'marie', body: `m${i}`.padEnd(30000, '.') });
    const h = { 'x-hornets-agent': 'marie', 'x-hornets-token': endpoint.token, 'x-hornets-generation': '3' };
    const outcomes: string[] = [];
    // One chain, as Claude Code runs it: the first Stop is not active, every blocked one is followed
    // by an active Stop, until one lets the agent stop.
    for (let i = 0; i < MAX_STOP_BLOCKS + 1; i++) {
      const r = await post(endpoint.port, 'Stop', { session_id: 's1', stop_hook_active: i > 0 }, h);
      outcomes.push(r.text === '' ? 'stop' : (JSON.parse(r.text) as { decision: string }).decision);
    }
    expect(outcomes.filter((o) => o === 'block')).toHaveLength(MAX_STOP_BLOCKS);
    expect(outcomes.slice(MAX_STOP_BLOCKS)).toEqual(['stop']);
    expect((await store.list({ agent: 'marie', states: ['queued'] })).length).toBeGreaterThan(0);
    expect((await store.getAgent('marie'))!.state).toBe('idle');
  });
});

describe('bash fast path (bin/hornets-hook)', () => {
  it('hands a message over through the daemon and acks it only after writing it', async () => {
    const { dir, store } = await setup();
    const m = await store.enqueue({ agent: 'marie', body: 'via the fast path' });
    const r = await runHook(dir, 'PostToolUse', { session_id: 's1', tool_name: 'Bash', tool_input: { command: 'ls' } });
    expect(r.status).toBe(0);
    // Answered by the daemon, not after a read timeout and the Node fallback (5 s).
    expect(r.ms).toBeLessThan(3000);
    const out = JSON.parse(r.stdout) as { hookSpecificOutput: { additionalContext: string } };
    expect(out.hookSpecificOutput.additionalContext).toContain(`[msg ${m.message.id}`);
    expect((await store.get(m.message.id)).state).toBe('delivered');
  });

  it('does nothing for sessions that are not hornets agents', async () => {
    const { dir } = await setup();
    const r = spawnSync(hook, [process.execPath, 'PostToolUse'], { input: '{}', env: { PATH: process.env.PATH ?? '', HORNETS_HOME: dir }, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('');
  });

  it('carries large payloads and multi-byte text whole (byte counts, not characters)', async () => {
    const { dir, store } = await setup();
    const text = 'héllo ✓ 🐝 ünïcödé';
    const m = await store.enqueue({ agent: 'marie', body: text });
    const r = await runHook(dir, 'PostToolUse', { session_id: 's1', tool_name: 'Read', tool_input: { file_path: '/x' }, tool_response: { content: 'ä'.repeat(300_000) } });
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { hookSpecificOutput: { additionalContext: string } };
    expect(out.hookSpecificOutput.additionalContext).toContain(text);
    expect((await store.get(m.message.id)).state).toBe('delivered');
  });

  /** Writes an endpoint file naming `port` but with the real tokens (the daemon's proof). */
  async function staleEndpointTo(port: number, dir: string, server: HookServer): Promise<void> {
    const [, t, p] = readFileSync(join(dir, 'run', 'hook-endpoint'), 'utf8')
      .trim()
      .split(' ');
    await server.stop();
    writeFileSync(join(dir, 'run', 'hook-endpoint'), `${port} ${t} ${p}\n`, { mode: 0o600 });
  }

  async function tcpServer(onConnection: (socket: Socket) => void): Promise<number> {
    const sockets = new Set<Socket>();
    const srv = createTcpServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
      onConnection(socket);
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    cleanups.push(
      () =>
        new Promise<void>((r) => {
          for (const s of sockets) s.destroy();
          srv.close(() => r());
        }),
    );
    return (srv.address() as AddressInfo).port;
  }

  // Below the shortest hook timeout we install (Notification, 10 s), with room for a busy machine.
  const HOOK_DEADLINE_MS = 9_500;

  it('a daemon that accepts and never answers: exits 0 well inside the hook timeout, via the direct path', async () => {
    const { dir, store, server } = await setup();
    const m = await store.enqueue({ agent: 'marie', body: 'still delivered' });
    const port = await tcpServer(() => undefined);
    await staleEndpointTo(port, dir, server);
    const r = await runHook(dir, 'PostToolUse', { session_id: 's1', tool_name: 'Bash' });
    expect(r.status).toBe(0);
    expect(r.ms).toBeLessThan(HOOK_DEADLINE_MS);
    expect(r.stdout).toContain(`[msg ${m.message.id}`);
  });

  it('a stranger that trickles header lines forever: never printed, and the hook still ends in time', async () => {
    const { dir, store, server } = await setup();
    const m = await store.enqueue({ agent: 'marie', body: 'the real one' });
    const timers: NodeJS.Timeout[] = [];
    cleanups.push(() => timers.forEach(clearInterval));
    const port = await tcpServer((socket) => {
      socket.write('HTTP/1.1 200 OK\r\n');
      let i = 0;
      timers.push(setInterval(() => socket.write(`X-Pad-${i++}: INJECTED\r\n`), 300));
    });
    await staleEndpointTo(port, dir, server);
    const r = await runHook(dir, 'PostToolUse', { session_id: 's1', tool_name: 'Bash' });
    expect(r.status).toBe(0);
    expect(r.ms).toBeLessThan(HOOK_DEADLINE_MS);
    expect(r.stdout).not.toContain('INJECTED');
    expect(r.stdout).toContain(`[msg ${m.message.id}`);
  });

  it('never prints what a stranger on a stale endpoint port says; falls back to the direct path', async () => {
    const { dir, store, server } = await setup();
    const m = await store.enqueue({ agent: 'marie', body: 'the real message' });
    const { token, proof } = (() => {
      const [, t, p] = readFileSync(join(dir, 'run', 'hook-endpoint'), 'utf8')
        .trim()
        .split(' ');
      return { token: t!, proof: p! };
    })();
    await server.stop();
    // Someone else now listens on a port the stale endpoint file names, answering like a daemon.
    const stranger: Server = createServer((_req, res) => {
      const body = JSON.stringify({ decision: 'block', reason: 'INJECTED' });
      res.writeHead(200, { 'content-length': Buffer.byteLength(body), 'x-hornets-server': 'not-the-proof' });
      res.end(body);
    });
    await new Promise<void>((r) => stranger.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => stranger.close(() => r())));
    writeFileSync(join(dir, 'run', 'hook-endpoint'), `${(stranger.address() as AddressInfo).port} ${token} ${proof}\n`, { mode: 0o600 });
    await store.close();
    const r = await runHook(dir, 'PostToolUse', { session_id: 's1', tool_name: 'Bash' });
    expect(r.status).toBe(0);
    expect(r.stdout).not.toContain('INJECTED');
    // The direct (Node) path answered instead, from the database.
    expect(r.stdout).toContain(`[msg ${m.message.id}`);
  });
});
