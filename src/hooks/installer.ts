/**
 * Installs hornets' hooks into a worktree's `.claude/settings.local.json` by merging: the user's
 * own hooks and settings stay, ours are recognisable (the command ends in `# hornets-tui`) and
 * removable, writes are atomic (temp + rename), the user's original is backed up once, and running
 * it twice changes nothing.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ExitCode, HornetsError } from '../errors.js';
import type { HookEvent } from './handlers.js';
import { writeFileAtomicSync } from '../util/private-files.js';

export class HookInstallError extends HornetsError {
  readonly exitCode = ExitCode.failure;
}

export const HOOK_MARKER = '# hornets-tui';
export const SETTINGS_FILE = join('.claude', 'settings.local.json');
export const BACKUP_SUFFIX = '.hornets-backup';

/** Events we install, with their timeout in seconds. */
export const installedEvents: Record<HookEvent, number> = {
  SessionStart: 30,
  UserPromptSubmit: 15,
  PostToolUse: 15,
  Stop: 15,
  PreCompact: 30,
  Notification: 10,
  SessionEnd: 15,
  StopFailure: 10,
};

interface CommandHook {
  type: string;
  command?: string;
  url?: string;
  timeout?: number;
  [k: string]: unknown;
}
interface MatcherGroup {
  matcher?: string;
  hooks?: CommandHook[];
  [k: string]: unknown;
}
type Settings = Record<string, unknown> & { hooks?: Record<string, MatcherGroup[]> };

/** POSIX single-quoting: our own install paths may contain spaces or quotes. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export function hookCommand(hookProgram: string[], event: HookEvent): string {
  return `${hookProgram.map(shellQuote).join(' ')} ${event} ${HOOK_MARKER}`;
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

/** The hook we install for one event. */
export function ourHook(t: string[] | HookTransport, event: HookEvent): CommandHook {
  const transport = asTransport(t);
  const timeout = installedEvents[event];
  if (transport.httpPort && HTTP_EVENTS.includes(event)) {
    return {
      type: 'http',
      url: `http://127.0.0.1:${transport.httpPort}/hook/${event}${HTTP_MARKER}`,
      headers: { 'X-Hornets-Token': '$HORNETS_HOOK_CLIENT', 'X-Hornets-Agent': '$HORNETS_AGENT_ID', 'X-Hornets-Generation': '$HORNETS_GENERATION' },
      allowedEnvVars: [...HTTP_HOOK_ENV],
      // Seconds: an engine that does not answer costs the agent this at most, once per round.
      timeout: 5,
    };
  }
  return { type: 'command', command: hookCommand(transport.program, event), timeout };
}

export function isOurs(h: CommandHook): boolean {
  if (h.type === 'http') return typeof h.url === 'string' && h.url.endsWith(HTTP_MARKER);
  return typeof h.command === 'string' && h.command.trimEnd().endsWith(HOOK_MARKER);
}

function readSettings(file: string): { settings: Settings; text: string | null } {
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

export function withOurs(settings: Settings, transport: string[] | HookTransport): Settings {
  const out = stripOurs(settings);
  const hooks = (out.hooks ??= {});
  for (const event of Object.keys(installedEvents) as HookEvent[]) (hooks[event] ??= []).push({ hooks: [ourHook(transport, event)] });
  return out;
}

function atomicWrite(file: string, text: string): void {
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
  const file = join(worktree, SETTINGS_FILE);
  const { settings, text } = readSettings(file);
  const next = withOurs(settings, transport);
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
  const file = join(worktree, SETTINGS_FILE);
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
  events: Record<HookEvent, HookPresence>;
  userHooks: number;
}

export function verifyHooks(worktree: string, transport: string[] | HookTransport): VerifyResult {
  const file = join(worktree, SETTINGS_FILE);
  const events = {} as Record<HookEvent, HookPresence>;
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
  for (const event of Object.keys(installedEvents) as HookEvent[]) {
    const ours = (settings.hooks?.[event] ?? []).flatMap((g) => (g.hooks ?? []).filter(isOurs));
    const expected = JSON.stringify(ourHook(transport, event));
    events[event] = ours.some((h) => JSON.stringify(h) === expected) ? 'installed' : ours.length > 0 ? 'stale' : 'missing';
  }
  return { file, events, userHooks };
}
