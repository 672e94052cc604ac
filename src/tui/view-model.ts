/**
 * The console's view-model: the latest TeamSnapshot plus the UI state (focus, selection, scroll
 * offsets, filter, scope, dialogs, the message line, start-up/quit state) in; what every box shows
 * out (`frame()`). Pure: no blessed, no tmux, no timers; the clock comes in as an argument. The
 * console (console.ts) feeds it keys and snapshots and copies frames to the screen; the controllers
 * (controllers.ts) turn actions into service calls.
 */
import type { AgentRow, QueueRow, TaskRow, TeamSnapshot } from '../services/snapshot.js';
import { helpLines, hintsFor, teamPanels, type Binding, type KeyEvent, type Panel } from './keymap.js';
import type { Theme } from './theme.js';
import { computeLayout, type Layout, type Rect } from './layout.js';
import { filterAgents, renderAgents, scrollOffset } from './views/agents.js';
import { QUEUE_ROW_LINES, renderQueue, scopeQueue } from './views/queue.js';
import { recoveryLines } from './views/recovery.js';
import { previewWindow, renderPreview } from './views/preview.js';
import { renderTasks, taskCapacity } from './views/tasks.js';
import { renderHeader, renderMessage, renderStatus, type MessageLevel } from './views/chrome.js';
import { FilterInput, type Dialog } from './dialogs.js';
import { esc, fit } from './text.js';

export const panelTitles: Record<Panel, string> = { agents: 'Agents', preview: 'Preview', queue: 'Queue', recovery: 'Recovery', tasks: 'Tasks' };

/** What the preview feed holds right now (tui/preview.ts). */
export interface PreviewInput {
  lines: readonly string[];
  /** The pane the lines belong to. */
  shownPane: string | null;
  /** A control client streams output (else the preview polls). */
  live: boolean;
}

export interface PanelFrame {
  label: string;
  content: string;
  focused: boolean;
}

export interface Frame {
  layout: Layout;
  header: string;
  agents: PanelFrame;
  preview: PanelFrame;
  queue: PanelFrame;
  recovery: PanelFrame;
  /** The tasks view (shown in place of the four panels above while the tasks panel has the focus). */
  tasks: PanelFrame;
  message: string;
  status: string;
  dialog: { title: string; content: string; rect: Rect } | null;
}

export type Move = number | 'top' | 'bottom';

/** The message line: messages fade after 10 s, errors after 30 s, "busy" stays until replaced. */
export function messageTtl(level: MessageLevel): number {
  return level === 'error' ? 30_000 : level === 'busy' ? Infinity : 10_000;
}

/** Said while `q` waits for the team's start-up to finish (defect 7: quitting never leaves it half up). */
export const QUIT_WHEN_STARTED = 'starting the team…; quitting when done';

export class ViewModel {
  snapshot: TeamSnapshot | null = null;
  focus: Panel = 'agents';
  selected: string | null = null;
  agentOffset = 0;
  queueSelected: string | null = null;
  queueOffset = 0;
  previewBack = 0;
  recoveryOffset = 0;
  taskSelected: string | null = null;
  taskOffset = 0;
  /** The team panel to go back to from the tasks view. */
  teamFocus: Panel = 'agents';
  scopeAll = false;
  filter = '';
  filterInput: FilterInput | null = null;
  dialogs: Dialog<unknown>[] = [];
  message: { text: string; level: MessageLevel; at: number } = { text: '', level: 'info', at: 0 };
  /** `q` was pressed while work that must not be cut short (the team's start-up) runs. */
  quitPending = false;
  layout: Layout;

  constructor(
    readonly keymap: readonly Binding[],
    readonly theme: Theme,
    private width: number,
    private height: number,
    /** Rows to plan for before the first snapshot (the configured team). */
    private configuredAgents: number,
  ) {
    this.layout = this.computeLayout();
  }

  // ------------------------------------------------------------------ inputs

  setSnapshot(s: TeamSnapshot): void {
    this.snapshot = s;
    this.syncSelection();
  }

  resize(width: number, height: number): void {
    this.width = width;
    this.height = height;
    this.layout = this.computeLayout();
  }

  setConfiguredAgents(n: number): void {
    this.configuredAgents = n;
  }

  flash(text: string, level: MessageLevel, now: number): void {
    this.message = { text, level, at: now };
  }

  // ------------------------------------------------------------------ selection

