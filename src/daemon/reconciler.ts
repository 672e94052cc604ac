/**
 * The safety net: finds dead panes, a vanished tmux server and agents whose hooks went quiet, even
 * when no hook or pane-died event told us. Events are the mechanism; this runs every few seconds
 * and costs one list-panes (one tmux process for the whole team) when all is well.
 */
import type { Logger } from '../log.js';
import type { AgentRecord } from '../domain/agent.js';
import type { MessageStore } from '../queue/store.js';
import { CONTROL_WINDOW, type AgentManager } from '../services/agents.js';
import type { Lifecycle } from '../services/lifecycle.js';
import type { Recovery } from '../recovery/recovery.js';
import { classifyPane, readPane } from '../domain/pane-state.js';
import { tryWithTeamLock } from '../services/team-lock.js';
import type { ScreenWatch } from './screen-watch.js';
import { isStaleFence, singleHostDuties, type DutyGate } from './cluster-duties.js';

export interface ReconcilerOptions {
  store: MessageStore;
  agents: AgentManager;
  lifecycle: Lifecycle;
  recovery: Recovery;
  log: Logger;
  now: () => number;
  /** A hook agent busy (or starting) with no hook event for this long has its screen read. */
  staleBusyMs: number;
  wake: (agent: string | null) => void;
  /** The tmux server is gone: agents were recreated and must not carry old nudges. */
  onRecreated: (agent: string) => void;
  /** Captures of hookless agents go here, so a state read from them can lapse or be escalated. */
  screens: ScreenWatch;
  /** Whether this engine runs the store sweep (a cluster-wide duty: only the leader of a Redis team); default: always. */
  duties?: DutyGate;
  /** A sweep changed messages (they may belong to agents of other nodes: wake those). */
  onSwept?: () => void;
}

export class Reconciler {
  private current: Promise<void> | null = null;
  private next: Promise<void> | null = null;
  /** Pane pids seen at the last round, for heartbeat files. */
  readonly pids = new Map<string, number>();

  constructor(private readonly o: ReconcilerOptions) {}

  /**
   * A round that starts after this call: when one is under way (it may have looked before the
   * caller's change), one more follows it, shared by every caller meanwhile.
   */
  run(): Promise<void> {
    if (!this.current) {
      this.current = this.roundLogged().finally(() => {
        this.current = null;
      });
      return this.current;
    }
    this.next ??= this.current.then(() => {
      this.next = null;
      return this.run();
    });
    return this.next;
  }

  private async roundLogged(): Promise<void> {
    try {
      await this.round();
    } catch (err) {
      this.o.log.error({ event: 'reconcile_failed', error: String(err) }, 'reconciliation failed');
    }
  }

  private async round(): Promise<void> {
    const { store, agents } = this.o;
    await this.sweep();
    // The configured agents only: on a Redis team the others run on other nodes, in other tmux servers.
    const records = await store.agentRecords(agents.project.config.agents.map((a) => a.name));
    const expected = records.filter((r) => r.paneId && r.state !== 'stopped' && r.state !== 'failed');
    if (expected.length === 0) return;
    // One tmux call per round: every session has a pane, so a session with none listed is gone (no
    // server lists nothing). A tmux that does not answer throws: not knowing is not a lost server.
    const listed = await agents.tmux.listPanes();
    if (!listed.some((p) => p.session === agents.session)) {
      await this.serverLost(expected);
      return;
    }
    // Windows the database does not track (a start that raced another): only when no command is
    // changing the team right now, since a window it is making is not recorded yet.
    // Looked at only when tmux lists a window the database does not know (normally just the
    // control window): no lock file or /proc read in a round where all is well.
    const tracked = new Set(records.map((r) => r.paneId));
    if (listed.some((p) => p.session === agents.session && p.windowName !== CONTROL_WINDOW && !tracked.has(p.paneId))) {
      await tryWithTeamLock(agents.project.paths.root, 'engine: orphan check', () => agents.sweepOrphans(listed)).catch((err: unknown) =>
        this.o.log.warn({ event: 'orphan_check_failed', error: String(err) }, 'could not check for untracked agent windows'),
      );
    }
    const panes = new Map(listed.map((p) => [p.paneId, p]));
    for (const r of expected) {
      const pane = panes.get(r.paneId!);
      if (pane && !pane.dead) this.pids.set(r.name, pane.pid);
      else this.pids.delete(r.name);
      if (!pane || pane.dead) {
        // Recovery looks again inside the agent's lane and pins the death to this generation.
        await this.o.recovery.crashReported({ paneId: r.paneId!, generation: r.generation, exitStatus: pane?.deadStatus ?? null, source: 'reconcile' });
        continue;
      }
      await this.readScreenIfNeeded(r, pane.paneId);
    }
  }

