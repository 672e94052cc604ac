/**
 * Named pipes per agent (the seed systems' `/shared/pipes`), in `.hornets/pipes/`:
 *
 * - `<agent>-control`: JSON lines in. `{"type":"message","text":"…","priority"?:…}` is queued for the
 *   agent; `{"type":"rebrief"|"restart"|"pause"|"resume"}` call the engine's callbacks. Bad lines are
 *   logged and skipped. The daemon holds the FIFO open read-write and non-blocking, wrapped in a
 *   net.Socket: no thread ever blocks on it, and a writer closing never ends the stream.
 * - `<agent>-status`: JSON lines out, one per state change, while a reader is attached. With no
 *   reader, or a reader that does not keep up, lines are dropped: the daemon never waits.
 *
 * Each line a writer sends should be at most 4 KiB (PIPE_BUF) so concurrent writers never interleave.
 */
import { controlActions, type ControlAction } from '../../services/control.js';
import { closeSync, constants, fstatSync, openSync, writeSync } from 'node:fs';
import { lstat, rm } from 'node:fs/promises';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import * as z from 'zod';
import type { Logger } from '../../log.js';
import type { MessageStore } from '../../queue/store.js';
import type { StatePaths } from '../../config/paths.js';
import { errorMessage } from '../../errors.js';
import { mkfifos as defaultMkfifos } from '../../proc/fifo.js';
import { durationInput, formatIssues, isObject, isPermanentQueueError, messageDefaults, priorityInput, readDuration, readPriority, type WatcherConfig } from './common.js';

/** Lines longer than this are dropped whole. */
export const MAX_CONTROL_LINE_BYTES = 1024 * 1024;
/** A status line is written with one write(2) no longer than PIPE_BUF, so it is never torn. */
export const MAX_STATUS_LINE_BYTES = 4096;

const messageCommand = z.object({
  type: z.literal('message'),
  text: z.string().optional(),
  message: z.string().optional(),
  priority: priorityInput.optional(),
  key: z.string().min(1).max(256).optional(),
  ttl: durationInput.optional(),
  from: z.string().min(1).max(128).optional(),
});
// Every operator action is a control line too, with the one operator service behind it.
const simpleCommand = z.object({ type: z.enum(controlActions) });

export type ControlCommand = { type: 'message'; text: string; priority: number | null; key: string | null; ttlMs: number | null; from: string | null } | { type: ControlAction };

/** Parses one control line; throws with the reason it is ignored. */
export function parseControlLine(line: string): ControlCommand {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    // V8 quotes the input in its message; the line may be a message body, which never goes to logs.
    throw new Error('not JSON');
  }
  if (!isObject(json)) throw new Error('expected a JSON object with "type"');
  if (json.type === 'message') {
    const r = messageCommand.safeParse(json);
    if (!r.success) throw new Error(`wrong fields: ${formatIssues(r.error)}`);
    const text = r.data.text ?? r.data.message;
    if (text === undefined) throw new Error('wrong fields: "text" is missing');
    if (text.trim() === '') throw new Error('empty text');
    return {
      type: 'message',
      text,
      priority: r.data.priority === undefined ? null : readPriority(r.data.priority),
      key: r.data.key ?? null,
      ttlMs: r.data.ttl === undefined ? null : readDuration(r.data.ttl, 'ttl'),
      from: r.data.from ?? null,
    };
  }
  const r = simpleCommand.safeParse(json);
  if (!r.success) throw new Error(`unknown type ${JSON.stringify(json.type)}: expected message or one of ${controlActions.join(', ')}`);
  return { type: r.data.type };
}

/** How many candidate starts a torn line is searched for, so a hostile line costs bounded work. */
const MAX_RESYNC_CANDIDATES = 64;

