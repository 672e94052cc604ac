/**
 * One table per agent CLI: which of its hook events runs which hornets handler, with what timeout,
 * and how the CLI wants a handler's text shaped to reach the model. Data, not branches: the
 * handlers (handlers.ts) and the installers read it, so another CLI with Claude-style command
 * hooks is one more entry. Every row was checked against the real CLI's request bodies.
 */

/**
 * hornets' handlers, named after the Claude Code events they were first written for; BeforeModel
 * (Gemini's name) has no Claude Code counterpart: it watches for a compression Gemini does not announce.
 */
export const hookEvents = [
  'SessionStart',
  'UserPromptSubmit',
  'PostToolUse',
  'Stop',
  'PreCompact',
  'Notification',
  'SessionEnd',
  'StopFailure',
  'PermissionRequest',
  'PreToolUse',
  'BeforeModel',
] as const;
export type HookEvent = (typeof hookEvents)[number];

export function isHookEvent(s: string): s is HookEvent {
  return (hookEvents as readonly string[]).includes(s);
}

export type HookCli = 'claude-code' | 'codex' | 'gemini';

/**
 * How text reaches the model from a context-giving event: `stdout` is the hook's plain output;
 * `additionalContext` is `{"hookSpecificOutput":{"hookEventName":<CLI event>,"additionalContext":…}}`.
 */
export type ContextShape = 'stdout' | 'additionalContext';

export interface ProtocolEvent {
  /** The CLI's own name for the event (what its hook settings key on and its payload says). */
  cliEvent: string;
  handler: HookEvent;
  /** Seconds the CLI gives the hook before it kills it (written in the protocol's `timeoutUnit`). */
  timeout: number;
  /** Only for these tools (the CLI's matcher): a hook on every tool call costs a process each. */
  matcher?: string;
}

export interface HookProtocol {
  cli: HookCli;
  /**
   * The word after the event in our hook command, which the clients hand on to the handler (a
   * header to the engine, an argument to the Node entry); null for Claude Code, whose commands
   * predate the other CLIs and stay as they were.
   */
  arg: string | null;
  /** The CLI events we install, in the order they are written. */
  events: readonly ProtocolEvent[];
  /** Shape of each context-giving handler's reply. */
  context: Partial<Record<HookEvent, ContextShape>>;
  /** The end-of-turn reply that makes the CLI go on with `reason` as a new user message. */
  block: { decision: string };
  /** How the CLI's settings count a hook's timeout (Gemini: milliseconds). */
  timeoutUnit?: 's' | 'ms';
  /** The end-of-turn payload's field with the model's last reply (Claude Code's name when not given). */
  lastReplyField?: string;
  /**
   * SessionStart sources whose context the CLI may drop: the rebrief is then kept pending and
   * handed over by the next UserPromptSubmit (whose context goes into that very request), and the
   * waiting messages stay queued for it. Gemini: see geminiProtocol.
   */
  deferredSessionStart?: readonly ('resume' | 'compact' | 'clear')[];
}

/** Claude Code (verified on 2.1.197): the table that reproduces its replies byte for byte. */
export const claudeCodeProtocol: HookProtocol = {
  cli: 'claude-code',
  arg: null,
  events: [
    { cliEvent: 'SessionStart', handler: 'SessionStart', timeout: 30 },
    { cliEvent: 'UserPromptSubmit', handler: 'UserPromptSubmit', timeout: 15 },
    { cliEvent: 'PostToolUse', handler: 'PostToolUse', timeout: 15 },
    { cliEvent: 'Stop', handler: 'Stop', timeout: 15 },
    { cliEvent: 'PreCompact', handler: 'PreCompact', timeout: 30 },
    { cliEvent: 'Notification', handler: 'Notification', timeout: 10 },
    { cliEvent: 'SessionEnd', handler: 'SessionEnd', timeout: 15 },
    { cliEvent: 'StopFailure', handler: 'StopFailure', timeout: 10 },
    // Issue 17: a permission dialog about to show, and a question to the user (needs-input).
    { cliEvent: 'PermissionRequest', handler: 'PermissionRequest', timeout: 10 },
    { cliEvent: 'PreToolUse', handler: 'PreToolUse', timeout: 10, matcher: 'AskUserQuestion' },
  ],
  context: { SessionStart: 'stdout', UserPromptSubmit: 'additionalContext', PostToolUse: 'additionalContext' },
  block: { decision: 'block' },
};

/**
 * OpenAI Codex CLI (verified on 0.171.0): Claude-style payloads (session_id, source, prompt,
 * tool_name "Bash", stop_hook_active, last_assistant_message); `additionalContext` of SessionStart,
 * UserPromptSubmit and PostToolUse arrives as a developer message (PostToolUse's just before the
 * tool's output); a Stop block's reason as a new user message. It clamps a SessionEnd hook's
 * timeout to 3 s (and says so on every start), has no Notification or StopFailure event, and
 * rebriefs through SessionStart with source "compact".
 */
