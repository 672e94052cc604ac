import { HornetsError, ExitCode } from '../errors.js';

/** A tmux invocation failed; carries what ran and what tmux said. */
export class TmuxError extends HornetsError {
  readonly exitCode = ExitCode.failure;
  constructor(
    readonly argv: readonly string[],
    readonly status: number | null,
    readonly stderr: string,
    message?: string,
  ) {
    super(message ?? `tmux ${argv.join(' ')} failed (exit ${status ?? 'signal'}): ${stderr.trim() || 'no output'}`);
  }

  /** The server is gone (never started, killed, or its socket removed). */
  get noServer(): boolean {
    return /no server running|error connecting to|server exited unexpectedly|lost server/i.test(this.stderr);
  }

  /** The target pane/window/session does not exist (any more). */
  get missingTarget(): boolean {
    return /can't find (pane|window|session)|no such (pane|window|session)/i.test(this.stderr);
  }
}

export class TmuxMissingError extends HornetsError {
  readonly exitCode = ExitCode.failure;
}
