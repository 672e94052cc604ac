/**
 * The hooks' fast path: an HTTP endpoint on 127.0.0.1 that answers hook events with the daemon's
 * open database, so a tool call costs a bash start and a loopback round trip instead of a Node
 * start. Token-checked; the port and token are published in <state>/run/hook-endpoint (0600).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ExitCode, HornetsError } from '../errors.js';
import type { Logger } from '../log.js';
import type { MessageStore } from '../queue/store.js';
import { HookHandler, isHookEvent } from '../hooks/handlers.js';
import { readBriefing } from '../hooks/briefing.js';
import { gitInfo } from '../hooks/git-info.js';
import { WAKE_AGENT_HEADER, endpointFile } from '../engine-client/paths.js';
import { writeFileAtomicSync } from '../util/private-files.js';

const MAX_BODY = 8 * 1024 * 1024;

export interface HookServerOptions {
  store: MessageStore;
  stateDir: string;
  configPath: string;
  log: Logger;
  port?: number;
  now?: () => number;
  /** Called after every handled hook (metrics, wake-ups). */
  onHook?: (info: { agent: string; event: string; outcome: string; ms: number; delivered: string[] }) => void;
  /** POST /wake (x-hornets-agent: the agent, if one): something was enqueued. */
  onWake?: (agent: string | null) => void;
  /** POST /event/pane-died {pane, status}: from the tmux pane-died hook. */
  onPaneDied?: (pane: string, status: number | null) => void;
  /** POST /control {action, agent}: operator actions from the CLI or a console. */
  onControl?: (action: string, agent: string, options: { timeoutMs?: number }) => Promise<string>;
  /** GET /healthz (token-checked): who answers here, for clients checking readiness and `doctor`. */
  health?: () => Record<string, unknown>;
  /** POST /ack: a client acked what a hook reply handed over, after writing it (ids now delivered). */
  onAck?: (ids: string[]) => void;
}

/**
 * A client that sends `X-Hornets-Defer-Ack: 1` acks itself once it has written the reply: the reply
 * then carries `X-Hornets-Ack: <lease token> <id,id,…>`, which the client posts back to /ack.
 */
export const DEFER_ACK_HEADER = 'x-hornets-defer-ack';
export const ACK_HEADER = 'x-hornets-ack';

export function parseAckHeader(value: string): { leaseToken: string; ids: string[] } | null {
  const m = /^([0-9a-z]{1,12}\.[0-9a-z]{1,64}) ([0-9a-z]+(?:,[0-9a-z]+)*)$/i.exec(value.trim());
  return m ? { leaseToken: m[1]!, ids: m[2]!.split(',') } : null;
}

export { endpointFile };

export class HookServer {
  private server: Server | null = null;
  private readonly token = randomBytes(24).toString('hex');
  /** Sent back on every answer: lets hooks tell our daemon from whatever holds a stale port. */
  private readonly serverToken = randomBytes(24).toString('hex');
  port = 0;

  constructor(private readonly o: HookServerOptions) {}

  async start(): Promise<number> {
    const server = createServer((req, res) => {
      // A client that hangs up mid-request must never become an unhandled rejection in the daemon.
      this.handle(req, res).catch((err: unknown) => {
        this.o.log.warn({ event: 'hook_request_aborted', error: err instanceof Error ? err.message : String(err) }, 'hook request failed');
        if (!res.headersSent) res.destroy();
      });
    });
    server.keepAliveTimeout = 1000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.o.port ?? 0, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    const file = endpointFile(this.o.stateDir);
    mkdirSync(join(this.o.stateDir, 'run'), { recursive: true, mode: 0o700 });
    writeFileAtomicSync(file, `${this.port} ${this.token} ${this.serverToken}\n`, 0o600);
    this.o.log.info({ event: 'hook_server_started', port: this.port }, 'hook endpoint listening on 127.0.0.1');
    return this.port;
  }

  async stop(): Promise<void> {
    // Only the endpoint this server published: never another engine's (a refused second start,
    // or a newer engine that replaced ours).
    if (this.server && this.ownsEndpointFile()) rmSync(endpointFile(this.o.stateDir), { force: true });
    const server = this.server;
    this.server = null;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  }

  private ownsEndpointFile(): boolean {
    try {
      return readFileSync(endpointFile(this.o.stateDir), 'utf8').split(/\s+/)[1] === this.token;
    } catch {
      return false;
    }
  }