export const codexProtocol: HookProtocol = {
  cli: 'codex',
  arg: 'codex',
  events: [
    { cliEvent: 'SessionStart', handler: 'SessionStart', timeout: 30 },
    { cliEvent: 'UserPromptSubmit', handler: 'UserPromptSubmit', timeout: 15 },
    { cliEvent: 'PostToolUse', handler: 'PostToolUse', timeout: 15 },
    { cliEvent: 'Stop', handler: 'Stop', timeout: 15 },
    { cliEvent: 'PreCompact', handler: 'PreCompact', timeout: 30 },
    { cliEvent: 'SessionEnd', handler: 'SessionEnd', timeout: 3 },
  ],
  context: { SessionStart: 'additionalContext', UserPromptSubmit: 'additionalContext', PostToolUse: 'additionalContext' },
  block: { decision: 'block' },
};

/**
 * Google Gemini CLI (verified on 0.61.0): hooks in the project's `.gemini/settings.json`, timeouts
 * in ms, stdout pure JSON. Payloads carry session_id, source (SessionStart), prompt (BeforeAgent),
 * tool_name "run_shell_command" (AfterTool), prompt_response and stop_hook_active (AfterAgent).
 * `additionalContext` of SessionStart and BeforeAgent arrives as `<hook_context>…</hook_context>`
 * text parts of the user turn, AfterTool's inside the tool's functionResponse output; AfterAgent
 * `{"decision":"deny","reason":…}` sends the reason as the next user message (stop_hook_active then
 * true). PreCompress is not installed: 0.61.0 fires it (trigger "auto") before every turn's model
 * call, before deciding whether to compress at all, and has no event after a compression. BeforeModel
 * is: its `llm_request.messages` show a compressed history by its summary and the fixed
 * acknowledgement after it (compression-marker.ts), and the rebrief then goes out with the next
 * BeforeAgent or AfterTool context.
 */
export const geminiProtocol: HookProtocol = {
  cli: 'gemini',
  arg: 'gemini',
  events: [
    { cliEvent: 'SessionStart', handler: 'SessionStart', timeout: 30 },
    { cliEvent: 'BeforeAgent', handler: 'UserPromptSubmit', timeout: 15 },
    { cliEvent: 'AfterTool', handler: 'PostToolUse', timeout: 15 },
    { cliEvent: 'AfterAgent', handler: 'Stop', timeout: 15 },
    { cliEvent: 'Notification', handler: 'Notification', timeout: 10 },
    { cliEvent: 'SessionEnd', handler: 'SessionEnd', timeout: 15 },
    { cliEvent: 'BeforeModel', handler: 'BeforeModel', timeout: 15 },
  ],
  context: { SessionStart: 'additionalContext', UserPromptSubmit: 'additionalContext', PostToolUse: 'additionalContext' },
  block: { decision: 'deny' },
  timeoutUnit: 'ms',
  lastReplyField: 'prompt_response',
  // 0.61.0 adds SessionStart's context to the chat in one React effect while another, independent
  // one replaces the chat with the resumed history (resumeChat): when the hook answers first, its
  // context goes into the chat that is thrown away. After /clear it adds SessionStart's context
  // nowhere. BeforeAgent's context is part of the request itself, and no model call comes before it.
  deferredSessionStart: ['resume', 'clear'],
};

export const hookProtocols: readonly HookProtocol[] = [claudeCodeProtocol, codexProtocol, geminiProtocol];

/** A hook's timeout as the CLI's settings want it written. */
export function settingsTimeout(protocol: HookProtocol, seconds: number): number {
  return protocol.timeoutUnit === 'ms' ? seconds * 1000 : seconds;
}

/** The protocol a hook command's extra word names; none (or an unknown one) is Claude Code. */
export function protocolForArg(arg: string | null | undefined): HookProtocol {
  return (arg && hookProtocols.find((p) => p.arg === arg)) || claudeCodeProtocol;
}

export function protocolForCli(cli: string): HookProtocol | null {
  return hookProtocols.find((p) => p.cli === cli) ?? null;
}

/** The handler a CLI event runs under this protocol, or null when it is none of ours. */
export function handlerFor(protocol: HookProtocol, cliEvent: string): HookEvent | null {
  return protocol.events.find((e) => e.cliEvent === cliEvent)?.handler ?? null;
}

/** The CLI's name for a handler's event (what `hookEventName` must say). */
export function cliEventFor(protocol: HookProtocol, handler: HookEvent): string {
  return protocol.events.find((e) => e.handler === handler)?.cliEvent ?? handler;
}

/** A context-giving handler's text as this CLI wants it on the hook's stdout. */
export function contextReply(protocol: HookProtocol, handler: HookEvent, text: string): string {
  if ((protocol.context[handler] ?? 'additionalContext') === 'stdout') return `${text}\n`;
  return JSON.stringify({ hookSpecificOutput: { hookEventName: cliEventFor(protocol, handler), additionalContext: text } });
}

/** The end-of-turn reply that hands `reason` over as a new user message. */
export function blockReply(protocol: HookProtocol, reason: string): string {
  return JSON.stringify({ decision: protocol.block.decision, reason });
}
