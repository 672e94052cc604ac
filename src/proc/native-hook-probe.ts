/** Asks a built native hook client whether it runs here and speaks the protocol we expect. */
import { childProcess } from './child-process.js';

/** What native/hornets-hook.c prints for `--probe`; bump both together when the protocol changes. */
export const NATIVE_HOOK_PROBE = 'hornets-hook-native 2';

const probed = new Map<string, boolean>();

/**
 * True when `file` runs and answers the probe line. Cached per process: `up` installs hooks for
 * every agent and should start the binary once, not once per agent. A binary built for another
 * machine (a copied checkout), a stale build of an older protocol or a missing file: false.
 */
export function nativeHookRuns(file: string): boolean {
  const known = probed.get(file);
  if (known !== undefined) return known;
  const r = childProcess().spawnSync(file, ['--probe'], { encoding: 'utf8', timeout: 5_000, stdio: ['ignore', 'pipe', 'ignore'] });
  const ok = r.status === 0 && r.stdout.trim() === NATIVE_HOOK_PROBE;
  probed.set(file, ok);
  return ok;
}
