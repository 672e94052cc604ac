/**
 * The console controller: owns the blessed screen, routes keys to actions (through the keymap),
 * calls services, and re-renders the views from TeamSnapshots. It is a client of the engine: it
 * never owns the agents, so quitting leaves them running.
 *
 * Responsiveness: a key press only changes view state and re-renders from the snapshot in memory;
 * every service or tmux call runs in the background and reports in the message line.
 */
import { appendFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import blessed from 'blessed';
import type { ProjectContext } from '../services/context.js';
import { AgentManager } from '../services/agents.js';
import { control } from '../services/control.js';
import { QueueService } from '../services/queue-service.js';
import { SnapshotService, type AgentRow, type QueueRow, type TeamSnapshot } from '../services/snapshot.js';
import { addAgent } from '../services/team.js';
import { engineStatus, ensureEngine, stopEngine } from '../services/engine-service.js';
import { Git } from '../git/git.js';
import { AGENT_NAME_RE, agentNameRule, durationMs } from '../config/schema.js';
import type { Logger } from '../log.js';
import { errorMessage } from '../errors.js';
import { hintsFor, helpLines, panels, resolveKey, type ActionId, type Binding, type KeyEvent, type Panel } from './keymap.js';
import { chooseColor, makeTheme, type Theme } from './theme.js';
import { computeLayout, type Layout, type Rect } from './layout.js';
import { filterAgents, renderAgents, scrollOffset } from './views/agents.js';
import { QUEUE_ROW_LINES, renderQueue, scopeQueue } from './views/queue.js';
import { recoveryLines } from './views/recovery.js';
import { previewWindow, renderPreview } from './views/preview.js';
import { renderHeader, renderMessage, renderStatus, type MessageLevel } from './views/chrome.js';
import { ConfirmDialog, FilterInput, NewAgentDialog, SendDialog, TextDialog, type Dialog } from './dialogs.js';
import { PreviewFeed } from './preview.js';
import { clean, esc, fit } from './text.js';

export interface ConsoleOptions {
  ctx: ProjectContext;
  keymap: Binding[];
  /** Start the engine (daemon) and the team if no engine runs. */
  startEngine: boolean;
  /** Environment for the engine process. */
  env?: NodeJS.ProcessEnv;
  /** hornets.json console.theme. */
  theme?: 'auto' | 'color' | 'mono';
  refreshMs?: number;
  panesMs?: number;
  /** File to append key-to-repaint timings to (HORNETS_TUI_BENCH). */
  benchFile?: string;
  /** blessed screen input/output (tests); default the process TTY. */
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream;
}

type Boxes = Record<'header' | 'agents' | 'preview' | 'queue' | 'recovery' | 'message' | 'status' | 'dialog', blessed.Widgets.BoxElement>;

/** After a key press, background refreshes wait this long (they would delay the next key). */
const KEY_QUIET_MS = 150;

const panelTitles: Record<Panel, string> = { agents: 'Agents', preview: 'Preview', queue: 'Queue', recovery: 'Recovery' };

export class Console {
  private ctx: ProjectContext;
  private manager: AgentManager;
  private queue: QueueService;
  private snapshots: SnapshotService;
  private readonly log: Logger;
  private readonly screen: blessed.Widgets.Screen;
  private readonly boxes: Boxes;
  private readonly theme: Theme;
  private preview: PreviewFeed;
  private layout: Layout;

  private snapshot: TeamSnapshot | null = null;
  private focus: Panel = 'agents';
  private selected: string | null = null;
  private agentOffset = 0;
  private queueSelected: string | null = null;
  private queueOffset = 0;
  private previewBack = 0;
  private recoveryOffset = 0;
  private scopeAll = false;
  private filter = '';
  private filterInput: FilterInput | null = null;
  private dialogs: Dialog<unknown>[] = [];
  private dialogHandlers = new Map<Dialog<unknown>, (value: unknown) => Promise<string | void> | string | void>();
  private message = { text: '', level: 'info' as MessageLevel, at: 0 };

  private timers: NodeJS.Timeout[] = [];
  private refreshing = false;
  private refreshAgain = false;
  private panesRefreshing = false;
  private suspended = false;
  private closed = false;
  private rendered = new Map<string, string>();
  private exitResolve: (() => void) | null = null;
  private lastKeyAt = 0;
  private keyCount = 0;
  private deferred: NodeJS.Timeout | null = null;
  /** Time blessed took for the last frame (benchmark aid). */
  private lastBlessedMs = 0;
  private readonly exited: Promise<void>;

  constructor(private readonly o: ConsoleOptions) {
    this.ctx = o.ctx;
    this.log = o.ctx.log; // opened with component "console"
    this.manager = new AgentManager(this.ctx.project, this.ctx.store, this.log);
    this.queue = new QueueService(this.ctx.project, this.ctx.store, this.log);
    this.snapshots = new SnapshotService(this.ctx.project, this.ctx.store, this.manager);
    this.exited = new Promise((resolve) => (this.exitResolve = resolve));

    // blessed prints (console.error) the terminfo capabilities it cannot compile, e.g. Setulc of
    // xterm-256color: harmless, but it must not land on the user's terminal.
    const consoleError = console.error;
    console.error = () => undefined;
    try {
      this.screen = blessed.screen({
        smartCSR: true,
        fullUnicode: true,
        warnings: false,
        autoPadding: false,
        title: `hornets-tui · ${this.ctx.project.config.project}`,
        ...(o.input ? { input: o.input as NodeJS.ReadStream } : {}),
        ...(o.output ? { output: o.output as NodeJS.WriteStream } : {}),
      });
    } finally {
      console.error = consoleError;
    }
    // Box-drawing characters as UTF-8, not the VT100 alternate character set: they survive
    // capture-pane and every UTF-8 terminal draws them.
    (this.screen as unknown as { tput: { brokenACS: boolean } }).tput.brokenACS = true;
    const colors = (this.screen as unknown as { tput: { colors: number } }).tput.colors ?? 8;
    this.theme = makeTheme(chooseColor(o.theme ?? 'auto', colors));

    this.layout = computeLayout(this.screen.width as number, this.screen.height as number, this.ctx.project.config.agents.length);
    this.boxes = this.createBoxes();
    this.preview = this.newPreview();

    this.screen.on('keypress', (ch: string | undefined, key: blessed.Widgets.Events.IKeyEventArg | undefined) => this.onKey(ch, key));
    this.screen.on('resize', () => this.onResize());
  }

  // ------------------------------------------------------------------ life cycle

  async run(): Promise<void> {
    this.flash(this.o.startEngine ? 'reading state…' : '', 'busy');
    this.renderAll();
    this.timers.push(setInterval(() => void this.refresh(), this.o.refreshMs ?? 500));
    this.timers.push(setInterval(() => void this.refreshPanes(), this.o.panesMs ?? 2000));
    await this.refreshPanes();
    await this.refresh();
    this.bench(`ready ${process.pid}`);
    if (this.o.startEngine) void this.startEngine();
    await this.exited;
  }

  private async startEngine(): Promise<void> {
    const before = engineStatus(this.ctx.project.paths.root);
    if (before.running) {
      this.flash(`engine running (pid ${before.pid}); ? shows the keys`, 'info');
      return;
    }
    try {
      this.flash('starting the engine…', 'busy');
      const e = await ensureEngine(this.ctx.project, { env: this.o.env });
      this.flash(`engine started (pid ${e.pid}); starting agents…`, 'busy');
      const report = await this.manager.up();
      this.log.info({ event: 'console_up', created: report.created, restarted: report.restarted, failed: report.failed }, 'team started from the console');
      if (report.failed.length > 0) this.flash(`${report.failed.length} agent(s) failed to start: ${report.failed[0]!.agent}: ${report.failed[0]!.error}`, 'error');
      else this.flash(`engine pid ${e.pid}; ${report.created.length + report.restarted.length} agent(s) started, ${report.running.length} already running · ? shows the keys`, 'ok');
    } catch (err) {
      this.fail('starting the engine', err);
    }
    this.kick();
  }

  private shutdown(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    if (this.deferred) clearTimeout(this.deferred);
    this.preview.stop();
    this.screen.destroy();
    this.exitResolve?.();
  }

  /** `q`: the console goes, agents and the engine stay. */
  quit(): void {
    this.log.info({ event: 'console_quit' }, 'console closed; agents keep running');
    this.shutdown();
  }

  // ------------------------------------------------------------------ data

  private kick(): void {
    void this.refreshPanes().then(() => this.refresh());
  }

  private async refresh(): Promise<void> {
    if (this.closed) return;
    // Keys first: while someone is typing or holding j, reading state waits a moment.
    const sinceKey = performance.now() - this.lastKeyAt;
    if (sinceKey < KEY_QUIET_MS) {
      if (!this.deferred) {
        this.deferred = setTimeout(() => {
          this.deferred = null;
          void this.refresh();
        }, KEY_QUIET_MS - sinceKey);
      }
      return;
    }
    if (this.refreshing) {
      this.refreshAgain = true;
      return;
    }
    this.refreshing = true;
    try {
      const t0 = performance.now();
      this.snapshot = await this.snapshots.build();
      const t1 = performance.now();
      this.syncSelection();
      if (!this.suspended) this.renderAll();
      if (this.o.benchFile) this.bench(`refresh build ${(t1 - t0).toFixed(3)} render ${(performance.now() - t1).toFixed(3)}`);
    } catch (err) {
      this.log.warn({ event: 'snapshot_failed', error: errorMessage(err) }, 'snapshot failed');
      this.flash(`cannot read state: ${errorMessage(err)}`, 'error');
    } finally {
      this.refreshing = false;
      if (this.refreshAgain) {
        this.refreshAgain = false;
        void this.refresh();
      }
    }
  }

  private async refreshPanes(): Promise<void> {
    if (this.closed || this.panesRefreshing) return;
    this.panesRefreshing = true;
    try {
      await this.snapshots.refreshPanes();
      if (this.snapshot?.agents.some((a) => a.alive) || (await this.manager.tmux.hasSession(this.manager.session))) this.preview.ensureControl();
    } finally {
      this.panesRefreshing = false;
    }
  }

  private newPreview(): PreviewFeed {
    let windowsTimer: NodeJS.Timeout | null = null;
    return new PreviewFeed(
      this.manager.tmux,
      this.manager.session,
      () => {
        if (!this.suspended && !this.closed) this.renderAll();
      },
      () => {
        // Windows came or went: look at the panes again soon (coalesced).
        if (windowsTimer) return;
        windowsTimer = setTimeout(() => {
          windowsTimer = null;
          this.kick();
        }, 100);
      },
      this.log,
    );
  }

  // ------------------------------------------------------------------ selection

  private visibleAgents(): AgentRow[] {
    return filterAgents(this.snapshot?.agents ?? [], this.filter);
  }

  private selectedAgent(): AgentRow | null {
    return this.visibleAgents().find((a) => a.name === this.selected) ?? null;
  }

  private queueRows(): QueueRow[] {
    return scopeQueue(this.snapshot?.queue ?? [], this.scopeAll ? null : this.selected);
  }

  private syncSelection(): void {
    const rows = this.visibleAgents();
    if (!rows.some((a) => a.name === this.selected)) this.selected = rows[0]?.name ?? null;
    const q = this.queueRows();
    if (!q.some((m) => m.id === this.queueSelected)) this.queueSelected = q[0]?.id ?? null;
    this.preview.show(this.selectedAgent()?.paneId ?? null);
  }

  private move(delta: number | 'top' | 'bottom'): void {
    const step = (index: number, count: number) => {
      if (count === 0) return -1;
      if (delta === 'top') return 0;
      if (delta === 'bottom') return count - 1;
      return Math.max(0, Math.min(count - 1, index + delta));
    };
    switch (this.focus) {
      case 'agents': {
        const rows = this.visibleAgents();
        const i = step(rows.findIndex((a) => a.name === this.selected), rows.length);
        if (i >= 0) {
          this.selected = rows[i]!.name;
          this.previewBack = 0;
          this.queueSelected = null;
          this.queueOffset = 0;
          this.recoveryOffset = 0;
          this.syncSelection();
        }
        break;
      }
      case 'queue': {
        const rows = this.queueRows();
        const i = step(rows.findIndex((m) => m.id === this.queueSelected), rows.length);
        if (i >= 0) this.queueSelected = rows[i]!.id;
        break;
      }
      case 'preview': {
        const inner = Math.max(1, this.layout.preview.height - 2);
        const back = delta === 'top' ? Number.MAX_SAFE_INTEGER : delta === 'bottom' ? 0 : this.previewBack - delta;
        this.previewBack = previewWindow(this.preview.lines.length, inner, back).scrollBack;
        break;
      }
      case 'recovery': {
        const total = this.recoveryText().length;
        const inner = Math.max(1, this.layout.recovery.height - 2);
        const max = Math.max(0, total - inner);
        this.recoveryOffset = delta === 'top' ? 0 : delta === 'bottom' ? max : Math.max(0, Math.min(max, this.recoveryOffset + delta));
        break;
      }
    }
  }

  private pageSize(): number {
    const r: Rect = this.layout[this.focus];
    const inner = Math.max(1, r.height - 3);
    return this.focus === 'queue' ? Math.max(1, Math.floor(inner / QUEUE_ROW_LINES)) : inner;
  }

  // ------------------------------------------------------------------ keys

  private onKey(ch: string | undefined, key: blessed.Widgets.Events.IKeyEventArg | undefined): void {
    if (this.suspended || this.closed) return;
    // blessed reports Enter twice ("enter", then "return"): act on the first only.
    if (key?.full === 'return') return;
    const t0 = performance.now();
    this.lastKeyAt = t0;
    const ev: KeyEvent = { ch: ch ?? undefined, full: key?.full, name: key?.name };
    try {
      this.handleKey(ev);
    } catch (err) {
      this.fail('that key', err);
    }
    if (this.closed || this.suspended) return;
    const t1 = performance.now();
    this.renderAll(true);
    if (this.o.benchFile) {
      // A title sequence queued behind the frame: the benchmark sees it in tmux's %output when
      // the whole frame has reached the terminal.
      this.keyCount++;
      (this.screen.program as unknown as { _write(s: string): void })._write(`\x1b]2;hornets-key-${this.keyCount}\x07`);
      const t2 = performance.now();
      const blessedMs = this.lastBlessedMs;
      // The frame is written on the next tick (blessed buffers output): measure after it.
      setImmediate(() => this.bench(`key ${ev.full ?? ev.ch ?? '?'} ${(performance.now() - t0).toFixed(3)} handle ${(t1 - t0).toFixed(3)} render ${(t2 - t1).toFixed(3)} blessed ${blessedMs.toFixed(3)}`));
    }
  }

  private handleKey(ev: KeyEvent): void {
    if (this.filterInput) {
      const r = this.filterInput.key(ev);
      this.filter = r === 'clear' ? '' : this.filterInput.text;
      if (r !== 'edit') this.filterInput = null;
      this.agentOffset = 0;
      this.syncSelection();
      return;
    }
    const top = this.dialogs[this.dialogs.length - 1];
    if (top) {
      const r = top.key(ev);
      if (r.type === 'close') this.closeDialog(top);
      else if (r.type === 'submit') this.submitDialog(top, r.value);
      return;
    }
    const action = resolveKey(this.o.keymap, this.focus, ev);
    if (action) this.perform(action);
  }

  private perform(action: ActionId): void {
    const agent = this.selectedAgent();
    const needAgent = (): AgentRow | null => {
      if (!agent) this.flash('no agent selected', 'error');
      return agent;
    };
    switch (action) {
      case 'down':
        return this.move(1);
      case 'up':
        return this.move(-1);
      case 'pageDown':
        return this.move(this.pageSize());
      case 'pageUp':
        return this.move(-this.pageSize());
      case 'top':
        return this.move('top');
      case 'bottom':
        return this.move('bottom');
      case 'nextPanel':
      case 'prevPanel': {
        const i = panels.indexOf(this.focus);
        this.focus = panels[(i + (action === 'nextPanel' ? 1 : panels.length - 1)) % panels.length]!;
        return;
      }
      case 'scope':
        this.scopeAll = !this.scopeAll;
        this.queueOffset = 0;
        this.recoveryOffset = 0;
        this.syncSelection();
        this.flash(this.scopeAll ? 'queue and recovery: the whole team' : `queue and recovery: ${this.selected ?? 'the selected agent'} only`, 'info');
        return;
      case 'filter':
        this.filterInput = new FilterInput(this.filter);
        return;
      case 'help':
        this.openDialog(new TextDialog(' Keys ', helpLines(this.o.keymap).map(esc), { footer: 'j/k scroll · q/Esc/? close' }));
        return;
      case 'redraw':
        this.screen.realloc();
        this.rendered.clear();
        return;
      case 'quit':
        return this.quit();
      case 'quitAll':
        this.openDialog(new ConfirmDialog(' Quit and stop everything ', 'Stop every agent and the engine, then quit?', 'The queue and the worktrees are kept; `hornets-tui` starts everything again.'), () => this.stopEverything());
        return;
      case 'attach': {
        const a = needAgent();
        if (a) void this.attach(a);
        return;
      }
      case 'send': {
        const a = needAgent();
        if (!a) return;
        const cfg = this.ctx.project.config.agents.find((x) => x.name === a.name);
        const dialog = new SendDialog(a.name, cfg?.priority ?? this.ctx.project.config.defaults.priority);
        this.openDialog(dialog, async (v) => {
          const value = v as { text: string; priority: number };
          const r = await this.queue.send(a.name, value.text, { priority: value.priority, sender: 'console' });
          return r.created ? `queued ${r.message.id} for ${a.name} at priority ${r.message.priority} (${r.ahead} ahead)` : `already queued as ${r.message.id}`;
        });
        return;
      }
      case 'rebrief': {
        const a = needAgent();
        if (a) this.background(`rebriefing ${a.name}`, () => control(this.ctx, 'rebrief', a.name));
        return;
      }
      case 'pause': {
        const a = needAgent();
        if (a) this.background(`${a.paused ? 'resuming' : 'pausing'} ${a.name}`, () => control(this.ctx, a.paused ? 'resume' : 'pause', a.name));
        return;
      }
      case 'restart': {
        const a = needAgent();
        if (!a) return;
        this.openDialog(
          new ConfirmDialog(` Restart ${a.name} `, `Restart ${a.name}?`, `The agent process is killed and started again, resuming its session; an open breaker is closed. (${a.restartsLastHour} restart(s) in the last hour.)`),
          () => {
            this.background(`restarting ${a.name}`, () => control(this.ctx, 'restart', a.name));
          },
        );
        return;
      }
      case 'stop': {
        const a = needAgent();
        if (!a) return;
        this.openDialog(new ConfirmDialog(` Stop ${a.name} `, `Stop ${a.name}?`, 'Its queue and worktree are kept; R starts it again.'), () => {
          this.background(`stopping ${a.name}`, async () => `${a.name}: ${(await this.manager.stop(a.name)) === 'stopped' ? 'stopped (queue kept)' : 'was not running'}`);
        });
        return;
      }
      case 'new': {
        const profiles = [...this.ctx.project.profiles.values()].map((p) => ({ name: p.name, description: p.description }));
        const exists = new Set(this.ctx.project.config.agents.map((a) => a.name));
        const validate = (name: string) => (!AGENT_NAME_RE.test(name) ? `invalid name: ${agentNameRule}` : exists.has(name) ? `"${name}" already exists` : null);
        this.openDialog(new NewAgentDialog(profiles, agent?.profile ?? 'demo', validate), (v) => {
          const value = v as { name: string; profile: string };
          this.background(`adding ${value.name}`, () => this.addAgent(value.name, value.profile));
        });
        return;
      }
      case 'diff': {
        const a = needAgent();
        if (a) this.background(`reading the diff of ${a.name}`, () => this.showDiff(a));
        return;
      }
      case 'explain': {
        const row = this.queueRows().find((m) => m.id === this.queueSelected);
        if (row) this.background(`reading ${row.id}`, () => this.showMessage(row));
        return;
      }
    }
  }

  // ------------------------------------------------------------------ actions

  /** Runs a service call off the key path; its answer (or error) goes to the message line. */
  private background(label: string, fn: () => Promise<string | void>): void {
    this.flash(`${label}…`, 'busy');
    fn()
      .then((answer) => {
        if (answer) this.flash(answer, 'ok');
        else if (this.message.text === `${label}…`) this.flash('', 'info');
        this.kick();
      })
      .catch((err: unknown) => {
        this.fail(label, err);
        this.kick();
      });
  }

  private fail(what: string, err: unknown): void {
    const text = errorMessage(err).split('\n').join(' ');
    this.log.warn({ event: 'console_action_failed', action: what, error: text }, 'console action failed');
    this.flash(`${what}: ${text}`, 'error');
  }

  private flash(text: string, level: MessageLevel): void {
    this.message = { text, level, at: Date.now() };
    if (!this.suspended && !this.closed) this.renderAll();
  }

  private openDialog(d: Dialog<unknown>, onSubmit?: (value: unknown) => Promise<string | void> | string | void): void {
    this.dialogs.push(d);
    if (onSubmit) this.dialogHandlers.set(d, onSubmit);
  }

  private closeDialog(d: Dialog<unknown>): void {
    this.dialogs = this.dialogs.filter((x) => x !== d);
    this.dialogHandlers.delete(d);
  }

  /** A dialog's answer: confirmations close at once; the send dialog stays open until the queue accepted. */
  private submitDialog(d: Dialog<unknown>, value: unknown): void {
    const handler = this.dialogHandlers.get(d);
    if (!(d instanceof SendDialog)) {
      this.closeDialog(d);
      if (handler) void Promise.resolve(handler(value)).catch((err: unknown) => this.fail(d.title.trim(), err));
      return;
    }
    if (!handler) return this.closeDialog(d);
    this.flash('queueing…', 'busy');
    Promise.resolve(handler(value))
      .then((answer) => {
        this.closeDialog(d);
        if (answer) this.flash(answer, 'ok');
        this.kick();
      })
      .catch((err: unknown) => {
        d.error = errorMessage(err).split('\n').join(' ');
        this.fail('send', err);
      });
  }

  private async attach(agent: AgentRow): Promise<void> {
    if (!agent.alive) {
      this.flash(`${agent.name} is not running (${agent.state}); R starts it`, 'error');
      return;
    }
    let pane;
    try {
      pane = await this.manager.paneOf(agent.name);
    } catch (err) {
      this.fail(`attach ${agent.name}`, err);
      return;
    }
    if (pane.dead) {
      this.flash(`${agent.name} is not running (its pane is dead); R restarts it`, 'error');
      return;
    }
    this.log.info({ event: 'console_attach', agent: agent.name, pane: pane.paneId }, 'attaching');
    const restore = this.suspend();
    let code = 1;
    try {
      code = await this.manager.attachPane(pane);
    } catch (err) {
      restore();
      this.fail(`attach ${agent.name}`, err);
      return;
    }
    restore();
    this.flash(code === 0 ? `back from ${agent.name}` : `tmux attach exited with status ${code}`, code === 0 ? 'info' : 'error');
    this.kick();
  }

  /**
   * Hands the terminal over (as blessed's screen.spawn does): normal screen, cursor on, cooked
   * input, output muted until restore() redraws everything.
   */
  private suspend(): () => void {
    const program = this.screen.program as unknown as {
      lsaveCursor(k: string): void;
      lrestoreCursor(k: string, hide: boolean): void;
      normalBuffer(): void;
      alternateBuffer(): void;
      showCursor(): void;
      hideCursor(): void;
      flush(): void;
      mouseEnabled?: boolean;
      disableMouse(): void;
      enableMouse(): void;
      input: NodeJS.ReadStream;
      output: NodeJS.WriteStream;
    };
    this.suspended = true;
    program.lsaveCursor('attach');
    program.normalBuffer();
    program.showCursor();
    const mouse = Boolean(program.mouseEnabled);
    if (mouse) program.disableMouse();
    program.flush();
    const write = program.output.write;
    program.output.write = (() => true) as typeof write;
    program.input.pause();
    program.input.setRawMode?.(false);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      program.input.setRawMode?.(true);
      program.input.resume();
      program.output.write = write;
      program.alternateBuffer();
      program.hideCursor();
      if (mouse) program.enableMouse();
      this.suspended = false;
      this.onResize();
      this.screen.alloc();
      this.rendered.clear();
      this.renderAll(true);
      program.lrestoreCursor('attach', true);
    };
  }

  private async addAgent(name: string, profile: string): Promise<string> {
    const project = await addAgent(this.ctx.project, this.ctx.store, { name, profile });
    this.ctx = { ...this.ctx, project };
    this.manager = new AgentManager(project, this.ctx.store, this.log);
    this.queue = new QueueService(project, this.ctx.store, this.log);
    this.snapshots = new SnapshotService(project, this.ctx.store, this.manager);
    await this.snapshots.refreshPanes();
    this.selected = name;
    const report = await this.manager.up([name]);
    if (report.failed.length > 0) throw new Error(`added ${name} to hornets.json but it failed to start: ${report.failed[0]!.error}`);
    // The engine read hornets.json when it started: restart it so it looks after the new agent too.
    let engine = '';
    if (engineStatus(project.paths.root).running) {
      await stopEngine(project);
      const e = await ensureEngine(project, { env: this.o.env });
      engine = `; engine restarted (pid ${e.pid})`;
    }
    return `added and started ${name} (${profile})${engine}`;
  }

  private async showDiff(agent: AgentRow): Promise<void> {
    const status = await Git.statusShort(agent.worktree);
    const diff = await Git.diff(agent.worktree);
    const t = this.theme;
    const lines = [
      ...status.split('\n').filter(Boolean).map((l) => t.paint(esc(clean(l)), 'muted')),
      '',
      ...(diff.trim() === '' ? ['no changes against HEAD (untracked files are listed above)'] : diff.replace(/\n$/, '').split('\n').map((raw) => {
        const l = esc(clean(raw.replace(/\t/g, '    ')));
        if (raw.startsWith('+++') || raw.startsWith('---') || raw.startsWith('diff --git')) return t.paint(l, 'bold');
        if (raw.startsWith('+')) return t.paint(l, 'added');
        if (raw.startsWith('-')) return t.paint(l, 'removed');
        if (raw.startsWith('@@')) return t.paint(l, 'hunk');
        return l;
      })),
    ];
    this.openDialog(new TextDialog(` git diff · ${agent.name} · ${agent.worktree} `, lines, { full: true }));
  }

  private async showMessage(row: QueueRow): Promise<void> {
    const m = await this.ctx.store.get(row.id);
    const why = (await this.queue.explain(row.id)).why;
    const lines = [
      `id        ${esc(m.id)}`,
      `agent     ${esc(m.agent)}`,
      `state     ${esc(m.state)}`,
      `priority  ${m.priority}`,
      `attempts  ${m.attempts}/${m.maxAttempts}${m.redeliveries ? ` (redelivered ${m.redeliveries}×)` : ''}`,
      `from      ${esc(m.sender ?? '-')}`,
      `queued    ${new Date(m.createdAt).toISOString().replace('T', ' ').slice(0, 19)}Z`,
      '',
      this.theme.paint('why', 'bold'),
      ...why.match(/.{1,70}(\s|$)|.{70}/g)!.map((l) => `  ${esc(l.trim())}`),
      '',
      this.theme.paint('text', 'bold'),
      ...m.body.split('\n').slice(0, 400).map((l) => `  ${esc(clean(l))}`),
    ];
    this.openDialog(new TextDialog(` Message ${m.id} `, lines, { full: true }));
  }

  private async stopEverything(): Promise<string> {
    this.flash('stopping the engine and every agent…', 'busy');
    try {
      await stopEngine(this.ctx.project);
      const r = await this.manager.down();
      this.log.info({ event: 'console_stop_all', stopped: r.stopped }, 'stopped everything from the console');
    } catch (err) {
      this.fail('stopping everything', err);
      return '';
    }
    this.shutdown();
    return '';
  }

  // ------------------------------------------------------------------ rendering

  private createBoxes(): Boxes {
    const mk = (opts: blessed.Widgets.BoxOptions) => blessed.box({ parent: this.screen, tags: true, wrap: false, ...opts } as blessed.Widgets.BoxOptions);
    const border = { type: 'line' as const };
    const panelBox = (tags = true) => mk({ border, tags, style: { border: {} } });
    return {
      header: mk({}),
      agents: panelBox(),
      preview: panelBox(false),
      queue: panelBox(),
      recovery: panelBox(),
      message: mk({}),
      status: mk({}),
      dialog: mk({ border, hidden: true, style: { border: {} } }),
    };
  }

  private onResize(): void {
    this.layout = computeLayout(this.screen.width as number, this.screen.height as number, this.snapshot?.agents.length ?? this.ctx.project.config.agents.length);
    this.rendered.clear();
    if (!this.suspended && !this.closed) this.renderAll(true);
  }

  private place(box: blessed.Widgets.BoxElement, r: Rect): void {
    if (box.top !== r.top) box.top = r.top;
    if (box.left !== r.left) box.left = r.left;
    if (box.width !== r.width) box.width = r.width;
    if (box.height !== r.height) box.height = r.height;
  }

  /** Sets content only when it changed; returns whether it did. */
  private set(name: string, box: blessed.Widgets.BoxElement, content: string): boolean {
    if (this.rendered.get(name) === content) return false;
    this.rendered.set(name, content);
    box.setContent(content);
    return true;
  }

  private recoveryText(): string[] {
    const s = this.snapshot;
    if (!s) return [];
    const agents = this.scopeAll ? s.agents : s.agents.filter((a) => a.name === this.selected);
    const events = this.scopeAll ? s.events : s.events.filter((e) => e.agent === this.selected);
    return recoveryLines(agents, events, { width: Math.max(1, this.layout.recovery.width - 2), now: Date.now(), theme: this.theme });
  }

  renderAll(force = false): void {
    if (this.closed || this.suspended) return;
    const L = (this.layout = computeLayout(this.screen.width as number, this.screen.height as number, this.snapshot?.agents.length ?? this.ctx.project.config.agents.length));
    const t = this.theme;
    const now = Date.now();
    const s = this.snapshot;
    let changed = force;
    const b = this.boxes;
    for (const [name, rect] of Object.entries({ header: L.header, agents: L.agents, preview: L.preview, queue: L.queue, recovery: L.recovery, message: L.message, status: L.status }) as [keyof Boxes, Rect][]) this.place(b[name], rect);

    // Panel borders and labels: the focused one is marked (colour, and ▶ for mono terminals).
    const label = (p: Panel, text: string) => {
      const box = b[p];
      const focused = this.focus === p;
      const l = ` ${focused ? '▶ ' : ''}${text} `;
      if (this.rendered.get(`${p}:label`) !== l) {
        this.rendered.set(`${p}:label`, l);
        box.setLabel(l);
        (box.style as { border: { fg?: string } }).border.fg = focused ? t.focusBorder : undefined;
        changed = true;
      }
    };

    changed = this.set('header', b.header, renderHeader(s, { width: L.header.width, theme: t, filter: this.filter, now })) || changed;

    const rows = this.visibleAgents();
    const innerW = (r: Rect) => Math.max(1, r.width - 2);
    const innerH = (r: Rect) => Math.max(1, r.height - 2);
    const selIndex = rows.findIndex((a) => a.name === this.selected);
    this.agentOffset = scrollOffset(this.agentOffset, Math.max(0, selIndex), innerH(L.agents) - 1, rows.length);
    label('agents', `${panelTitles.agents} ${rows.length}${this.filter ? `/${s?.agents.length ?? 0} (filter "${this.filter}")` : ''}`);
    changed = this.set('agents', b.agents, s ? renderAgents(rows, { width: innerW(L.agents), height: innerH(L.agents), selected: selIndex, offset: this.agentOffset, now, theme: t }) : esc(' reading state…')) || changed;

    const agent = this.selectedAgent();
    const pv = previewWindow(this.preview.lines.length, innerH(L.preview), this.previewBack);
    this.previewBack = pv.scrollBack;
    label('preview', `${panelTitles.preview} · ${agent ? `${agent.name}${agent.paneId ? ` ${agent.paneId}` : ''}` : '-'}${!agent?.alive ? ' (not running)' : this.preview.live ? ' · live' : ''}${pv.scrollBack > 0 ? ` · ↑${pv.scrollBack}` : ''}`);
    const previewText = agent?.alive && this.preview.shownPane === agent.paneId
      ? renderPreview(this.preview.lines, { width: innerW(L.preview), height: innerH(L.preview), scrollBack: this.previewBack })
      : agent?.alive ? '' : fit(agent ? ` ${agent.name} is ${agent.state}; R starts it` : '', innerW(L.preview));
    changed = this.set('preview', b.preview, previewText) || changed;

    const q = this.queueRows();
    const qi = q.findIndex((m) => m.id === this.queueSelected);
    const qCap = Math.max(1, Math.floor((innerH(L.queue) - 1) / QUEUE_ROW_LINES));
    this.queueOffset = scrollOffset(this.queueOffset, Math.max(0, qi), qCap, q.length);
    const pending = q.filter((m) => m.pending).length;
    label('queue', `${panelTitles.queue} · ${this.scopeAll ? 'all agents' : (this.selected ?? '-')} · ${pending} pending`);
    changed = this.set('queue', b.queue, renderQueue(q, { width: innerW(L.queue), height: innerH(L.queue), selected: qi, offset: this.queueOffset, showAgent: this.scopeAll, focused: this.focus === 'queue', theme: t })) || changed;

    const rec = this.recoveryText();
    this.recoveryOffset = Math.min(this.recoveryOffset, Math.max(0, rec.length - innerH(L.recovery)));
    label('recovery', `${panelTitles.recovery} · restarts, backoff, breakers · ${this.scopeAll ? 'all agents' : (this.selected ?? '-')}`);
    changed = this.set('recovery', b.recovery, rec.slice(this.recoveryOffset, this.recoveryOffset + innerH(L.recovery)).join('\n')) || changed;

    // Messages fade after 10 s, errors after 30 s.
    const ttl = this.message.level === 'error' ? 30_000 : this.message.level === 'busy' ? Infinity : 10_000;
    const msgText = this.filterInput ? this.filterInput.render(L.message.width, t) : now - this.message.at < ttl ? renderMessage(this.message.text, this.message.level, { width: L.message.width, theme: t }) : '';
    changed = this.set('message', b.message, msgText) || changed;
    changed = this.set('status', b.status, renderStatus(hintsFor(this.o.keymap, this.focus), { width: L.status.width, theme: t, panel: panelTitles[this.focus] })) || changed;

    changed = this.renderDialog() || changed;
    if (changed) {
      const t0 = this.o.benchFile ? performance.now() : 0;
      this.screen.render();
      if (this.o.benchFile) this.lastBlessedMs = performance.now() - t0;
    }
  }

  private renderDialog(): boolean {
    const box = this.boxes.dialog;
    const top = this.dialogs[this.dialogs.length - 1];
    if (!top) {
      if (box.hidden) return false;
      box.hide();
      this.rendered.delete('dialog');
      return true;
    }
    const W = this.screen.width as number;
    const H = this.screen.height as number;
    const size = top.size(W, H);
    const width = Math.max(10, Math.min(W, size.width));
    const height = Math.max(4, Math.min(H, size.height));
    this.place(box, { top: Math.max(0, Math.floor((H - height) / 2)), left: Math.max(0, Math.floor((W - width) / 2)), width, height });
    const content = top.render(width - 2, height - 2, this.theme);
    let changed = false;
    if (box.hidden) {
      box.show();
      box.setFront();
      changed = true;
    }
    if (this.rendered.get('dialog:label') !== top.title) {
      this.rendered.set('dialog:label', top.title);
      box.setLabel(top.title);
      (box.style as { border: { fg?: string } }).border.fg = this.theme.focusBorder;
      changed = true;
    }
    return this.set('dialog', box, content) || changed;
  }

  private bench(line: string): void {
    if (!this.o.benchFile) return;
    try {
      appendFileSync(this.o.benchFile, `${line}\n`);
    } catch {
      // a benchmark aid only
    }
  }
}

export function refreshMs(ctx: ProjectContext): number {
  const v = ctx.project.config.console?.refresh;
  return v === undefined ? 500 : Math.max(100, durationMs(v));
}
