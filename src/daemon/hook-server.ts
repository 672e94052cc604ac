/**
 * The hooks' fast path: an HTTP endpoint on 127.0.0.1 that answers hook events with the daemon's
 * open database, so a tool call costs a bash start and a loopback round trip instead of a Node
 * start. Three kinds of caller, three credentials:
 * - hooks (/hook/<Event>, /ack): the agent generation's own credential (hooks/credentials.ts),
 *   checked against the agent and generation headers, both mandatory; a hook acts for that agent
 *   only, and is answered with that agent's server proof;
 * - tmux's pane-died hook (/event/pane-died): a token of its own in <state>/run/pane-died-endpoint,
 *   which no agent is handed;
 * - the CLI (/wake, /control, /healthz, /events): the token in <state>/run/hook-endpoint (0600), which
 *   hooks no longer use (they read only the port from it).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ExitCode, HookPortError, HornetsError } from '../errors.js';
import type { Logger } from '../log.js';
import type { LeaseRef, MessageStore } from '../queue/store.js';
import { HookHandler } from '../hooks/handlers.js';
import { handlerFor, protocolForArg } from '../hooks/protocols.js';
import { readBriefing } from '../hooks/briefing.js';
import { gitInfo } from '../hooks/git-info.js';
import { WAKE_AGENT_HEADER, endpointFile, paneDiedEndpointFile } from '../engine-client/paths.js';
import { loadOrCreateAgentKey, parseGeneration, serverProof, verifyAgentCredential } from '../hooks/credentials.js';
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
  onHook?: (info: { agent: string; event: string; outcome: string; ms: number; delivered: string[]; transcriptPath: string | null }) => void;
  /** POST /wake (x-hornets-agent: the agent, if one): something was enqueued. */
  onWake?: (agent: string | null) => void;
  /** hornets.json changed (`add`, `remove`): the engine reloads its team; resolves when it serves it. */
  onConfigChanged?: () => Promise<void>;
  /** POST /event/pane-died {pane, status}: from the tmux pane-died hook. */
  onPaneDied?: (pane: string, status: number | null) => void;
  /** POST /control {action, agent}: operator actions from the CLI or a console. */
  onControl?: (action: string, agent: string, options: { timeoutMs?: number }) => Promise<string>;
  /** GET /healthz (token-checked): who answers here, for clients checking readiness and `doctor`. */
  health?: () => Record<string, unknown>;
  /**
   * GET /events[?agent=<name>] (token-checked): the engine's event stream, one JSON object per line,
   * kept open (issue 17). The callee writes the head and the lines; null: no stream here.
   */
  onEvents?: (res: ServerResponse, agent: string | null) => Promise<void>;
  /** POST /ack: a client acked what a hook reply handed over, after writing it (ids now delivered). */
  onAck?: (ids: string[]) => void;
}

/**
 * A client that sends `X-Hornets-Defer-Ack: 1` acks itself once it has written the reply: the reply
 * then carries `X-Hornets-Ack: <lease token> <id,id,…>`, which the client posts back to /ack.
 */
export const DEFER_ACK_HEADER = 'x-hornets-defer-ack';
export const ACK_HEADER = 'x-hornets-ack';
/** The command clients pass on the word after the event in the hook command: the CLI's protocol. */
export const PROTOCOL_HEADER = 'x-hornets-protocol';

export function parseAckHeader(value: string): { leaseToken: string; ids: string[] } | null {
  const m = /^([0-9a-z]{1,12}\.[0-9a-z]{1,64}) ([0-9a-z]+(?:,[0-9a-z]+)*)$/i.exec(value.trim());
  return m ? { leaseToken: m[1]!, ids: m[2]!.split(',') } : null;
}

export { endpointFile };

export class HookServer {
  private server: Server | null = null;
  private readonly token = randomBytes(24).toString('hex');
  /** Sent back on every answer to the CLI: lets it tell our daemon from whatever holds a stale port. */
  private readonly serverToken = randomBytes(24).toString('hex');
  /** Only tmux's pane-died hook is given this one (its own file, never an agent's environment). */
  private readonly paneDiedToken = randomBytes(24).toString('hex');
  private agentKey: Buffer | null = null;
  port = 0;

  constructor(private readonly o: HookServerOptions) {}

