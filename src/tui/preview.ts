/**
 * Live pane preview without polling: a tmux control-mode client reports `%output` for any pane of
 * the session; when it is the pane on show, the pane is re-captured (debounced, at most one capture
 * in flight) and the console re-renders. Without a control client (server down, tmux too old) it
 * falls back to a slow poll.
 */
import type { PanePreviewService, PaneWatch } from '../services/preview.js';
import type { Logger } from '../log.js';
import { captureLines } from './views/preview.js';

export interface PreviewOptions {
  /** Wait this long after output before capturing, so a burst costs one capture. */
  debounceMs?: number;
  /** Lines of history captured above the visible screen. */
  history?: number;
  /** Poll period while no control client runs. */
  fallbackPollMs?: number;
  /** Wait this long after the shown pane changed (the selection may move on). */
  switchDelayMs?: number;
}

export class PreviewFeed {
  lines: string[] = [];
  /** The pane the lines belong to. */
  shownPane: string | null = null;
  private wanted: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private inFlight = false;
  private again = false;
  private control: PaneWatch | null = null;
  private poll: NodeJS.Timeout | null = null;
  private stopped = false;
  private lastStartAttempt = 0;
  /** Last capture per pane (most recent last), so switching back shows something at once. */
  private readonly cache = new Map<string, string[]>();

  constructor(
    private readonly panes: PanePreviewService,
    private readonly onChange: () => void,
    private readonly onWindows: () => void,
    private readonly log: Logger,
    private readonly options: PreviewOptions = {},
  ) {}

  get live(): boolean {
    return this.control?.running ?? false;
  }

  /** Starts the control client if it is not running (called again on the console's slow timer). */
  ensureControl(): void {
    if (this.stopped || this.control?.running) return;
    const now = Date.now();
    if (now - this.lastStartAttempt < 1500) return;
    this.lastStartAttempt = now;
    this.control = this.panes.watch({
      output: (pane) => {
        if (pane === this.wanted) this.schedule();
      },
      windows: () => this.onWindows(),
      exit: (reason) => {
        this.log.debug({ event: 'control_client_exit', reason }, 'tmux control client ended');
        this.startPoll();
      },
    });
    this.control.start();
    this.stopPoll();
  }

  /** Shows another pane (or none): captured at once. */
  show(pane: string | null): void {
    if (pane === this.wanted) return;
    this.wanted = pane;
    if (pane === null) {
      this.lines = [];
      this.shownPane = null;
      this.onChange();
      return;
    }
    // The last capture of that pane shows at once; a fresh one follows. Holding j through the
    // team captures the pane it stops on, not every pane on the way.
    const cached = this.cache.get(pane);
    if (cached) {
      this.lines = cached;
      this.shownPane = pane;
    }
    this.schedule(this.options.switchDelayMs ?? 40);
  }

  /** Re-capture the shown pane soon (after a resize, an action). */
  refresh(): void {
    if (this.wanted) this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.stopPoll();
    this.control?.stop();
    this.control = null;
  }

  private startPoll(): void {
    if (this.poll || this.stopped) return;
    this.poll = setInterval(() => this.refresh(), this.options.fallbackPollMs ?? 1000);
  }

  private stopPoll(): void {
    if (this.poll) clearInterval(this.poll);
    this.poll = null;
  }

  private schedule(delay = this.options.debounceMs ?? 30): void {
    if (this.stopped) return;
    if (this.inFlight) {
      this.again = true;
      return;
    }
    if (this.timer) {
      if (delay > 0) return;
      clearTimeout(this.timer);
    }
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.capture();
    }, delay);
  }

  private async capture(): Promise<void> {
    const pane = this.wanted;
    if (!pane) return;
    this.inFlight = true;
    try {
      const text = await this.panes.capture(pane, this.options.history ?? 200);
      const lines = captureLines(text);
      this.cache.delete(pane);
      this.cache.set(pane, lines);
      if (this.cache.size > 64) this.cache.delete(this.cache.keys().next().value!);
      if (pane === this.wanted) {
        this.lines = lines;
        this.shownPane = pane;
        this.onChange();
      }
    } catch (err) {
      if (pane === this.wanted) {
        this.lines = [];
        this.shownPane = pane;
        this.onChange();
      }
      this.log.debug({ event: 'preview_capture_failed', pane, error: String(err) }, 'capture failed');
    } finally {
      this.inFlight = false;
      if (this.again) {
        this.again = false;
        this.schedule();
      }
    }
  }
}
