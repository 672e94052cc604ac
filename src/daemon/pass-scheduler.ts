/**
 * When the engine's delivery passes run, and over which agents.
 *
 * A wake names an agent (a message was queued for it, its hook fired, a nudge's deadline came) or
 * none (look at every agent: a reconciliation round, a reconnect). A pass takes the agents woken
 * since the last one started, in the team's order. An agent that a running pass is considering is
 * not taken into a second pass at the same time (its nudge state is the pass's): it is looked at
 * again once that pass ends. Every other woken agent gets its pass at once, beside the running
 * one — one pass used to hold every wake until it ended, and a pass that nudges an agent waits for
 * it to draw the typed line, so a message for another agent waited behind that (tens of ms).
 */
export interface PassSchedulerOptions {
  /** The engine's own agents now, in the team's order (the team may change while it runs). */
  agents: () => readonly string[];
  /** One delivery pass over `agents` (a non-empty subset of agents(), in their order). */
  run: (agents: string[]) => Promise<void>;
  /** A pass that failed: logged by the caller; later wakes run passes all the same. */
  onError: (err: unknown) => void;
}

export class PassScheduler {
  private readonly woken = new Set<string>();
  private readonly considering = new Set<string>();
  private readonly running = new Set<Promise<void>>();
  private queued = false;
  private stopped = false;

  constructor(private readonly o: PassSchedulerOptions) {}

  /** `agent` (null or not one of agents(): every agent) needs a look: a pass runs on the next turn. */
  wake(agent: string | null): void {
    if (this.stopped) return;
    const agents = this.o.agents();
    if (agent !== null && agents.includes(agent)) this.woken.add(agent);
    else for (const a of agents) this.woken.add(a);
    this.schedule();
  }

  /** No pass starts any more; resolves when the running ones have ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    while (this.running.size > 0) await Promise.all([...this.running]);
  }

  /** Resolves when no pass runs and none is due (tests and orderly shutdown). */
  async idle(): Promise<void> {
    while (this.running.size > 0 || this.queued) {
      if (this.running.size > 0) await Promise.all([...this.running]);
      else await new Promise((r) => setImmediate(r));
    }
  }

  private schedule(): void {
    if (this.queued) return;
    this.queued = true;
    // The next turn, so a burst of wakes in one turn (a batch enqueue, several hooks) is one pass.
    setImmediate(() => {
      this.queued = false;
      this.start();
    });
  }

  private start(): void {
    // stop() may have come between the wake and this turn: the store and tmux client are closing.
    if (this.stopped) return;
    const batch: string[] = [];
    const agents = this.o.agents();
    for (const a of agents) if (this.woken.has(a) && !this.considering.has(a)) batch.push(a);
    // Woken agents that left the team meanwhile are nobody's business any more.
    const current = new Set(agents);
    for (const a of this.woken) if (!current.has(a)) this.woken.delete(a);
    if (batch.length === 0) return;
    for (const a of batch) {
      this.woken.delete(a);
      this.considering.add(a);
    }
    const pass: Promise<void> = this.o
      .run(batch)
      .catch((err: unknown) => this.o.onError(err))
      .finally(() => {
        for (const a of batch) this.considering.delete(a);
        this.running.delete(pass);
        // What is still woken was under consideration when its wake came: look at it again now.
        if (this.woken.size > 0 && !this.stopped) this.schedule();
      });
    this.running.add(pass);
  }
}
