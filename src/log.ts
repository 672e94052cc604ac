/**
 * pino to a file under the state dir: the console owns the terminal, so nothing is ever logged to
 * stdout/stderr. Secrets (tokens, API keys) are redacted by path. The file rotates by size
 * (log-rotation.ts), safely with several processes writing it.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { pino, type Logger } from 'pino';
import { RotatingFile, type RotationOptions } from './log-rotation.js';
import { CENSOR, redactPaths } from './log-lines.js';

export type { Logger };

// Shared with the line logger of short commands (log-lines.ts), which writes the same lines.
export { redactPaths };

export function createLogger(logFile: string, options: { level?: string; name?: string; rotation?: RotationOptions } = {}): Logger {
  mkdirSync(dirname(logFile), { recursive: true, mode: 0o700 });
  // Synchronous appends (short-lived CLI and hook processes exit right after logging and must not
  // lose the line), created 0600, and a failed write (ENOSPC, EROFS) never surfaces as an error of
  // the operation being logged: after `send` committed, that would report a queued message as
  // failed and invite a duplicate.
  const destination = new RotatingFile(logFile, options.rotation);
  return pino(
    {
      name: options.name ?? 'hornets',
      level: options.level ?? 'info',
      redact: { paths: redactPaths, censor: CENSOR },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}

/** For code paths that run before a state dir exists (or in tests). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
