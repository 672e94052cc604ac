/**
 * Typed errors. Only the composition root (cli.ts) turns these into exit codes;
 * everything below it throws and lets the caller decide.
 */

export const ExitCode = { ok: 0, failure: 1, usage: 2, noEngine: 3 } as const;

export abstract class HornetsError extends Error {
  abstract readonly exitCode: number;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The user asked for something malformed: wrong flag, bad value, unknown agent. */
export class UsageError extends HornetsError {
  readonly exitCode = ExitCode.usage;
}

/** What the command needs the engine for (its event stream) cannot be had: none runs. Exit 3, as `daemon status`. */
export class NoEngineError extends HornetsError {
  readonly exitCode = ExitCode.noEngine;
}

/** The state directory (or one inside it) cannot be used safely: someone else's, or not a directory. */
export class StateDirError extends HornetsError {
  readonly exitCode = ExitCode.failure;
  constructor(
    readonly dir: string,
    reason: string,
  ) {
    super(`refusing the state directory ${dir}: it ${reason}`);
  }
}

export interface ConfigIssue {
  /** JSON path inside the file, e.g. `agents[2].name`; empty for the whole document. */
  path: string;
  message: string;
}

export class ConfigError extends HornetsError {
  readonly exitCode = ExitCode.failure;
  constructor(
    readonly file: string,
    readonly issues: ConfigIssue[],
    options?: { cause?: unknown },
  ) {
    super(ConfigError.format(file, issues), options);
  }

  static format(file: string, issues: ConfigIssue[]): string {
    const lines = issues.map((i) => `  - ${i.path ? `${i.path}: ` : ''}${i.message}`);
    return `invalid ${file}:\n${lines.join('\n')}`;
  }
}

export type QueueErrorCode =
  | 'unknown_agent'
  | 'empty_body'
  | 'body_too_large'
  | 'invalid_priority'
  | 'invalid_input'
  | 'queue_full'
  | 'not_found'
  | 'ambiguous_id'
  | 'invalid_state'
  | 'not_hornets_db'
  | 'schema_too_new'
  | 'read_only'
  | 'disk_full'
  | 'busy'
  | 'corrupt'
  | 'import_invalid'
  /** A cluster-wide duty's write carried a fencing token that is no longer the newest (a deposed leader). */
  | 'stale_fence'
  | 'io';

/** Codes that mean "the caller sent bad input" rather than "the store failed". */
const usageCodes: ReadonlySet<QueueErrorCode> = new Set(['unknown_agent', 'empty_body', 'body_too_large', 'invalid_priority', 'invalid_input', 'not_found', 'ambiguous_id', 'import_invalid']);

/** This process resolved another store than the one the project's queue is recorded in (.hornets/store.json). */
export class StoreMismatchError extends HornetsError {
  readonly exitCode = ExitCode.failure;
}

/**
 * A Tmux-Orchestrator database that cannot be migrated in or rolled back into as asked: missing,
 * not SQLite, damaged, not that schema, or agents left unmapped. Nothing was changed.
 */
export class MigrationError extends HornetsError {
  readonly exitCode: number;
  constructor(
    readonly reason: 'missing' | 'not_sqlite' | 'corrupt' | 'not_tmux_orchestrator' | 'hornets_db' | 'unmapped' | 'bad_map',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.exitCode = reason === 'unmapped' || reason === 'bad_map' ? ExitCode.usage : ExitCode.failure;
  }
}

/** The engine's fixed hook port (daemon.hookPort) is taken by another process. */
export class HookPortError extends HornetsError {
  readonly exitCode = ExitCode.failure;
}

export class QueueError extends HornetsError {
  readonly exitCode: number;
  constructor(
    readonly code: QueueErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.exitCode = usageCodes.has(code) ? ExitCode.usage : ExitCode.failure;
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
