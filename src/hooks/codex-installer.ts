/**
 * Installs hornets' hooks for the Codex CLI: `$CODEX_HOME/hooks.json` (Claude-style, merged exactly
 * as the Claude Code installer merges its settings file) and, because Codex runs a hook only once
 * it is trusted, a trust entry per hook of ours in `$CODEX_HOME/config.toml`. The entries are what
 * Codex itself writes when a user approves a hook (verified on 0.171.0: key
 * `<abs hooks.json>:<snake_case event>:<group index>:<handler index>`, value the sha256 of the
 * hook's canonical JSON): we never ask for `--dangerously-bypass-hook-trust`.
 *
 * Why CODEX_HOME and not the worktree's `.codex/hooks.json`: in a git worktree Codex 0.171.0 reads
 * project hooks from the main checkout's root only (seen with strace: it never looks at the
 * worktree's `.codex/`), and every agent runs in a git worktree. The hooks do nothing in a session
 * that is not an agent's (no HORNETS_AGENT_ID: the client exits at once), so one file serves every
 * agent that shares a CODEX_HOME, and nothing lands in the agents' worktrees or commits.
 *
 * The trust entries are one block between marker comments, appended at the end of config.toml.
 * Codex adds its own tables at the end of the file too, which puts them inside our block: removal
 * takes out our marker lines and our tables only, so the user's bytes come back exactly when Codex
 * added nothing, and whatever it added stays. The user's config.toml is backed up once before we
 * first touch it, as their hook file is.
 */
