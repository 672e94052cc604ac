/**
 * The console's keys are data: one table of actions with their keys, what they do and where their
 * hint shows. Help (`?`) and the status-bar hints are generated from it; hornets.json
 * `console.keys` replaces the keys of any action.
 */
import { ConfigError } from '../errors.js';

export const panels = ['agents', 'preview', 'queue', 'recovery', 'tasks'] as const;
export type Panel = (typeof panels)[number];
/** The team view's panels (Tab cycles through them); the tasks view is the one `tasks` panel. */
export const teamPanels: readonly Panel[] = ['agents', 'preview', 'queue', 'recovery'];

export const actionIds = [
  'attach',
  'nextNeedsYou',
  'send',
  'rebrief',
  'restart',
  'pause',
  'stop',
  'new',
  'diff',
  'tasks',
  'cancelTask',
  'retryTask',
  'filter',
  'explain',
  'scope',
  'nextPanel',
  'prevPanel',
  'down',
  'up',
  'pageDown',
  'pageUp',
  'top',
  'bottom',
  'help',
  'redraw',
  'quit',
  'quitAll',
] as const;
export type ActionId = (typeof actionIds)[number];

export interface Binding {
  action: ActionId;
  /** blessed key names (`enter`, `tab`, `S-tab`, `C-l`, `down`) or the typed character (`R`, `?`, `/`). */
  keys: string[];
  /** Short word for the status bar. */
  label: string;
  /** One line for the help screen. */
  description: string;
  /**
   * Panels where it applies; 'all' = everywhere, but for the agent and view keys, which act on the
   * team's panels (not in the tasks view). Panel-specific bindings win over global ones.
   */
  panels: readonly Panel[] | 'all';
  /** Shown in the status bar (for the panels it applies to). */
  hint: boolean;
  group: 'agent' | 'tasks' | 'move' | 'view' | 'console';
}

/** Whether a binding acts in a panel. */
export function appliesIn(b: Binding, panel: Panel): boolean {
  if (b.panels !== 'all') return b.panels.includes(panel);
  return panel !== 'tasks' || (b.group !== 'agent' && b.group !== 'view');
}

