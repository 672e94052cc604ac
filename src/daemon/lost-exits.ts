/**
 * tmux before 3.5 can miss the SIGCHLD of a pane's process (tmux 3.3a here: one demo-agent kill in
 * a few): the process stays a zombie, tmux records no exit status and never runs the pane-died hook,
 * so the crash would wait for the reconciliation round (10 s by default). A zombie among the agents'
 * pane processes is exactly that case, and /proc shows it for the price of a small file read per
 * agent, so this looks every second and hands the pane to recovery, whose own look at the pane
 * makes tmux reap it (TmuxClient kicks the server with SIGCHLD) and runs the pane-died hook.
 */
import type { AgentRecord } from '../domain/agent.js';
import type { PaneInfo } from '../tmux/argv.js';
import type { CrashReport } from '../recovery/recovery.js';
import type { ProcessState } from '../proc/process-state.js';

export interface LostExitWatchOptions {
  /** The engine's own agents as the store has them (on a Redis team, this node's share: its tmux server's panes). */
  agents: () => Promise<AgentRecord[]>;
  /** The panes tmux lists (asked only when an agent has a pane this watch has not seen yet). */
  listPanes: () => Promise<Pick<PaneInfo, 'paneId' | 'pid' | 'dead'>[]>;
  processState: (pid: number) => ProcessState;
  /** Told which pids are still watched after each look, so a reader holding files can let go of the rest. */
  retainOnly?: (pids: ReadonlySet<number>) => void;
  report: (r: CrashReport) => void;
  /**
   * The agents (which panes, which generation) are read from the store at most this often; the
   * processes are looked at on every tick. A team of thousands is then not a full read a second,
   * and an agent started meanwhile has its own pane-died hook and the reconciliation round.
   */
  agentsEveryMs?: number;
  now?: () => number;
}

export class LostExitWatch {
  /**
   * `pane#generation` → the pid of its process (0: listed dead or not at all, nothing to watch). By
   * generation because a restart may respawn the same pane with a new process.
   */
  private readonly pids = new Map<string, number>();
  private running = false;
  private agents: AgentRecord[] = [];
  private agentsAt = -Infinity;
  /** The agents with a live pane process, as of the last read. */
  private watched: { record: AgentRecord; pid: number }[] = [];

  constructor(private readonly o: LostExitWatchOptions) {}

  async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await this.look();
    } finally {
      this.running = false;
    }
  }

  private async look(): Promise<void> {
    const now = (this.o.now ?? Date.now)();
    if (now - this.agentsAt >= (this.o.agentsEveryMs ?? 5_000)) {
      this.agents = (await this.o.agents()).filter((r) => r.paneId !== null && r.state !== 'stopped' && r.state !== 'failed');
      this.agentsAt = now;
      await this.learnPids();
    }
    // Between two reads of the agents only the processes are looked at: no sets or strings made
    // every second (an idle engine's collector had to clear them).
    for (const w of this.watched) {
      // Reported on every look while it stays a zombie: recovery ignores a pane tmux does not show
      // dead yet, and drops repeats of one it handled, without a tmux call.
      if (this.o.processState(w.pid) === 'zombie') {
        this.o.report({ paneId: w.record.paneId!, generation: w.record.generation, exitStatus: null, source: 'lost-exit' });
      }
    }
  }

  /** The pids of the agents just read: kept for the panes seen before, listed by tmux for new ones. */
  private async learnPids(): Promise<void> {
    const agents = this.agents;
    const key = (r: (typeof agents)[number]) => `${r.paneId}#${r.generation}`;
    const current = new Set(agents.map(key));
    for (const k of [...this.pids.keys()]) if (!current.has(k)) this.pids.delete(k);
    const unknown = agents.filter((r) => !this.pids.has(key(r)));
    if (unknown.length > 0) {
      const listed = new Map((await this.o.listPanes()).map((p) => [p.paneId, p]));
      for (const r of unknown) {
        const p = listed.get(r.paneId!);
        this.pids.set(key(r), p && !p.dead ? p.pid : 0);
      }
    }
    this.o.retainOnly?.(new Set(this.pids.values()));
    this.watched = agents.map((record) => ({ record, pid: this.pids.get(key(record)) ?? 0 })).filter((w) => w.pid !== 0);
  }
}
