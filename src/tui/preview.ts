/**
 * Live pane preview without polling: a tmux control-mode client reports `%output` for any pane of
 * the session; when it is the pane on show, the pane is re-captured (debounced, at most one capture
 * in flight) and the console re-renders. A pane that never stops printing (a spinner, a build log)
 * is captured at most every `minIntervalMs`, not after every burst. Without a control client
 * (server down, tmux too old) it falls back to a slow poll.
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
  /** Output-driven captures at most this often: each costs a tmux command and a frame. */
  minIntervalMs?: number;
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
  private lastCaptureAt = 0;
  private timerAt = 0;
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
        if (pane === this.wanted) this.schedule(this.outputDelay());
      },
      windows: () => this.onWindows(),
      // A capture made before the client attached may predate output it will never report (an
      // agent drawing its prompt meanwhile): the shown pane is captured again.
      attached: () => this.refresh(),
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

  /** The debounce, stretched so output-driven captures keep `minIntervalMs` apart. */
  private outputDelay(): number {
    const debounce = this.options.debounceMs ?? 30;
    return Math.max(debounce, this.lastCaptureAt + (this.options.minIntervalMs ?? 250) - Date.now());
  }

  private schedule(delay = this.options.debounceMs ?? 30): void {
    if (this.stopped) return;
    if (this.inFlight) {
      this.again = true;
      return;
    }
    // A capture already planned stays, unless this one is wanted sooner (a switch after output).
    const at = Date.now() + delay;
    if (this.timer) {
      if (delay > 0 && at >= this.timerAt) return;
      clearTimeout(this.timer);
    }
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.capture();
    }, delay);
  }

  private async capture(): Promise<void> {
    const pane = this.wanted;
    if (!pane) return;
    this.inFlight = true;
    this.lastCaptureAt = Date.now();
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
        // Another pane was asked for meanwhile: at once; more output of this one: spaced out.
        this.schedule(pane !== this.wanted ? 0 : this.outputDelay());
      }
    }
  }
}
