/**
 * The hook transports directly: the daemon endpoint (token, server proof, stale generations,
 * malformed input, the Stop block cap) and both command hook clients, native
 * (dist/hornets-hook-native) and bash (bin/hornets-hook), each held to the same protocol: server
 * proof, fallback to the Node entry when no daemon of ours answers (down, a stranger on a stale
 * port, garbage endpoint file, hung or trickling server), all-or-nothing replies, deferred ack.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStore, type SqliteMessageStore } from '../../src/queue/sqlite/sqlite-store.js';
import { HookServer } from '../../src/daemon/hook-server.js';
import { silentLogger } from '../../src/log.js';
import { MAX_STOP_BLOCKS } from '../../src/hooks/handlers.js';
import { agentCredential, loadOrCreateAgentKey } from '../../src/hooks/credentials.js';
import { hookClients } from '../helpers/hook-clients.js';
import { wakeEngine } from '../../src/engine-client/poke.js';
import { waitFor } from '../helpers/tmux.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** marie generation 3's credential, as `up` puts it in her pane's environment. */
function marieCredential(dir: string): { credential: string; token: string; proof: string } {
  const credential = agentCredential(loadOrCreateAgentKey(dir), 'marie', 3);
  const [token, proof] = credential.split('.') as [string, string];
  return { credential, token, proof };
}

/** `endpoint.token`/`proof`: marie's credential halves; `cliToken`: the CLI's token from the endpoint file. */
async function setup(): Promise<{ dir: string; store: SqliteMessageStore; server: HookServer; endpoint: { port: number; token: string; proof: string; cliToken: string } }> {
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
  const [port, cliToken] = readFileSync(join(dir, 'run', 'hook-endpoint'), 'utf8')
    .trim()
    .split(' ');
  const { token, proof } = marieCredential(dir);
  return { dir, store, server, endpoint: { port: Number(port), token, proof, cliToken: cliToken! } };
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
function runHookWith(hook: string, dir: string, event: string, payload: unknown, env: Record<string, string> = {}): Promise<{ status: number | null; stdout: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(hook, [process.execPath, event], {
      env: { PATH: process.env.PATH ?? '', HORNETS_AGENT_ID: 'marie', HORNETS_HOME: dir, HORNETS_GENERATION: '3', HORNETS_HOOK_TOKEN: marieCredential(dir).credential, ...env },
    });
    // Decoded once at the end: a multi-byte character may straddle two pipe reads.
    const stdout: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => stdout.push(d));
    child.on('error', reject);
    child.on('close', (status) => resolvePromise({ status, stdout: Buffer.concat(stdout).toString('utf8'), ms: Date.now() - started }));
    // A hook that exits before reading all of a big payload (over the limit) closes the pipe early.
    child.stdin.on('error', () => undefined);
    child.stdin.end(typeof payload === 'string' ? payload : JSON.stringify(payload));
  });
}

