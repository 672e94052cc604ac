/** Header, message line and status bar. */
import type { TeamSnapshot } from '../../services/snapshot.js';
import type { Theme } from '../theme.js';
import { esc, fit, strWidth } from '../text.js';

export function renderHeader(s: TeamSnapshot | null, o: { width: number; theme: Theme; filter: string; now: number }): string {
  const t = o.theme;
  if (!s) return esc(fit(' hornets-tui · reading state…', o.width));
  const counts = new Map<string, number>();
  for (const a of s.agents) {
    // An agent whose node is down counts as what is shown for it (lost…), not its last state.
    const k = a.remote && a.nodeState !== 'up' ? a.display.label : a.state;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  const summary = [...counts.entries()].map(([k, n]) => `${n} ${k}`).join(', ');
  const needYou = s.agents.filter((a) => a.display.needsYou).length;
  const engine = s.engine.running ? `engine pid ${s.engine.pid}` : 'engine not running';
  // A team on Redis: every node's health from the registry heartbeats (this node marked *), and
  // the one that runs the cluster-wide duties: with none, sweeps and TTL expiry wait.
  const noLeader = s.nodes.some((n) => n.health === 'up') && !s.nodes.some((n) => n.leader);
  const nodeList = s.nodes.map((n) => `${n.name}${n.here ? '*' : ''} ${n.health}${n.leader ? ' (leader)' : ''}`).join(', ');
  const nodes = s.nodes.length > 0 ? ` · nodes ${nodeList}${noLeader ? ' · no leader' : ''}` : '';
  const left = ` hornets-tui · ${s.project}${nodes} · ${s.agents.length} agent${s.agents.length === 1 ? '' : 's'} (${summary})${needYou > 0 ? ` · ${needYou} need${needYou === 1 ? 's' : ''} you` : ''} · ${s.totals.pending} pending · ${engine}${s.tmuxOk ? '' : ' · tmux unreachable'}${o.filter ? ` · filter "${o.filter}"` : ''}`;
  const d = new Date(o.now);
  // Hours and minutes: a clock ticking seconds would redraw an idle console every second.
  const time = `${[d.getHours(), d.getMinutes()].map((n) => String(n).padStart(2, '0')).join(':')} `;
  const leftW = Math.max(0, o.width - time.length - 1);
  const line = `${fit(left, leftW)} ${time}`;
  return t.paint(esc(fit(line, o.width)), 'bold');
}

export type MessageLevel = 'info' | 'ok' | 'error' | 'busy';

export function renderMessage(text: string, level: MessageLevel, o: { width: number; theme: Theme }): string {
  const role = level === 'error' ? 'bad' : level === 'ok' ? 'ok' : level === 'busy' ? 'busy' : 'muted';
  return o.theme.paint(esc(fit(text ? ` ${text}` : '', o.width)), role);
}

export function renderStatus(hints: readonly { key: string; label: string }[], o: { width: number; theme: Theme; panel: string }): string {
  const t = o.theme;
  const parts: string[] = [];
  let used = strWidth(` [${o.panel}] `);
  // Help and quit are last in the list but must always show: reserve room for them.
  const tail = hints.slice(-2);
  const head = hints.slice(0, -2);
  const tailW = tail.reduce((n, h) => n + strWidth(`${h.key} ${h.label}  `), 0);
  for (const h of head) {
    const w = strWidth(`${h.key} ${h.label}  `);
    if (used + w + tailW > o.width) break;
    parts.push(`${t.paint(esc(h.key), 'accent')} ${esc(h.label)}`);
    used += w;
  }
  for (const h of tail) parts.push(`${t.paint(esc(h.key), 'accent')} ${esc(h.label)}`);
  return `${t.paint(esc(` [${o.panel}]`), 'bold')} ${parts.join('  ')}`;
}
