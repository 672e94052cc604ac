/** The agents panel: one row per agent. Pure: rows and view state in, blessed-tagged text out. */
import type { AgentRow } from '../../services/snapshot.js';
import { backoffLabel } from '../../domain/agent-display.js';
import { clockTime } from '../../domain/notify-policy.js';
import type { Theme } from '../theme.js';
import { age, clean, esc, fit } from '../text.js';

export const SELECT_MARK = '▸';
/** Beside the selection mark: this agent needs you (domain/agent-lifecycle.ts needsYouStates). */
export const NEEDS_YOU_MARK = '!';

/**
 * Agents matching the filter (substring of name, profile or state; case-insensitive), those that
 * need you first (issue 17), each group in team order.
 */
export function filterAgents(rows: readonly AgentRow[], filter: string): AgentRow[] {
  const f = filter.trim().toLowerCase();
  const matching = !f ? [...rows] : matchingAgents(rows, f);
  return [...matching.filter((r) => r.display.needsYou), ...matching.filter((r) => !r.display.needsYou)];
}

function matchingAgents(rows: readonly AgentRow[], f: string): AgentRow[] {
  return rows.filter((r) => r.name.toLowerCase().includes(f) || r.profile.toLowerCase().includes(f) || r.state.includes(f) || (r.node?.includes(f) ?? false) || r.display.label.includes(f));
}

/** The display rule's label (domain/agent-display.ts); a back-off counts down between snapshots. */
export function stateText(r: AgentRow, now: number): string {
  if (r.overBudget) return 'over-budget';
  return r.state === 'backing-off' ? backoffLabel(r.restartAt, now) : r.display.label;
}

/**
 * The LAST ERROR cell: a limited agent's says when its limit resets (the engine resumes it then) in
 * the local time, before the CLI's words.
 */
export function errorText(r: AgentRow): string {
  if (r.state === 'limited' && r.display.resetAt !== null) return `resets ${clockTime(r.display.resetAt)}: ${(r.lastError ?? '').replace(/^limited(?: until \S+)?: /, '')}`;
  return r.lastError ?? '';
}

/** Tokens and cost in 11 columns: `12.3k $0.41`. */
export function usageText(r: Pick<AgentRow, 'tokens' | 'costUsd'>): string {
  const n = r.tokens;
  const tokens = n < 1000 ? String(n) : n < 1_000_000 ? `${(n / 1000).toFixed(1)}k` : `${(n / 1_000_000).toFixed(1)}M`;
  return `${tokens} $${r.costUsd < 10 ? r.costUsd.toFixed(2) : r.costUsd.toFixed(0)}`;
}

/** First row to show so that `index` is visible, moving as little as possible from `offset`. */
export function scrollOffset(offset: number, index: number, visible: number, total: number): number {
  if (visible <= 0) return 0;
  let o = offset;
  if (index < o) o = index;
  if (index >= o + visible) o = index - visible + 1;
  return Math.max(0, Math.min(o, Math.max(0, total - visible)));
}

export interface AgentsViewOptions {
  width: number;
  /** Inner height: the column header plus the rows. */
  height: number;
  selected: number;
  offset: number;
  now: number;
  theme: Theme;
}

export function renderAgents(rows: readonly AgentRow[], o: AgentsViewOptions): string {
  const t = o.theme;
  const nameW = Math.min(16, Math.max(5, ...rows.map((r) => r.name.length)));
  const profW = Math.min(12, Math.max(7, ...rows.map((r) => r.profile.length)));
  // A team on Redis: which node runs each agent.
  const nodeW = rows.some((r) => r.node !== null) ? Math.min(12, Math.max(4, ...rows.map((r) => r.node?.length ?? 1))) : 0;
  const cols = [
    { title: 'AGENT', w: nameW },
    ...(nodeW > 0 ? [{ title: 'NODE', w: nodeW }] : []),
    { title: 'PROFILE', w: profW },
    { title: 'STATE', w: 15 },
    { title: 'HB', w: 4, right: true },
    { title: 'QUEUE', w: 5, right: true },
    { title: 'RST', w: 3, right: true },
    { title: 'BREAKER', w: 9 },
    { title: 'TOKENS/COST', w: 12, right: true },
  ];
  const fixed = 2 + cols.reduce((n, c) => n + c.w + 1, 0);
  const errW = Math.max(0, o.width - fixed);
  const header = `  ${cols.map((c) => fit(c.title, c.w, c.right ? 'right' : 'left')).join(' ')} ${fit(errW >= 10 ? 'LAST ERROR' : '', errW)}`;
  const lines = [t.paint(esc(fit(header, o.width)), 'bold')];
  const visible = Math.max(0, o.height - 1);
  if (rows.length === 0) {
    lines.push(esc(fit('  no agent matches the filter (/ to change it, Esc in the filter clears it)', o.width)));
    return lines.join('\n');
  }
  for (let i = o.offset; i < Math.min(rows.length, o.offset + visible); i++) {
    const r = rows[i]!;
    const sel = i === o.selected;
    const st = stateText(r, o.now);
    const breaker = r.breaker === 'open' ? 'OPEN' : r.breaker;
    const cells = [
      esc(fit(r.name, nameW)),
      ...(nodeW > 0 ? [r.nodeState === 'up' || r.nodeState === null ? esc(fit(r.node ?? '-', nodeW)) : t.paint(esc(fit(r.node ?? '-', nodeW)), r.nodeState === 'lost' ? 'bad' : 'muted')] : []),
      esc(fit(r.profile, profW)),
      t.paint(esc(fit(st, 15)), r.overBudget ? 'waiting' : r.display.colour),
      esc(fit(age(r.heartbeatAgeMs), 4, 'right')),
      esc(fit(String(r.queueDepth), 5, 'right')),
      esc(fit(String(r.restartsLastHour), 3, 'right')),
      r.breaker === 'closed' ? esc(fit(breaker, 9)) : t.paint(esc(fit(breaker, 9)), r.breaker === 'open' ? 'fatal' : 'waiting'),
      r.overBudget ? t.paint(esc(fit(usageText(r), 12, 'right')), 'bad') : esc(fit(usageText(r), 12, 'right')),
    ];
    const errorCell = errorText(r);
    const err = errW > 0 ? ` ${errorCell ? t.paint(esc(fit(clean(errorCell), errW)), r.state === 'limited' ? 'attention' : 'bad') : ' '.repeat(errW)}` : '';
    const line = `${sel ? SELECT_MARK : ' '}${r.display.needsYou ? NEEDS_YOU_MARK : ' '}${cells.join(' ')}${err}`;
    lines.push(sel ? `{inverse}${line}{/inverse}` : line);
  }
  return lines.join('\n');
}
