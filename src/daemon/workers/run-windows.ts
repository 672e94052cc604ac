/**
 * The tmux side of worker runs: one session per worker on the project's tmux server
 * (`<session>-w-<worker>`), one window per run named by its run id. The window's process is the
 * run wrapper (`bin/hornets-task-run.js <dir>`, the same as `hornets-tui task-run <dir>`); remain-on-exit is turned off for it, so the window
 * goes when the run ends, and the engine kills it too once it has read the end.
 */
import type { TmuxClient } from '../../tmux/client.js';
import { TmuxError } from '../../tmux/errors.js';

export interface RunWindows {
  /** Opens the run's window; returns its pane id. */
  open(worker: string, runId: string, spec: { argv: string[]; cwd: string }): Promise<string>;
  /** Run ids with a window in the worker's session. */
  live(worker: string): Promise<Set<string>>;
  close(worker: string, runId: string): Promise<void>;
}

export function workerSession(prefix: string, worker: string): string {
  return `${prefix}-w-${worker}`;
}

export class TmuxRunWindows implements RunWindows {
  constructor(
    private readonly tmux: TmuxClient,
    private readonly sessionPrefix: string,
  ) {}

  async open(worker: string, runId: string, spec: { argv: string[]; cwd: string }): Promise<string> {
    const session = workerSession(this.sessionPrefix, worker);
    const s = { argv: spec.argv, cwd: spec.cwd, env: {} };
    let pane: string;
    try {
      pane = await this.tmux.newWindow(session, runId, s);
    } catch (err) {
      if (!(err instanceof TmuxError && (err.missingTarget || err.noServer))) throw err;
      // The worker's last run window closed its session (or no server yet): make it with this run.
      try {
        pane = await this.tmux.newSession(session, runId, s);
      } catch (again) {
        if (!(again instanceof TmuxError && /duplicate session/i.test(again.stderr))) throw again;
        pane = await this.tmux.newWindow(session, runId, s);
      }
    }
    await this.tmux.setWindowOption(pane, 'remain-on-exit', 'off').catch(() => undefined);
    return pane;
  }

  async live(worker: string): Promise<Set<string>> {
    const session = workerSession(this.sessionPrefix, worker);
    const panes = await this.tmux.listPanes().catch(() => []);
    return new Set(panes.filter((p) => p.session === session && !p.dead).map((p) => p.windowName));
  }

  async close(worker: string, runId: string): Promise<void> {
    const session = workerSession(this.sessionPrefix, worker);
    const panes = await this.tmux.listPanes().catch(() => []);
    for (const p of panes) if (p.session === session && p.windowName === runId) await this.tmux.killWindow(p.paneId).catch(() => undefined);
  }
}
