/**
 * Which hook client gets installed, and what `hooks verify` then says: the native client when the
 * build made it and it answers its probe, else the bash one; a hook written with the other client
 * is `stale` (install would change it) and `hooks install` moves it over.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hookCommand, installHooks, verifyHooks } from '../../src/hooks/installer.js';
import type { HookEvent } from '../../src/hooks/handlers.js';
import { NATIVE_HOOK_PROBE, nativeHookRuns } from '../../src/proc/native-hook-probe.js';
import { hookClients as clientPaths, hookProgram } from '../../src/services/hooks-program.js';
import { bashHookClient, compilerPresent, nativeBuilt, nativeHookClient } from '../helpers/hook-clients.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'hornets-hookclients-'));
  dirs.push(d);
  return d;
}

describe('hook client choice', () => {
  it.skipIf(!compilerPresent)('npm run build made the native client where a C compiler is on PATH, and it answers its probe', () => {
    expect(nativeBuilt).toBe(true);
    expect(nativeHookRuns(nativeHookClient)).toBe(true);
  });

  it("Claude Code's hook command execs the client (its /bin/sh -c then forks nothing); the other CLIs' keep the plain form", () => {
    const program = ['/opt/hornets/hook', '/usr/bin/node'];
    expect(hookCommand(program, 'PostToolUse')).toBe(`exec '/opt/hornets/hook' '/usr/bin/node' PostToolUse # hornets-tui`);
    expect(hookCommand(program, 'PostToolUse', 'codex')).toBe(`'/opt/hornets/hook' '/usr/bin/node' PostToolUse codex # hornets-tui`);
    expect(hookCommand(program, 'AfterTool', 'gemini')).toBe(`'/opt/hornets/hook' '/usr/bin/node' AfterTool gemini # hornets-tui`);
  });

  it('installs the native client when it runs, else the bash one, with this node as the fallback', () => {
    const { native, bash } = clientPaths();
    expect([native, bash]).toEqual([nativeHookClient, bashHookClient]);
    expect(hookProgram()).toEqual([nativeBuilt && nativeHookRuns(native) ? native : bash, process.execPath]);
  });

  it('a binary that does not answer the probe line (an older protocol, another machine, missing) is not used', () => {
    const d = tempDir();
    const old = join(d, 'old-native');
    writeFileSync(old, '#!/bin/sh\necho hornets-hook-native 0\n');
    chmodSync(old, 0o755);
    const broken = join(d, 'broken-native');
    writeFileSync(broken, '#!/bin/sh\nexit 1\n');
    chmodSync(broken, 0o755);
    expect(nativeHookRuns(old)).toBe(false);
    expect(nativeHookRuns(broken)).toBe(false);
    expect(nativeHookRuns(join(d, 'missing'))).toBe(false);
    const good = join(d, 'good-native');
    writeFileSync(good, `#!/bin/sh\necho '${NATIVE_HOOK_PROBE}'\n`);
    chmodSync(good, 0o755);
    expect(nativeHookRuns(good)).toBe(true);
  });

  it('hooks written with the other client verify as stale, and install moves them to the current one', () => {
    const worktree = tempDir();
    const native = [nativeHookClient, process.execPath];
    const bash = [bashHookClient, process.execPath];
    installHooks(worktree, bash);
    expect(new Set(Object.values(verifyHooks(worktree, bash).events))).toEqual(new Set(['installed']));
    expect(new Set(Object.values(verifyHooks(worktree, native).events))).toEqual(new Set(['stale']));
    const r = installHooks(worktree, native);
    expect(r.changed).toBe(true);
    expect(new Set(Object.values(verifyHooks(worktree, native).events))).toEqual(new Set(['installed']));
    expect(new Set(Object.values(verifyHooks(worktree, bash).events))).toEqual(new Set(['stale']));
    // One hornets hook per event after the move: the old line was replaced, not kept beside it.
    const settings = JSON.parse(readFileSync(r.file, 'utf8')) as { hooks: Record<string, { hooks: { command: string }[] }[]> };
    for (const [event, groups] of Object.entries(settings.hooks))
      expect(
        groups.flatMap((g) => g.hooks).map((h) => h.command),
        event,
      ).toEqual([hookCommand(native, event as HookEvent)]);
    expect(installHooks(worktree, native).changed).toBe(false);
  });
});
