/**
 * The console's controllers: an action on an agent or message becomes service calls, off the key
 * path, with its answer (or error) on the message line. They talk only to services; the screen is
 * the host's (console.ts), the state the view-model's.
 *
 * Work that changes the team (bringing it up, adding an agent, stopping it) is tracked: `q` waits for
 * it (defect 7: quitting during start-up left the team down, because the store closed under `up`).
 */
import type { ProjectContext } from '../services/context.js';
import { AgentManager, type UpReport } from '../services/agents.js';
import { control } from '../services/control.js';
import { QueueService } from '../services/queue-service.js';
import { SnapshotService, type AgentRow, type QueueRow, type TaskRow } from '../services/snapshot.js';
import { WorkerTaskService } from '../services/worker-tasks.js';
import { addAgent, checkNewAgent } from '../services/team.js';
import { engineStatus, ensureEngine, stopEngine } from '../services/engine-service.js';
import { worktreeChanges } from '../services/worktree.js';
import { nodeContext } from '../services/project-context.js';
import type { NodeFeed } from '../services/node-feed.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { Theme } from './theme.js';
import type { MessageLevel } from './views/chrome.js';
import { ConfirmDialog, NewAgentDialog, SendDialog, TextDialog, type Dialog } from './dialogs.js';
import { clean, esc } from './text.js';

/** What the controllers need from the console. */
export interface ControllerHost {
  flash(text: string, level: MessageLevel): void;
  /** Clears the message line if it still says `text` (a busy "…" line whose work answered nothing). */
  clearMessage(text: string): void;
  /** Opens a dialog; `onSubmit` runs with its answer (a string answer goes to the message line). */
  openDialog(d: Dialog<unknown>, onSubmit?: (value: unknown) => Promise<string | void> | string | void): void;
  /** Read state again soon (after an action). */
  kick(): void;
  /** Select this agent (after adding it). */
  select(agent: string): void;
  /** The project changed (an agent was added): services were rebuilt. */
  servicesChanged(): void;
  /** Close the console (after "stop everything"). */
  close(): void;
  readonly theme: Theme;
}

/** A team on Redis: the whole team (every node's agents) beside this node's view, and the registry feed. */
export interface TeamView {
  team: ProjectContext;
  nodes: NodeFeed | null;
}

export class Controllers {
  /** This node's view: the agents this console starts and manages (all of them on SQLite). */
  ctx: ProjectContext;
  /** The whole team: what the console shows, and where sends and controls go (remote ones through their node). */
  team: ProjectContext;
  readonly nodes: NodeFeed | null;
  manager: AgentManager;
  queue: QueueService;
  snapshots: SnapshotService;
  /** Work that must finish before the console may close (see the header). */
  private readonly critical = new Set<Promise<unknown>>();

  constructor(
    ctx: ProjectContext,
    private readonly host: ControllerHost,
    private readonly log: Logger,
    /** Environment for an engine the console starts. */
    private readonly env?: NodeJS.ProcessEnv,
    view?: TeamView,
  ) {
    this.ctx = ctx;
    this.team = view?.team ?? ctx;
    this.nodes = view?.nodes ?? null;
    this.manager = new AgentManager(ctx.project, ctx.store, log);
    this.queue = new QueueService(this.team.project, this.team.store, log, this.team.selection);
    this.snapshots = this.newSnapshots();
  }

  private newSnapshots(): SnapshotService {
    return new SnapshotService(this.team.project, this.team.store, this.manager, this.nodes ? { nodes: this.nodes } : {});
  }

  /** True while work that changes the team runs. */
  get busy(): boolean {
    return this.critical.size > 0;
  }

  /** Resolves when no tracked work runs (work started meanwhile is waited for too). */
  async settled(): Promise<void> {
    while (this.critical.size > 0) await Promise.allSettled([...this.critical]);
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.critical.add(p);
    const done = () => this.critical.delete(p);
    p.then(done, done);
    return p;
  }

  fail(what: string, err: unknown): void {
    const text = errorMessage(err).split('\n').join(' ');
    this.log.warn({ event: 'console_action_failed', action: what, error: text }, 'console action failed');
    this.host.flash(`${what}: ${text}`, 'error');
  }

  /** Runs a service call off the key path; its answer (or error) goes to the message line. */
  background(label: string, fn: () => Promise<string | void>, options: { critical?: boolean } = {}): void {
    this.host.flash(`${label}…`, 'busy');
    const run = fn();
    if (options.critical) void this.track(run);
    void run
      .then((answer) => {
        if (answer) this.host.flash(answer, 'ok');
        else this.host.clearMessage(`${label}…`);
        this.host.kick();
      })
      .catch((err: unknown) => {
        this.fail(label, err);
        this.host.kick();
      });
  }

  // ------------------------------------------------------------------ start-up

