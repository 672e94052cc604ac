/**
 * A tmux control-mode client (`tmux -C attach-session`) on hornets' private server. It never sends
 * commands: it only turns the notifications tmux streams into callbacks, so the console learns that
 * a pane changed (`%output %<pane> …`) or that windows came and went without polling.
 */
import type { ChildProcess } from 'node:child_process';
import { childProcess } from '../proc/child-process.js';
import { argv, type ServerRef } from './argv.js';
import { tmuxBinary, tmuxEnv } from './runner.js';

export interface ControlHandlers {
  /** Output arrived for this pane (the bytes themselves are not passed on). */
  output?: (pane: string) => void;
  /** A window was added, closed or renamed, or the layout changed. */
  windows?: () => void;
  /** The client ended (server gone, session killed, or stop()). */
  exit?: (reason: string) => void;
  /**
   * The client is attached: from now on no output is missed. What a pane printed before this was
   * never reported, so a view captured earlier must be captured again.
   */
  attached?: () => void;
}

const windowEvents = new Set(['%window-add', '%window-close', '%unlinked-window-add', '%unlinked-window-close', '%window-renamed', '%layout-change', '%sessions-changed', '%session-window-changed']);

/** Parses one notification line; exported for unit tests. */
export function parseControlLine(line: string): { kind: 'output'; pane: string } | { kind: 'windows' } | { kind: 'exit'; reason: string } | { kind: 'block-end' } | null {
  if (line.startsWith('%output ')) {
    const end = line.indexOf(' ', 8);
    return { kind: 'output', pane: end === -1 ? line.slice(8) : line.slice(8, end) };
  }
  if (line.startsWith('%extended-output ')) {
    const end = line.indexOf(' ', 17);
    return { kind: 'output', pane: end === -1 ? line.slice(17) : line.slice(17, end) };
  }
  if (line.startsWith('%exit')) return { kind: 'exit', reason: line.slice(5).trim() || 'exit' };
  // This client sends no commands: the first block tmux closes is that of its own attach.
  if (line.startsWith('%end ') || line.startsWith('%error ')) return { kind: 'block-end' };
  const word = line.split(' ', 1)[0] ?? '';
  if (windowEvents.has(word)) return { kind: 'windows' };
  return null;
}

export class ControlClient {
  private child: ChildProcess | null = null;
  private rest = '';
  private attached = false;

  constructor(
    private readonly server: ServerRef,
    private readonly session: string,
    private readonly handlers: ControlHandlers,
    private readonly binary = tmuxBinary(),
  ) {}

  get running(): boolean {
    return this.child !== null;
  }

  start(): void {
    if (this.child) return;
    // stdin stays open (a control client ends when it closes) and is never written to.
    // Its own process group: a terminal hang-up aimed at the console is not the client's business.
    const child = childProcess().spawn(this.binary, argv.controlClient(this.server, this.session), { env: tmuxEnv(), stdio: ['pipe', 'pipe', 'ignore'], detached: true });
    this.child = child;
    this.rest = '';
    this.attached = false;
    child.stdin?.on('error', () => undefined);
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => this.onData(chunk));
    const done = (reason: string) => {
      if (this.child !== child) return;
      this.child = null;
      this.handlers.exit?.(reason);
    };
    child.on('error', (err) => done(err.message));
    child.on('close', (code) => done(`exited (${code ?? 'signal'})`));
  }

  stop(): void {
    const child = this.child;
    if (!child) return;
    this.child = null;
    child.kill('SIGTERM');
    // Nothing more is read from it: do not let it hold the caller's event loop while it exits.
    child.stdin?.destroy();
    child.stdout?.destroy();
    child.unref();
  }

  private onData(chunk: string): void {
    const text = this.rest + chunk;
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl === -1) break;
      const line = text.slice(start, nl);
      start = nl + 1;
      const ev = parseControlLine(line);
      if (!ev) continue;
      if (ev.kind === 'output') this.handlers.output?.(ev.pane);
      else if (ev.kind === 'windows') this.handlers.windows?.();
      else if (ev.kind === 'block-end' && !this.attached) {
        this.attached = true;
        this.handlers.attached?.();
      }
    }
    // A partial line of pane output can be long; only its head (the pane id) matters.
    this.rest = text.slice(start, start + 256);
  }
}
