/**
 * The console: owns the blessed screen, routes keys (through the keymap) to the view-model
 * (view-model.ts: navigation, filter, dialogs) or to the controllers (controllers.ts: service calls),
 * and copies the view-model's frames to the screen. The terminal hand-over for attach is in
 * terminal.ts. It is a client of the engine: it never owns the agents, so quitting leaves them
 * running — and it never leaves the team half up (q during start-up waits for it).
 *
 * Responsiveness: a key press only changes view state and re-renders from the snapshot in memory;
 * every service or tmux call runs in the background and reports in the message line.
 *
 * Idle cost: the refresh tick only asks whether anything changed (the store's change counter, the
 * engine's files, whether the last pane look-up found something new) and reads the state only then; what the clock
 * alone moves (ages, countdowns) is redrawn from the last snapshot when it changes (clock.ts); tmux
 * is asked about panes every few seconds while agents come and go and rarely when all is steady
 * (the control client reports windows coming and going at once).
 */
import { appendFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import blessed from 'blessed';
import type { ProjectContext } from '../services/context.js';
import type { TeamSnapshot } from '../services/snapshot.js';
import { PanePreviewService } from '../services/preview.js';
import { parseDuration } from '../domain/duration.js';
import type { Logger } from '../log.js';
import { errorMessage } from '../errors.js';
import { resolveKey, type ActionId, type Binding, type KeyEvent, type Panel } from './keymap.js';
import { chooseColor, makeTheme, type Theme } from './theme.js';
import type { Rect } from './layout.js';
import { SendDialog, TextDialog, type Dialog } from './dialogs.js';
import type { MessageLevel } from './views/chrome.js';
import { PreviewFeed } from './preview.js';
import { Controllers, type TeamView } from './controllers.js';
import { QUIT_WHEN_STARTED, ViewModel, messageTtl, type Frame, type PanelFrame } from './view-model.js';
import { attachToAgent, attachToRemoteAgent, suspendScreen } from './terminal.js';
import { nextClockChange } from './clock.js';
import { StateChangeFeed } from '../services/state-changes.js';
import { TerminalAlerts, alertsWanted } from './alerts.js';

export interface ConsoleOptions {
  /** This node's view: the agents the console starts and manages. */
  ctx: ProjectContext;
  /** A team on Redis: every node's agents (shown; controlled through their node) and the node registry feed. */
  view?: TeamView;
  keymap: Binding[];
  /** Start the engine (daemon) and the team if no engine runs. */
  startEngine: boolean;
  /** Environment for the engine process. */
  env?: NodeJS.ProcessEnv;
  /** hornets.json console.theme. */
  theme?: 'auto' | 'color' | 'mono';
  /** NO_COLOR was set. */
  noColor?: boolean;
  refreshMs?: number;
  /** Pane look-ups while agents start, crash or back off (and tmux is unreachable). */
  panesMs?: number;
  /** Pane look-ups while the team is steady (window changes are reported at once anyway). */
  steadyPanesMs?: number;
  /** File to append key-to-repaint timings to (HORNETS_TUI_BENCH). */
  benchFile?: string;
  /** blessed screen input/output (tests); default the process TTY. */
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream;
}

type Boxes = Record<'header' | 'agents' | 'preview' | 'queue' | 'recovery' | 'tasks' | 'message' | 'status' | 'dialog', blessed.Widgets.BoxElement>;

const TEAM_BOXES = ['agents', 'preview', 'queue', 'recovery'] as const;

/** After a key press, background refreshes wait this long (they would delay the next key). */
const KEY_QUIET_MS = 150;

/** Agent states that change without a hook event (tmux or recovery moves them): look at panes often. */
const IN_FLUX: ReadonlySet<string> = new Set(['unknown', 'starting', 'crashed', 'backing-off']);

export class Console {
  private readonly log: Logger;
  private readonly screen: blessed.Widgets.Screen;
  private readonly boxes: Boxes;
  private readonly theme: Theme;
  private readonly vm: ViewModel;
  private readonly actions: Controllers;
  private preview: PreviewFeed;

  private timers: NodeJS.Timeout[] = [];
  private refreshing = false;
  private refreshAgain = false;
  /** The next refresh reads the state whatever the probe says (an action, a window change). */
  private forceBuild = true;
  /** What the store and the engine looked like at the last build (undefined: never built). */
  private lastProbe: { data: string; engine: string } | null | undefined = undefined;
  private lastPanes = -1;
  private lastService: unknown = null;
  /** When a text on screen changes with the clock alone (ages, countdowns, the header's clock). */
  private nextClockAt = 0;
  private panesTimer: NodeJS.Timeout | null = null;
  /** Whether the planned pane look-up is the soon one (agents in flux) or the steady one. */
  private panesSoon = true;
  private panesRefreshing = false;
  private suspended = false;
  private closed = false;
  private rendered = new Map<string, string>();
  private dialogHandlers = new Map<Dialog<unknown>, (value: unknown) => Promise<string | void> | string | void>();
  private exitResolve: (() => void) | null = null;
  private lastKeyAt = 0;
  private keyCount = 0;
  private deferred: NodeJS.Timeout | null = null;
  /** Time blessed took for the last frame (benchmark aid). */
  private lastBlessedMs = 0;
  private readonly exited: Promise<void>;
  /** hornets.json notify.bell / notify.desktop: the engine's state changes, followed for them. */
  private stateFeed: StateChangeFeed | null = null;

  constructor(private readonly o: ConsoleOptions) {
    this.log = o.ctx.log; // opened with component "console"
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
        title: `hornets-tui · ${o.ctx.project.config.project}`,
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
    this.theme = makeTheme(chooseColor(o.theme ?? 'auto', colors, o.noColor));

    this.vm = new ViewModel(o.keymap, this.theme, this.screen.width as number, this.screen.height as number, (o.view?.team ?? o.ctx).project.config.agents.length);
    const host = {
      flash: (text: string, level: MessageLevel) => this.flash(text, level),
      clearMessage: (text: string) => {
        if (this.vm.message.text === text) this.flash('', 'info');
      },
      openDialog: (d: Dialog<unknown>, onSubmit?: (value: unknown) => Promise<string | void> | string | void) => this.openDialog(d, onSubmit),
      kick: () => this.kick(),
      select: (agent: string) => this.vm.select(agent),
      servicesChanged: () => this.vm.setConfiguredAgents(this.actions.team.project.config.agents.length),
      close: () => this.shutdown(),
      theme: this.theme,
    };
    this.actions = new Controllers(o.ctx, host, this.log, o.env, o.view);
    this.boxes = this.createBoxes();
    this.preview = this.newPreview();

    this.screen.on('keypress', (ch: string | undefined, key: blessed.Widgets.Events.IKeyEventArg | undefined) => this.onKey(ch, key));
    this.screen.on('resize', () => this.onResize());
  }

  // ------------------------------------------------------------------ life cycle

  async run(): Promise<void> {
    // Start-up is tracked from the first moment, so a `q` at any time during it waits for it.
    if (this.o.startEngine) void this.actions.startTeam();
    else this.flash('', 'info');
    this.renderAll();
    this.timers.push(setInterval(() => void this.refresh(), this.o.refreshMs ?? 500));
    this.startAlerts();
    await this.refreshPanes();
    await this.refresh(true);
    this.schedulePanes();
    this.bench(`ready ${process.pid}`);
    await this.exited;
  }

  private shutdown(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    if (this.panesTimer) clearTimeout(this.panesTimer);
    if (this.deferred) clearTimeout(this.deferred);
    this.stateFeed?.stop();
    this.preview.stop();
    this.screen.destroy();
    this.exitResolve?.();
  }

  /**
   * `q`: the console goes, agents and the engine stay. While the team is being brought up (or an
   * agent added or stopped), it goes when that is done: the store it uses closes with the console,
   * and a start-up cut short leaves agents missing that nothing would bring up (defect 7).
   */
  quit(): void {
    if (this.closed) return;
    if (this.actions.busy) {
      if (this.vm.quitPending) return;
      this.vm.quitPending = true;
      this.flash(QUIT_WHEN_STARTED, 'busy');
      this.log.info({ event: 'console_quit_deferred' }, 'quit asked during start-up; quitting when it is done');
      void this.actions.settled().then(() => this.quit());
      return;
    }
    this.log.info({ event: 'console_quit' }, 'console closed; agents keep running');
    this.shutdown();
  }

  // ------------------------------------------------------------------ notifications

  private startAlerts(): void {
    const project = this.o.ctx.project;
    const config = project.config.notify;
    if (!alertsWanted(config)) return;
    const output = (this.screen.program as unknown as { output: NodeJS.WritableStream }).output;
    const alerts = new TerminalAlerts(
      config,
      project.config.project,
      (seq) => {
        this.log.info({ event: 'console_alert' }, 'an agent needs you: terminal notified');
        output.write(seq);
      },
      (agent) => this.vm.snapshot?.agents.find((a) => a.name === agent)?.display.resetAt ?? null,
    );
    this.stateFeed = new StateChangeFeed(project.paths.root, (e) => alerts.onChange(e), this.log, { store: this.o.ctx.store, agents: () => project.config.agents.map((a) => a.name) });
    this.stateFeed.start();
  }

  // ------------------------------------------------------------------ data

  private kick(): void {
    this.forceBuild = true;
    void this.refreshPanes().then(() => this.refresh(true));
  }

  /** Reads the state again if anything changed, or redraws if the clock moved a text on screen. */
  private async refresh(force = false): Promise<void> {
    if (this.closed) return;
    if (force) this.forceBuild = true;
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
      const snapshots = this.actions.snapshots;
      const probe = await snapshots.probe();
      const panes = snapshots.panesVersion;
      const dataMoved = probe === null || this.lastProbe === undefined || this.lastProbe === null || probe.data !== this.lastProbe.data;
      let snapshot: TeamSnapshot | null = null;
      let kind = 'build';
      // A new snapshot service (agents added or removed) counts its pane look-ups afresh.
      const sameService = snapshots === this.lastService;
      if (this.forceBuild || dataMoved || !sameService || probe!.engine !== this.lastProbe!.engine || panes !== this.lastPanes) {
        this.forceBuild = false;
        this.lastService = snapshots;
        // Taken before the read: a change committed during it is seen by the next tick.
        this.lastProbe = probe;
        this.lastPanes = panes;
        snapshot = await snapshots.build();
        // A recorded change (an exit, a restart) may come with a pane change: look (not too often).
        if (dataMoved && Date.now() - snapshots.panesRefreshedAt >= (this.o.panesMs ?? 2000)) void this.refreshPanes();
      } else if (Date.now() >= this.nextClockAt) {
        kind = 'clock';
        snapshot = snapshots.reassemble();
      }
      if (!snapshot) return;
      const t1 = performance.now();
      this.vm.setSnapshot(snapshot);
      // An agent started crashing or starting: look at the panes soon, not at the steady pace.
      if (kind === 'build' && this.panesInFlux() && !this.panesSoon && this.panesTimer) this.schedulePanes();
      this.preview.show(this.vm.wantedPane());
      if (!this.suspended) this.renderAll();
      this.planClock(snapshot);
      if (this.o.benchFile) this.bench(`refresh ${kind} ${(t1 - t0).toFixed(3)} render ${(performance.now() - t1).toFixed(3)}`);
    } catch (err) {
      if (this.closed) return;
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

  /** When the clock next changes a text on screen (never sooner than the refresh period). */
  private planClock(snapshot: TeamSnapshot | null): void {
    const now = Date.now();
    const m = this.vm.message;
    const ttl = m.text ? messageTtl(m.level) : Infinity;
    const delay = nextClockChange({ snapshot, now, messageExpiresAt: Number.isFinite(ttl) ? m.at + ttl : null, tasks: this.vm.tasksView });
    this.nextClockAt = now + Math.max(this.o.refreshMs ?? 500, delay);
  }

  /** The next pane look-up: soon while agents come and go, rarely while the team is steady. */
  private schedulePanes(): void {
    if (this.closed) return;
    if (this.panesTimer) clearTimeout(this.panesTimer);
    const flux = this.panesInFlux();
    this.panesSoon = flux;
    this.panesTimer = setTimeout(
      () => {
        this.panesTimer = null;
        void this.refreshPanes().finally(() => this.schedulePanes());
      },
      flux ? (this.o.panesMs ?? 2000) : (this.o.steadyPanesMs ?? 15_000),
    );
  }

  private panesInFlux(): boolean {
    const s = this.vm.snapshot;
    return !s || !s.tmuxOk || !this.preview.live || this.actions.busy || s.agents.some((a) => !a.remote && IN_FLUX.has(a.state));
  }

  private async refreshPanes(): Promise<void> {
    if (this.closed || this.panesRefreshing) return;
    this.panesRefreshing = true;
    try {
      await this.actions.snapshots.refreshPanes();
      if (this.vm.snapshot?.agents.some((a) => a.alive) || (await this.previewService().sessionExists())) this.preview.ensureControl();
    } finally {
      this.panesRefreshing = false;
    }
  }

  private previewService(): PanePreviewService {
    return new PanePreviewService(this.actions.manager);
  }

  private newPreview(): PreviewFeed {
    let windowsTimer: NodeJS.Timeout | null = null;
    return new PreviewFeed(
      this.previewService(),
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
      this.actions.fail('that key', err);
    }
    if (this.closed || this.suspended) return;
    this.preview.show(this.vm.wantedPane());
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
      setImmediate(() =>
        this.bench(`key ${ev.full ?? ev.ch ?? '?'} ${(performance.now() - t0).toFixed(3)} handle ${(t1 - t0).toFixed(3)} render ${(t2 - t1).toFixed(3)} blessed ${blessedMs.toFixed(3)}`),
      );
    }
  }

  private handleKey(ev: KeyEvent): void {
    if (this.vm.filterInput) return this.vm.filterKey(ev);
    const top = this.vm.topDialog();
    if (top) {
      const r = top.key(ev);
      if (r.type === 'close') this.closeDialog(top);
      else if (r.type === 'submit') this.submitDialog(top, r.value);
      return;
    }
    const action = resolveKey(this.o.keymap, this.vm.focus, ev);
    if (action) this.perform(action);
  }

  /** Navigation and view actions go to the view-model, the rest to the controllers. */
  private perform(action: ActionId): void {
    const vm = this.vm;
    const agent = vm.selectedAgent();
    const withAgent = (fn: (a: NonNullable<typeof agent>) => void) => {
      if (agent) fn(agent);
      else this.flash('no agent selected', 'error');
    };
    const now = Date.now();
    switch (action) {
      case 'down':
        return vm.move(1, this.preview.lines.length, now);
      case 'up':
        return vm.move(-1, this.preview.lines.length, now);
      case 'pageDown':
        return vm.move(vm.pageSize(), this.preview.lines.length, now);
      case 'pageUp':
        return vm.move(-vm.pageSize(), this.preview.lines.length, now);
      case 'top':
        return vm.move('top', this.preview.lines.length, now);
      case 'bottom':
        return vm.move('bottom', this.preview.lines.length, now);
      case 'nextPanel':
      case 'prevPanel':
        return vm.cyclePanel(action === 'nextPanel');
      case 'scope':
        return this.flash(vm.toggleScope(), 'info');
      case 'filter':
        return vm.startFilter();
      case 'help':
        return this.openDialog(new TextDialog(' Keys ', vm.helpText(), { footer: 'j/k scroll · q/Esc/? close' }));
      case 'redraw':
        this.screen.realloc();
        this.rendered.clear();
        return;
      case 'quit':
        return this.quit();
      case 'quitAll':
        return this.actions.quitAll();
      case 'attach':
        return withAgent((a) => void this.attach(a));
      case 'nextNeedsYou': {
        const next = vm.selectNextNeedsYou();
        if (!next) return this.flash('no agent needs you', 'info');
        return void this.attach(next);
      }
      case 'send':
        return withAgent((a) => this.actions.send(a));
      case 'rebrief':
        return withAgent((a) => this.actions.rebrief(a));
      case 'pause':
        return withAgent((a) => this.actions.pauseOrResume(a));
      case 'restart':
        return withAgent((a) => this.actions.restart(a));
      case 'stop':
        return withAgent((a) => this.actions.stop(a));
      case 'new':
        return this.actions.newAgent(agent);
      case 'diff':
        return withAgent((a) => this.actions.diff(a));
      case 'explain': {
        const row = vm.selectedQueueRow();
        if (row) this.actions.explain(row);
        return;
      }
      case 'tasks':
        vm.toggleTasks();
        // The texts the clock moves are the other view's now.
        this.planClock(vm.snapshot);
        return;
      case 'cancelTask':
      case 'retryTask': {
        const task = vm.selectedTask();
        if (!task) return this.flash('no task selected', 'error');
        return action === 'cancelTask' ? this.actions.cancelTask(task) : this.actions.retryTask(task);
      }
    }
  }

  // ------------------------------------------------------------------ dialogs and messages

  private flash(text: string, level: MessageLevel): void {
    // While a quit waits for the start-up, every message says so too.
    const shown = this.vm.quitPending && text !== QUIT_WHEN_STARTED && level !== 'error' ? `${text} · quitting when done` : text;
    const now = Date.now();
    this.vm.flash(shown, level, now);
    // The message goes when its time is up: redraw then.
    if (shown && Number.isFinite(messageTtl(level))) this.nextClockAt = Math.min(this.nextClockAt, now + messageTtl(level));
    if (!this.suspended && !this.closed) this.renderAll();
  }

  private openDialog(d: Dialog<unknown>, onSubmit?: (value: unknown) => Promise<string | void> | string | void): void {
    this.vm.openDialog(d);
    if (onSubmit) this.dialogHandlers.set(d, onSubmit);
    if (!this.suspended && !this.closed) this.renderAll();
  }

  private closeDialog(d: Dialog<unknown>): void {
    this.vm.closeDialog(d);
    this.dialogHandlers.delete(d);
  }

  /** A dialog's answer: confirmations close at once; the send dialog stays open until the queue accepted. */
  private submitDialog(d: Dialog<unknown>, value: unknown): void {
    const handler = this.dialogHandlers.get(d);
    if (!(d instanceof SendDialog)) {
      this.closeDialog(d);
      if (handler) void Promise.resolve(handler(value)).catch((err: unknown) => this.actions.fail(d.title.trim(), err));
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
        this.actions.fail('send', err);
      });
  }

  // ------------------------------------------------------------------ terminal hand-over

  private async attach(agent: NonNullable<ReturnType<ViewModel['selectedAgent']>>): Promise<void> {
    this.log.info({ event: 'console_attach', agent: agent.name, pane: agent.paneId, node: agent.node }, 'attaching');
    const suspend = () => {
      this.suspended = true;
      return suspendScreen(this.screen, () => {
        this.suspended = false;
        this.onResize();
        this.rendered.clear();
        this.renderAll(true);
      });
    };
    // Another node's agent: its tmux server is on that host (hornets.json attach.remote).
    const outcome = agent.remote ? await attachToRemoteAgent(this.actions.team, agent, this.actions.nodes?.last(), suspend) : await attachToAgent(this.actions.manager, agent, suspend);
    if ('error' in outcome) this.actions.fail(`attach ${agent.name}`, outcome.error);
    else this.flash(outcome.message, outcome.ok ? 'info' : 'error');
    if (outcome.ok) this.kick();
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
      tasks: mk({ border, tags: true, hidden: true, style: { border: {} } }),
      message: mk({}),
      status: mk({}),
      dialog: mk({ border, hidden: true, style: { border: {} } }),
    };
  }

  private onResize(): void {
    this.vm.resize(this.screen.width as number, this.screen.height as number);
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

  /** A panel's border label and content; the focused panel's border is coloured. */
  private setPanel(name: Panel, p: PanelFrame): boolean {
    const box = this.boxes[name];
    let changed = false;
    if (this.rendered.get(`${name}:label`) !== p.label) {
      this.rendered.set(`${name}:label`, p.label);
      box.setLabel(p.label);
      (box.style as { border: { fg?: string } }).border.fg = p.focused ? this.theme.focusBorder : undefined;
      changed = true;
    }
    return this.set(name, box, p.content) || changed;
  }

  renderAll(force = false): void {
    if (this.closed || this.suspended) return;
    this.vm.resize(this.screen.width as number, this.screen.height as number);
    const f: Frame = this.vm.frame(Date.now(), this.preview);
    const b = this.boxes;
    const L = f.layout;
    for (const [name, rect] of Object.entries({
      header: L.header,
      agents: L.agents,
      preview: L.preview,
      queue: L.queue,
      recovery: L.recovery,
      tasks: L.tasks,
      message: L.message,
      status: L.status,
    }) as [keyof Boxes, Rect][])
      this.place(b[name], rect);
    let changed = force;
    changed = this.set('header', b.header, f.header) || changed;
    // One view at a time: the team's four panels, or the tasks view in their place.
    const tasksView = this.vm.tasksView;
    changed = this.showView(tasksView) || changed;
    if (tasksView) changed = this.setPanel('tasks', f.tasks) || changed;
    else for (const p of TEAM_BOXES) changed = this.setPanel(p, f[p]) || changed;
    changed = this.set('message', b.message, f.message) || changed;
    changed = this.set('status', b.status, f.status) || changed;
    changed = this.renderDialog(f.dialog) || changed;
    if (changed) {
      const t0 = this.o.benchFile ? performance.now() : 0;
      this.screen.render();
      if (this.o.benchFile) this.lastBlessedMs = performance.now() - t0;
    }
  }

  /** Shows the tasks view or the team's panels; returns whether that changed. */
  private showView(tasksView: boolean): boolean {
    if (this.boxes.tasks.hidden !== tasksView) return false;
    if (tasksView) {
      for (const p of TEAM_BOXES) this.boxes[p].hide();
      this.boxes.tasks.show();
    } else {
      this.boxes.tasks.hide();
      for (const p of TEAM_BOXES) this.boxes[p].show();
    }
    return true;
  }

  private renderDialog(d: Frame['dialog']): boolean {
    const box = this.boxes.dialog;
    if (!d) {
      if (box.hidden) return false;
      box.hide();
      this.rendered.delete('dialog');
      return true;
    }
    this.place(box, d.rect);
    let changed = false;
    if (box.hidden) {
      box.show();
      box.setFront();
      changed = true;
    }
    if (this.rendered.get('dialog:label') !== d.title) {
      this.rendered.set('dialog:label', d.title);
      box.setLabel(d.title);
      (box.style as { border: { fg?: string } }).border.fg = this.theme.focusBorder;
      changed = true;
    }
    return this.set('dialog', box, d.content) || changed;
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
  // Seconds as a number, or a duration string ("500ms"), as everywhere in hornets.json.
  return v === undefined ? 500 : Math.max(100, typeof v === 'number' ? Math.round(v * 1000) : parseDuration(v));
}
