/** How both CLI entries (src/cli.ts, src/cli-hot.ts) turn an error that is not commander's into an exit code. */
import { ExitCode, HornetsError, QueueError, errorMessage } from '../errors.js';
import type { Output } from './output.js';

/** Prints what went wrong (once) and returns the exit code; `debug` (HORNETS_DEBUG) adds the stack. */
export function reportError(err: unknown, o: Output, debug: boolean): number {
  if (err instanceof QueueError && err.details?.reported) return err.exitCode;
  if (err instanceof HornetsError) {
    o.err(`hornets-tui: ${err.message}`);
    return err.exitCode;
  }
  o.err(`hornets-tui: unexpected error: ${errorMessage(err)}`);
  if (debug && err instanceof Error && err.stack) o.err(err.stack);
  return ExitCode.failure;
}
