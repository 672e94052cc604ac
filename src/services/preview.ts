/**
 * The console's window on the agents' panes, so that src/tui never talks to tmux itself: live
 * "this pane printed something" notifications from a tmux control-mode client (no polling), and
 * captures of one pane with its colours. Everything goes through the agents' TmuxClient on
 * hornets' private server.
 */
import type { AgentManager } from './agents.js';

export interface PaneEvents {
  /** Output arrived for this pane (the bytes themselves are not passed on). */
  output?: (pane: string) => void;
  /** A window was added, closed or renamed, or the layout changed. */
  windows?: () => void;
  /** The watch ended (server gone, session killed, or stop()). */
  exit?: (reason: string) => void;
  /** The watch is attached: output printed before it was never reported (capture again). */
  attached?: () => void;
}

/** A running watch on the session's panes. */
export interface PaneWatch {
  readonly running: boolean;
  start(): void;
  stop(): void;
}

export class PanePreviewService {
  constructor(private readonly agents: Pick<AgentManager, 'tmux' | 'session'>) {}

  /** A control-mode client on the agents' session; call start() on it. */
  watch(events: PaneEvents): PaneWatch {
    return this.agents.tmux.controlClient(this.agents.session, events);
  }

  /** The pane's screen with `history` lines above it, colours kept as escape sequences. */
  capture(pane: string, history: number): Promise<string> {
    return this.agents.tmux.capture(pane, { escapes: true, start: -history });
  }

  /** Whether the agents' tmux session exists (a control client needs one). */
  sessionExists(): Promise<boolean> {
    return this.agents.tmux.hasSession(this.agents.session);
  }
}