  /** Starts the engine (a detached daemon) and the team when no engine runs. Tracked: `q` waits. */
  startTeam(): Promise<void> {
    return this.track(this.startTeamNow());
  }

  private async startTeamNow(): Promise<void> {
    const before = engineStatus(this.ctx.project.paths.root);
    if (before.running) {
      this.host.flash(`engine running (pid ${before.pid}); ? shows the keys`, 'info');
      return;
    }
    try {
      this.host.flash('starting the engine…', 'busy');
      const e = await ensureEngine(this.ctx.project, { env: this.env });
      this.host.flash(`engine started (pid ${e.pid}); starting agents…`, 'busy');
      const report: UpReport = await this.manager.up();
      this.log.info({ event: 'console_up', created: report.created, restarted: report.restarted, failed: report.failed }, 'team started from the console');
      if (report.failed.length > 0) this.host.flash(`${report.failed.length} agent(s) failed to start: ${report.failed[0]!.agent}: ${report.failed[0]!.error}`, 'error');
      else this.host.flash(`engine pid ${e.pid}; ${report.created.length + report.restarted.length} agent(s) started, ${report.running.length} already running · ? shows the keys`, 'ok');
    } catch (err) {
      this.fail('starting the engine', err);
    }
    this.host.kick();
  }

  // ------------------------------------------------------------------ agent actions

  send(a: AgentRow): void {
    const cfg = this.team.project.config.agents.find((x) => x.name === a.name);
    const dialog = new SendDialog(a.name, cfg?.priority ?? this.team.project.config.defaults.priority);
    this.host.openDialog(dialog, async (v) => {
      const value = v as { text: string; priority: number };
      const r = await this.queue.send(a.name, value.text, { priority: value.priority, sender: 'console' });
      return r.created ? `queued ${r.message.id} for ${a.name} at priority ${r.message.priority} (${r.ahead} ahead)` : `already queued as ${r.message.id}`;
    });
  }

  rebrief(a: AgentRow): void {
    this.background(`rebriefing ${a.name}`, () => control(this.team, 'rebrief', a.name));
  }

  pauseOrResume(a: AgentRow): void {
    this.background(`${a.paused ? 'resuming' : 'pausing'} ${a.name}`, () => control(this.team, a.paused ? 'resume' : 'pause', a.name));
  }

  restart(a: AgentRow): void {
    this.host.openDialog(
      new ConfirmDialog(
        ` Restart ${a.name} `,
        `Restart ${a.name}?`,
        `The agent process is killed and started again, resuming its session; an open breaker is closed. (${a.restartsLastHour} restart(s) in the last hour.)`,
      ),
      () => this.background(`restarting ${a.name}`, () => control(this.team, 'restart', a.name), { critical: true }),
    );
  }

  stop(a: AgentRow): void {
    this.host.openDialog(new ConfirmDialog(` Stop ${a.name} `, `Stop ${a.name}?`, 'Its queue and worktree are kept; R starts it again.'), () => {
      this.background(`stopping ${a.name}`, () => control(this.team, 'stop', a.name), { critical: true });
    });
  }

  newAgent(current: AgentRow | null): void {
    const profiles = [...this.ctx.project.profiles.values()].map((p) => ({ name: p.name, description: p.description }));
    const initial = current?.profile ?? 'demo';
    const project = this.ctx.project;
    const validate = (name: string) => {
      try {
        // The profile is chosen in the same dialog; only the name is checked here.
        checkNewAgent(project, { name, profile: project.profiles.has(initial) ? initial : ([...project.profiles.keys()][0] ?? initial) });
        return null;
      } catch (err) {
        return errorMessage(err);
      }
    };
    this.host.openDialog(new NewAgentDialog(profiles, initial, validate), (v) => {
      const value = v as { name: string; profile: string };
      this.background(`adding ${value.name}`, () => this.addAgent(value.name, value.profile), { critical: true });
    });
  }

  private async addAgent(name: string, profile: string): Promise<string> {
    const team = await addAgent(this.team.project, this.team.store, { name, profile });
    this.team = { ...this.team, project: team };
    this.ctx = this.nodes ? nodeContext(this.team, this.nodes.here) : this.team;
    const project = this.ctx.project;
    this.manager = new AgentManager(project, this.ctx.store, this.log);
    this.queue = new QueueService(team, this.team.store, this.log, this.team.selection);
    this.snapshots = this.newSnapshots();
    this.host.servicesChanged();
    await this.snapshots.refreshPanes();
    this.host.select(name);
    const report = await this.manager.up([name]);
    if (report.failed.length > 0) throw new Error(`added ${name} to hornets.json but it failed to start: ${report.failed[0]!.error}`);
    // The engine read hornets.json when it started: restart it so it looks after the new agent too.
    let engine = '';
    if (engineStatus(project.paths.root).running) {
      await stopEngine(project);
      const e = await ensureEngine(project, { env: this.env });
      engine = `; engine restarted (pid ${e.pid})`;
    }
    return `added and started ${name} (${profile})${engine}`;
  }

