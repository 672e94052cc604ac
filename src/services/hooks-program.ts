import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../config/paths.js';
import { nativeHookRuns } from '../proc/native-hook-probe.js';

/** The two command hook clients; both speak the same protocol to the daemon and fall back alike. */
export function hookClients(root = packageRoot()): { native: string; bash: string } {
  return { native: join(root, 'dist', 'hornets-hook-native'), bash: join(root, 'bin', 'hornets-hook') };
}

/**
 * argv of our command hook: a client that hands the payload to a running daemon, with the node
 * that runs hornets as its fallback for when no daemon answers. The native client (built by
 * `npm run build` when a C compiler was there, scripts/build-native-hook.mjs) when it exists and
 * runs here; otherwise the bash client, which costs a bash start (~16 ms) per tool call.
 *
 * This argv is also what `hooks verify` compares against: a hook installed with the other client
 * still works, but it is not what `hooks install` would write now, so verify calls it `stale`
 * (its one meaning: "install would change this line"), and `hooks install` or `up` moves it to
 * the current client. That is the case after a rebuild with or without a compiler.
 */
export function hookProgram(): string[] {
  const { native, bash } = hookClients();
  return [existsSync(native) && nativeHookRuns(native) ? native : bash, process.execPath];
}
