/**
 * Installs hornets' hooks into a worktree's `.claude/settings.local.json` (and, through the
 * `*SettingsFile` functions, any Claude-style hook settings file such as Codex's) by merging: the user's
 * own hooks and settings stay, ours are recognisable (the command ends in `# hornets-tui`) and
 * removable, writes are atomic (temp + rename), the user's original is backed up once, and running
 * it twice changes nothing.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ExitCode, HornetsError } from '../errors.js';
import { claudeCodeProtocol, settingsTimeout, type HookEvent, type HookProtocol } from './protocols.js';
import { writeFileAtomicSync } from '../util/private-files.js';

export class HookInstallError extends HornetsError {
  readonly exitCode = ExitCode.failure;
}

export const HOOK_MARKER = '# hornets-tui';
export const SETTINGS_FILE = join('.claude', 'settings.local.json');
export const BACKUP_SUFFIX = '.hornets-backup';

/** Claude Code events we install, with their timeout in seconds (from its protocol table). */
export const installedEvents = Object.fromEntries(claudeCodeProtocol.events.map((e) => [e.cliEvent, e.timeout])) as Record<HookEvent, number>;

export interface CommandHook {
  type: string;
  command?: string;
  url?: string;
  timeout?: number;
  [k: string]: unknown;
}
export interface MatcherGroup {
  matcher?: string;
  hooks?: CommandHook[];
  [k: string]: unknown;
}
export type Settings = Record<string, unknown> & { hooks?: Record<string, MatcherGroup[]> };

/** POSIX single-quoting: our own install paths may contain spaces or quotes. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * `protocolArg`: the word that tells the clients which CLI's protocol to answer in (none: Claude
 * Code). Claude Code runs a command hook as `/bin/sh -c <command>` (checked on 2.1.197 with strace):
 * `exec` lets the shell become the client instead of forking it and waiting, one process and one
 * wait fewer on every tool round. Only where that shell is known; Codex's hook runner is not.
 */
export function hookCommand(hookProgram: string[], event: string, protocolArg: string | null = null): string {
  return `${protocolArg === null ? 'exec ' : ''}${hookProgram.map(shellQuote).join(' ')} ${event}${protocolArg ? ` ${protocolArg}` : ''} ${HOOK_MARKER}`;
}

/**
 * Claude Code http hooks (opt-in, `daemon.hookTransport: "http"`): the engine answers them with no
 * process at all. Only on PostToolUse, the hook of every tool round: SessionStart cannot be an http
 * hook, and the hooks of a turn's start and end stay command hooks, whose Node fallback delivers
 * when no engine runs. The query marks the hook as ours (a URL has no comment).
 */
export const HTTP_MARKER = '?hornets-tui';
export const HTTP_EVENTS: readonly HookEvent[] = ['PostToolUse'];
/** Environment variables the http hook's headers take from the agent's pane (Claude Code fills only these). */
export const HTTP_HOOK_ENV = ['HORNETS_HOOK_CLIENT', 'HORNETS_AGENT_ID', 'HORNETS_GENERATION'] as const;

export interface HookTransport {
  /** The command clients' argv (hooks-program.ts). */
  program: string[];
  /** The engine's fixed port, when PostToolUse goes over http. */
  httpPort?: number | null;
}

/** A bare program means command hooks only. */
function asTransport(t: string[] | HookTransport): HookTransport {
  return Array.isArray(t) ? { program: t } : t;
}

/** The hook we install for one of the CLI's events (Claude Code unless another protocol is given). */
export function ourHook(t: string[] | HookTransport, event: string, protocol: HookProtocol = claudeCodeProtocol): CommandHook {
  const transport = asTransport(t);
  const timeout = protocol.events.find((e) => e.cliEvent === event)?.timeout;
  if (protocol === claudeCodeProtocol && transport.httpPort && (HTTP_EVENTS as readonly string[]).includes(event)) {
    return {
      type: 'http',
      url: `http://127.0.0.1:${transport.httpPort}/hook/${event}${HTTP_MARKER}`,
      headers: { 'X-Hornets-Token': '$HORNETS_HOOK_CLIENT', 'X-Hornets-Agent': '$HORNETS_AGENT_ID', 'X-Hornets-Generation': '$HORNETS_GENERATION' },
      allowedEnvVars: [...HTTP_HOOK_ENV],
      // Seconds: an engine that does not answer costs the agent this at most, once per round.
      timeout: 5,
    };
  }
  return { type: 'command', command: hookCommand(transport.program, event, protocol.arg), timeout: timeout === undefined ? undefined : settingsTimeout(protocol, timeout) };
}

export function isOurs(h: CommandHook): boolean {
  if (h.type === 'http') return typeof h.url === 'string' && h.url.endsWith(HTTP_MARKER);
  return typeof h.command === 'string' && h.command.trimEnd().endsWith(HOOK_MARKER);
}

export function readSettings(file: string): { settings: Settings; text: string | null } {
  if (!existsSync(file)) return { settings: {}, text: null };
  const text = readFileSync(file, 'utf8');
  if (text.trim() === '') return { settings: {}, text };
  try {
    const v = JSON.parse(text) as unknown;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
    return { settings: v as Settings, text };
  } catch (err) {
    throw new HookInstallError(`cannot merge hooks into ${file}: it is not valid JSON (${(err as Error).message}); fix or remove it. Nothing was changed.`);
  }
}

