/** The queue panel: pending and in-flight messages (then recent history), each with its one-line why. */
import type { QueueRow } from '../../services/snapshot.js';
import type { Theme, Role } from '../theme.js';
import { age, esc, fit } from '../text.js';
import { SELECT_MARK } from './agents.js';

export function scopeQueue(rows: readonly QueueRow[], agent: string | null): QueueRow[] {
  return agent === null ? [...rows] : rows.filter((r) => r.agent === agent);
}

function stateRoleOf(r: QueueRow): Role {
  switch (r.state) {
    case 'queued':
      return 'waiting';
    case 'leased':
    case 'delivered':
      return 'busy';
    case 'confirmed':
      return 'ok';
    case 'failed':
      return 'attention';
    case 'dead':
    case 'expired':
      return 'bad';
    case 'cancelled':
      return 'muted';
  }
}

export interface QueueViewOptions {
  width: number;
  height: number;
  /** Index into rows of the selected message, or -1. */
  selected: number;
  /** First message shown. */
  offset: number;
  showAgent: boolean;
  focused: boolean;
  theme: Theme;
}

/** Lines a message takes: its row and its why. */
export const QUEUE_ROW_LINES = 2;

export function renderQueue(rows: readonly QueueRow[], o: QueueViewOptions): string {
  const t = o.theme;
  const agentW = o.showAgent ? Math.min(12, Math.max(5, ...rows.map((r) => r.agent.length))) + 1 : 0;
  const head = `  ${fit('PRI', 3, 'right')} ${fit('AGE', 4, 'right')} ${fit('TRY', 4)} ${fit('STATE', 9)} ${o.showAgent ? fit('AGENT', agentW - 1) + ' ' : ''}MESSAGE`;
  const lines = [t.paint(esc(fit(head, o.width)), 'bold')];
  if (rows.length === 0) {
    lines.push(esc(fit('  nothing queued (s sends a message)', o.width)));
    return lines.join('\n');
  }
  const capacity = Math.max(1, Math.floor((o.height - 1) / QUEUE_ROW_LINES));
  let shown = 0;
  for (let i = o.offset; i < rows.length && shown < capacity; i++, shown++) {
    const r = rows[i]!;
    const sel = i === o.selected;
    const prefixW = 2 + 4 + 5 + 5 + 10 + agentW;
    const bodyW = Math.max(0, o.width - prefixW);
    const from = r.sender ? `${r.sender}: ` : '';
    const text = `${sel && o.focused ? SELECT_MARK : ' '} ${fit(String(r.priority), 3, 'right')} ${fit(age(r.ageMs), 4, 'right')} ${fit(`${r.attempts}/${r.maxAttempts}`, 4)} `;
    const state = t.paint(esc(fit(r.state, 9)), stateRoleOf(r));
    const agent = o.showAgent ? esc(fit(r.agent, agentW - 1)) + ' ' : '';
    const body = esc(fit(from + r.summary, bodyW));
    const line = `${esc(text)}${state} ${agent}${body}`;
    lines.push(sel && o.focused ? `{inverse}${line}{/inverse}` : line);
    lines.push(t.paint(esc(fit(`    ↳ ${r.why}`, o.width)), 'muted'));
  }
  const more = rows.length - o.offset - shown;
  if (more > 0 && lines.length < o.height) lines.push(esc(fit(`  … ${more} more`, o.width)));
  return lines.join('\n');
}