describe('daemon hook endpoint', () => {
  it("refuses requests without the agent's credential and proves itself on every answer", async () => {
    const { endpoint } = await setup();
    expect((await post(endpoint.port, 'Stop', {}, { 'x-hornets-agent': 'marie', 'x-hornets-generation': '3' })).status).toBe(401);
    expect((await post(endpoint.port, 'Stop', {}, { 'x-hornets-agent': 'marie', 'x-hornets-generation': '3', 'x-hornets-token': 'x'.repeat(64) })).status).toBe(401);
    // The CLI's token (in the endpoint file every agent can read) is not a hook credential.
    expect((await post(endpoint.port, 'Stop', {}, { 'x-hornets-agent': 'marie', 'x-hornets-generation': '3', 'x-hornets-token': endpoint.cliToken })).status).toBe(401);
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

  it('a /wake poke that hangs up once its head is written (send does) wakes the engine with the agent; a wrong token does not', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hornets-hookserver-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const store = await openSqliteStore(join(dir, 'hornets.db'));
    cleanups.push(() => store.close());
    const woken: (string | null)[] = [];
    let next: (agent: string | null) => void = () => undefined;
    const onWake = (agent: string | null) => {
      woken.push(agent);
      next(agent);
    };
    const server = new HookServer({ store, stateDir: dir, configPath: join(dir, 'hornets.json'), log: silentLogger(), onWake });
    await server.start();
    cleanups.push(() => server.stop());
    const wake = (agent: string | null) =>
      new Promise<string | null>((resolve) => {
        next = resolve;
        void wakeEngine(dir, agent);
      });
    expect(await wake('marie')).toBe('marie');
    expect(await wake(null)).toBeNull();
    // Another token: refused, and nothing woken (the next good poke is the next thing seen).
    const endpointPath = join(dir, 'run', 'hook-endpoint');
    const good = readFileSync(endpointPath, 'utf8');
    const [port, token, ...rest] = good.trim().split(' ');
    writeFileSync(endpointPath, [port, 'x'.repeat(token!.length), ...rest].join(' '));
    await wakeEngine(dir, 'anga');
    writeFileSync(endpointPath, good);
    expect(await wake('marie')).toBe('marie');
    expect(woken).toEqual(['marie', null, 'marie']);
    // No engine listening: resolves at once, nothing thrown.
    await server.stop();
    await wakeEngine(dir, 'marie');
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

/** Writes an endpoint file naming `port`; marie's credential (token, proof) is what a client sends and expects. */
async function staleEndpointTo(port: number, dir: string, server: HookServer): Promise<{ token: string; proof: string }> {
  const [, t, p] = readFileSync(join(dir, 'run', 'hook-endpoint'), 'utf8')
    .trim()
    .split(' ');
  await server.stop();
  writeFileSync(join(dir, 'run', 'hook-endpoint'), `${port} ${t} ${p}\n`, { mode: 0o600 });
  const { token, proof } = marieCredential(dir);
  return { token, proof };
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

interface RawRequest {
  line: string;
  headers: Record<string, string>;
  body: Buffer;
}

/** A stand-in on raw TCP that reads each whole HTTP request (head + Content-Length body) and hands it over. */
function rawHttpServer(onRequest: (req: RawRequest, socket: Socket) => void): Promise<number> {
  return tcpServer((socket) => {
    let buf = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const [line, ...rest] = buf.subarray(0, end).toString('latin1').split('\r\n');
      const headers = Object.fromEntries(rest.map((h) => [h.slice(0, h.indexOf(':')).toLowerCase(), h.slice(h.indexOf(':') + 1).trim()]));
      const length = Number(headers['content-length'] ?? 0);
      if (buf.length < end + 4 + length) return;
      socket.removeAllListeners('data');
      onRequest({ line: line!, headers, body: buf.subarray(end + 4, end + 4 + length) }, socket);
    });
  });
}

// Below the shortest hook timeout we install (Notification, 10 s), with room for a busy machine.
const HOOK_DEADLINE_MS = 9_500;

describe.each(hookClients)('$name hook client', ({ name, program, available }) => {
  const runHook = (dir: string, event: string, payload: unknown, env: Record<string, string> = {}) => runHookWith(program, dir, event, payload, env);

  it.skipIf(!available)('hands a message over through the daemon and acks it only after writing it', async () => {
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

  it.skipIf(!available)('does nothing for sessions that are not hornets agents', async () => {
    const { dir } = await setup();
    const r = spawnSync(program, [process.execPath, 'PostToolUse'], { input: '{}', env: { PATH: process.env.PATH ?? '', HORNETS_HOME: dir }, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('');
  });

  it.skipIf(!available)('carries large payloads and multi-byte text whole (byte counts, not characters)', async () => {
    const { dir, store } = await setup();
    const text = 'héllo ✓ 🐝 ünïcödé';
    const m = await store.enqueue({ agent: 'marie', body: text });
    const r = await runHook(dir, 'PostToolUse', { session_id: 's1', tool_name: 'Read', tool_input: { file_path: '/x' }, tool_response: { content: 'ä'.repeat(300_000) } });
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { hookSpecificOutput: { additionalContext: string } };
    expect(out.hookSpecificOutput.additionalContext).toContain(text);
    expect((await store.get(m.message.id)).state).toBe('delivered');
  });

  it.skipIf(!available)('a reply bigger than one read arrives whole', async () => {
    const { dir, store } = await setup();
    // 200 KB: many reads for the client, under the queue's 256 KiB body limit.
    const body = `big ${'ü'.repeat(100_000)} end`;
    const m = await store.enqueue({ agent: 'marie', body });
    const r = await runHook(dir, 'PostToolUse', { session_id: 's1', tool_name: 'Bash' });
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { hookSpecificOutput: { additionalContext: string } };
    expect(out.hookSpecificOutput.additionalContext).toContain(`[msg ${m.message.id}] ${body}`);
    expect((await store.get(m.message.id)).state).toBe('delivered');
  });

  it.skipIf(!available)('the daemon down (endpoint file left behind, nothing on its port) or never started: the direct path delivers', async () => {
    const { dir, store, server } = await setup();
    const endpoint = readFileSync(join(dir, 'run', 'hook-endpoint'), 'utf8');
    const paneDied = readFileSync(join(dir, 'run', 'pane-died-endpoint'), 'utf8');
    await server.stop();
    // stop() removes the file; a daemon killed -9 leaves it behind, naming a port nobody holds now.
    writeFileSync(join(dir, 'run', 'hook-endpoint'), endpoint, { mode: 0o600 });
    writeFileSync(join(dir, 'run', 'pane-died-endpoint'), paneDied, { mode: 0o600 });
    const m1 = await store.enqueue({ agent: 'marie', body: 'no daemon, stale file' });
    const r1 = await runHook(dir, 'PostToolUse', { session_id: 's1', tool_name: 'Bash' });
    expect(r1.status).toBe(0);
    expect(r1.stdout).toContain(`[msg ${m1.message.id}`);
    rmSync(join(dir, 'run', 'hook-endpoint'));
    const m2 = await store.enqueue({ agent: 'marie', body: 'no daemon, no file' });
    const r2 = await runHook(dir, 'PostToolUse', { session_id: 's1', tool_name: 'Bash' });
    expect(r2.status).toBe(0);
    expect(r2.stdout).toContain(`[msg ${m2.message.id}`);
    // The second event confirms what the first delivered.
    expect((await store.get(m1.message.id)).state).toBe('confirmed');
    expect((await store.get(m2.message.id)).state).toBe('delivered');
  });

  it.skipIf(!available)('a garbage endpoint file means the direct path, never a hang or a crash', async () => {
    const { dir, store, server } = await setup();
    await server.stop();
    const garbage = ['', '\n', 'abc def ghi\n', '99999 token proof\n', '0 token proof\n', '12345\n', '-1 a b\n', '\u0000\u0001\u00ff binary\n', `${'9'.repeat(5000)} t p\n`];
    for (const g of garbage) {
      writeFileSync(join(dir, 'run', 'hook-endpoint'), g, { mode: 0o600 });
      const m = await store.enqueue({ agent: 'marie', body: `garbage ${JSON.stringify(g).slice(0, 20)}` });
      const r = await runHook(dir, 'PostToolUse', { session_id: 's1', tool_name: 'Bash' });
      expect(r.status, JSON.stringify(g)).toBe(0);
      expect(r.stdout, JSON.stringify(g)).toContain(`[msg ${m.message.id}`);
    }
  });

  it.skipIf(!available)('a credential our daemon refuses (status 401): the direct path refuses it too, and the hook still exits 0', async () => {
    const { dir, store, endpoint } = await setup();
    const m = await store.enqueue({ agent: 'marie', body: 'for the real marie only' });
    const r = await runHook(dir, 'PostToolUse', { session_id: 's1', tool_name: 'Bash' }, { HORNETS_HOOK_TOKEN: `${'0'.repeat(64)}.${endpoint.proof}` });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('');
    expect((await store.get(m.message.id)).state).toBe('queued');
  });

  it.skipIf(!available)('a daemon that accepts and never answers: exits 0 well inside the hook timeout, via the direct path', async () => {
    const { dir, store, server } = await setup();
    const m = await store.enqueue({ agent: 'marie', body: 'still delivered' });
    const port = await tcpServer(() => undefined);
    await staleEndpointTo(port, dir, server);
    const r = await runHook(dir, 'PostToolUse', { session_id: 's1', tool_name: 'Bash' });
    expect(r.status).toBe(0);
    expect(r.ms).toBeLessThan(HOOK_DEADLINE_MS);
    expect(r.stdout).toContain(`[msg ${m.message.id}`);
  });

  it.skipIf(!available)('a stranger that trickles header lines forever: never printed, and the hook still ends in time', async () => {
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

  it.skipIf(!available)('a stranger that trickles one byte at a time with no line end: the direct path, in time', async () => {
    const { dir, store, server } = await setup();
    const m = await store.enqueue({ agent: 'marie', body: 'the real one' });
    const timers: NodeJS.Timeout[] = [];
    cleanups.push(() => timers.forEach(clearInterval));
    const port = await tcpServer((socket) => timers.push(setInterval(() => socket.write('X'), 50)));
    await staleEndpointTo(port, dir, server);
    const r = await runHook(dir, 'PostToolUse', { session_id: 's1', tool_name: 'Bash' });
    expect(r.status).toBe(0);
    expect(r.ms).toBeLessThan(HOOK_DEADLINE_MS);
    expect(r.stdout).toContain(`[msg ${m.message.id}`);
  });

  it.skipIf(!available)('never prints what a stranger on a stale endpoint port says; falls back to the direct path', async () => {
    const { dir, store, server } = await setup();
    const m = await store.enqueue({ agent: 'marie', body: 'the real message' });
    const [, token, proof] = readFileSync(join(dir, 'run', 'hook-endpoint'), 'utf8')
      .trim()
      .split(' ');
    await server.stop();
    // Someone else now listens on a port the stale endpoint file names, answering like a daemon.
    const stranger: Server = createServer((_req, res) => {
      const body = JSON.stringify({ decision: 'block', reason: 'INJECTED' });
      res.writeHead(200, { 'content-length': Buffer.byteLength(body), 'x-hornets-server': 'not-the-proof' });
      res.end(body);
    });
    await new Promise<void>((r) => stranger.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => stranger.close(() => r())));
    writeFileSync(join(dir, 'run', 'hook-endpoint'), `${(stranger.address() as AddressInfo).port} ${token!} ${proof!}\n`, { mode: 0o600 });
    await store.close();
    const r = await runHook(dir, 'PostToolUse', { session_id: 's1', tool_name: 'Bash' });
    expect(r.status).toBe(0);
    expect(r.stdout).not.toContain('INJECTED');
    // The direct (Node) path answered instead, from the database.
    expect(r.stdout).toContain(`[msg ${m.message.id}`);
  });

  it.skipIf(!available)('speaks the protocol: the request as the daemon reads it, the body printed, then /ack, waited for', async () => {
    const { dir, server } = await setup();
    const requests: RawRequest[] = [];
    let ackAnsweredAt = 0;
    const reply = JSON.stringify({ hookSpecificOutput: { hookEventName: 'PostToolUse', additionalContext: 'from the stand-in ✓' } });
    let proof = '';
    const port = await rawHttpServer((req, socket) => {
      requests.push(req);
      if (req.line.startsWith('POST /hook/')) {
        socket.end(`HTTP/1.1 200 OK\r\nx-hornets-server: ${proof}\r\ncontent-length: ${Buffer.byteLength(reply)}\r\nX-Hornets-Ack: lease-1 7,8\r\nconnection: close\r\n\r\n${reply}`);
      } else {
        // The client must wait for this answer before it exits: the ack is in before its next event.
        setTimeout(() => {
          ackAnsweredAt = Date.now();
          socket.end(`HTTP/1.1 200 OK\r\nx-hornets-server: ${proof}\r\ncontent-length: 1\r\nconnection: close\r\n\r\n2`);
        }, 400);
      }
    });
    const tokens = await staleEndpointTo(port, dir, server);
    proof = tokens.proof;
    const payload = { session_id: 's1', tool_name: 'Bash', tool_response: { stdout: 'ünï ✓' } };
    const r = await runHook(dir, 'PostToolUse', payload);
    const exitedAt = Date.now();
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(reply);
    expect(requests.map((q) => q.line)).toEqual(['POST /hook/PostToolUse HTTP/1.1', 'POST /ack HTTP/1.1']);
    const [hook, ack] = requests as [RawRequest, RawRequest];
    expect(hook.headers).toMatchObject({ 'x-hornets-token': tokens.token, 'x-hornets-agent': 'marie', 'x-hornets-generation': '3', 'x-hornets-defer-ack': '1', 'content-type': 'application/json' });
    expect(JSON.parse(hook.body.toString('utf8'))).toEqual(payload);
    expect(ack.headers).toMatchObject({ 'x-hornets-token': tokens.token, 'x-hornets-agent': 'marie', 'x-hornets-generation': '3', 'x-hornets-ack': 'lease-1 7,8', 'content-length': '0' });
    expect(ackAnsweredAt).toBeGreaterThan(0);
    expect(exitedAt).toBeGreaterThanOrEqual(ackAnsweredAt);
  });

  it.skipIf(!available)('a reply cut off after the proof: nothing printed, no ack, and the daemon is not asked twice', async () => {
    const { dir, store, server } = await setup();
    const m = await store.enqueue({ agent: 'marie', body: 'stays queued' });
    const lines: string[] = [];
    let proof = '';
    const port = await rawHttpServer((req, socket) => {
      lines.push(req.line);
      socket.end(`HTTP/1.1 200 OK\r\nx-hornets-server: ${proof}\r\ncontent-length: 100\r\nX-Hornets-Ack: lease-1 ${m.message.id}\r\n\r\n{"hookSpecific`);
    });
    proof = (await staleEndpointTo(port, dir, server)).proof;
    const r = await runHook(dir, 'PostToolUse', { session_id: 's1', tool_name: 'Bash' });
    expect(r.status).toBe(0);
    expect(r.ms).toBeLessThan(HOOK_DEADLINE_MS);
    expect(r.stdout).toBe('');
    expect(lines).toEqual(['POST /hook/PostToolUse HTTP/1.1']);
    // No Node fallback either: it would have delivered the message from the database.
    expect((await store.get(m.message.id)).state).toBe('queued');
  });

  // A small body comes in the same write as the proof, so the bash client reads it with no
  // deadline (bash pays a syscall per byte with one); the native client keeps its deadline to the
  // last byte. A big body may come in pieces: both clients keep the deadline for it (below).
  it.skipIf(!available || name === 'bash')('a body that stops coming after the proof: exits 0 in time, prints nothing, asks no one else', async () => {
    const { dir, store, server } = await setup();
    const m = await store.enqueue({ agent: 'marie', body: 'stays queued' });
    let proof = '';
    const port = await rawHttpServer((_req, socket) => socket.write(`HTTP/1.1 200 OK\r\nx-hornets-server: ${proof}\r\ncontent-length: 100\r\n\r\n{"half`));
    proof = (await staleEndpointTo(port, dir, server)).proof;
    const r = await runHook(dir, 'PostToolUse', { session_id: 's1', tool_name: 'Bash' });
    expect(r.status).toBe(0);
    expect(r.ms).toBeLessThan(HOOK_DEADLINE_MS);
    expect(r.stdout).toBe('');
    expect((await store.get(m.message.id)).state).toBe('queued');
  });

  it.skipIf(!available)('a big body that stops coming after the proof (a daemon stopped mid-write): exits 0 in time, prints nothing, asks no one else', async () => {
    const { dir, store, server } = await setup();
    const m = await store.enqueue({ agent: 'marie', body: 'stays queued' });
    let proof = '';
    const port = await rawHttpServer((_req, socket) => socket.write(`HTTP/1.1 200 OK\r\nx-hornets-server: ${proof}\r\ncontent-length: 200000\r\n\r\n{"${'x'.repeat(70_000)}`));
    proof = (await staleEndpointTo(port, dir, server)).proof;
    const r = await runHook(dir, 'PostToolUse', { session_id: 's1', tool_name: 'Bash' });
    expect(r.status).toBe(0);
    expect(r.ms).toBeLessThan(HOOK_DEADLINE_MS);
    expect(r.stdout).toBe('');
    expect((await store.get(m.message.id)).state).toBe('queued');
  });

  it.skipIf(!available)('a daemon that stopped reading (SIGSTOP) and a payload bigger than the socket takes: ends like the direct path does, never hangs in the write', async () => {
    const { dir, store, server } = await setup();
    const big = JSON.stringify({ session_id: 's1', tool_name: 'Read', tool_response: { content: 'x'.repeat(6 * 1024 * 1024) } });
    // The anchor, from this run: the same payload through the direct path (no daemon at all).
    const first = await store.enqueue({ agent: 'marie', body: 'direct' });
    const { token, proof } = await staleEndpointTo(0, dir, server);
    rmSync(join(dir, 'run', 'hook-endpoint'));
    const direct = await runHook(dir, 'PostToolUse', big);
    expect(direct.stdout).toContain(`[msg ${first.message.id}`);

    const m = await store.enqueue({ agent: 'marie', body: 'delivered anyway' });
    const port = await tcpServer((socket) => socket.pause());
    writeFileSync(join(dir, 'run', 'hook-endpoint'), `${port} ${token} ${proof}\n`, { mode: 0o600 });
    const r = await runHook(dir, 'PostToolUse', big);
    expect(r.status).toBe(0);
    // At most the client's own 2 s deadline more than the direct path (with room for a busy machine).
    expect(r.ms).toBeLessThan(direct.ms * 2 + 4000);
    expect(r.stdout).toContain(`[msg ${m.message.id}`);
  });

  it.skipIf(!available)('a payload over 8 MiB: exits 0 at once, prints nothing, delivers nothing', async () => {
    const { dir, store } = await setup();
    const m = await store.enqueue({ agent: 'marie', body: 'not for a refused payload' });
    const big = JSON.stringify({ session_id: 's1', tool_name: 'Read', tool_response: { content: 'x'.repeat(8 * 1024 * 1024) } });
    const r = await runHook(dir, 'PostToolUse', big);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('');
    expect((await store.get(m.message.id)).state).toBe('queued');
  });
});

describe('a client that gives up before its reply', () => {
  it('gets its messages released at once, not held until the lease lapses (the fallback it ran found them leased)', async () => {
    const { dir, store: real } = await setup();
    // The daemon answers late (a loaded machine): its claim waits until the client has left.
    let claimed!: () => void;
    const claimStarted = new Promise<void>((r) => (claimed = r));
    let letClaim!: () => void;
    const gate = new Promise<void>((r) => (letClaim = r));
    let claimDone!: (n: number) => void;
    const claimedCount = new Promise<number>((r) => (claimDone = r));
    const slow = new Proxy(real, {
      get(target, key, receiver) {
        if (key === 'claim') {
          return async (...args: Parameters<SqliteMessageStore['claim']>) => {
            claimed();
            await gate;
            const got = await target.claim(...args);
            claimDone(got.length);
            return got;
          };
        }
        const v = Reflect.get(target, key, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    mkdirSync(join(dir, 'slow'), { mode: 0o700 });
    const server = new HookServer({ store: slow, stateDir: join(dir, 'slow'), configPath: join(dir, 'hornets.json'), log: silentLogger() });
    await server.start();
    cleanups.push(() => server.stop());
    const port = readFileSync(join(dir, 'slow', 'run', 'hook-endpoint'), 'utf8')
      .trim()
      .split(' ')[0];
    const token = agentCredential(loadOrCreateAgentKey(join(dir, 'slow')), 'marie', 3).split('.')[0]!;
    const { message: m } = await real.enqueue({ agent: 'marie', body: 'do not strand me' });

    const { connect } = await import('node:net');
    const body = JSON.stringify({ session_id: 's1', tool_name: 'Bash' });
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise<void>((r) => socket.once('connect', r));
    socket.write(
      `POST /hook/PostToolUse HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Hornets-Token: ${token}\r\nX-Hornets-Agent: marie\r\nX-Hornets-Generation: 3\r\nX-Hornets-Defer-Ack: 1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
    await claimStarted;
    socket.destroy();
    // The daemon has seen the client leave (its connection is gone) before its answer is ready.
    const http = (server as unknown as { server: Server }).server;
    for (let open = 1; open > 0;) {
      open = await new Promise<number>((r) => http.getConnections((_e, n) => r(n)));
      if (open > 0) await new Promise((r) => setImmediate(r));
    }
    letClaim();
    expect(await claimedCount).toBe(1);
    const deadline = Date.now() + 5000;
    let status = (await real.get(m.id)).state;
    while (status !== 'queued' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      status = (await real.get(m.id)).state;
    }
    expect(status).toBe('queued');
  });
});

describe('Claude Code http hooks (daemon.hookTransport "http")', () => {
  const url = (port: number) => `http://127.0.0.1:${port}/hook/PostToolUse?hornets-tui`;
  const post = (port: number, headers: Record<string, string>) =>
    fetch(url(port), { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ session_id: 's1', hook_event_name: 'PostToolUse', tool_name: 'Bash' }) });

  it('answers with the JSON Claude Code reads and counts the message delivered once the answer has left', async () => {
    const { dir, store, endpoint } = await setup();
    const m = await store.enqueue({ agent: 'marie', body: 'over http' });
    const r = await post(endpoint.port, { 'x-hornets-token': marieCredential(dir).token, 'x-hornets-agent': 'marie', 'x-hornets-generation': '3' });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/json');
    const body = (await r.json()) as { hookSpecificOutput: { hookEventName: string; additionalContext: string } };
    expect(body.hookSpecificOutput.hookEventName).toBe('PostToolUse');
    expect(body.hookSpecificOutput.additionalContext).toContain(`[msg ${m.message.id}`);
    await waitFor('delivered', async () => (await store.get(m.message.id)).state === 'delivered');
  });

  it('a session that is no agent of ours (no or a wrong credential) gets an empty 200, never an error in its session, and takes nothing', async () => {
    const { dir, store, endpoint } = await setup();
    const m = await store.enqueue({ agent: 'marie', body: 'not for strangers' });
    const tries: Record<string, string>[] = [
      {},
      { 'x-hornets-token': '', 'x-hornets-agent': '', 'x-hornets-generation': '' },
      { 'x-hornets-token': marieCredential(dir).token, 'x-hornets-agent': 'marie', 'x-hornets-generation': '4' },
    ];
    for (const headers of tries) {
      const r = await post(endpoint.port, headers);
      expect(r.status).toBe(200);
      expect(await r.text()).toBe('');
    }
    expect((await store.get(m.message.id)).state).toBe('queued');
  });

  it('a fixed hookPort another process holds stops the engine start with a message naming the port', async () => {
    const { dir, store } = await setup();
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => holder.close(() => r())));
    const port = (holder.address() as AddressInfo).port;
    const second = new HookServer({ store, stateDir: dir, configPath: join(dir, 'hornets.json'), log: silentLogger(), port });
    await expect(second.start()).rejects.toThrow(new RegExp(`daemon\\.hookPort ${port} on 127\\.0\\.0\\.1 is in use by another process`));
  });
});
