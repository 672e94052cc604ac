/**
 * Notifications about agents that need someone (issue 17): which state changes are worth telling,
 * the de-duplication and quiet period, and the texts every channel sends (the webhook's JSON body
 * with its Slack-compatible `text`, the terminal's bell and OSC 9 / OSC 777 sequences, the tmux
 * status line). Pure: the clock comes in with each change, the memory of what was sent goes in and
 * comes out.
 */
import type { AgentState } from './agent.js';
import { needsYouStates } from './agent-lifecycle.js';

/**
 * Over its budget (issue 17): not an agent state (the budget policy pauses the agent and marks it),
 * but it needs the user as much as one, so it is told like a change into one.
 */
export const OVER_BUDGET = 'over-budget';

/** What a notification is about: a state, or crossing the budget. */
export type NotifyState = AgentState | typeof OVER_BUDGET;

/** Whether a change into `to` needs someone. */
export function needsYou(to: NotifyState): boolean {
  return to === OVER_BUDGET || needsYouStates.has(to);
}

/** One agent's state change (or budget crossing), as the engine's event feed reports it. */
export interface StateChange {
  agent: string;
  from: AgentState | null;
  to: NotifyState;
  /** When it changed (ms). */
  at: number;
  /** What moved it (`hook:Notification`, `limit`, …; over budget: which limit and by how much), when known. */
  reason: string | null;
  /** `limited`: when the limit resets, when stated. */
  resetAt: number | null;
}

/** Per agent: the state last notified and when. */
export type NotifyMemory = ReadonlyMap<string, { state: NotifyState; at: number }>;

export interface NotifyDecision {
  notify: boolean;
  memory: NotifyMemory;
}

/**
 * One notification per agent per state change into a state that needs someone, none for the same
 * agent and state again within `quietMs` of the last one: an agent flapping needs-input → busy →
 * needs-input inside the quiet period is told once. Another state (needs-input → limited) is news.
 * Over budget is told once per crossing (the budget policy reports only the crossing), and like a
 * state within the quiet period.
 */
export function notifyDecision(memory: NotifyMemory, change: StateChange, quietMs: number): NotifyDecision {
  if (!needsYou(change.to) || change.from === change.to) return { notify: false, memory };
  const last = memory.get(change.agent);
  if (last && last.state === change.to && change.at - last.at < quietMs) return { notify: false, memory };
  const next = new Map(memory);
  next.set(change.agent, { state: change.to, at: change.at });
  return { notify: true, memory: next };
}

/** `14:05` in the machine's zone. */
export function clockTime(ms: number): string {
  const d = new Date(ms);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

/** `needs-input`, `limited until 14:05`. */
export function stateWords(state: AgentState, resetAt: number | null): string {
  return state === 'limited' && resetAt !== null ? `limited until ${clockTime(resetAt)}` : state;
}

const phrases: Partial<Record<NotifyState, string>> = {
  'needs-input': 'needs input (a permission prompt or a question)',
  limited: 'hit a usage limit',
  stuck: 'is stuck (nudges refused or unanswered)',
  failed: 'failed (restart breaker open: a crash loop)',
  [OVER_BUDGET]: 'is over its budget, delivery paused',
};

/**
 * One line for a person: `hornets demo: marie needs input (a permission prompt or a question)`;
 * over budget with the reason: `hornets demo: marie is over its budget, delivery paused: cost $1.2 exceeds the budget of $1`.
 */
export function notificationText(change: StateChange, project: string): string {
  const what = phrases[change.to] ?? `is ${change.to}`;
  const until = change.to === 'limited' && change.resetAt !== null ? ` until ${new Date(change.resetAt).toISOString()}` : '';
  const why = change.to === OVER_BUDGET && change.reason ? `: ${change.reason}` : '';
  return inert(`hornets ${project}: ${change.agent} ${what}${until}${why}`);
}

/** The webhook's POST body (documented in README.md, "Notifications"). */
export interface WebhookBody {
  /** Slack-compatible: an incoming webhook shows this line. */
  text: string;
  project: string;
  node: string;
  agent: string;
  /** The state entered, or `over-budget` (then `previousState` is the agent's state and `reason` says which limit). */
  state: NotifyState;
  previousState: AgentState | null;
  reason: string | null;
  /** ISO time of the state change. */
  since: string;
  /** ISO time the limit resets (`limited` with a stated reset), else null. */
  resetAt: string | null;
}

export function webhookBody(change: StateChange, where: { project: string; node: string }): WebhookBody {
  return {
    text: notificationText(change, where.project),
    project: where.project,
    node: where.node,
    agent: change.agent,
    state: change.to,
    previousState: change.from,
    reason: change.reason,
    since: new Date(change.at).toISOString(),
    resetAt: change.resetAt === null ? null : new Date(change.resetAt).toISOString(),
  };
}

export type DesktopAlert = 'off' | 'osc9' | 'osc777';

/**
 * What the console writes to its terminal for a notification: BEL, and OSC 9 (iTerm2, Windows
 * Terminal, kitty, WezTerm) or OSC 777 (rxvt, foot, Ghostty, VTE) desktop notifications. The text
 * is made inert first: a control character in an agent's name or reason must not end the sequence.
 */
export function terminalAlert(text: string, o: { bell: boolean; desktop: DesktopAlert; title: string }): string {
  const body = inert(text).replace(/;/g, ',');
  let out = '';
  if (o.desktop === 'osc9') out += `\x1b]9;${body}\x07`;
  else if (o.desktop === 'osc777') out += `\x1b]777;notify;${inert(o.title).replace(/;/g, ',')};${body}\x07`;
  if (o.bell) out += '\x07';
  return out;
}

export interface NeedsYouAgent {
  name: string;
  state: AgentState;
  resetAt: number | null;
  /** Paused by the budget policy (a mark beside the state). */
  overBudget?: boolean;
}

/** The tmux status line: `2 need you: a1 (needs-input), a3 (limited until 14:05), a4 (over budget)`; empty when none does. */
export function needsYouLine(agents: readonly NeedsYouAgent[]): string {
  const needing = agents.filter((a) => needsYouStates.has(a.state) || a.overBudget === true);
  if (needing.length === 0) return '';
  const words = (a: NeedsYouAgent) => {
    if (!a.overBudget) return stateWords(a.state, a.resetAt);
    return needsYouStates.has(a.state) ? `${stateWords(a.state, a.resetAt)}, over budget` : 'over budget';
  };
  const list = needing.map((a) => `${a.name} (${words(a)})`).join(', ');
  return inert(`${needing.length} need${needing.length === 1 ? 's' : ''} you: ${list}`);
}

/** Control characters become spaces: one inert line. */
function inert(s: string): string {
  return Array.from(s, (c) => (c.charCodeAt(0) < 32 || c.charCodeAt(0) === 127 || (c.charCodeAt(0) >= 0x80 && c.charCodeAt(0) < 0xa0) ? ' ' : c)).join('');
}