import { sha256 } from '../util/sha256.js';
import { existsSync, mkdirSync, readFileSync, realpathSync, renameSync, rmSync, copyFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { codexProtocol } from './protocols.js';
import {
  BACKUP_SUFFIX,
  HookInstallError,
  atomicWrite,
  installSettingsFile,
  isOurs,
  readSettings,
  uninstallSettingsFile,
  verifySettingsFile,
  type HookTransport,
  type InstallResult,
  type Settings,
  type UninstallResult,
  type VerifyResult,
} from './installer.js';

export const CODEX_HOOKS_FILE = 'hooks.json';
export const CODEX_CONFIG_FILE = 'config.toml';

/** Codex's names for its events in trust keys and hashes: SessionStart -> session_start. */
export function snakeEvent(event: string): string {
  return event.replace(/(?<!^)([A-Z])/g, '_$1').toLowerCase();
}

/** JSON with object keys sorted at every level and no spaces: what Codex hashes. */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .filter((k) => o[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/** The hash Codex records when a user trusts one command hook (the group's matcher, if any, is part of it). */
export function codexTrustHash(event: string, hook: { command: string; timeout?: number }, matcher?: string): string {
  const group: Record<string, unknown> = {
    event_name: snakeEvent(event),
    hooks: [{ async: false, command: hook.command, timeout: hook.timeout ?? 600, type: 'command' }],
    ...(matcher !== undefined ? { matcher } : {}),
  };
  // Plain-JS SHA-256: this module is reached by `status` and `send` (agent services), which must not
  // load node:crypto (its ~6 ms is most of their start).
  return `sha256:${sha256(Buffer.from(canonicalJson(group), 'utf8')).toString('hex')}`;
}

export interface TrustEntry {
  key: string;
  hash: string;
}

/** Trust entries for our hooks as they stand in the (merged) hooks file: their real group indexes. */
export function ourTrustEntries(hooksFile: string, settings: Settings): TrustEntry[] {
  const out: TrustEntry[] = [];
  for (const [event, groups] of Object.entries(settings.hooks ?? {})) {
    if (!Array.isArray(groups)) continue;
    groups.forEach((g, gi) => {
      (g.hooks ?? []).forEach((h, hi) => {
        if (h.type === 'command' && typeof h.command === 'string' && isOurs(h)) {
          out.push({ key: `${hooksFile}:${snakeEvent(event)}:${gi}:${hi}`, hash: codexTrustHash(event, { command: h.command, timeout: h.timeout }, g.matcher) });
        }
      });
    });
  }
  return out;
}

const blockStart = (hooksFile: string) => `\n# >>> hornets-tui hook trust for ${hooksFile} (written by hornets-tui; removed by \`hooks uninstall\`) >>>\n`;
const blockEnd = (hooksFile: string) => `# <<< hornets-tui hook trust for ${hooksFile} <<<\n`;

/** TOML basic strings take JSON's escapes. */
const tomlString = (s: string) => JSON.stringify(s);

function trustBlock(hooksFile: string, entries: TrustEntry[]): string {
  const body = entries.map((e) => `[hooks.state.${tomlString(e.key)}]\ntrusted_hash = ${tomlString(e.hash)}\n`).join('');
  return `${blockStart(hooksFile)}${body}${blockEnd(hooksFile)}`;
}

/** config.toml without our block for this hooks file: its markers and our tables; lines Codex wrote into it stay. */
function withoutBlock(text: string, hooksFile: string): string {
  const start = text.indexOf(blockStart(hooksFile));
  if (start === -1) return text;
  const end = text.indexOf(blockEnd(hooksFile), start);
  if (end === -1) throw new HookInstallError(`the hornets-tui trust block for ${hooksFile} in config.toml has lost its end marker; remove it by hand. Nothing was changed.`);
  const inside = text.slice(start + blockStart(hooksFile).length, end).split(/(?<=\n)/);
  const ourTable = `[hooks.state.${tomlString(hooksFile)}`.slice(0, -1);
  const kept: string[] = [];
  for (let i = 0; i < inside.length; i++) {
    if (inside[i]!.startsWith(ourTable) && inside[i + 1]?.startsWith('trusted_hash = ')) i++;
    else kept.push(inside[i]!);
  }
  // Codex starts what it adds with a blank line of its own: nothing to put back between.
  return text.slice(0, start) + kept.join('') + text.slice(end + blockEnd(hooksFile).length);
}

export interface TrustResult {
  file: string;
  changed: boolean;
  backup: string | null;
}

function readText(file: string): string | null {
  return existsSync(file) ? readFileSync(file, 'utf8') : null;
}

/** Writes (or rewrites) our trust block; entries the user's own config already holds are left to it. */
export function writeTrust(codexHome: string, hooksFile: string, entries: TrustEntry[]): TrustResult {
  const file = join(codexHome, CODEX_CONFIG_FILE);
  const text = readText(file);
  const base = withoutBlock(text ?? '', hooksFile);
  // A table defined twice is a TOML error that would stop Codex: a key the user already approved stays theirs.
  const mine = entries.filter((e) => !base.includes(`[hooks.state.${tomlString(e.key)}]`));
  const next = mine.length > 0 ? base + trustBlock(hooksFile, mine) : base;
  if (next === (text ?? '')) return { file, changed: false, backup: null };
  let backup: string | null = null;
  if (text !== null && !existsSync(file + BACKUP_SUFFIX) && base === text) {
    copyFileSync(file, file + BACKUP_SUFFIX);
    backup = file + BACKUP_SUFFIX;
  }
  mkdirSync(dirname(file), { recursive: true });
  atomicWrite(file, next);
  return { file, changed: true, backup };
}

export function removeTrust(codexHome: string, hooksFile: string): { file: string; changed: boolean; restoredBackup: boolean } {
  const file = join(codexHome, CODEX_CONFIG_FILE);
  const text = readText(file);
  if (text === null) return { file, changed: false, restoredBackup: false };
  const stripped = withoutBlock(text, hooksFile);
  if (stripped === text) return { file, changed: false, restoredBackup: false };
  const backupFile = file + BACKUP_SUFFIX;
  if (existsSync(backupFile) && readFileSync(backupFile, 'utf8') === stripped) {
    renameSync(backupFile, file);
    return { file, changed: true, restoredBackup: true };
  }
  if (stripped === '' && !existsSync(backupFile)) rmSync(file);
  else atomicWrite(file, stripped);
  return { file, changed: true, restoredBackup: false };
}

/** Codex names hook files by their real path: a CODEX_HOME reached through a symlink must match. */
export function codexHooksFile(codexHome: string): string {
  let dir = codexHome;
  try {
    dir = realpathSync(codexHome);
  } catch {
    // Not there yet: the path as given.
  }
  return join(dir, CODEX_HOOKS_FILE);
}

export interface CodexInstallResult extends InstallResult {
  trust: TrustResult;
}

export function installCodexHooks(codexHome: string, transport: string[] | HookTransport): CodexInstallResult {
  mkdirSync(codexHome, { recursive: true });
  const file = codexHooksFile(codexHome);
  const r = installSettingsFile(file, transport, codexProtocol);
  const trust = writeTrust(codexHome, file, ourTrustEntries(file, readSettings(file).settings));
  return { ...r, trust };
}

export interface CodexUninstallResult extends UninstallResult {
  trustRemoved: boolean;
}

export function uninstallCodexHooks(codexHome: string): CodexUninstallResult {
  const file = codexHooksFile(codexHome);
  const r = uninstallSettingsFile(file);
  const trust = removeTrust(codexHome, file);
  return { ...r, changed: r.changed || trust.changed, trustRemoved: trust.changed };
}

export interface CodexVerifyResult extends VerifyResult {
  /** Our hooks whose trust entry is missing or names another hash (Codex would skip or question them). */
  untrusted: string[];
}

export function verifyCodexHooks(codexHome: string, transport: string[] | HookTransport): CodexVerifyResult {
  const file = codexHooksFile(codexHome);
  const r = verifySettingsFile(file, transport, codexProtocol);
  let settings: Settings = {};
  try {
    settings = readSettings(file).settings;
  } catch {
    settings = {};
  }
  const config = readText(join(codexHome, CODEX_CONFIG_FILE)) ?? '';
  const untrusted = ourTrustEntries(file, settings)
    .filter((e) => !config.includes(`[hooks.state.${tomlString(e.key)}]\ntrusted_hash = ${tomlString(e.hash)}\n`))
    .map((e) => e.key);
  return { ...r, untrusted };
}
