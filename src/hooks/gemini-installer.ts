/**
 * Installs hornets' hooks for the Gemini CLI: the worktree's project settings
 * `<worktree>/.gemini/settings.json` (Claude-style `hooks`, merged exactly as the Claude Code
 * installer merges its settings file; Gemini 0.61.0 reads them in a git worktree, checked on the
 * real binary), and, because Gemini runs project hooks only in a trusted folder, the worktree's
 * entry in the agent's `trustedFolders.json` (`<GEMINI_CLI_HOME or HOME>/.gemini/`, or
 * GEMINI_CLI_TRUSTED_FOLDERS_PATH). That trusts the one folder hornets created for the agent; we
 * never turn folder trust off for the user.
 *
 * trustedFolders.json maps paths to a trust level and has no room for a marker: an entry is ours
 * when it names the worktree (a folder hornets made, which the user had no reason to trust before)
 * and we added it. We add it only when the folder is not trusted yet, back the user's file up once
 * before we first change it, and on uninstall take our entry out again: the backup comes back
 * byte for byte when nothing else changed, and a file we created and left empty goes.
 */
import { copyFileSync, existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { geminiProtocol } from './protocols.js';
import {
  BACKUP_SUFFIX,
  HookInstallError,
  atomicWrite,
  installSettingsFile,
  uninstallSettingsFile,
  verifySettingsFile,
  type HookTransport,
  type InstallResult,
  type UninstallResult,
  type VerifyResult,
} from './installer.js';

export const GEMINI_SETTINGS_FILE = join('.gemini', 'settings.json');
/** What Gemini writes for "trust this folder". */
export const TRUST_FOLDER = 'TRUST_FOLDER';

export interface GeminiHome {
  /** GEMINI_CLI_HOME, else HOME, as the agent's pane sees them. */
  home: string;
  /** GEMINI_CLI_TRUSTED_FOLDERS_PATH, when the agent's environment sets one. */
  trustedFoldersPath?: string | null;
}

export function trustedFoldersFile(g: GeminiHome): string {
  return g.trustedFoldersPath || join(g.home, '.gemini', 'trustedFolders.json');
}

function readTrust(file: string): { map: Record<string, unknown>; text: string | null } {
  if (!existsSync(file)) return { map: {}, text: null };
  const text = readFileSync(file, 'utf8');
  if (text.trim() === '') return { map: {}, text };
  try {
    const v = JSON.parse(text) as unknown;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
    return { map: v as Record<string, unknown>, text };
  } catch (err) {
    throw new HookInstallError(`cannot add the worktree to ${file}: it is not valid JSON (${(err as Error).message}); fix or remove it. Nothing was changed.`);
  }
}

/**
 * The folder is trusted already (by the user, or by us before): TRUST_FOLDER trusts a path and
 * what is below it, TRUST_PARENT its parent and what is below that.
 */
function isTrusted(map: Record<string, unknown>, folder: string): boolean {
  const within = (base: string) => folder === base || folder.startsWith(base.endsWith('/') ? base : `${base}/`);
  return Object.entries(map).some(([path, level]) => (level === TRUST_FOLDER && within(path)) || (level === 'TRUST_PARENT' && within(dirname(path))));
}

const serialise = (m: Record<string, unknown>) => `${JSON.stringify(m, null, 2)}\n`;

export interface TrustResult {
  file: string;
  changed: boolean;
  backup: string | null;
}

export function trustWorktree(g: GeminiHome, worktree: string): TrustResult {
  const file = trustedFoldersFile(g);
  const { map, text } = readTrust(file);
  if (isTrusted(map, worktree)) return { file, changed: false, backup: null };
  let backup: string | null = null;
  if (text !== null && !existsSync(file + BACKUP_SUFFIX)) {
    copyFileSync(file, file + BACKUP_SUFFIX);
    backup = file + BACKUP_SUFFIX;
  }
  atomicWrite(file, serialise({ ...map, [worktree]: TRUST_FOLDER }));
  return { file, changed: true, backup };
}

export function untrustWorktree(g: GeminiHome, worktree: string): { file: string; changed: boolean; restoredBackup: boolean } {
  const file = trustedFoldersFile(g);
  const { map, text } = readTrust(file);
  if (text === null || map[worktree] !== TRUST_FOLDER) return { file, changed: false, restoredBackup: false };
  const rest = Object.fromEntries(Object.entries(map).filter(([k]) => k !== worktree));
  const backupFile = file + BACKUP_SUFFIX;
  if (existsSync(backupFile)) {
    const backup = readTrust(backupFile).map;
    // Unchanged since we added the worktree: the user's exact bytes go back.
    if (JSON.stringify(backup) === JSON.stringify(rest)) {
      renameSync(backupFile, file);
      return { file, changed: true, restoredBackup: true };
    }
  }
  if (Object.keys(rest).length === 0 && !existsSync(backupFile)) rmSync(file);
  else atomicWrite(file, serialise(rest));
  return { file, changed: true, restoredBackup: false };
}

export interface GeminiInstallResult extends InstallResult {
  trust: TrustResult;
}

export function installGeminiHooks(worktree: string, g: GeminiHome, transport: string[] | HookTransport): GeminiInstallResult {
  // A trust file we cannot read stops us before the settings change: hooks Gemini would not run help no one.
  readTrust(trustedFoldersFile(g));
  const r = installSettingsFile(join(worktree, GEMINI_SETTINGS_FILE), transport, geminiProtocol);
  return { ...r, trust: trustWorktree(g, worktree) };
}

export interface GeminiUninstallResult extends UninstallResult {
  trustRemoved: boolean;
}

export function uninstallGeminiHooks(worktree: string, g: GeminiHome): GeminiUninstallResult {
  const r = uninstallSettingsFile(join(worktree, GEMINI_SETTINGS_FILE));
  const trust = untrustWorktree(g, worktree);
  return { ...r, changed: r.changed || trust.changed, trustRemoved: trust.changed };
}

export interface GeminiVerifyResult extends VerifyResult {
  /** The worktree, when Gemini would not trust it (and so would not run its project hooks). */
  untrusted: string[];
}

export function verifyGeminiHooks(worktree: string, g: GeminiHome, transport: string[] | HookTransport): GeminiVerifyResult {
  const r = verifySettingsFile(join(worktree, GEMINI_SETTINGS_FILE), transport, geminiProtocol);
  let trusted = false;
  try {
    trusted = isTrusted(readTrust(trustedFoldersFile(g)).map, worktree);
  } catch {
    trusted = false;
  }
  return { ...r, untrusted: trusted ? [] : [worktree] };
}