/** The settings with every hornets hook removed; empty groups and an empty hooks object dropped. */
export function stripOurs(settings: Settings): Settings {
  const out: Settings = structuredClone(settings);
  if (!out.hooks || typeof out.hooks !== 'object') return out;
  for (const [event, groups] of Object.entries(out.hooks)) {
    if (!Array.isArray(groups)) continue;
    const kept = groups.map((g) => ({ ...g, hooks: Array.isArray(g.hooks) ? g.hooks.filter((h) => !isOurs(h)) : g.hooks })).filter((g) => !Array.isArray(g.hooks) || g.hooks.length > 0);
    if (kept.length > 0) out.hooks[event] = kept;
    else delete out.hooks[event];
  }
  if (Object.keys(out.hooks).length === 0) delete out.hooks;
  return out;
}

/** Ours go last in each event's list: the user's groups keep their places (Codex's trust keys count them). */
export function withOurs(settings: Settings, transport: string[] | HookTransport, protocol: HookProtocol = claudeCodeProtocol): Settings {
  const out = stripOurs(settings);
  const hooks = (out.hooks ??= {});
  for (const { cliEvent, matcher } of protocol.events) (hooks[cliEvent] ??= []).push({ ...(matcher ? { matcher } : {}), hooks: [ourHook(transport, cliEvent, protocol)] });
  return out;
}

export function atomicWrite(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true });
  let mode = 0o644;
  try {
    // The user's file keeps its mode, but never writable by group or others (it names commands).
    mode = statSync(file).mode & 0o755;
  } catch {
    // A new file.
  }
  writeFileAtomicSync(file, text, mode);
}

const serialise = (s: Settings) => `${JSON.stringify(s, null, 2)}\n`;

export interface InstallResult {
  file: string;
  changed: boolean;
  backup: string | null;
}

export function installHooks(worktree: string, transport: string[] | HookTransport): InstallResult {
  return installSettingsFile(join(worktree, SETTINGS_FILE), transport, claudeCodeProtocol);
}

/** Merges our hooks into a Claude-style hook settings file (any CLI whose settings look like it). */
export function installSettingsFile(file: string, transport: string[] | HookTransport, protocol: HookProtocol): InstallResult {
  const { settings, text } = readSettings(file);
  const next = withOurs(settings, transport, protocol);
  const nextText = serialise(next);
  if (text !== null && JSON.stringify(JSON.parse(text || '{}')) === JSON.stringify(next)) return { file, changed: false, backup: null };
  let backup: string | null = null;
  // Back up the user's own file once, before we ever touch it.
  if (text !== null && !existsSync(file + BACKUP_SUFFIX) && JSON.stringify(stripOurs(settings)) === JSON.stringify(settings)) {
    copyFileSync(file, file + BACKUP_SUFFIX);
    backup = file + BACKUP_SUFFIX;
  }
  atomicWrite(file, nextText);
  return { file, changed: true, backup };
}

export interface UninstallResult {
  file: string;
  changed: boolean;
  removedFile: boolean;
  restoredBackup: boolean;
}

export function uninstallHooks(worktree: string): UninstallResult {
  return uninstallSettingsFile(join(worktree, SETTINGS_FILE));
}

export function uninstallSettingsFile(file: string): UninstallResult {
  const backupFile = file + BACKUP_SUFFIX;
  if (!existsSync(file)) return { file, changed: false, removedFile: false, restoredBackup: false };
  const { settings } = readSettings(file);
  const stripped = stripOurs(settings);
  if (JSON.stringify(stripped) === JSON.stringify(settings)) return { file, changed: false, removedFile: false, restoredBackup: false };
  if (existsSync(backupFile)) {
    const backup = readSettings(backupFile).settings;
    // Unchanged since we installed: put the user's exact bytes back.
    if (JSON.stringify(backup) === JSON.stringify(stripped)) {
      renameSync(backupFile, file);
      return { file, changed: true, removedFile: false, restoredBackup: true };
    }
  }
  if (Object.keys(stripped).length === 0 && !existsSync(backupFile)) {
    rmSync(file);
    return { file, changed: true, removedFile: true, restoredBackup: false };
  }
  atomicWrite(file, serialise(stripped));
  return { file, changed: true, removedFile: false, restoredBackup: false };
}

export type HookPresence = 'installed' | 'stale' | 'missing';

export interface VerifyResult {
  file: string;
  /** Per CLI event. */
  events: Record<string, HookPresence>;
  userHooks: number;
  /** CLIs that trust hooks one by one (Codex): our hooks without a matching trust entry. */
  untrusted?: string[];
}

export function verifyHooks(worktree: string, transport: string[] | HookTransport): VerifyResult {
  return verifySettingsFile(join(worktree, SETTINGS_FILE), transport, claudeCodeProtocol);
}

export function verifySettingsFile(file: string, transport: string[] | HookTransport, protocol: HookProtocol): VerifyResult {
  const events: Record<string, HookPresence> = {};
  let settings: Settings = {};
  try {
    settings = readSettings(file).settings;
  } catch {
    settings = {};
  }
  let userHooks = 0;
  for (const groups of Object.values(settings.hooks ?? {})) {
    for (const g of Array.isArray(groups) ? groups : []) for (const h of g.hooks ?? []) if (!isOurs(h)) userHooks++;
  }
  for (const { cliEvent: event } of protocol.events) {
    const ours = (settings.hooks?.[event] ?? []).flatMap((g) => (g.hooks ?? []).filter(isOurs));
    const expected = JSON.stringify(ourHook(transport, event, protocol));
    events[event] = ours.some((h) => JSON.stringify(h) === expected) ? 'installed' : ours.length > 0 ? 'stale' : 'missing';
  }
  return { file, events, userHooks };
}