export const defaultKeymap: readonly Binding[] = [
  {
    action: 'attach',
    keys: ['enter', 'a'],
    label: 'attach',
    description: "attach to the agent's pane, fully interactive; detach (prefix d, i.e. Ctrl-b d) comes back here",
    panels: 'all',
    hint: true,
    group: 'agent',
  },
  { action: 'send', keys: ['s'], label: 'send', description: 'send a message: multi-line editor, priority choice, Ctrl-S sends', panels: 'all', hint: true, group: 'agent' },
  { action: 'rebrief', keys: ['b'], label: 'rebrief', description: 'rebrief now: rules, current task, recent activity and git state, at priority 200', panels: 'all', hint: true, group: 'agent' },
  { action: 'restart', keys: ['R'], label: 'restart', description: 'restart the agent (asks first); resumes its session and closes an open breaker', panels: 'all', hint: true, group: 'agent' },
  { action: 'pause', keys: ['p'], label: 'pause', description: 'pause or resume delivery to the agent (nothing is lost while paused)', panels: 'all', hint: true, group: 'agent' },
  { action: 'stop', keys: ['x'], label: 'stop', description: 'stop the agent (asks first); its queue and worktree are kept, R starts it again', panels: 'all', hint: true, group: 'agent' },
  { action: 'new', keys: ['n'], label: 'new', description: 'new agent from a profile: adds it to hornets.json and starts it', panels: 'all', hint: true, group: 'agent' },
  { action: 'diff', keys: ['d'], label: 'diff', description: "the agent worktree's git status and diff, scrollable", panels: 'all', hint: true, group: 'agent' },
  {
    action: 'nextNeedsYou',
    keys: ['!'],
    label: 'needs you',
    description: 'jump to the next agent that needs you (needs-input, limited, stuck, failed; marked !) and attach to it; again for the one after',
    panels: 'all',
    hint: true,
    group: 'agent',
  },
  { action: 'tasks', keys: ['t'], label: 'tasks', description: "the tasks view (task workers: breaker, slots, each task's state) and back", panels: 'all', hint: true, group: 'tasks' },
  { action: 'cancelTask', keys: ['c'], label: 'cancel', description: 'cancel the selected task (asks first); a running run is stopped', panels: ['tasks'], hint: true, group: 'tasks' },
  {
    action: 'retryTask',
    keys: ['r'],
    label: 'retry',
    description: 'retry the selected failed or cancelled task, fresh retry budget (asks first)',
    panels: ['tasks'],
    hint: true,
    group: 'tasks',
  },
  { action: 'explain', keys: ['enter'], label: 'details', description: 'the selected message: full text and why it is where it is', panels: ['queue'], hint: true, group: 'view' },
  { action: 'scope', keys: ['v'], label: 'all/one', description: 'queue and recovery panels: the selected agent only, or the whole team', panels: 'all', hint: false, group: 'view' },
  { action: 'filter', keys: ['/'], label: 'filter', description: 'filter agents by name, profile or state (Esc clears)', panels: 'all', hint: true, group: 'view' },
  { action: 'nextPanel', keys: ['tab'], label: 'panel', description: 'next panel: agents, preview, queue, recovery (not in the tasks view)', panels: 'all', hint: false, group: 'move' },
  { action: 'prevPanel', keys: ['S-tab'], label: 'panel', description: 'previous panel', panels: 'all', hint: false, group: 'move' },
  { action: 'down', keys: ['j', 'down'], label: 'down', description: 'move down (select the next agent or message, scroll the preview)', panels: 'all', hint: false, group: 'move' },
  { action: 'up', keys: ['k', 'up'], label: 'up', description: 'move up', panels: 'all', hint: false, group: 'move' },
  { action: 'pageDown', keys: ['pagedown', 'C-d'], label: 'page', description: 'a page down', panels: 'all', hint: false, group: 'move' },
  { action: 'pageUp', keys: ['pageup', 'C-u'], label: 'page', description: 'a page up', panels: 'all', hint: false, group: 'move' },
  { action: 'top', keys: ['g', 'home'], label: 'top', description: 'first row (preview: oldest output)', panels: 'all', hint: false, group: 'move' },
  { action: 'bottom', keys: ['G', 'end'], label: 'bottom', description: 'last row (preview: follow new output)', panels: 'all', hint: false, group: 'move' },
  { action: 'help', keys: ['?'], label: 'help', description: 'this help', panels: 'all', hint: true, group: 'console' },
  { action: 'redraw', keys: ['C-l'], label: 'redraw', description: 'redraw the screen', panels: 'all', hint: false, group: 'console' },
  { action: 'quit', keys: ['q', 'C-c'], label: 'quit', description: 'quit the console; agents and the engine keep running', panels: 'all', hint: true, group: 'console' },
  { action: 'quitAll', keys: ['Q'], label: 'quit+stop', description: 'quit and stop everything: every agent and the engine (asks first)', panels: 'all', hint: false, group: 'console' },
];

export type KeyOverrides = Record<string, string | string[]>;

/** Applies hornets.json `console.keys`; unknown actions are a config error naming the valid ones. */
export function buildKeymap(overrides: KeyOverrides | undefined, configPath = 'hornets.json'): Binding[] {
  const map = defaultKeymap.map((b) => ({ ...b, keys: [...b.keys] }));
  if (!overrides) return map;
  const issues: { path: string; message: string }[] = [];
  for (const [action, keys] of Object.entries(overrides)) {
    const b = map.find((x) => x.action === action);
    if (!b) {
      issues.push({ path: `console.keys.${action}`, message: `unknown console action "${action}" (actions: ${actionIds.join(', ')})` });
      continue;
    }
    b.keys = Array.isArray(keys) ? [...keys] : [keys];
  }
  if (issues.length > 0) throw new ConfigError(configPath, issues);
  return map;
}

export interface KeyEvent {
  /** The character typed, if any. */
  ch?: string;
  /** blessed's full key name: `S-r`, `C-l`, `enter`, `tab`. */
  full?: string;
  name?: string;
}

