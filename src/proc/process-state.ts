/**
 * What the kernel says of a process, from /proc/<pid>/stat: no process start, no tmux call. Used to
 * see a pane process that exited but was never reaped (see src/daemon/lost-exits.ts).
 */
import { readFileSync } from 'node:fs';

export type ProcessState = 'running' | 'zombie' | 'gone';

export function processState(pid: number): ProcessState {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return 'gone';
  }
  // "pid (comm) S …": comm may itself hold spaces and parentheses, so the state follows the last ')'.
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  if (state === 'Z' || state === 'X' || state === 'x') return 'zombie';
  return 'running';
}