  visibleAgents(): AgentRow[] {
    return filterAgents(this.snapshot?.agents ?? [], this.filter);
  }

  selectedAgent(): AgentRow | null {
    return this.visibleAgents().find((a) => a.name === this.selected) ?? null;
  }

  queueRows(): QueueRow[] {
    return scopeQueue(this.snapshot?.queue ?? [], this.scopeAll ? null : this.selected);
  }

  selectedQueueRow(): QueueRow | null {
    return this.queueRows().find((m) => m.id === this.queueSelected) ?? null;
  }

  taskRows(): TaskRow[] {
    return this.snapshot?.tasks.tasks ?? [];
  }

  selectedTask(): TaskRow | null {
    return this.taskRows().find((t) => t.id === this.taskSelected) ?? null;
  }

  get tasksView(): boolean {
    return this.focus === 'tasks';
  }

  /** The tasks view, or back to the team panel that had the focus. */
  toggleTasks(): void {
    if (this.focus === 'tasks') {
      this.focus = this.teamFocus;
      return;
    }
    this.teamFocus = this.focus;
    this.focus = 'tasks';
    this.syncSelection();
  }

  /** The pane the preview should show (none while the tasks view hides it). */
  wantedPane(): string | null {
    return this.tasksView ? null : (this.selectedAgent()?.paneId ?? null);
  }

  /** Keeps the selections on rows that exist (the first one when the selected row went away). */
  syncSelection(): void {
    const rows = this.visibleAgents();
    if (!rows.some((a) => a.name === this.selected)) this.selected = rows[0]?.name ?? null;
    const q = this.queueRows();
    if (!q.some((m) => m.id === this.queueSelected)) this.queueSelected = q[0]?.id ?? null;
    const tasks = this.taskRows();
    if (!tasks.some((t) => t.id === this.taskSelected)) this.taskSelected = tasks[0]?.id ?? null;
  }

  select(agent: string): void {
    this.selected = agent;
  }

  /**
   * `!`: the next agent that needs you after the selected one, in the console's order (they sort
   * first), round to the first; selected, so the preview and attach follow. Null when none does.
   */
  selectNextNeedsYou(): AgentRow | null {
    const rows = this.visibleAgents();
    const needing = rows.filter((a) => a.display.needsYou);
    if (needing.length === 0) return null;
    const at = rows.findIndex((a) => a.name === this.selected);
    const next = needing.find((a) => rows.indexOf(a) > at) ?? needing[0]!;
    if (next.name !== this.selected) {
      this.selected = next.name;
      this.previewBack = 0;
      this.queueSelected = null;
      this.queueOffset = 0;
      this.recoveryOffset = 0;
      this.syncSelection();
    }
    return next;
  }

  /** Moves in the focused panel; `previewLines` is how many lines the preview holds. */
  move(delta: Move, previewLines: number, now: number): void {
    const step = (index: number, count: number) => {
      if (count === 0) return -1;
      if (delta === 'top') return 0;
      if (delta === 'bottom') return count - 1;
      return Math.max(0, Math.min(count - 1, index + delta));
    };
    switch (this.focus) {
      case 'agents': {
        const rows = this.visibleAgents();
        const i = step(
          rows.findIndex((a) => a.name === this.selected),
          rows.length,
        );
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
        const i = step(
          rows.findIndex((m) => m.id === this.queueSelected),
          rows.length,
        );
        if (i >= 0) this.queueSelected = rows[i]!.id;
        break;
      }
      case 'preview': {
        const inner = Math.max(1, this.layout.preview.height - 2);
        const back = delta === 'top' ? Number.MAX_SAFE_INTEGER : delta === 'bottom' ? 0 : this.previewBack - delta;
        this.previewBack = previewWindow(previewLines, inner, back).scrollBack;
        break;
      }
      case 'tasks': {
        const rows = this.taskRows();
        const i = step(
          rows.findIndex((t) => t.id === this.taskSelected),
          rows.length,
        );
        if (i >= 0) this.taskSelected = rows[i]!.id;
        break;
      }
      case 'recovery': {
        const total = this.recoveryText(now).length;
        const inner = Math.max(1, this.layout.recovery.height - 2);
        const max = Math.max(0, total - inner);
        this.recoveryOffset = delta === 'top' ? 0 : delta === 'bottom' ? max : Math.max(0, Math.min(max, this.recoveryOffset + delta));
        break;
      }
    }
  }

