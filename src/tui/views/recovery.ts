/** The recovery/heartbeat panel: agents that need attention (backoff timers, breakers, errors), then the event history. */
import type { AgentRow, EventRow } from '../../services/snapshot.js';
import type { Theme } from '../theme.js';
import { age, clean, esc, fit } from '../text.js';

function clock(ts: number): string {
  const d = new Date(ts);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

/** One line per agent that is not simply healthy. */
export function alertLines(agents: readonly AgentRow[], now: number): { text: string; severe: boolean }[] {
  const out: { text: string; severe: boolean }[] = [];
  for (const a of agents) {
    if (a.state === 'backing-off') {
      const left = a.restartAt !== null ? `restart in ${Math.max(0, Math.ceil((a.restartAt - now) / 1000))}s` : 'restart pending';
      out.push({ text: `${a.name}: backing off, ${left}${a.restartAttempt !== null ? ` (attempt ${a.restartAttempt})` : ''}; ${a.restartsLastHour} restart(s) this hour`, severe: false });
    } else if (a.breaker === 'open') {
      out.push({ text: `${a.name}: breaker OPEN, no more restarts until R (restart) or the window passes${a.lastError ? `: ${clean(a.lastError)}` : ''}`, severe: true });
    } else if (a.breaker === 'half-open') {
      out.push({ text: `${a.name}: breaker half-open, trial restart running`, severe: false });
    } else if (a.state === 'crashed') {
      out.push({ text: `${a.name}: crashed${a.lastError ? ` (${clean(a.lastError)})` : ''}`, severe: true });
    } else if (a.alive && a.heartbeatAgeMs === null) {
      out.push({ text: `${a.name}: no heartbeat yet`, severe: false });
    }
  }
  return out;
}

export interface RecoveryViewOptions {
  width: number;
  height: number;
  offset: number;
  now: number;
  theme: Theme;
}

export function recoveryLines(agents: readonly AgentRow[], events: readonly EventRow[], o: Omit<RecoveryViewOptions, 'height' | 'offset'>): string[] {
  const t = o.theme;
  const lines: string[] = [];
  for (const a of alertLines(agents, o.now)) lines.push(t.paint(esc(fit(`! ${a.text}`, o.width)), a.severe ? 'fatal' : 'waiting'));
  if (events.length === 0 && lines.length === 0) lines.push(esc(fit('no restarts, crashes or breaker changes recorded', o.width)));
  const nameW = Math.min(12, Math.max(5, ...events.map((e) => (e.agent ?? '').length)));
  for (const e of events) {
    const role = e.kind === 'agent_failed' || e.kind === 'breaker_open' || e.kind === 'agent_exited' ? 'bad' : e.kind === 'restart_scheduled' || e.kind === 'api_backoff' ? 'waiting' : 'muted';
    const text = `${clock(e.ts)} ${fit(e.agent ?? '', nameW)} ${clean(e.summary)} (${age(o.now - e.ts)} ago)`;
    lines.push(t.paint(esc(fit(text, o.width)), role));
  }
  return lines;
}

export function renderRecovery(agents: readonly AgentRow[], events: readonly EventRow[], o: RecoveryViewOptions): string {
  const lines = recoveryLines(agents, events, o);
  return lines.slice(o.offset, o.offset + Math.max(1, o.height)).join('\n');
}