  async start(): Promise<number> {
    this.agentKey = loadOrCreateAgentKey(this.o.stateDir);
    const server = createServer((req, res) => {
      // A client that hangs up mid-request must never become an unhandled rejection in the daemon.
      this.handle(req, res).catch((err: unknown) => {
        this.o.log.warn({ event: 'hook_request_aborted', error: err instanceof Error ? err.message : String(err) }, 'hook request failed');
        if (!res.headersSent) res.destroy();
      });
    });
    server.keepAliveTimeout = 1000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(
          err.code === 'EADDRINUSE'
            ? new HookPortError(`daemon.hookPort ${this.o.port} on 127.0.0.1 is in use by another process: stop it or choose another port in hornets.json (and run \`hornets-tui hooks install\`)`, {
                cause: err,
              })
            : err,
        ),
      );
      server.listen(this.o.port ?? 0, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    const file = endpointFile(this.o.stateDir);
    mkdirSync(join(this.o.stateDir, 'run'), { recursive: true, mode: 0o700 });
    writeFileAtomicSync(file, `${this.port} ${this.token} ${this.serverToken}\n`, 0o600);
    writeFileAtomicSync(paneDiedEndpointFile(this.o.stateDir), `${this.port} ${this.paneDiedToken}\n`, 0o600);
    this.o.log.info({ event: 'hook_server_started', port: this.port }, 'hook endpoint listening on 127.0.0.1');
    return this.port;
  }

