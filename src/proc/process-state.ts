/**
 * What the kernel says of a process, from /proc/<pid>/stat: no process start, no tmux call. Used to
 * see a pane process that exited but was never reaped (see src/daemon/lost-exits.ts).
 */
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';

export type ProcessState = 'running' | 'zombie' | 'gone';

export function processState(pid: number): ProcessState {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return 'gone';
  }
  return stateOf(stat);
}

/** "pid (comm) S …": comm may itself hold spaces and parentheses, so the state follows the last ')'. */
function stateOf(stat: string): ProcessState {
  // Z, X and x; ProcessStateReader tests the same bytes in its buffer.
  const at = stat.lastIndexOf(')') + 2;
  const state = stat.slice(at, at + 1);
  if (state === 'Z' || state === 'X' || state === 'x') return 'zombie';
  return 'running';
}

/**
 * The same answer for processes looked at again and again (every agent, every second): the stat
 * file stays open, so each look is one pread instead of open, fstat, two reads and close — most of
 * an idle engine's CPU with a few dozen agents. An open /proc/<pid>/stat belongs to that process,
 * not to the number: once it is reaped the read fails (ESRCH), even if the pid is reused.
 */
export class ProcessStateReader {
  private readonly fds = new Map<number, number>();
  private readonly buf = Buffer.alloc(1024);
  private closed = false;

  state(pid: number): ProcessState {
    // A look still under way when the engine stops must not open files nobody will close.
    if (this.closed) return processState(pid);
    let fd = this.fds.get(pid);
    if (fd === undefined) {
      try {
        fd = openSync(`/proc/${pid}/stat`, 'r');
      } catch {
        return 'gone';
      }
      this.fds.set(pid, fd);
    }
    let n: number;
    try {
      n = readSync(fd, this.buf, 0, this.buf.length, 0);
    } catch {
      this.close(pid);
      return 'gone';
    }
    if (n === 0) {
      this.close(pid);
      return 'gone';
    }
    // The state byte read in place: no string made of the file each look.
    const at = this.buf.lastIndexOf(0x29, n - 1) + 2;
    const state = at >= 2 && at < n ? this.buf[at] : undefined;
    return state === 0x5a || state === 0x58 || state === 0x78 ? 'zombie' : 'running';
  }

  /** Closes the files of every pid not in `pids` (processes no longer watched). */
  retainOnly(pids: ReadonlySet<number>): void {
    for (const pid of [...this.fds.keys()]) if (!pids.has(pid)) this.close(pid);
  }

  closeAll(): void {
    this.closed = true;
    this.retainOnly(new Set());
  }

  private close(pid: number): void {
    const fd = this.fds.get(pid);
    this.fds.delete(pid);
    if (fd === undefined) return;
    try {
      closeSync(fd);
    } catch {
      // already closed: nothing held
    }
  }
}
