/**
 * The engine's event stream as scripts see it (issue 17, `hornets-tui events` and `wait`): one
 * shape per event, its key for de-duplication, its text line, and what `wait --for` waits for.
 * Pure.
 */
import { UsageError } from '../errors.js';
import { agentStates } from './agent-lifecycle.js';
import type { AgentState } from './agent.js';
import type { MessageState, QueueEvent } from './message.js';
import { parseDuration } from './duration.js';

/** One line of `events --json` (and of the engine's /events stream). */
export interface FeedEvent {
  /** Agent events: their id in the agent log; message events: their number in the message's history. */
  id: number;
  time: string;
  ts: number;
  agent: string | null;
  kind: string;
  message: string | null;
  from: string | null;
  to: string | null;
  detail: Record<string, unknown> | null;
}

export function feedEvent(e: QueueEvent): FeedEvent {
  return { id: e.id, time: new Date(e.ts).toISOString(), ts: e.ts, agent: e.agent, kind: e.kind, message: e.messageId, from: e.fromState, to: e.toState, detail: e.detail };
}

/** Unique within an agent's events: agent-log ids are global, message-event numbers are per message. */
export function eventKey(e: Pick<FeedEvent, 'id' | 'message'>): string {
  return e.message === null ? `a${e.id}` : `m${e.message}.${e.id}`;
}

/** `10:01:02.345 marie agent_state idle -> busy (hook:UserPromptSubmit)`, one line, no control characters. */
export function formatEvent(e: FeedEvent): string {
  const time = e.time.slice(11, 23);
  const parts = [time, e.agent ?? '-', e.kind];
  if (e.message) parts.push(e.message);
  if (e.from !== null || e.to !== null) parts.push(`${e.from ?? '?'} -> ${e.to ?? '?'}`);
  if (e.detail && Object.keys(e.detail).length > 0) parts.push(JSON.stringify(e.detail));
  // Control characters (a newline, a terminal escape in a detail) become spaces: one inert line.
  return Array.from(parts.join(' '), (c) => (c.charCodeAt(0) < 32 || c.charCodeAt(0) === 127 ? ' ' : c)).join('');
}

/** `--since`: an ISO time, or a duration back from now (`10m`, `2h`). */
export function parseSince(text: string, now: number): number {
  if (/^\d{4}-\d{2}-\d{2}/.test(text.trim())) {
    const t = Date.parse(text.trim());
    if (Number.isNaN(t)) throw new UsageError(`invalid --since "${text}": not a time (give an ISO time such as 2026-12-03T10:00:00Z, or a duration back from now such as 10m)`);
    return t;
  }
  return now - parseDuration(text, '--since');
}

export type WaitTarget = { kind: 'state'; state: AgentState; text: string } | { kind: 'confirmed'; message: string; text: string };

/** `--for idle | needs-input | limited… | confirmed:<message id> | state:<state>`. */
export function parseWaitFor(text: string): WaitTarget {
  const t = text.trim();
  const states = agentStates as readonly string[];
  const confirmed = /^confirmed:([0-9a-z]+)$/i.exec(t);
  if (confirmed) return { kind: 'confirmed', message: confirmed[1]!.toLowerCase(), text: t };
  const state = t.startsWith('state:') ? t.slice('state:'.length) : t;
  if (states.includes(state) && (t.startsWith('state:') || state === 'idle' || state === 'needs-input')) return { kind: 'state', state: state as AgentState, text: t };
  throw new UsageError(`invalid --for "${text}": give idle, needs-input, confirmed:<message id> or state:<state> (states: ${states.join(', ')})`);
}

export type WaitVerdict = { done: true } | { done: false; never?: string };

/** Whether what `wait` waits for holds now; `never` when it no longer can (the message ended otherwise). */
export function waitVerdict(target: WaitTarget, facts: { state: AgentState | null; paused: boolean; message: { agent: string; state: MessageState } | null }): WaitVerdict {
  if (target.kind === 'state') {
    const shown = facts.paused ? 'paused' : facts.state;
    return shown === target.state ? { done: true } : { done: false };
  }
  const m = facts.message;
  if (m === null) return { done: false };
  if (m.state === 'confirmed') return { done: true };
  if (m.state === 'dead' || m.state === 'expired' || m.state === 'cancelled') return { done: false, never: `message ${target.message} is ${m.state}: it will never be confirmed` };
  return { done: false };
}