  pageSize(): number {
    const r: Rect = this.layout[this.focus];
    const inner = Math.max(1, r.height - 3);
    if (this.focus === 'tasks' && this.snapshot) return taskCapacity(this.snapshot.tasks, Math.max(1, r.height - 2));
    return this.focus === 'queue' ? Math.max(1, Math.floor(inner / QUEUE_ROW_LINES)) : inner;
  }

  /** Tab: the team's panels in turn (the tasks view is one panel: nothing to cycle). */
  cyclePanel(forward: boolean): void {
    if (this.focus === 'tasks') return;
    const i = teamPanels.indexOf(this.focus);
    this.focus = teamPanels[(i + (forward ? 1 : teamPanels.length - 1)) % teamPanels.length]!;
  }

  /** Queue and recovery: the selected agent or the whole team. Returns what to say. */
  toggleScope(): string {
    this.scopeAll = !this.scopeAll;
    this.queueOffset = 0;
    this.recoveryOffset = 0;
    this.syncSelection();
    return this.scopeAll ? 'queue and recovery: the whole team' : `queue and recovery: ${this.selected ?? 'the selected agent'} only`;
  }

  startFilter(): void {
    this.filterInput = new FilterInput(this.filter);
  }

  /** A key while the filter line is open. */
  filterKey(ev: KeyEvent): void {
    if (!this.filterInput) return;
    const r = this.filterInput.key(ev);
    this.filter = r === 'clear' ? '' : this.filterInput.text;
    if (r !== 'edit') this.filterInput = null;
    this.agentOffset = 0;
    this.syncSelection();
  }

  // ------------------------------------------------------------------ dialogs

  topDialog(): Dialog<unknown> | null {
    return this.dialogs[this.dialogs.length - 1] ?? null;
  }

  openDialog(d: Dialog<unknown>): void {
    this.dialogs.push(d);
  }

  closeDialog(d: Dialog<unknown>): void {
    this.dialogs = this.dialogs.filter((x) => x !== d);
  }

  // ------------------------------------------------------------------ text

  /** The help screen, generated from the keymap. */
  helpText(): string[] {
    return helpLines(this.keymap).map(esc);
  }

  /** The status bar: the focused panel and its key hints. */
  statusLine(): string {
    return renderStatus(hintsFor(this.keymap, this.focus), { width: this.layout.status.width, theme: this.theme, panel: panelTitles[this.focus] });
  }

  recoveryText(now: number): string[] {
    const s = this.snapshot;
    if (!s) return [];
    const agents = this.scopeAll ? s.agents : s.agents.filter((a) => a.name === this.selected);
    const events = this.scopeAll ? s.events : s.events.filter((e) => e.agent === this.selected);
    return recoveryLines(agents, events, { width: Math.max(1, this.layout.recovery.width - 2), now, theme: this.theme });
  }