export function keyMatches(spec: string, ev: KeyEvent): boolean {
  if (spec === ev.full) return true;
  // A single printable character matches what was typed: `R` = Shift-r, `?`, `/`.
  if ([...spec].length === 1 && ev.ch === spec) return true;
  return false;
}

/** The action for a key in a panel: panel-specific bindings first, then global ones. */
export function resolveKey(keymap: readonly Binding[], panel: Panel, ev: KeyEvent): ActionId | null {
  const specific = keymap.find((b) => b.panels !== 'all' && b.panels.includes(panel) && b.keys.some((k) => keyMatches(k, ev)));
  if (specific) return specific.action;
  const global = keymap.find((b) => b.panels === 'all' && appliesIn(b, panel) && b.keys.some((k) => keyMatches(k, ev)));
  return global ? global.action : null;
}

const keyNames: Record<string, string> = {
  enter: 'Enter',
  tab: 'Tab',
  'S-tab': 'Shift-Tab',
  down: '↓',
  up: '↑',
  pagedown: 'PgDn',
  pageup: 'PgUp',
  home: 'Home',
  end: 'End',
  escape: 'Esc',
};

export function keyLabel(spec: string): string {
  if (keyNames[spec]) return keyNames[spec]!;
  const m = /^C-(.)$/.exec(spec);
  if (m) return `Ctrl-${m[1]!.toUpperCase()}`;
  const s = /^S-(.)$/.exec(spec);
  if (s) return s[1]!.toUpperCase();
  return spec;
}

/** Status-bar hints for the focused panel: `key label` pairs, help and quit always last. */
export function hintsFor(keymap: readonly Binding[], panel: Panel): { key: string; label: string }[] {
  const applies = (b: Binding) => b.hint && appliesIn(b, panel);
  // Enter on the queue panel opens the message, not attach: show what Enter does here.
  const specificKeys = new Set(keymap.filter((b) => b.panels !== 'all' && b.panels.includes(panel)).flatMap((b) => b.keys));
  const specific: { key: string; label: string }[] = [];
  const out: { key: string; label: string }[] = [];
  const tail: { key: string; label: string }[] = [];
  for (const b of keymap) {
    if (!applies(b)) continue;
    const keys = b.panels === 'all' ? b.keys.filter((k) => !specificKeys.has(k)) : b.keys;
    if (keys.length === 0) continue;
    // One key per hint keeps the bar short; Enter also names its letter (Enter/a).
    const shown = keys[0] === 'enter' && keys[1] ? keys.slice(0, 2) : keys.slice(0, 1);
    const entry = { key: shown.map(keyLabel).join('/'), label: b.label };
    if (b.action === 'help' || b.action === 'quit') tail.push(entry);
    else if (b.panels !== 'all') specific.push(entry);
    else out.push(entry);
  }
  return [...specific, ...out, ...tail];
}

/** The help screen's lines, generated from the keymap. */
export function helpLines(keymap: readonly Binding[]): string[] {
  const groups: { id: Binding['group']; title: string }[] = [
    { id: 'agent', title: 'The selected agent' },
    { id: 'view', title: 'Views' },
    { id: 'move', title: 'Moving around' },
    { id: 'console', title: 'Console' },
    { id: 'tasks', title: 'Task workers' },
  ];
  const width = Math.max(...keymap.map((b) => b.keys.map(keyLabel).join(', ').length)) + 2;
  const lines: string[] = [];
  for (const g of groups) {
    const rows = keymap.filter((b) => b.group === g.id);
    if (rows.length === 0) continue;
    lines.push(g.title);
    for (const b of rows) {
      const where = b.panels === 'all' ? '' : b.panels.length === 1 && b.panels[0] === 'tasks' ? ' (tasks view)' : ` (${b.panels.join(', ')} panel)`;
      lines.push(`  ${b.keys.map(keyLabel).join(', ').padEnd(width)}${b.description}${where}`);
    }
    lines.push('');
  }
  lines.push('Dialogs: Esc cancels. The message editor: Enter adds a line, Tab moves to the priority, ←/→ choose it, Ctrl-S sends.');
  lines.push('Keys can be changed in hornets.json: "console": {"keys": {"restart": "C-r"}}.');
  return lines;
}
