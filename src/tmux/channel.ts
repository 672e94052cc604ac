/**
 * A persistent command channel to hornets' private tmux server: one long-lived control-mode client
 * (`tmux -C attach-session`) that takes commands on stdin and answers each in a `%begin … %end`
 * block. A command then costs a line written and read (well under a millisecond) instead of a new
 * tmux process (~20 ms here), which is most of the engine's time in a nudge and its idle CPU.
 *
 * It is only a faster way to run the same commands: `channelRunner` sends a command through it
 * when it is up and spawns tmux as before when it is not (server not started yet, channel died,
 * command not one it carries). It never creates a session (attach fails instead), never keeps the
 * server up (a client does not: the server leaves with its last session, and kill-server ends the
 * client), never changes window sizes (`ignore-size`) and receives no pane output (`no-output`).
 */
import type { ChildProcess } from 'node:child_process';
import { childProcess } from '../proc/child-process.js';
import { base, type ServerRef } from './argv.js';
import { TmuxError } from './errors.js';
import { commandLine, ControlParser, type ControlEvent } from './control-protocol.js';
import { tmuxBinary, tmuxEnv, type RunOptions, type RunResult, type TmuxRunner } from './runner.js';

/** The channel cannot take the command now (not up, stopped); nothing was sent, so spawning tmux is safe. */
export class TmuxChannelUnavailable extends TmuxError {}

/**
 * The channel ended after the command was written and before tmux answered: it may or may not have
 * run. A read-only command is run again by spawning tmux; any other is reported failed.
 */
export class TmuxChannelClosed extends TmuxError {}

/** Commands that only read: safe to run again when the channel died before answering. */
const readOnly = new Set(['capture-pane', 'display-message', 'list-panes', 'show-environment', 'has-session', 'show-options']);

/** Commands the channel carries: what the engine runs over and over. The rest keep spawning tmux. */
const carried = new Set([...readOnly, 'send-keys', 'paste-buffer', 'delete-buffer', 'kill-pane', 'kill-window', 'rename-window', 'set-option']);

export interface TmuxChannelOptions {
  binary?: string;
  /** After a start that failed (no server, no session), spawn tmux for this long before trying again. */
  retryMs?: number;
  /** A client not attached after this long is given up (a server too busy to answer). */
  startTimeoutMs?: number;
  /** How long stop() waits for the client to leave before it is killed. */
  stopTimeoutMs?: number;
  /** Start, ready and end of the client, for the caller's log. */
  onEvent?: (event: 'channel_ready' | 'channel_closed' | 'channel_start_failed', detail: Record<string, unknown>) => void;
  now?: () => number;
}

interface Pending {
  args: readonly string[];
  resolve: (r: { ok: boolean; output: string }) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

type State = 'down' | 'starting' | 'ready' | 'stopped';

export class TmuxChannel {
  private state: State = 'down';
  private child: ChildProcess | null = null;
  private parser = new ControlParser();
  private readonly pending: Pending[] = [];
  private retryAt = 0;
  private exited: Promise<void> = Promise.resolve();
  private readonly binary: string;
  private readonly now: () => number;

  constructor(
    readonly server: ServerRef,
    readonly session: string,
    private readonly options: TmuxChannelOptions = {},
  ) {
    this.binary = options.binary ?? tmuxBinary();
    this.now = options.now ?? Date.now;
  }

  get ready(): boolean {
    return this.state === 'ready';
  }