/**
 * A writer that dies after `{"type":"mess` leaves a fragment with no newline, and the next writer's
 * whole line is appended to it. Every whole line is a JSON object, so the line after the fragment is
 * the first suffix starting with `{"` that parses as a valid command: earlier starts include the
 * fragment. Null when there is none (the line is just bad).
 */
export function resyncTornLine(line: string): { line: string; command: ControlCommand } | null {
  let from = 1;
  for (let tries = 0; tries < MAX_RESYNC_CANDIDATES; tries++) {
    const at = line.indexOf('{"', from);
    if (at < 0) return null;
    const rest = line.slice(at);
    try {
      return { line: rest, command: parseControlLine(rest) };
    } catch {
      from = at + 1;
    }
  }
  return null;
}

export interface PipeWatcherOptions {
  store: MessageStore;
  paths: Pick<StatePaths, 'pipes'>;
  config: WatcherConfig;
  log: Logger;
  /** Called after a message from a control pipe was enqueued. */
  wake: (agent: string) => void;
  /** An operator action for the agent whose pipe it came through (the engine's operator service). */
  onControl: (action: ControlAction, agent: string) => void | Promise<void>;
  clock?: () => number;
  /** Injected for tests; default runs mkfifo(1), one process for many paths. */
  mkfifo?: (paths: string[]) => Promise<void>;
  maxLineBytes?: number;
}

interface ControlReader {
  socket: Socket;
  decoder: StringDecoder;
  partial: string;
  discarding: boolean;
  chain: Promise<void>;
}

export class PipeWatcher {
  private readonly readers = new Map<string, ControlReader>();
  private readonly statusFds = new Map<string, number>();
  private agents: Set<string>;
  private readonly clock: () => number;
  private running = false;

  constructor(private readonly o: PipeWatcherOptions) {
    this.agents = new Set(o.config.agents.map((a) => a.name));
    this.clock = o.clock ?? Date.now;
  }

  controlPath(agent: string): string {
    return join(this.o.paths.pipes, `${agent}-control`);
  }

  statusPath(agent: string): string {
    return join(this.o.paths.pipes, `${agent}-status`);
  }

  async start(): Promise<void> {
    this.running = true;
    await this.serve([...this.agents]);
  }

  /**
   * Pipes for these agents, opened for reading. Linear in the team: a look at each path, then the
   * missing FIFOs made by one mkfifo process for all of them (a process per pipe kept an engine
   * with thousands of agents busy for minutes). One agent's pipes failing (no mkfifo, a read-only
   * directory) must not stop the daemon or the other agents' pipes.
   */
  private async serve(agents: string[]): Promise<void> {
    const missing: string[] = [];
    const broken = new Map<string, string>();
    for (const agent of agents) {
      for (const path of [this.controlPath(agent), this.statusPath(agent)]) {
        try {
          if (!(await this.isFifo(path))) missing.push(path);
        } catch (err) {
          broken.set(agent, errorMessage(err));
        }
      }
    }
    let mkfifoError: string | null = null;
    const made = new Set(missing);
    if (missing.length > 0) {
      try {
        await (this.o.mkfifo ?? defaultMkfifos)(missing);
      } catch (err) {
        mkfifoError = errorMessage(err);
      }
    }
    for (const agent of agents) {
      if (!this.running || !this.agents.has(agent)) continue;
      try {
        const why = broken.get(agent);
        if (why !== undefined) throw new Error(why);
        for (const path of [this.controlPath(agent), this.statusPath(agent)]) {
          if (made.has(path) && !(await this.isFifo(path))) throw new Error(mkfifoError ?? `${path} was not made`);
        }
        this.openControl(agent);
      } catch (err) {
        this.o.log.error({ event: 'pipe_setup_failed', agent, error: errorMessage(err) }, 'named pipes unavailable for this agent');
      }
    }
  }

