/** Named pipes: Node has no mkfifo(3), so the coreutils program makes them. */
import { runProgram, type ProgramFailure } from './run.js';

/** Creates a FIFO at `path` (mode 0600 by default); fails if something already exists there. */
export async function mkfifo(path: string, mode = 0o600): Promise<void> {
  try {
    await runProgram('mkfifo', ['-m', mode.toString(8), '--', path], { timeoutMs: 10_000 });
  } catch (err) {
    const f = err as ProgramFailure;
    throw new Error(f.missing ? 'mkfifo not found on PATH (coreutils is needed for named pipes)' : `mkfifo ${path} failed: ${f.stderr.trim() || f.message}`);
  }
}
