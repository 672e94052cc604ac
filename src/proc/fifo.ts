/** Named pipes: Node has no mkfifo(3), so the coreutils program makes them. */
import { runProgram, type ProgramFailure } from './run.js';

/** Paths per mkfifo process: one process for a team, short of any argv limit. */
const MKFIFO_BATCH = 512;

/** Creates a FIFO at `path` (mode 0600 by default); fails if something already exists there. */
export async function mkfifo(path: string, mode = 0o600): Promise<void> {
  await mkfifos([path], mode);
}

/**
 * Creates FIFOs at every path with one mkfifo process per few hundred: a process per pipe was most
 * of an engine start with many agents (two pipes each). mkfifo makes every path it can and fails
 * for the rest, so on failure the caller looks at each path to know which agents have pipes.
 */
export async function mkfifos(paths: readonly string[], mode = 0o600): Promise<void> {
  let failure: Error | null = null;
  for (let i = 0; i < paths.length; i += MKFIFO_BATCH) {
    const batch = paths.slice(i, i + MKFIFO_BATCH);
    try {
      await runProgram('mkfifo', ['-m', mode.toString(8), '--', ...batch], { timeoutMs: 10_000 + batch.length * 20 });
    } catch (err) {
      const f = err as ProgramFailure;
      if (f.missing) throw new Error('mkfifo not found on PATH (coreutils is needed for named pipes)');
      failure ??= new Error(`mkfifo failed: ${f.stderr.trim() || f.message}`);
    }
  }
  if (failure) throw failure;
}
