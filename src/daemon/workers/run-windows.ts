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

const OPEN_TRIES = 4;

/**
 * The session or server is missing, going (no session left on it), or was just made by a concurrent
 * run: the window was not made.
 */
function racy(err: unknown): boolean {
  return err instanceof TmuxError && (err.noServer || err.noSessions || err.missingTarget || /duplicate session/i.test(err.stderr));
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
    // The session goes with its last run window, and the server with its last session when no agent
    // keeps it up: a run can arrive while either is going, so those races are tried again.
    let pane: string | null = null;
    for (let tries = 1; pane === null; tries++) {
      try {
        pane = await this.tmux.newWindow(session, runId, s);
      } catch (err) {
        if (!racy(err) || tries >= OPEN_TRIES) throw err;
        try {
          pane = await this.tmux.newSession(session, runId, s);
        } catch (again) {
          if (!racy(again) || tries >= OPEN_TRIES) throw again;
          await new Promise((r) => setTimeout(r, 50 * tries));
        }
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
