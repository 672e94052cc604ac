/**
 * The Codex hook installer on real files: `$CODEX_HOME/hooks.json` merged like Claude Code's
 * settings, and the trust entries in `$CODEX_HOME/config.toml`, with the same guarantees (merge, ours
 * recognisable, backup once, idempotent, uninstall restores the user's bytes). That Codex accepts
 * the entries is shown on the real binary (test/e2e/codex.test.ts); the hash here is pinned to one
 * that Codex 0.171.0 accepted.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { codexTrustHash, installCodexHooks, snakeEvent, uninstallCodexHooks, verifyCodexHooks } from '../../src/hooks/codex-installer.js';

let dir: string;
let home: string;
const program = ['/opt/hornets/hook', '/usr/bin/node'];

beforeEach(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'hornets-codex-inst-')));
  home = join(dir, 'codex-home');
  mkdirSync(home);
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

const hooksFile = () => join(home, 'hooks.json');
const configFile = () => join(home, 'config.toml');

describe('Codex trust hash', () => {
  it('is the sha256 Codex 0.171.0 accepted for a command hook without matcher', () => {
    expect(snakeEvent('UserPromptSubmit')).toBe('user_prompt_submit');
    expect(codexTrustHash('SessionStart', { command: '/tmp/cxprobe/hook.sh SessionStart', timeout: 30 })).toBe('sha256:df8810d540aea1888cddc492e7cb19d764fa15eebcd38b392f0e3f52995f9413');
  });
});

describe('installCodexHooks', () => {
  it("merges into the user's hooks.json after their groups, trusts only ours, and uninstall gives both files back byte for byte", () => {
    const userHooks = '{\n  "hooks": { "PostToolUse": [ { "matcher": "Bash", "hooks": [ { "type": "command", "command": "echo user" } ] } ] },\n  "other": 1\n}';
    writeFileSync(hooksFile(), userHooks);
    const userConfig = 'model = "m"\n\n[projects."/x"]\ntrust_level = "trusted"'; // no final newline
    writeFileSync(configFile(), userConfig);

    const r = installCodexHooks(home, program);
    expect(r).toMatchObject({ changed: true, backup: `${hooksFile()}.hornets-backup`, trust: { changed: true, backup: `${configFile()}.hornets-backup` } });
    const merged = JSON.parse(readFileSync(hooksFile(), 'utf8')) as { other: number; hooks: Record<string, { matcher?: string; hooks: { command: string; timeout: number }[] }[]> };
    expect(merged.other).toBe(1);
    expect(Object.keys(merged.hooks)).toEqual(['PostToolUse', 'SessionStart', 'UserPromptSubmit', 'Stop', 'PreCompact', 'SessionEnd']);
    expect(merged.hooks.PostToolUse!.map((g) => g.hooks[0]!.command)).toEqual(['echo user', `'/opt/hornets/hook' '/usr/bin/node' PostToolUse codex # hornets-tui`]);
    expect(merged.hooks.SessionEnd![0]!.hooks[0]!.timeout).toBe(3);

    const config = readFileSync(configFile(), 'utf8');
    expect(config.startsWith(`${userConfig}\n# >>> hornets-tui hook trust for ${hooksFile()}`)).toBe(true);
    // Our PostToolUse group is the user's group's successor: index 1.
    const ptu = merged.hooks.PostToolUse![1]!.hooks[0]!;
    expect(config).toContain(`[hooks.state."${hooksFile()}:post_tool_use:1:0"]\ntrusted_hash = "${codexTrustHash('PostToolUse', ptu)}"\n`);
    expect(config).toContain(`[hooks.state."${hooksFile()}:session_start:0:0"]`);
    expect(config).not.toContain(':post_tool_use:0:0');
    expect(config.match(/\[hooks\.state\./g)).toHaveLength(6);

    const again = installCodexHooks(home, program);
    expect(again).toMatchObject({ changed: false, trust: { changed: false } });
    expect(verifyCodexHooks(home, program)).toMatchObject({ untrusted: [], userHooks: 1 });
    expect(Object.values(verifyCodexHooks(home, program).events).every((s) => s === 'installed')).toBe(true);

    const u = uninstallCodexHooks(home);
    expect(u).toMatchObject({ changed: true, restoredBackup: true, trustRemoved: true });
    expect(readFileSync(hooksFile(), 'utf8')).toBe(userHooks);
    expect(readFileSync(configFile(), 'utf8')).toBe(userConfig);
    expect(existsSync(`${hooksFile()}.hornets-backup`)).toBe(false);
    expect(existsSync(`${configFile()}.hornets-backup`)).toBe(false);
  });

  it('a new program rewrites the trust block in place; files it created go away on uninstall', () => {
    installCodexHooks(home, program);
    const first = readFileSync(configFile(), 'utf8');
    installCodexHooks(home, ['/elsewhere/hook', '/usr/bin/node']);
    const second = readFileSync(configFile(), 'utf8');
    expect(second).not.toBe(first);
    expect(second.match(/# >>> hornets-tui/g)).toHaveLength(1);
    expect(second).toContain(codexTrustHash('Stop', { command: `'/elsewhere/hook' '/usr/bin/node' Stop codex # hornets-tui`, timeout: 15 }));
    // Trusted as installed, but not what this program would write: stale.
    const v = verifyCodexHooks(home, program);
    expect(v.untrusted).toEqual([]);
    expect(Object.values(v.events).every((s) => s === 'stale')).toBe(true);
    // A hand edit of our hook (its timeout) no longer matches its trust entry.
    const edited = JSON.parse(readFileSync(hooksFile(), 'utf8')) as { hooks: Record<string, { hooks: { timeout: number }[] }[]> };
    edited.hooks.Stop![0]!.hooks[0]!.timeout = 99;
    writeFileSync(hooksFile(), JSON.stringify(edited));
    expect(verifyCodexHooks(home, program).untrusted).toEqual([`${hooksFile()}:stop:0:0`]);
    uninstallCodexHooks(home);
    expect(existsSync(hooksFile())).toBe(false);
    expect(existsSync(configFile())).toBe(false);
  });

  it("tables Codex appends while our block is last stay when the block goes; the rest of the user's bytes come back", () => {
    writeFileSync(configFile(), 'model = "m"\n');
    installCodexHooks(home, program);
    // Codex appends at the end of the file, which is inside our block (before its end comment).
    const text = readFileSync(configFile(), 'utf8');
    const end = text.lastIndexOf('# <<< hornets-tui');
    writeFileSync(configFile(), `${text.slice(0, end)}\n[tui]\nscreen_reader_detection_done = true\n${text.slice(end)}`);
    uninstallCodexHooks(home);
    expect(readFileSync(configFile(), 'utf8')).toBe('model = "m"\n\n[tui]\nscreen_reader_detection_done = true\n');
  });
});
