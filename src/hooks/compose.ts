/** The texts agents receive: deliveries, the session briefing and the rebrief. Pure functions. */
import { formatForAgent, type Message } from '../domain/message.js';

export const DELIVERY_BUDGET_BYTES = 48 * 1024;

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

export function briefingText(b: BriefingInput): string {
  const parts = [`# hornets briefing for ${b.agent} (project ${b.project})`];
  if (b.role) parts.push(`Role: ${b.role}`);
  if (b.briefingText) parts.push(`Rules (from ${b.briefingFile ?? 'briefing'}):\n${b.briefingText.trim()}`);
  parts.push(
    'Messages from hornets start with [msg <id>]. One marked "redelivery" may repeat a message you already handled: check before acting twice.',
  );
  return parts.join('\n\n');
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

export function rebriefText(r: RebriefInput): string {
  const why =
    r.reason === 'compact'
      ? 'Your context was just compacted.'
      : r.reason === 'resume'
        ? 'This session was resumed after a restart.'
        : r.reason === 'clear'
          ? 'Your context was cleared.'
          : 'The operator asked for a rebrief.';
  const parts = [`${briefingText(r)}`, `## Rebrief\n${why} What you must not forget:`];
  if (r.currentTask.length > 0) {
    parts.push(
      `## Current task\n${r.currentTask
        .map((m) => `- [msg ${m.id}] (${m.state === 'delivered' ? 'delivered, in progress' : 'in progress'}) ${clip(m.body, 2000)}`)
        .join('\n')}`,
    );
  } else parts.push('## Current task\nNo message from hornets is in progress.');
  if (r.activity.length > 0) {
    parts.push(`## Recent activity\n${r.activity.slice(-15).map((a) => `- ${new Date(a.ts).toISOString().slice(11, 19)} ${a.tool}${a.detail ? `: ${a.detail}` : ''}`).join('\n')}`);
  }
  if (r.lastAssistantMessage) parts.push(`## Your last reply\n${clip(r.lastAssistantMessage, 1500)}`);
  if (r.gitBranch || r.gitStatus) {
    parts.push(`## Worktree\nBranch: ${r.gitBranch ?? 'unknown'}${r.gitStatus ? `\n${clip(r.gitStatus.trim(), 2000)}` : ''}`);
  }
  return parts.join('\n\n');
}

/** What one tool call did, in a line: enough to remind an agent after compaction. */
export function summariseTool(toolName: string, input: unknown): string {
  const i = (input ?? {}) as Record<string, unknown>;
  const pick = (k: string) => (typeof i[k] === 'string' ? (i[k] as string) : null);
  const detail = pick('file_path') ?? pick('path') ?? pick('notebook_path') ?? pick('command') ?? pick('pattern') ?? pick('url') ?? pick('description') ?? '';
  return clip(detail.replace(/\s+/g, ' '), 160);
}