  /** The client's pid while it runs (tests check that none is left). */
  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  /**
   * Starts the client if it is down and not waiting out a failed start. Commands do not wait for
   * it: until it is ready they spawn tmux, so starting costs a caller nothing.
   */
  want(): void {
    if (this.state !== 'down' || this.now() < this.retryAt) return;
    this.state = 'starting';
    this.parser = new ControlParser();
    // -N: attach-session may start a server (to run its config), and a server with no session
    // makes everyone else's `list-panes -a` fail with "no current target" until it exits again.
    // -u: output stays UTF-8 whatever the engine's locale (tmux would replace it by `_` otherwise).
    const child = childProcess().spawn(this.binary, ['-N', '-u', ...base(this.server), '-C', 'attach-session', '-t', `=${this.session}`, '-f', 'no-output,ignore-size'], {
      env: tmuxEnv(),
      stdio: ['pipe', 'pipe', 'ignore'],
      // Its own process group: a terminal's Ctrl-C aimed at a foreground engine is not for it. It
      // still ends with the engine: its stdin closes then, and a control client leaves on EOF.
      detached: true,
    });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('close', () => resolve()));
    // The channel never keeps the engine alive; pending commands hold it through their deadlines.
    child.unref();
    (child.stdout as unknown as { unref?: () => void } | null)?.unref?.();
    (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    child.stdin?.on('error', () => this.closed(child, 'stdin closed'));
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      if (this.child !== child) return;
      for (const ev of this.parser.feed(chunk)) this.onEvent(child, ev);
    });
    child.on('error', (err) => this.closed(child, err.message));
    child.on('close', (code, signal) => this.closed(child, `client exited (${code ?? signal ?? 'unknown'})`));
    const startTimeoutMs = this.options.startTimeoutMs ?? 5000;
    const startTimer = setTimeout(() => {
      if (this.child === child && this.state === 'starting') this.kill(child, `not attached within ${startTimeoutMs} ms`);
    }, startTimeoutMs);
    startTimer.unref();
    child.once('close', () => clearTimeout(startTimer));
  }

  /**
   * Sends one command (no `;` sequences: one block per line keeps replies and callers matched).
   * Rejects with TmuxChannelUnavailable when it was not sent, TmuxChannelClosed when the channel
   * ended before the answer, and TmuxError on the deadline.
   */
  request(args: readonly string[], timeoutMs = 10_000): Promise<{ ok: boolean; output: string }> {
    return new Promise((resolve, reject) => {
      const child = this.child;
      if (this.state !== 'ready' || !child?.stdin?.writable) {
        reject(new TmuxChannelUnavailable(args, null, '', `tmux control channel is ${this.state}`));
        return;
      }
      let line: string;
      try {
        line = commandLine(args);
      } catch (err) {
        reject(new TmuxChannelUnavailable(args, null, '', (err as Error).message));
        return;
      }
      const entry: Pending = {
        args,
        resolve,
        reject,
        timer: setTimeout(() => {
          // A tmux that does not answer in time is treated as wedged: the client goes (the others
          // waiting fail as closed) and the next command spawns tmux or a fresh channel.
          this.fail(entry, new TmuxError(args, null, `timed out after ${timeoutMs} ms (control channel)`));
          this.kill(child, `no answer within ${timeoutMs} ms`);
        }, timeoutMs),
      };
      this.pending.push(entry);
      child.stdin.write(`${line}\n`);
    });
  }

  /** Ends the client (stdin closed: it detaches), killing it if it lingers; no restart after. */
  async stop(): Promise<void> {
    this.state = 'stopped';
    const child = this.child;
    if (!child) return;
    child.stdin?.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), this.options.stopTimeoutMs ?? 1000);
    await this.exited;
    clearTimeout(timer);
    this.closed(child, 'stopped');
  }

  private onEvent(child: ChildProcess, ev: ControlEvent): void {
    if (ev.kind === 'exit') {
      this.kill(child, `tmux said %exit ${ev.reason}`);
      return;
    }
    if (ev.kind !== 'reply') return;
    if (!ev.fromClient) {
      // The attach's own block: its end means attached; its error (no session) means no channel.
      if (this.state === 'starting') {
        if (ev.ok) {
          this.state = 'ready';
          this.options.onEvent?.('channel_ready', { pid: child.pid });
        } else {
          this.retryAt = this.now() + (this.options.retryMs ?? 2000);
          this.options.onEvent?.('channel_start_failed', { reason: ev.output.trim() });
        }
      }
      return;
    }
    // Replies come in the order the lines were written; one whose caller gave up finds none.
    const entry = this.pending.shift();
    if (!entry) return;
    clearTimeout(entry.timer);
    entry.resolve({ ok: ev.ok, output: ev.output });
  }

  private fail(entry: Pending, err: Error): void {
    const i = this.pending.indexOf(entry);
    if (i !== -1) this.pending.splice(i, 1);
    clearTimeout(entry.timer);
    entry.reject(err);
  }

  private kill(child: ChildProcess, reason: string): void {
    child.stdin?.destroy();
    child.kill('SIGKILL');
    this.closed(child, reason);
  }

  /** The client is gone (or going): fail what waits, and let the next command start a new one. */
  private closed(child: ChildProcess, reason: string): void {
    if (this.child !== child) return;
    this.child = null;
    const wasReady = this.state === 'ready';
    if (this.state !== 'stopped') this.state = 'down';
    // A channel that was up is started again at once; one that never came up waits retryMs.
    if (!wasReady && this.retryAt <= this.now()) this.retryAt = this.now() + (this.options.retryMs ?? 2000);
    if (wasReady) this.options.onEvent?.('channel_closed', { reason, pending: this.pending.length });
    for (const entry of this.pending.splice(0)) {
      clearTimeout(entry.timer);
      entry.reject(new TmuxChannelClosed(entry.args, null, `control channel closed before tmux answered: ${reason}`));
    }
    child.stdout?.destroy();
    child.stdin?.destroy();
  }
}