  /** Everything on screen, from the state; also settles scroll offsets to what fits. */
  frame(now: number, preview: PreviewInput): Frame {
    const L = (this.layout = this.computeLayout());
    const t = this.theme;
    const s = this.snapshot;
    const innerW = (r: Rect) => Math.max(1, r.width - 2);
    const innerH = (r: Rect) => Math.max(1, r.height - 2);
    // The focused panel is marked (colour by the console, and ▶ for mono terminals).
    const panel = (p: Panel, text: string, content: string): PanelFrame => ({ label: ` ${this.focus === p ? '▶ ' : ''}${text} `, content, focused: this.focus === p });

    const rows = this.visibleAgents();
    const selIndex = rows.findIndex((a) => a.name === this.selected);
    this.agentOffset = scrollOffset(this.agentOffset, Math.max(0, selIndex), innerH(L.agents) - 1, rows.length);
    const agents = panel(
      'agents',
      `${panelTitles.agents} ${rows.length}${this.filter ? `/${s?.agents.length ?? 0} (filter "${this.filter}")` : ''}`,
      s ? renderAgents(rows, { width: innerW(L.agents), height: innerH(L.agents), selected: selIndex, offset: this.agentOffset, now, theme: t }) : esc(' reading state…'),
    );

    const agent = this.selectedAgent();
    const pv = previewWindow(preview.lines.length, innerH(L.preview), this.previewBack);
    this.previewBack = pv.scrollBack;
    const previewText =
      agent?.alive && preview.shownPane === agent.paneId
        ? renderPreview([...preview.lines], { width: innerW(L.preview), height: innerH(L.preview), scrollBack: this.previewBack })
        : agent?.alive
          ? ''
          : agent?.remote
            ? fit(` ${agent.name} runs on node ${agent.node} (${agent.display.label}): Enter attaches there (hornets.json attach.remote)`, innerW(L.preview))
            : fit(agent ? ` ${agent.name} is ${agent.display.label}: ${agent.display.detail}` : '', innerW(L.preview));
    const previewPanel = panel(
      'preview',
      `${panelTitles.preview} · ${agent ? `${agent.name}${agent.paneId ? ` ${agent.paneId}` : ''}` : '-'}${agent?.remote ? ` · node ${agent.node}` : !agent?.alive ? ' (not running)' : preview.live ? ' · live' : ''}${pv.scrollBack > 0 ? ` · ↑${pv.scrollBack}` : ''}`,
      previewText,
    );

    const q = this.queueRows();
    const qi = q.findIndex((m) => m.id === this.queueSelected);
    const qCap = Math.max(1, Math.floor((innerH(L.queue) - 1) / QUEUE_ROW_LINES));
    this.queueOffset = scrollOffset(this.queueOffset, Math.max(0, qi), qCap, q.length);
    const pending = q.filter((m) => m.pending).length;
    const scope = this.scopeAll ? 'all agents' : (this.selected ?? '-');
    const queue = panel(
      'queue',
      `${panelTitles.queue} · ${scope} · ${pending} pending`,
      renderQueue(q, { width: innerW(L.queue), height: innerH(L.queue), selected: qi, offset: this.queueOffset, showAgent: this.scopeAll, focused: this.focus === 'queue', theme: t }),
    );

    const rec = this.recoveryText(now);
    this.recoveryOffset = Math.min(this.recoveryOffset, Math.max(0, rec.length - innerH(L.recovery)));
    const recovery = panel('recovery', `${panelTitles.recovery} · restarts, backoff, breakers · ${scope}`, rec.slice(this.recoveryOffset, this.recoveryOffset + innerH(L.recovery)).join('\n'));

    const tasks = this.tasksFrame(now, panel);

    const m = this.message;
    const message = this.filterInput ? this.filterInput.render(L.message.width, t) : now - m.at < messageTtl(m.level) ? renderMessage(m.text, m.level, { width: L.message.width, theme: t }) : '';

    return {
      layout: L,
      header: renderHeader(s, { width: L.header.width, theme: t, filter: this.filter, now }),
      agents,
      preview: previewPanel,
      queue,
      recovery,
      tasks,
      message,
      status: this.statusLine(),
      dialog: this.dialogFrame(),
    };
  }

  /** The tasks view's frame; its content only while it is shown (nothing to render otherwise). */
  private tasksFrame(now: number, panel: (p: Panel, text: string, content: string) => PanelFrame): PanelFrame {
    const section = this.snapshot?.tasks;
    const title = `${panelTitles.tasks}${section?.available ? ` · ${section.workers.length} worker${section.workers.length === 1 ? '' : 's'} · ${section.tasks.length} recent task${section.tasks.length === 1 ? '' : 's'}` : ''}`;
    if (!this.tasksView) return panel('tasks', title, '');
    if (!section) return panel('tasks', title, esc(' reading state…'));
    const r = this.layout.tasks;
    const innerH = Math.max(1, r.height - 2);
    const rows = section.tasks;
    const index = rows.findIndex((t) => t.id === this.taskSelected);
    this.taskOffset = scrollOffset(this.taskOffset, Math.max(0, index), taskCapacity(section, innerH), rows.length);
    return panel('tasks', title, renderTasks(section, { width: Math.max(1, r.width - 2), height: innerH, selected: index, offset: this.taskOffset, now, theme: this.theme }));
  }

  private dialogFrame(): Frame['dialog'] {
    const top = this.topDialog();
    if (!top) return null;
    const W = this.width;
    const H = this.height;
    const size = top.size(W, H);
    const width = Math.max(10, Math.min(W, size.width));
    const height = Math.max(4, Math.min(H, size.height));
    const rect = { top: Math.max(0, Math.floor((H - height) / 2)), left: Math.max(0, Math.floor((W - width) / 2)), width, height };
    return { title: top.title, content: top.render(width - 2, height - 2, this.theme), rect };
  }

  private computeLayout(): Layout {
    return computeLayout(this.width, this.height, this.snapshot?.agents.length ?? this.configuredAgents);
  }
}
