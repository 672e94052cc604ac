import { HornetsError, ExitCode } from '../errors.js';

/**
 * Values of `-e NAME=value` are agent environment (API keys among them): an error message, a log
 * line or `lastError` in the database must never carry them.
 */
export function maskEnv(argv: readonly string[]): string[] {
  return argv.map((a, i) => (i > 0 && argv[i - 1] === '-e' && a.includes('=') ? `${a.slice(0, a.indexOf('='))}=***` : a));
}

/** A tmux invocation failed; carries what ran (environment values masked) and what tmux said. */
export class TmuxError extends HornetsError {
  readonly exitCode = ExitCode.failure;
  readonly argv: readonly string[];

  constructor(
    argv: readonly string[],
    readonly status: number | null,
    readonly stderr: string,
    message?: string,
    /** What tmux printed before it failed (a batch prints the ids of the windows it did make). */
    readonly stdout = '',
  ) {
    const shown = maskEnv(argv);
    super(message ?? `tmux ${shown.join(' ')} failed (exit ${status ?? 'signal'}): ${stderr.trim() || 'no output'}`);
    this.argv = shown;
  }

  /** The server is gone (never started, killed, or its socket removed). */
  get noServer(): boolean {
    return /no server running|error connecting to|server exited unexpectedly|lost server/i.test(this.stderr);
  }

  /**
   * The server has no session at all (tmux 3.3 says so before it looks at any target): a moment
   * after the last window of its last session closed, while the server is going or kept up.
   */
  get noSessions(): boolean {
    return /no current target/i.test(this.stderr);
  }

  /** The target pane/window/session does not exist (any more). */
  get missingTarget(): boolean {
    return /can't find (pane|window|session)|no such (pane|window|session)/i.test(this.stderr);
  }
}

export class TmuxMissingError extends HornetsError {
  readonly exitCode = ExitCode.failure;
}