  /**
   * The team changed while the engine runs: new agents get their pipes now; a removed agent's
   * pipes are closed and deleted, so a writer finds no reader instead of a pipe nobody reads.
   */
  async setConfig(config: WatcherConfig): Promise<void> {
    this.o.config = config;
    const next = new Set(config.agents.map((a) => a.name));
    const removed = [...this.agents].filter((a) => !next.has(a));
    const added = [...next].filter((a) => !this.agents.has(a));
    this.agents = next;
    for (const agent of removed) {
      const reader = this.readers.get(agent);
      // Out of the map first: its close handler must not reopen it.
      this.readers.delete(agent);
      reader?.socket.destroy();
      const fd = this.statusFds.get(agent);
      this.statusFds.delete(agent);
      if (fd !== undefined) {
        try {
          closeSync(fd);
        } catch {
          // Already closed.
        }
      }
      await reader?.chain;
      for (const path of [this.controlPath(agent), this.statusPath(agent)]) {
        if (await this.isFifo(path).catch(() => false)) await rm(path, { force: true });
      }
    }
    if (this.running && added.length > 0) await this.serve(added);
  }

  /** Whether a FIFO is at `path`; a plain file written there before the pipe existed is removed. */
  private async isFifo(path: string): Promise<boolean> {
    try {
      const st = await lstat(path);
      if (st.isFIFO()) return true;
      // A writer that ran before the daemon made the pipe creates a plain file instead: replace it.
      this.o.log.warn({ event: 'pipe_replaced', path, size: st.size }, 'a non-FIFO file sat where a pipe belongs; replaced');
      await rm(path, { recursive: true, force: true });
      return false;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      return false;
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    const chains: Promise<void>[] = [];
    for (const r of this.readers.values()) {
      r.socket.destroy();
      chains.push(r.chain);
    }
    this.readers.clear();
    for (const fd of this.statusFds.values()) {
      try {
        closeSync(fd);
      } catch {
        // Already closed.
      }
    }
    this.statusFds.clear();
    await Promise.all(chains);
  }

  private async ensureFifo(path: string): Promise<void> {
    if (!(await this.isFifo(path))) await (this.o.mkfifo ?? defaultMkfifos)([path]);
  }

  private openControl(agent: string): void {
    // O_RDWR: we are a writer too, so the stream never sees EOF when outside writers close, and the
    // open never waits for one. O_NONBLOCK plus the socket wrapper keeps reads on the event loop.
    const fd = openSync(this.controlPath(agent), constants.O_RDWR | constants.O_NONBLOCK);
    const socket = new Socket({ fd, readable: true, writable: false });
    const reader: ControlReader = { socket, decoder: new StringDecoder('utf8'), partial: '', discarding: false, chain: Promise.resolve() };
    socket.on('data', (chunk: Buffer) => this.onData(agent, reader, chunk));
    socket.on('error', (err) => this.o.log.warn({ event: 'pipe_error', agent, error: err.message }, 'control pipe error'));
    socket.on('close', () => {
      if (this.readers.get(agent) !== reader) return;
      this.readers.delete(agent);
      if (!this.running) return;
      // Should not happen while we hold a write end; reopen rather than go deaf.
      this.o.log.warn({ event: 'pipe_reopen', agent }, 'control pipe closed; reopening');
      setTimeout(() => {
        if (this.running && this.agents.has(agent) && !this.readers.has(agent)) {
          this.ensureFifo(this.controlPath(agent))
            .then(() => this.openControl(agent))
            .catch((err) => this.o.log.error({ event: 'pipe_reopen_failed', agent, error: errorMessage(err) }, 'cannot reopen control pipe'));
        }
      }, 1000).unref();
    });
    this.readers.set(agent, reader);
  }

  private onData(agent: string, r: ControlReader, chunk: Buffer): void {
    const max = this.o.maxLineBytes ?? MAX_CONTROL_LINE_BYTES;
    let text = r.partial + r.decoder.write(chunk);
    for (;;) {
      const nl = text.indexOf('\n');
      if (nl < 0) break;
      const line = text.slice(0, nl).trim();
      text = text.slice(nl + 1);
      if (r.discarding) {
        r.discarding = false;
        continue;
      }
      if (line === '') continue;
      if (Buffer.byteLength(line) > max) {
        this.o.log.warn({ event: 'pipe_line_too_long', agent, limit: max }, 'control line too long; dropped');
        continue;
      }
      r.chain = r.chain.then(() => this.execute(agent, line));
    }
    if (Buffer.byteLength(text) > max) {
      this.o.log.warn({ event: 'pipe_line_too_long', agent, limit: max }, 'control line too long; dropped');
      r.discarding = true;
      text = '';
    }
    r.partial = text;
  }

  private async execute(agent: string, line: string): Promise<void> {
    let cmd: ControlCommand;
    try {
      cmd = parseControlLine(line);
    } catch (err) {
      const torn = resyncTornLine(line);
      if (torn === null) {
        this.o.log.warn({ event: 'pipe_bad_line', agent, bytes: Buffer.byteLength(line), error: errorMessage(err) }, 'control line ignored');
        return;
      }
      this.o.log.warn(
        { event: 'pipe_torn_line', agent, droppedBytes: Buffer.byteLength(line) - Buffer.byteLength(torn.line) },
        'a writer died mid-line; its fragment was dropped and the line after it kept',
      );
      cmd = torn.command;
    }
    try {
      if (cmd.type !== 'message') return await this.o.onControl(cmd.type, agent);
      const d = messageDefaults(this.o.config, agent);
      const r = await this.o.store.enqueue({
        agent,
        body: cmd.text,
        priority: cmd.priority ?? d.priority,
        key: cmd.key,
        ttlMs: cmd.ttlMs ?? d.ttlMs,
        sender: cmd.from ?? 'pipe',
        meta: { source: 'pipe' },
      });
      this.o.log.info({ event: 'pipe_message', agent, id: r.message.id, created: r.created }, 'control pipe message queued');
      if (r.created) this.o.wake(agent);
    } catch (err) {
      this.o.log.error({ event: 'pipe_command_failed', agent, type: cmd.type, permanent: isPermanentQueueError(err), error: errorMessage(err) }, 'control command failed');
    }
  }

  /**
   * Writes one JSON line to `<agent>-status` if a reader is attached; returns whether it was
   * written. Never blocks: no reader (ENXIO), a gone reader (EPIPE) or a full pipe (EAGAIN) drop it.
   */
  publish(agent: string, change: Record<string, unknown>): boolean {
    if (!this.running || !this.agents.has(agent)) return false;
    let line = `${JSON.stringify({ ts: new Date(this.clock()).toISOString(), agent, ...change })}\n`;
    if (Buffer.byteLength(line) > MAX_STATUS_LINE_BYTES) {
      line = `${JSON.stringify({ ts: new Date(this.clock()).toISOString(), agent, state: change.state ?? change.to ?? null, truncated: true })}\n`;
    }
    let fd = this.statusFds.get(agent);
    if (fd === undefined) {
      try {
        fd = openSync(this.statusPath(agent), constants.O_WRONLY | constants.O_NONBLOCK);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENXIO' && code !== 'ENOENT') this.o.log.warn({ event: 'status_pipe_open_failed', agent, error: errorMessage(err) }, 'cannot open status pipe');
        return false;
      }
      if (!fstatSync(fd).isFIFO()) {
        // Someone replaced the pipe with a file: never append to it.
        closeSync(fd);
        return false;
      }
      this.statusFds.set(agent, fd);
    }
    try {
      writeSync(fd, line);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN' || code === 'EWOULDBLOCK') return false;
      // EPIPE (the reader left) or anything else: reopen on the next publish.
      this.statusFds.delete(agent);
      try {
        closeSync(fd);
      } catch {
        // Already closed.
      }
      return false;
    }
  }
}