  async stop(): Promise<void> {
    // Only the endpoint this server published: never another engine's (a refused second start,
    // or a newer engine that replaced ours).
    if (this.server && this.ownsEndpointFile()) {
      rmSync(endpointFile(this.o.stateDir), { force: true });
      rmSync(paneDiedEndpointFile(this.o.stateDir), { force: true });
    }
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

  private authorised(req: IncomingMessage, token = this.token): boolean {
    const given = Buffer.from(String(req.headers['x-hornets-token'] ?? ''));
    const expected = Buffer.from(token);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  /**
   * The agent generation a hook request speaks for, when its credential is that generation's:
   * agent and generation headers are both required. Null: refused.
   */
  private hookCaller(req: IncomingMessage): { agent: string; generation: number; proof: string } | null {
    const agent = String(req.headers['x-hornets-agent'] ?? '');
    const generation = parseGeneration(req.headers['x-hornets-generation'] as string | undefined);
    const key = this.agentKey;
    if (!key || agent === '' || generation === null) return null;
    if (!verifyAgentCredential(key, agent, generation, String(req.headers['x-hornets-token'] ?? ''))) return null;
    return { agent, generation, proof: serverProof(key, agent, generation) };
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
      if (path === '/event/config-changed') {
        await this.o.onConfigChanged?.();
        return send(200, 'ok');
      }
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
  private async handleAck(req: IncomingMessage, agent: string, send: (status: number, body?: string) => void): Promise<void> {
    req.resume();
    const ack = parseAckHeader(String(req.headers[ACK_HEADER] ?? ''));
    if (!ack) return send(400, 'bad ack header');
    let n: number;
    try {
      n = await this.o.store.ack({ leaseToken: ack.leaseToken, ids: ack.ids, sessionId: null, agent });
    } catch (err) {
      this.o.log.error({ event: 'hook_ack_error', error: err instanceof Error ? err.message : String(err) }, 'hook ack failed; the lease will lapse and the message be retried');
      return send(500);
    }
    send(200, String(n));
    if (n > 0) this.o.onAck?.(ack.ids);
  }

  /**
   * A client that gave up before its reply left (its deadline passed on a loaded machine) has run
   * its safe fallback, which found these messages leased to this request: they go back at once
   * rather than wait out the lease, so the next hook or nudge brings them. A reply the client got
   * is acked or lapses as usual.
   */
  private releaseIfUnread(req: IncomingMessage, res: ServerResponse, hook: string, agent: string, lease: LeaseRef): void {
    const release = () => {
      this.o.store.release(lease).then(
        (n) => this.o.log.warn({ event: 'hook_reply_unread', agent, hook, released: n }, 'hook client left before its reply; messages released for the next delivery'),
        (err: unknown) => this.o.log.error({ event: 'hook_release_failed', agent, hook, error: String(err) }, 'could not release an unread reply; its lease will lapse'),
      );
    };
    // Gone already: its 'close' came while the answer was being worked out.
    if (res.destroyed || req.socket.destroyed) return release();
    res.once('close', () => {
      if (!res.writableFinished) release();
    });
  }

  /** An http hook's answer left whole: what it handed over is delivered (as a client's /ack would say). */
  private ackWhenSent(res: ServerResponse, agent: string, lease: LeaseRef): void {
    res.once('finish', () => {
      this.o.store.ack({ ...lease, sessionId: null, agent }).then(
        (n) => {
          if (n > 0) this.o.onAck?.(lease.ids ?? []);
        },
        (err: unknown) => this.o.log.error({ event: 'hook_ack_error', agent, error: String(err) }, 'http hook ack failed; the lease will lapse and the message be retried'),
      );
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = Date.now();
    const send = (status: number, body = '', headers: Record<string, string> = {}) => {
      // The bash client reads the head a byte per read(): no Date header, and the headers it looks
      // for first. Head and body leave in one write (res.end with the body).
      res.sendDate = false;
      res.writeHead(status, { 'x-hornets-server': this.serverToken, 'content-length': Buffer.byteLength(body), 'content-type': 'text/plain; charset=utf-8', ...headers, connection: 'close' });
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
    if (req.method === 'POST' && req.url === '/event/pane-died') {
      // Engine-internal: it kills and respawns an agent, so neither an agent's credential nor the
      // CLI's token (which every agent can read) is enough.
      if (!this.authorised(req, this.paneDiedToken)) return send(401);
      return this.handleCommand(req.url, req, send);
    }
    if (req.method === 'POST' && (req.url === '/event/config-changed' || req.url === '/control')) {
      if (!this.authorised(req)) return send(401);
      return this.handleCommand(req.url, req, send);
    }
    if (req.method === 'GET' && req.url === '/healthz') {
      if (!this.authorised(req)) return send(401);
      req.resume();
      return send(200, JSON.stringify({ pid: process.pid, hookPort: this.port, ...this.o.health?.() }), { 'content-type': 'application/json' });
    }
    const events = req.method === 'GET' ? /^\/events(?:\?agent=([A-Za-z0-9_.-]{1,64}))?$/.exec(req.url ?? '') : null;
    if (events) {
      if (!this.authorised(req)) return send(401);
      if (!this.o.onEvents) return send(404);
      req.resume();
      res.writeHead(200, { 'x-hornets-server': this.serverToken, 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store' });
      return this.o.onEvents(res, events[1] ?? null);
    }
    const ackPath = req.method === 'POST' && req.url === '/ack';
    const m = /^\/hook\/([A-Za-z]+)(\?hornets-tui)?$/.exec(req.url ?? '');
    if (!ackPath && (req.method !== 'POST' || !m)) return send(404);
    // A Claude Code http hook (daemon.hookTransport "http"): no client to ack or fall back, so the
    // engine acks once the answer has left, and releases what it could not hand over.
    const http = !ackPath && m![2] !== undefined;
    // Refused without a proof: the client falls back to the Node entry, which refuses it too.
    const caller = this.hookCaller(req);
    if (!caller) {
      req.resume();
      // An http hook in a session that is no agent of ours (someone runs claude in the worktree)
      // gets nothing to do, not an error shown in that session.
      return http ? send(200, '', { 'x-hornets-server': '' }) : send(401, '', { 'x-hornets-server': '' });
    }
    const { agent, generation } = caller;
    const sendAsAgent = (status: number, body = '', headers: Record<string, string> = {}) => send(status, body, { ...headers, 'x-hornets-server': caller.proof });
    if (ackPath) return this.handleAck(req, agent, sendAsAgent);
    const event = m![1]!;
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const c of req) {
        size += (c as Buffer).length;
        if (size > MAX_BODY) return sendAsAgent(200);
        chunks.push(c as Buffer);
      }
      const protocolHeader = req.headers[PROTOCOL_HEADER];
      const protocol = protocolForArg(typeof protocolHeader === 'string' ? protocolHeader : null);
      if (handlerFor(protocol, event) === null) return sendAsAgent(200);
      let payload: unknown;
      try {
        payload = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        this.o.log.warn({ event: 'hook_malformed', agent, hook: event }, 'hook payload is not JSON; ignored');
        return sendAsAgent(200);
      }
      const deferAck = http || req.headers[DEFER_ACK_HEADER] === '1';
      const handler = new HookHandler({
        store: this.o.store,
        agent,
        generation,
        now: this.o.now ?? Date.now,
        briefing: () => readBriefing(this.o.configPath, agent),
        git: gitInfo,
        deferAck,
        protocol,
      });
      const reply = await handler.handle(event, payload);
      if (reply.ackToken) this.releaseIfUnread(req, res, event, agent, { leaseToken: reply.ackToken, ids: reply.delivered });
      if (http) {
        if (reply.ackToken) this.ackWhenSent(res, agent, { leaseToken: reply.ackToken, ids: reply.delivered });
        send(200, reply.stdout, { 'content-type': 'application/json' });
      } else {
        sendAsAgent(200, reply.stdout, reply.ackToken ? { 'X-Hornets-Ack': `${reply.ackToken} ${reply.delivered.join(',')}` } : {});
      }
      const ms = Date.now() - started;
      // The transcript the CLI writes (usage counting, issue 17); not of a hook that was refused (a nested CLI, a stale generation).
      const transcript = (payload as { transcript_path?: unknown } | null)?.transcript_path;
      const transcriptPath = typeof transcript === 'string' && !reply.outcome.startsWith('ignored') ? transcript : null;
      this.o.log.info({ event: 'hook', agent, hook: event, outcome: reply.outcome, delivered: reply.delivered, ms, transcript: transcriptPath }, 'hook handled');
      this.o.onHook?.({ agent, event, outcome: reply.outcome, ms, delivered: reply.delivered, transcriptPath });
    } catch (err) {
      // The agent must carry on: answer with nothing and say why in the log.
      this.o.log.error({ event: 'hook_error', agent, hook: event, error: err instanceof Error ? err.message : String(err) }, 'hook failed; agent unaffected');
      if (!res.headersSent) sendAsAgent(200);
    }
  }
}
