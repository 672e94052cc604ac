/**
 * A program that takes over the terminal (ssh, kubectl exec into another node's tmux): argv as
 * given, no shell, the caller's stdin/stdout/stderr. Resolves with its exit code.
 */
import { HornetsError, ExitCode } from '../errors.js';
import { childProcess } from './child-process.js';

export class InteractiveProgramError extends HornetsError {
  readonly exitCode = ExitCode.failure;
}

export function runInteractive(argv: readonly string[]): Promise<number> {
  const [file, ...args] = argv;
  if (!file) return Promise.reject(new InteractiveProgramError('no program to run'));
  return new Promise((resolve, reject) => {
    const child = childProcess().spawn(file, args, { stdio: 'inherit' });
    child.on('error', (err: NodeJS.ErrnoException) =>
      reject(new InteractiveProgramError(err.code === 'ENOENT' ? `"${file}" is not on PATH: install it or change attach.remote in hornets.json` : `cannot run "${file}": ${err.message}`)),
    );
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}
