/**
 * The one runner for external programs other than tmux (git, mkfifo, claude --version): argv
 * arrays only, never a shell; a missing program is told apart from a failing one.
 */
import { childProcess } from './child-process.js';

export interface ProgramFailure {
  /** The program is not installed / not on PATH. */
  missing: boolean;
  stderr: string;
  message: string;
}

export interface RunProgramOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Set over `env` (default: this process's environment), e.g. GIT_TERMINAL_PROMPT=0. */
  extraEnv?: Record<string, string>;
  timeoutMs?: number;
  maxBuffer?: number;
}

/** A program's path: `name`, unless the override variable (e.g. HORNETS_CLAUDE_BIN, for tests) names another. */
export function programPath(name: string, overrideVariable: string): string {
  return process.env[overrideVariable] || name;
}

/** Resolves with stdout; rejects with a ProgramFailure the caller turns into its own typed error. */
export function runProgram(file: string, args: readonly string[], options: RunProgramOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    childProcess().execFile(
      file,
      args as string[],
      {
        cwd: options.cwd,
        env: options.extraEnv ? { ...(options.env ?? process.env), ...options.extraEnv } : options.env,
        timeout: options.timeoutMs ?? 30_000,
        maxBuffer: options.maxBuffer ?? 16 * 1024 * 1024,
      },
      (err, stdout, stderr) => {
        if (!err) return resolve(String(stdout));
        const failure: ProgramFailure = { missing: (err as NodeJS.ErrnoException).code === 'ENOENT', stderr: String(stderr), message: err.message };
        reject(failure);
      },
    );
  });
}
