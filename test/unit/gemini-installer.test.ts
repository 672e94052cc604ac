/**
 * The Gemini hook installer on real files: the worktree's `.gemini/settings.json` merged like
 * Claude Code's settings (timeouts in ms), and the worktree's entry in trustedFolders.json, with
 * the same guarantees (merge, ours recognisable, backup once, idempotent, uninstall restores the
 * user's bytes). That Gemini runs the hooks so installed is shown on the real binary
 * (test/e2e/gemini.test.ts).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { installGeminiHooks, uninstallGeminiHooks, verifyGeminiHooks } from '../../src/hooks/gemini-installer.js';
import { blockReply, contextReply, geminiProtocol, handlerFor, protocolForArg } from '../../src/hooks/protocols.js';

let dir: string;
let worktree: string;
let home: string;
const program = ['/opt/hornets/hook', '/usr/bin/node'];

beforeEach(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'hornets-gemini-inst-')));
  worktree = join(dir, 'wt');
  home = join(dir, 'home');
  mkdirSync(worktree);
  mkdirSync(join(home, '.gemini'), { recursive: true });
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

const settingsFile = () => join(worktree, '.gemini', 'settings.json');
const trustFile = () => join(home, '.gemini', 'trustedFolders.json');

describe('Gemini protocol table', () => {
  it('maps Gemini events to the handlers and shapes replies as Gemini 0.61.0 took them', () => {
    expect(protocolForArg('gemini')).toBe(geminiProtocol);
    expect(handlerFor(geminiProtocol, 'BeforeAgent')).toBe('UserPromptSubmit');
    expect(handlerFor(geminiProtocol, 'AfterTool')).toBe('PostToolUse');
    expect(handlerFor(geminiProtocol, 'AfterAgent')).toBe('Stop');
    expect(handlerFor(geminiProtocol, 'BeforeModel')).toBe('BeforeModel');
    // Fired before every turn's model call, before Gemini decides whether to compress: not ours.
    expect(handlerFor(geminiProtocol, 'PreCompress')).toBeNull();
    expect(JSON.parse(contextReply(geminiProtocol, 'PostToolUse', 'hi'))).toEqual({ hookSpecificOutput: { hookEventName: 'AfterTool', additionalContext: 'hi' } });
    expect(JSON.parse(contextReply(geminiProtocol, 'SessionStart', 'brief'))).toEqual({ hookSpecificOutput: { hookEventName: 'SessionStart', additionalContext: 'brief' } });
    expect(JSON.parse(blockReply(geminiProtocol, 'more'))).toEqual({ decision: 'deny', reason: 'more' });
  });
});

describe('installGeminiHooks', () => {
  it("merges into the user's project settings with ms timeouts, trusts the worktree, and uninstall gives both files back byte for byte", () => {
    mkdirSync(join(worktree, '.gemini'));
    const userSettings = '{\n    "hooks": { "AfterTool": [ { "matcher": "*", "hooks": [ { "type": "command", "command": "echo user", "timeout": 500 } ] } ] },\n    "ui": { "theme": "x" }\n}';
    writeFileSync(settingsFile(), userSettings);
    const userTrust = '{ "/elsewhere": "TRUST_FOLDER" }';
    writeFileSync(trustFile(), userTrust);

    const r = installGeminiHooks(worktree, { home }, program);
    expect(r).toMatchObject({ changed: true, backup: `${settingsFile()}.hornets-backup`, trust: { changed: true, backup: `${trustFile()}.hornets-backup` } });
    const merged = JSON.parse(readFileSync(settingsFile(), 'utf8')) as { ui: unknown; hooks: Record<string, { hooks: { command: string; timeout: number }[] }[]> };
    expect(merged.ui).toEqual({ theme: 'x' });
    expect(Object.keys(merged.hooks)).toEqual(['AfterTool', 'SessionStart', 'BeforeAgent', 'AfterAgent', 'Notification', 'SessionEnd', 'BeforeModel']);
    expect(merged.hooks.AfterTool!.map((g) => g.hooks[0]!.command)).toEqual(['echo user', `'/opt/hornets/hook' '/usr/bin/node' AfterTool gemini # hornets-tui`]);
    expect(merged.hooks.AfterTool![1]!.hooks[0]!.timeout).toBe(15_000);
    expect(merged.hooks.SessionStart![0]!.hooks[0]!.timeout).toBe(30_000);
    expect(JSON.parse(readFileSync(trustFile(), 'utf8'))).toEqual({ '/elsewhere': 'TRUST_FOLDER', [worktree]: 'TRUST_FOLDER' });
    expect(verifyGeminiHooks(worktree, { home }, program)).toMatchObject({ userHooks: 1, untrusted: [] });

    const again = installGeminiHooks(worktree, { home }, program);
    expect(again).toMatchObject({ changed: false, trust: { changed: false } });

    const u = uninstallGeminiHooks(worktree, { home });
    expect(u).toMatchObject({ changed: true, restoredBackup: true, trustRemoved: true });
    expect(readFileSync(settingsFile(), 'utf8')).toBe(userSettings);
    expect(readFileSync(trustFile(), 'utf8')).toBe(userTrust);
    expect(existsSync(`${settingsFile()}.hornets-backup`)).toBe(false);
    expect(existsSync(`${trustFile()}.hornets-backup`)).toBe(false);
    expect(verifyGeminiHooks(worktree, { home }, program).untrusted).toEqual([worktree]);
  });

  it('creates both files when the user has none, and uninstall removes them again', () => {
    installGeminiHooks(worktree, { home }, program);
    expect(existsSync(settingsFile())).toBe(true);
    expect(JSON.parse(readFileSync(trustFile(), 'utf8'))).toEqual({ [worktree]: 'TRUST_FOLDER' });
    expect(uninstallGeminiHooks(worktree, { home })).toMatchObject({ changed: true, removedFile: true, trustRemoved: true });
    expect(existsSync(settingsFile())).toBe(false);
    expect(existsSync(trustFile())).toBe(false);
  });

  it('leaves trust alone when the user already trusts a parent folder, and writes to GEMINI_CLI_TRUSTED_FOLDERS_PATH when set', () => {
    const userTrust = `{"${dir}": "TRUST_FOLDER"}`;
    writeFileSync(trustFile(), userTrust);
    expect(installGeminiHooks(worktree, { home }, program).trust.changed).toBe(false);
    expect(readFileSync(trustFile(), 'utf8')).toBe(userTrust);
    uninstallGeminiHooks(worktree, { home });
    expect(readFileSync(trustFile(), 'utf8')).toBe(userTrust);

    const custom = join(dir, 'trust.json');
    installGeminiHooks(worktree, { home: join(dir, 'nohome'), trustedFoldersPath: custom }, program);
    expect(JSON.parse(readFileSync(custom, 'utf8'))).toEqual({ [worktree]: 'TRUST_FOLDER' });
  });

  it('refuses a trustedFolders.json that is not JSON, changing nothing there', () => {
    writeFileSync(trustFile(), '{ not json');
    expect(() => installGeminiHooks(worktree, { home }, program)).toThrow(/not valid JSON/);
    expect(readFileSync(trustFile(), 'utf8')).toBe('{ not json');
  });
});
