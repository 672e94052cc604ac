/** The texts agents receive: deliveries, the session briefing and the rebrief. Pure functions. */
import { formatForAgent, type Message } from '../domain/message.js';

/**
 * Claude Code (verified on 2.1.197) gives the model at most 10,000 characters (JS string length) of
 * a hook's plain stdout (SessionStart) or `additionalContext` (UserPromptSubmit, PostToolUse):
 * anything longer is saved to a file and the model sees only a 2 KB preview and the path. A
 * message past the cut would be marked delivered without ever reaching the model, so everything
 * these hooks print is sized to stay under it.
 */
export const HOOK_CONTEXT_MAX_CHARS = 10_000;
/** A Stop hook's `reason` is not cut that way (44,000 characters verified to arrive whole). */
export const STOP_REASON_MAX_CHARS = 48 * 1024;
/** The session briefing leaves room in the SessionStart output for pending messages. */
export const BRIEFING_MAX_CHARS = 6_000;
/** The rebrief likewise; its own briefing part is kept shorter so the current task always fits. */
export const REBRIEF_MAX_CHARS = 8_000;
const REBRIEF_BRIEFING_MAX_CHARS = 4_000;

/** Who a queued rebrief is from (the operator's "rebrief now", a Gemini compression). */
export const REBRIEF_SENDER = 'hornets:rebrief';

export function deliveryText(agent: string, messages: Message[]): string {
  const head = messages.length === 1 ? `hornets: 1 new message for ${agent}` : `hornets: ${messages.length} new messages for ${agent} (highest priority first)`;
  return `${head}\n\n${messages.map((m) => formatForAgent(m)).join('\n\n')}`;
}

export interface BriefingInput {
  agent: string;
  project: string;
  role: string | null;
  briefingFile: string | null;
  briefingText: string | null;
}

const REDELIVERY_NOTE = 'Messages from hornets start with [msg <id>]. One marked "redelivery" may repeat a message you already handled: check before acting twice.';

/** At most `maxChars`: long role and rules texts are cut (the rules say where the rest is). */
export function briefingText(b: BriefingInput, maxChars = BRIEFING_MAX_CHARS): string {
  const head = `# hornets briefing for ${b.agent} (project ${b.project})`;
  const role = b.role ? `Role: ${fit(b.role.trim(), Math.floor(maxChars / 3))}` : null;
  const parts = role ? [head, role] : [head];
  if (b.briefingText) {
    const label = `Rules (from ${b.briefingFile ?? 'briefing'}):\n`;
    const room = maxChars - [...parts, REDELIVERY_NOTE].reduce((n, p) => n + p.length + 2, 0) - label.length;
    parts.push(`${label}${fit(b.briefingText.trim(), Math.max(0, room), b.briefingFile ? ` in ${b.briefingFile}` : '')}`);
  }
  parts.push(REDELIVERY_NOTE);
  return fit(parts.join('\n\n'), maxChars);
}

export interface ActivityEntry {
  ts: number;
  tool: string;
  detail: string;
}

export interface RebriefInput extends BriefingInput {
  reason: 'compact' | 'resume' | 'clear' | 'manual';
  activity: ActivityEntry[];
  lastAssistantMessage: string | null;
  currentTask: Message[];
  gitBranch: string | null;
  gitStatus: string | null;
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}… [${text.length - max} more characters]` : text;
}

/** `text` cut to at most `max` characters in all, the cut marked with how much is missing (and where). */
function fit(text: string, max: number, where = ''): string {
  if (text.length <= max) return text;
  const mark = (n: number) => `… [${n} more characters${where}]`;
  const keep = Math.max(0, max - mark(text.length).length);
  return `${text.slice(0, keep)}${mark(text.length - keep)}`.slice(0, max);
}

/**
 * At most `maxChars`. What must survive compaction comes first and always goes in (briefing, the
 * current task); recent activity, the last reply and the worktree state follow while they fit.
 */
export function rebriefText(r: RebriefInput, maxChars = REBRIEF_MAX_CHARS): string {
  const why =
    r.reason === 'compact'
      ? 'Your context was just compacted.'
      : r.reason === 'resume'
        ? 'This session was resumed after a restart.'
        : r.reason === 'clear'
          ? 'Your context was cleared.'
          : 'The operator asked for a rebrief.';
  const task = (bodyMax: number) =>
    r.currentTask.length > 0
      ? `## Current task\n${r.currentTask.map((m) => `- [msg ${m.id}] (${m.state === 'delivered' ? 'handed over, not yet confirmed' : 'received recently'}) ${clip(m.body, bodyMax)}`).join('\n')}`
      : '## Current task\nNo message from hornets is in progress.';
  const head = [briefingText(r, Math.min(REBRIEF_BRIEFING_MAX_CHARS, maxChars)), `## Rebrief\n${why} What you must not forget:`].join('\n\n');
  let text = `${head}\n\n${task(2000)}`;
  if (text.length > maxChars) text = fit(`${head}\n\n${task(300)}`, maxChars);
  const optional: string[] = [];
  if (r.activity.length > 0) {
    optional.push(
      `## Recent activity\n${r.activity
        .slice(-15)
        .map((a) => `- ${new Date(a.ts).toISOString().slice(11, 19)} ${a.tool}${a.detail ? `: ${a.detail}` : ''}`)
        .join('\n')}`,
    );
  }
  if (r.lastAssistantMessage) optional.push(`## Your last reply\n${clip(r.lastAssistantMessage, 1500)}`);
  // `git status --branch` starts with its own "## branch" line, which would read as a heading here.
  const status = r.gitStatus
    ?.split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('## '))
    .join('\n');
  if (r.gitBranch || status) optional.push(`## Worktree\nBranch: ${r.gitBranch ?? 'unknown'}${status ? `\n${clip(status, 2000)}` : ''}`);
  for (const part of optional) if (text.length + 2 + part.length <= maxChars) text += `\n\n${part}`;
  return text;
}

/** What one tool call did, in a line: enough to remind an agent after compaction. */
export function summariseTool(toolName: string, input: unknown): string {
  const i = (input ?? {}) as Record<string, unknown>;
  const pick = (k: string) => (typeof i[k] === 'string' ? (i[k] as string) : null);
  const detail = pick('file_path') ?? pick('path') ?? pick('notebook_path') ?? pick('command') ?? pick('pattern') ?? pick('url') ?? pick('description') ?? '';
  return clip(detail.replace(/\s+/g, ' '), 160);
}

/** The activity list kept (as JSON) in agent_context.activity_summary; unreadable means empty. */
export function readActivity(summary: string | null): ActivityEntry[] {
  if (!summary) return [];
  try {
    const v = JSON.parse(summary) as unknown;
    return Array.isArray(v) ? (v as ActivityEntry[]) : [];
  } catch {
    return [];
  }
}
