/**
 * node:child_process when a process is about to be started, not when a module that may start one is
 * loaded: with dgram and the socket list it is a good share of what `status` loads, and `status`
 * with no tmux server starts nothing. A synchronous require, not import(): the bundled CLI runs in a
 * vm.Script, where import() of a built-in is not available.
 */
import type * as ChildProcessModule from 'node:child_process';
import { createRequire } from 'node:module';

let loaded: typeof ChildProcessModule | undefined;

export function childProcess(): typeof ChildProcessModule {
  loaded ??= createRequire(import.meta.url)('node:child_process') as typeof ChildProcessModule;
  return loaded;
}