  private authorised(req: IncomingMessage): boolean {
    const given = Buffer.from(String(req.headers['x-hornets-token'] ?? ''));
    const expected = Buffer.from(this.token);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  private async handleCommand(path: string, req: IncomingMessage, send: (status: number, body?: string) => void): Promise<void> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > 64 * 1024) return send(413);
      chunks.push(c as Buffer);
    }
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
    } catch {
      return send(400, 'body is not JSON');
    }
    const text = (k: string) => (typeof body[k] === 'string' ? (body[k] as string) : null);
    try {
      if (path === '/event/pane-died') {
        const pane = text('pane');
        if (!pane) return send(400, 'pane missing');
        const status = body.status === null || body.status === undefined || body.status === '' ? null : Number(body.status);
        this.o.onPaneDied?.(pane, Number.isFinite(status) ? status : null);
        return send(200, 'ok');
      }
      const action = text('action');
      const agent = text('agent');
      if (!action || !agent || !this.o.onControl) return send(400, 'action and agent required');
      const timeoutMs = typeof body.timeoutMs === 'number' && Number.isFinite(body.timeoutMs) && body.timeoutMs > 0 ? body.timeoutMs : undefined;
      return send(200, await this.o.onControl(action, agent, { timeoutMs }));
    } catch (err) {
      // The operator's mistake (unknown action or agent) is a 400 whose text the CLI shows as is.
      return send(err instanceof HornetsError && err.exitCode === ExitCode.usage ? 400 : 500, err instanceof Error ? err.message : String(err));
    }
  }

  /** POST /ack from a client that wrote a reply: leased -> delivered, fenced on the lease token. */
  private async handleAck(req: IncomingMessage, send: (status: number, body?: string) => void): Promise<void> {
    req.resume();
    const ack = parseAckHeader(String(req.headers[ACK_HEADER] ?? ''));
    if (!ack) return send(400, 'bad ack header');
    let n: number;
    try {
      n = await this.o.store.ack({ leaseToken: ack.leaseToken, ids: ack.ids, sessionId: null });
    } catch (err) {
      this.o.log.error({ event: 'hook_ack_error', error: err instanceof Error ? err.message : String(err) }, 'hook ack failed; the lease will lapse and the message be retried');
      return send(500);
    }
    send(200, String(n));
    if (n > 0) this.o.onAck?.(ack.ids);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = Date.now();
    const send = (status: number, body = '', headers: Record<string, string> = {}) => {
      // The bash client reads the head a byte per read(): no Date header, and the headers it looks
      // for first. Head and body leave in one write (res.end with the body).
      res.sendDate = false;
      res.writeHead(status, { 'x-hornets-server': this.serverToken, 'content-length': Buffer.byteLength(body), ...headers, 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
      res.end(body);
    };
    if (req.method === 'POST' && req.url === '/wake') {
      if (!this.authorised(req)) return send(401);
      // Acted on at the head, the agent in a header: `send` hangs up as soon as its request is
      // written (engine-client/poke.ts, wakeEngine), so a body might be cut off unread.
      req.resume();
      const agent = req.headers[WAKE_AGENT_HEADER];
      this.o.onWake?.(typeof agent === 'string' && agent !== '' ? agent : null);
      return send(200, 'ok');
    }
    if (req.method === 'POST' && (req.url === '/event/pane-died' || req.url === '/control')) {
      if (!this.authorised(req)) return send(401);
      return this.handleCommand(req.url, req, send);
    }
    if (req.method === 'GET' && req.url === '/healthz') {
      if (!this.authorised(req)) return send(401);
      req.resume();
      return send(200, JSON.stringify({ pid: process.pid, hookPort: this.port, ...this.o.health?.() }), { 'content-type': 'application/json' });
    }
    if (req.method === 'POST' && req.url === '/ack') {
      if (!this.authorised(req)) return send(401);
      return this.handleAck(req, send);
    }
    const m = /^\/hook\/([A-Za-z]+)$/.exec(req.url ?? '');
    if (req.method !== 'POST' || !m) return send(404);
    if (!this.authorised(req)) return send(401);
    const event = m[1]!;
    const agent = String(req.headers['x-hornets-agent'] ?? '');
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const c of req) {
        size += (c as Buffer).length;
        if (size > MAX_BODY) return send(200);
        chunks.push(c as Buffer);
      }
      if (!agent || !isHookEvent(event)) return send(200);
      let payload: unknown;
      try {
        payload = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        this.o.log.warn({ event: 'hook_malformed', agent, hook: event }, 'hook payload is not JSON; ignored');
        return send(200);
      }
      const genHeader = String(req.headers['x-hornets-generation'] ?? '');
      const generation = genHeader === '' ? null : Number(genHeader);
      const deferAck = req.headers[DEFER_ACK_HEADER] === '1';
      const handler = new HookHandler({
        store: this.o.store,
        agent,
        generation: Number.isFinite(generation) ? generation : null,
        now: this.o.now ?? Date.now,
        briefing: () => readBriefing(this.o.configPath, agent),
        git: gitInfo,
        deferAck,
      });
      const reply = await handler.handle(event, payload);
      send(200, reply.stdout, reply.ackToken ? { 'X-Hornets-Ack': `${reply.ackToken} ${reply.delivered.join(',')}` } : {});
      const ms = Date.now() - started;
      this.o.log.info({ event: 'hook', agent, hook: event, outcome: reply.outcome, delivered: reply.delivered, ms }, 'hook handled');
      this.o.onHook?.({ agent, event, outcome: reply.outcome, ms, delivered: reply.delivered });
    } catch (err) {
      // The agent must carry on: answer with nothing and say why in the log.
      this.o.log.error({ event: 'hook_error', agent, hook: event, error: err instanceof Error ? err.message : String(err) }, 'hook failed; agent unaffected');
      if (!res.headersSent) send(200);
    }
  }
}