  diff(a: AgentRow): void {
    if (a.remote) return this.host.flash(`${a.name} runs on node "${a.node}": its worktree is on that host (attach there, or git fetch its branch)`, 'error');
    this.background(`reading the diff of ${a.name}`, async () => {
      const { status, diff } = await worktreeChanges(a.worktree);
      const t = this.host.theme;
      const lines = [
        ...status
          .split('\n')
          .filter(Boolean)
          .map((l) => t.paint(esc(clean(l)), 'muted')),
        '',
        ...(diff.trim() === ''
          ? ['no changes against HEAD (untracked files are listed above)']
          : diff
              .replace(/\n$/, '')
              .split('\n')
              .map((raw) => {
                const l = esc(clean(raw.replace(/\t/g, '    ')));
                if (raw.startsWith('+++') || raw.startsWith('---') || raw.startsWith('diff --git')) return t.paint(l, 'bold');
                if (raw.startsWith('+')) return t.paint(l, 'added');
                if (raw.startsWith('-')) return t.paint(l, 'removed');
                if (raw.startsWith('@@')) return t.paint(l, 'hunk');
                return l;
              })),
      ];
      this.host.openDialog(new TextDialog(` git diff · ${a.name} · ${a.worktree} `, lines, { full: true }));
    });
  }

  explain(row: QueueRow): void {
    this.background(`reading ${row.id}`, async () => {
      const m = await this.ctx.store.get(row.id);
      const why = (await this.queue.explain(row.id)).why;
      const t = this.host.theme;
      const lines = [
        `id        ${esc(m.id)}`,
        `agent     ${esc(m.agent)}`,
        `state     ${esc(m.state)}`,
        `priority  ${m.priority}`,
        `attempts  ${m.attempts}/${m.maxAttempts}${m.redeliveries ? ` (redelivered ${m.redeliveries}×)` : ''}`,
        `from      ${esc(m.sender ?? '-')}`,
        `queued    ${new Date(m.createdAt).toISOString().replace('T', ' ').slice(0, 19)}Z`,
        '',
        t.paint('why', 'bold'),
        ...why.match(/.{1,70}(\s|$)|.{70}/g)!.map((l) => `  ${esc(l.trim())}`),
        '',
        t.paint('text', 'bold'),
        ...m.body
          .split('\n')
          .slice(0, 400)
          .map((l) => `  ${esc(clean(l))}`),
      ];
      this.host.openDialog(new TextDialog(` Message ${m.id} `, lines, { full: true }));
    });
  }

  // ------------------------------------------------------------------ task workers

  /** The same service as `tasks cancel`: the engine stops a running run within a second. */
  cancelTask(t: TaskRow): void {
    const running = t.state === 'running' ? ' Its run is stopped (its process group killed).' : '';
    this.host.openDialog(new ConfirmDialog(` Cancel ${t.id} `, `Cancel task ${t.id}?`, `Task of ${t.worker}, ${t.state}.${running} r queues it again later.`), () =>
      this.background(`cancelling ${t.id}`, async () => {
        const task = await new WorkerTaskService(this.team).cancel(t.id, 'cancelled from the console');
        return `cancelled ${task.taskId} (${task.worker})${t.state === 'running' ? '; its run is being stopped' : ''}`;
      }),
    );
  }

  /** The same service as `tasks retry`: a failed or cancelled task is queued again with a fresh retry budget. */
  retryTask(t: TaskRow): void {
    this.host.openDialog(
      new ConfirmDialog(` Retry ${t.id} `, `Retry task ${t.id}?`, `Task of ${t.worker}, ${t.state}. It is queued again with a fresh retry budget and runs the agent CLI again.`),
      () =>
        this.background(`retrying ${t.id}`, async () => {
          const task = await new WorkerTaskService(this.team).retry(t.id);
          return `queued ${task.taskId} (${task.worker}) again`;
        }),
    );
  }

  quitAll(): void {
    this.host.openDialog(
      new ConfirmDialog(' Quit and stop everything ', 'Stop every agent and the engine, then quit?', 'The queue and the worktrees are kept; `hornets-tui` starts everything again.'),
      () => this.stopEverything(),
    );
  }

  private async stopEverything(): Promise<string> {
    // A start-up still running would bring agents up again behind `down`.
    if (this.busy) {
      this.host.flash("waiting for the team's start-up, then stopping everything…", 'busy');
      await this.settled();
    }
    this.host.flash('stopping the engine and every agent…', 'busy');
    try {
      await stopEngine(this.ctx.project);
      const r = await this.manager.down();
      this.log.info({ event: 'console_stop_all', stopped: r.stopped }, 'stopped everything from the console');
    } catch (err) {
      this.fail('stopping everything', err);
      return '';
    }
    this.host.close();
    return '';
  }
}