/** The commands of an argv for this server, split at `;`; null when the channel must not carry it. */
export function channelCommands(server: ServerRef, argv: readonly string[], options: RunOptions = {}): string[][] | null {
  const prefix = base(server);
  if (options.input !== undefined || argv.length <= prefix.length || prefix.some((a, i) => argv[i] !== a)) return null;
  const cmds: string[][] = [[]];
  for (const a of argv.slice(prefix.length)) {
    if (a === ';') cmds.push([]);
    // tmux started with argv splits at an argument ending in ';' too: such argv keep that meaning.
    else if (a.endsWith(';')) return null;
    else cmds[cmds.length - 1]!.push(a);
  }
  return cmds.every((c) => c.length > 0 && carried.has(c[0]!)) ? cmds : null;
}

/**
 * A TmuxRunner that uses the channel when it can and `fallback` (spawning tmux) otherwise, with the
 * same results: stdout of the commands run, a TmuxError (status 1, tmux's message as stderr) at the
 * first that fails, the commands after it not run.
 */
export function channelRunner(channel: TmuxChannel, fallback: TmuxRunner): TmuxRunner {
  return async (argv, options = {}): Promise<RunResult> => {
    const cmds = channelCommands(channel.server, argv, options);
    if (!cmds || !channel.ready) {
      if (cmds) channel.want();
      return fallback(argv, options);
    }
    const repeatable = cmds.every((c) => readOnly.has(c[0]!));
    // Reads go out together (one round trip): one that runs after a failed one changes nothing,
    // and its answer is dropped below. Anything else waits for the answer before the next.
    const sent = repeatable ? cmds.map((c) => channel.request(c, options.timeoutMs)) : [];
    for (const p of sent) p.catch(() => undefined);
    let stdout = '';
    for (let i = 0; i < cmds.length; i++) {
      let reply: { ok: boolean; output: string };
      try {
        reply = await (sent[i] ?? channel.request(cmds[i]!, options.timeoutMs));
      } catch (err) {
        const unsent = err instanceof TmuxChannelUnavailable && i === 0;
        if (unsent || (repeatable && (err instanceof TmuxChannelUnavailable || err instanceof TmuxChannelClosed))) return fallback(argv, options);
        if (err instanceof TmuxError) throw new TmuxError(argv, err.status, err.stderr || err.message, undefined, stdout);
        throw err;
      }
      if (!reply.ok) throw new TmuxError(argv, 1, reply.output, undefined, stdout);
      stdout += reply.output;
    }
    return { stdout, stderr: '' };
  };
}
