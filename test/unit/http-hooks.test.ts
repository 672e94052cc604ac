/**
 * The opt-in http transport (daemon.hookTransport "http"): PostToolUse becomes a Claude Code http
 * hook to the engine's fixed port, every other event stays a command hook; hornets recognises,
 * verifies and removes its http hook like its command hooks, and leaves the user's own alone.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HTTP_MARKER, installHooks, installedEvents, isOurs, ourHook, uninstallHooks, verifyHooks } from '../../src/hooks/installer.js';
import { hornetsConfigSchema } from '../../src/config/schema.js';
import { parseWith } from '../../src/config/json-file.js';

const parseConfig = (v: unknown, file: string) => parseWith(hornetsConfigSchema, v, file);

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function worktree(): string {
  const d = mkdtempSync(join(tmpdir(), 'hornets-http-hooks-'));
  dirs.push(d);
  return d;
}
const program = ['/opt/hornets/dist/hornets-hook-native', '/usr/bin/node'];
const settingsOf = (w: string) => JSON.parse(readFileSync(join(w, '.claude', 'settings.local.json'), 'utf8')) as { hooks: Record<string, { hooks: Record<string, unknown>[] }[]> };

describe('http hook transport', () => {
  it('installs PostToolUse as an http hook to 127.0.0.1:<port> with the credential headers from the pane, and the other events as command hooks', () => {
    const w = worktree();
    installHooks(w, { program, httpPort: 38511 });
    const hooks = settingsOf(w).hooks;
    expect(hooks['PostToolUse']![0]!.hooks).toEqual([
      {
        type: 'http',
        url: `http://127.0.0.1:38511/hook/PostToolUse${HTTP_MARKER}`,
        headers: { 'X-Hornets-Token': '$HORNETS_HOOK_CLIENT', 'X-Hornets-Agent': '$HORNETS_AGENT_ID', 'X-Hornets-Generation': '$HORNETS_GENERATION' },
        allowedEnvVars: ['HORNETS_HOOK_CLIENT', 'HORNETS_AGENT_ID', 'HORNETS_GENERATION'],
        timeout: 5,
      },
    ]);
    for (const event of Object.keys(installedEvents).filter((e) => e !== 'PostToolUse')) {
      expect(hooks[event]![0]!.hooks[0]!.type, event).toBe('command');
    }
    expect(verifyHooks(w, { program, httpPort: 38511 }).events.PostToolUse).toBe('installed');
    // Switching back to command hooks (or another port) makes the installed one stale, and a
    // reinstall replaces it rather than adding a second.
    expect(verifyHooks(w, { program }).events.PostToolUse).toBe('stale');
    expect(verifyHooks(w, { program, httpPort: 38512 }).events.PostToolUse).toBe('stale');
    installHooks(w, { program });
    expect(settingsOf(w).hooks['PostToolUse']![0]!.hooks).toEqual([ourHook(program, 'PostToolUse')]);
  });

  it("leaves the user's own http hooks alone on install and uninstall", () => {
    const w = worktree();
    mkdirSync(join(w, '.claude'));
    const mine = { type: 'http', url: 'http://127.0.0.1:9999/audit' };
    writeFileSync(join(w, '.claude', 'settings.local.json'), JSON.stringify({ hooks: { PostToolUse: [{ hooks: [mine] }] } }));
    expect(isOurs(mine)).toBe(false);
    installHooks(w, { program, httpPort: 38511 });
    expect(settingsOf(w).hooks['PostToolUse']!.flatMap((g) => g.hooks)).toContainEqual(mine);
    expect(verifyHooks(w, { program, httpPort: 38511 }).userHooks).toBe(1);
    uninstallHooks(w);
    expect(settingsOf(w)).toEqual({ hooks: { PostToolUse: [{ hooks: [mine] }] } });
  });

  it('hookTransport "http" without a fixed hookPort is refused with a message naming both', () => {
    const base = { project: 'p', agents: [{ name: 'marie', profile: 'claude-code' }] };
    expect(() => parseConfig({ ...base, daemon: { hookTransport: 'http' } }, 'hornets.json')).toThrow(/daemon\.hookPort.*hookTransport "http" needs a fixed hookPort/s);
    expect(parseConfig({ ...base, daemon: { hookTransport: 'http', hookPort: 38511 } }, 'hornets.json').daemon).toMatchObject({ hookTransport: 'http', hookPort: 38511 });
    expect(parseConfig(base, 'hornets.json').daemon).toMatchObject({ hookTransport: 'command', hookPort: 0 });
  });
});