  /**
   * Leases nobody will ack (a hook or daemon killed between claim and ack, a node lost) lapse into
   * retries here, TTLs expire and exhausted messages go dead; claims sweep too, but an idle agent
   * (or one whose node is gone) makes none, so its messages would wait forever. It covers the whole
   * team, so on a Redis team only the leader runs it, fenced with its term's token.
   */
  async sweep(): Promise<void> {
    const turn = (this.o.duties ?? singleHostDuties).turn();
    if (!turn.run) return;
    try {
      const swept = await this.o.store.sweep(turn.fence ? { fence: turn.fence } : {});
      const changed = swept.leasesReclaimed > 0 || swept.expired > 0 || swept.dead > 0;
      if (turn.fence) this.o.log[changed ? 'info' : 'debug']({ event: 'leader_sweep', token: turn.fence.token, ...swept }, 'leader swept the queue (lease reclaim, TTL expiry, dead-lettering)');
      if (changed) {
        this.o.wake(null);
        this.o.onSwept?.();
      }
    } catch (err) {
      if (!isStaleFence(err)) throw err;
      this.o.log.warn({ event: 'leader_duty_refused', duty: 'sweep', token: turn.fence?.token }, 'a newer leader was elected: this sweep was refused and wrote nothing');
    }
  }

  private async readScreenIfNeeded(r: AgentRecord, paneId: string): Promise<void> {
    const config = this.o.agents.agentConfig(r.name);
    const profile = this.o.agents.profile(config);
    const silentMs = this.o.now() - Math.max(r.lastEventAt ?? 0, r.updatedAt);
    if (profile.hooks.kind !== 'none') {
      // A hook agent said busy and then went quiet: its Stop (or SessionStart) hook was lost — killed
      // or timed out — and it may sit at its prompt. Only then is the screen read.
      if ((r.state !== 'busy' && r.state !== 'starting') || silentMs <= this.o.staleBusyMs) return;
      const screen = await this.o.agents.tmux.capture(paneId).catch(() => '');
      if (classifyPane(profile.patterns, screen, { typed: this.o.agents.typed.recent(paneId) }) !== 'idle') return;
      await this.o.store.recordEvent({ agent: r.name, kind: 'state_from_screen', fromState: r.state, toState: 'idle', detail: { silentMs } });
      await this.o.lifecycle.apply(r.name, { type: 'screen', verdict: 'idle' }, {}, { reason: 'no hook event, prompt on screen' });
      this.o.wake(r.name);
      return;
    }
    // Profiles without hooks: the screen is the only evidence of state.
    if (r.paused) return;
    const screen = await this.o.agents.tmux.capture(paneId).catch(() => '');
    const reading = readPane(profile.patterns, screen, { typed: this.o.agents.typed.recent(paneId) });
    // The watch first: a permission state must never be on record without the hold behind it.
    await this.o.screens.observe(r.name, reading);
    const t = await this.o.lifecycle.apply(r.name, { type: 'screen', verdict: reading.verdict });
    if (t.changed && t.after.state === 'idle') this.o.wake(r.name);
  }

  /** The tmux server died: every agent is recreated and resumed; the queue is untouched. */
  private async serverLost(expected: AgentRecord[]): Promise<void> {
    const { store, agents, log } = this.o;
    log.error({ event: 'tmux_server_lost', agents: expected.map((r) => r.name) }, 'tmux server is gone; recreating agents');
    for (const r of expected) {
      await store.recordEvent({ agent: r.name, kind: 'tmux_server_lost' });
      await store.requeueUnconfirmed(r.name, { sessionId: r.sessionId, reason: 'tmux server died' });
      this.o.onRecreated(r.name);
    }
    const report = await agents.up(
      expected.map((r) => r.name),
      { resume: true },
    );
    for (const name of [...report.created, ...report.restarted]) {
      await store.recordEvent({ agent: name, kind: 'agent_recreated', detail: { reason: 'tmux server died' } });
    }
  }
}
